// Tool cards of an MCP host (issue 12): Approve / Deny from the keyboard with the
// arguments in full, a progress bar, image thumbnails and resource links, the server
// that offers each tool. Against a real MCP server (the Python SDK) through the local
// planner's `/call`.
import { ask, connected, expect, lastTurn, snapshot, test } from "./support";

test("a tool card asks before it runs, shows progress, and keeps its images and links", async ({ page, startServer, startSlowToolbox, consoleErrors }) => {
  const toolbox = await startSlowToolbox(2.0);
  const server = await startServer({ MCP_SERVER_URL: toolbox.url });
  await page.goto(server.url);
  await connected(page);
  // The tools panel names the server of each tool.
  await page.locator(".tools-panel summary").click();
  await expect(page.locator('.tool[data-tool="countdown"] .tool-server')).not.toHaveText("");

  // Approve, from the keyboard.
  await ask(page, '/call countdown {"steps": 4}');
  const card = lastTurn(page).locator('[data-kind="tool_call"]');
  const approval = card.locator('[data-kind="approval"]');
  await expect(approval.locator(".approval-args")).toContainText('"steps": 4');
  await expect(card).toHaveClass(/waiting/);
  await snapshot(page, "approval");
  await card.getByRole("button", { name: "Approve" }).focus();
  await page.keyboard.press("Enter");
  await expect(card.locator('[data-kind="approval"]')).toHaveText("✓ Approved");
  const progress = card.locator('[data-kind="tool_progress"]');
  await expect(progress.locator(".progress-text")).toHaveText(/^step [1-4] of 4$/);
  await expect(progress.locator("progress")).toHaveAttribute("max", "100");
  await expect(card.locator('[data-kind="tool_result"]')).toHaveText("→ counted 4");
  await expect(progress).toHaveCount(0);
  await expect(lastTurn(page).locator('[data-kind="complete"]')).toBeVisible();

  // Deny: the tool does not run, and the answer says so.
  await ask(page, '/call countdown {"steps": 1}');
  const denied = lastTurn(page).locator('[data-kind="tool_call"]');
  await denied.getByRole("button", { name: "Deny" }).click();
  await expect(denied.locator('[data-kind="approval"]')).toContainText("✗ Denied");
  await expect(denied).toHaveClass(/failed/);
  await expect(lastTurn(page).locator('[data-kind="complete"]')).toBeVisible();

  // A pending approval survives a reload, and can be answered after it.
  await ask(page, '/call countdown {"steps": 1}');
  await expect(lastTurn(page).getByRole("button", { name: "Approve" })).toBeVisible();
  await page.reload();
  await connected(page);
  const again = lastTurn(page).locator('[data-kind="tool_call"]');
  await again.getByRole("button", { name: "Approve" }).click();
  await expect(again.locator('[data-kind="tool_result"]')).toHaveText("→ counted 1");

  // Images as thumbnails (never from the network), resource links as links.
  await ask(page, "/call picture {}");
  const picture = lastTurn(page).locator('[data-kind="tool_call"]');
  const image = picture.locator("img.thumbnail");
  await expect(image).toHaveAttribute("src", /^data:image\/png;base64,/);
  await expect.poll(() => image.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(2);
  const link = picture.locator("a.resource-link");
  await expect(link).toHaveText("red.png");
  await expect(link).toHaveAttribute("href", "https://example.com/red.png");
  await expect(link).toHaveAttribute("rel", "noopener noreferrer");
  await snapshot(page, "tool-cards");
  expect(consoleErrors).toEqual([]);
});
