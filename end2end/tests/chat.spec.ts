import { expect, test, type Page } from "@playwright/test";

// Fails the test on any console error or uncaught exception (a broken hydration shows
// up here first).
function watchConsole(page: Page): string[] {
  const problems: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(message.text());
  });
  page.on("pageerror", (error) => problems.push(String(error)));
  return problems;
}

test("a message streams through the agent and the toolbox", async ({ page }) => {
  const problems = watchConsole(page);
  await page.goto("/");

  // Hydrated and auto-connected: the server's `ready` names the active LLM.
  await expect(page.locator(".status")).toHaveAttribute("data-status", "connected");
  await expect(page.locator(".llm-label")).toHaveText("Local planner");

  const input = page.getByLabel("Message");
  await input.fill("Suma 10 y 5");
  await input.press("Enter");

  const transcript = page.locator(".transcript");
  await expect(transcript.locator('[data-kind="user"]')).toHaveText(/Suma 10 y 5/);
  await expect(transcript.locator('[data-kind="start"]')).toHaveCount(1);
  await expect(transcript.locator('[data-kind="step"]')).toContainText("llm");
  await expect(transcript.locator('[data-kind="tool_call"]')).toContainText('add{"a":10,"b":5}');
  await expect(transcript.locator('[data-kind="tool_result"]')).toContainText("add → 15");
  await expect(transcript.locator('[data-kind="response"]')).toHaveText(/La suma de 10 y 5 es 15\./);
  await expect(transcript.locator('[data-kind="complete"]')).toContainText("5 steps");
  await expect(input).toHaveValue("");

  await page.screenshot({ path: "test-results/chat-suma.png", fullPage: true });
  expect(problems).toEqual([]);
});

test("Disconnect and Connect buttons drive the connection", async ({ page }) => {
  await page.goto("/");
  const status = page.locator(".status");
  await expect(status).toHaveAttribute("data-status", "connected");

  await page.getByRole("button", { name: "Disconnect" }).click();
  await expect(status).toHaveAttribute("data-status", "disconnected");
  await expect(page.getByRole("button", { name: "Send" })).toBeDisabled();

  await page.getByRole("button", { name: "Connect", exact: true }).click();
  await expect(status).toHaveAttribute("data-status", "connected");
  await page.getByLabel("Message").fill("multiply 6 by 7");
  await page.getByRole("button", { name: "Send" }).click();
  await expect(page.locator('[data-kind="response"]')).toHaveText(/The product of 6 and 7 is 42\./);
});

test("the original test page works against /ws unchanged", async ({ page, baseURL }) => {
  // The design document's test page, opened from disk (Origin: null) with only its
  // hard-coded URL pointed at this server.
  const fs = await import("node:fs");
  const os = await import("node:os");
  const path = await import("node:path");
  const original = fs.readFileSync(path.join(__dirname, "../fixtures/legacy-test-websocket.html"), "utf8");
  const url = new URL(baseURL!);
  const html = original.replace("ws://localhost:8002/ws", `ws://${url.host}/ws`);
  const file = path.join(os.tmpdir(), `legacy-test-websocket-${process.pid}.html`);
  fs.writeFileSync(file, html);

  await page.goto(`file://${file}`);
  const messages = page.locator("#messages");
  await expect(messages).toContainText("Conectado al agente");
  await page.locator("#input").fill("Suma 100 y 50");
  await page.locator("#input").press("Enter");
  await expect(messages).toContainText('Llamando add({"a":100,"b":50})');
  await expect(messages).toContainText("add → 150");
  await expect(messages).toContainText("La suma de 100 y 50 es 150.");
  await expect(messages).toContainText("Completado (5 pasos)");
});
