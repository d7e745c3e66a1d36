// The conversation list (issue 10): create two, switch, rename, delete, reload keeps
// them; a sidebar on wide screens, a drawer on a phone. Transcripts opened from the
// list come from the server (the conversations API and a replay), not local storage.
import { ask, connected, expect, lastTurn, snapshot, test } from "./support";

test("conversations: create two, switch, rename, delete, and a reload keeps them", async ({ page, startServer, consoleErrors }) => {
  const server = await startServer();
  await page.setViewportSize({ width: 1200, height: 800 });
  await page.goto(server.url);
  await connected(page);
  const list = page.locator(".conversation-list .conversation");
  const titles = list.locator(".conversation-title");

  await ask(page, "Suma 1 y 1");
  await expect(lastTurn(page).locator('[data-kind="complete"]')).toBeVisible();
  await expect(titles).toHaveText(["Suma 1 y 1"]);
  await expect(list.first()).toHaveClass(/current/);

  await page.getByRole("button", { name: "New chat" }).click();
  await expect(page.locator(".turn")).toHaveCount(0);
  await connected(page);
  await ask(page, "Suma 2 y 2");
  await expect(lastTurn(page).locator('[data-kind="complete"]')).toBeVisible();
  await expect(titles).toHaveText(["Suma 2 y 2", "Suma 1 y 1"]);
  await expect(list.first().locator(".conversation-meta")).toHaveText("1 turn");

  // Switch: the first conversation comes back from the server, and continues.
  await list.nth(1).locator(".open-conversation").click();
  await expect(page.locator(".turn")).toHaveCount(1);
  await expect(lastTurn(page).locator('[data-kind="user"]')).toHaveText("Suma 1 y 1");
  await expect(lastTurn(page).locator('[data-kind="response"]')).toHaveText("La suma de 1 y 1 es 2.");
  await expect(lastTurn(page).locator('[data-kind="tool_call"]')).toHaveCount(1);
  await expect(list.nth(1).locator(".open-conversation")).toHaveAttribute("aria-current", "true");
  await ask(page, "y multiplícalo por 3");
  await expect(lastTurn(page).locator('[data-kind="response"]')).toContainText("6");
  // Now the most recently used, with two turns.
  await expect(titles).toHaveText(["Suma 1 y 1", "Suma 2 y 2"]);
  await expect(list.first().locator(".conversation-meta")).toHaveText("2 turns");

  // Rename from the keyboard.
  await list.nth(1).getByRole("button", { name: "Rename “Suma 2 y 2”" }).click();
  const input = page.getByLabel("New title");
  await expect(input).toBeFocused();
  await input.fill("Dos más dos");
  await input.press("Enter");
  await expect(titles).toHaveText(["Suma 1 y 1", "Dos más dos"]);

  // Delete the open one: a new chat starts.
  page.once("dialog", (dialog) => dialog.accept());
  await list.first().getByRole("button", { name: "Delete “Suma 1 y 1”" }).click();
  await expect(titles).toHaveText(["Dos más dos"]);
  await expect(page.locator(".turn")).toHaveCount(0);
  await connected(page);

  // A reload keeps them (on the server), and opens any of them.
  await page.reload();
  await connected(page);
  await expect(titles).toHaveText(["Dos más dos"]);
  await list.first().locator(".open-conversation").click();
  await expect(lastTurn(page).locator('[data-kind="response"]')).toHaveText("La suma de 2 y 2 es 4.");
  await snapshot(page, "conversations");

  // On a phone the list is a drawer.
  await page.setViewportSize({ width: 360, height: 740 });
  const sidebar = page.locator("#conversations");
  await expect(sidebar).toBeHidden();
  const toggle = page.getByRole("button", { name: "Conversations" });
  await toggle.click();
  await expect(sidebar).toBeVisible();
  await expect(toggle).toHaveAttribute("aria-expanded", "true");
  await snapshot(page, "conversations-drawer");
  await page.keyboard.press("Escape");
  await expect(sidebar).toBeHidden();
  await expect(toggle).toBeFocused();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  expect(consoleErrors).toEqual([]);
});

test("a conversation deleted elsewhere says so instead of opening", async ({ browser, startServer }) => {
  const server = await startServer();
  const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
  const page = await context.newPage();
  await page.goto(server.url);
  await connected(page);
  await ask(page, "Suma 5 y 5");
  await expect(lastTurn(page).locator('[data-kind="complete"]')).toBeVisible();
  await page.getByRole("button", { name: "New chat" }).click();
  await connected(page);
  await ask(page, "Suma 6 y 6");
  await expect(page.locator(".conversation-title")).toHaveText(["Suma 6 y 6", "Suma 5 y 5"]);
  // Another tab of the same browser deletes the first conversation.
  const other = await context.newPage();
  await other.goto(server.url);
  const id = await page.locator(".conversation").nth(1).getAttribute("data-id");
  const status = await other.evaluate(async (id) => (await fetch(`/api/conversations/${id}`, { method: "DELETE" })).status, id);
  expect(status).toBe(204);
  await page.locator(".open-conversation").nth(1).click();
  await expect(page.locator(".notice")).toHaveText("That conversation no longer exists.");
  await expect(page.locator(".conversation-title")).toHaveText(["Suma 6 y 6"]);
  await expect(lastTurn(page).locator('[data-kind="user"]')).toHaveText("Suma 6 y 6");
  await context.close();
});
