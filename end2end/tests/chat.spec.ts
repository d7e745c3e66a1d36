import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

import { ask, connected, expect, lastTurn, snapshot, test } from "./support";

test("a message streams through the agent and the toolbox", async ({ page, startServer, consoleErrors }) => {
  const server = await startServer();
  await page.goto(server.url);
  // Auto-connect: no click needed; `ready` names the LLM.
  await connected(page);
  await expect(page.locator(".llm-label")).toHaveText("Local planner");

  await ask(page, "Suma 10 y 5");
  const turn = lastTurn(page);
  await expect(turn.locator('[data-kind="user"]')).toHaveText("Suma 10 y 5");
  await expect(turn.locator('[data-kind="start"]')).toHaveCount(1);
  await expect(turn.locator('[data-kind="step"]')).toContainText("llm");
  const card = turn.locator('[data-kind="tool_call"]');
  await expect(card).toHaveCount(1);
  await expect(card.locator(".tool-name")).toHaveText("add");
  await expect(card.locator(".tool-args")).toHaveText('{"a":10,"b":5}');
  await expect(card.locator('[data-kind="tool_result"]')).toHaveText("→ 15");
  await expect(turn.locator('[data-kind="response"]')).toHaveText("La suma de 10 y 5 es 15.");
  await expect(turn.locator('[data-kind="complete"]')).toHaveText(/^✓ Completed in \d+(\.\d)? m?s · 5 events$/);
  await expect(page.locator("#message")).toHaveValue("");
  // Screen readers hear the answer.
  await expect(page.locator('[aria-live="polite"]')).toHaveText("La suma de 10 y 5 es 15.");
  await snapshot(page, "suma");
  expect(consoleErrors).toEqual([]);
});

test("a chained calculation shows both tool calls with durations", async ({ page, startServer }) => {
  const server = await startServer();
  await page.goto(server.url);
  await connected(page);
  await ask(page, "(10 + 5) * 3");
  const turn = lastTurn(page);
  const cards = turn.locator('[data-kind="tool_call"]');
  await expect(turn.locator('[data-kind="complete"]')).toContainText("7 events");
  await expect(cards).toHaveCount(2);
  await expect(cards.nth(0).locator(".tool-args")).toHaveText('{"a":10,"b":5}');
  await expect(cards.nth(1).locator(".tool-args")).toHaveText('{"a":15,"b":3}');
  await expect(cards.nth(1).locator('[data-kind="tool_result"]')).toHaveText("→ 45");
  await expect(cards.nth(0).locator(".step-time")).toHaveText(/^\d+(\.\d)? m?s$/);
  await expect(turn.locator("summary")).toHaveText(/^4 steps · \d+(\.\d)? m?s$/);

  // The timeline collapses and expands.
  const timeline = turn.locator("details.timeline");
  await turn.locator("summary").click();
  await expect(timeline).not.toHaveAttribute("open", "");
  await turn.locator("summary").click();
  await expect(timeline).toHaveAttribute("open", "");
});

test("the conversation has memory, and New chat starts over", async ({ page, startServer }) => {
  const server = await startServer();
  await page.goto(server.url);
  await connected(page);
  await ask(page, "Suma 10 y 5");
  await expect(lastTurn(page).locator('[data-kind="complete"]')).toBeVisible();
  await ask(page, "y multiplícalo por 2");
  await expect(lastTurn(page).locator(".tool-args")).toHaveText('{"a":15,"b":2}');
  await expect(lastTurn(page).locator('[data-kind="response"]')).toContainText("30");

  await page.getByRole("button", { name: "New chat" }).click();
  await expect(page.locator(".turn")).toHaveCount(0);
  await connected(page);
  await ask(page, "y multiplícalo por 2");
  await expect(lastTurn(page).locator('[data-kind="response"]')).toContainText("dos números");
});

test("the transcript survives a reload", async ({ page, startServer }) => {
  const server = await startServer();
  await page.goto(server.url);
  await connected(page);
  await ask(page, "add 2 and 3");
  await expect(lastTurn(page).locator('[data-kind="complete"]')).toBeVisible();
  await page.reload();
  await connected(page);
  await expect(page.locator(".turn")).toHaveCount(1);
  await expect(lastTurn(page).locator('[data-kind="response"]')).toHaveText("The sum of 2 and 3 is 5.");
  // Same session: memory continues after the reload.
  await ask(page, "now multiply it by 10");
  await expect(lastTurn(page).locator('[data-kind="response"]')).toContainText("50");
});

test("reconnects by itself after the server restarts", async ({ page, startServer }) => {
  const server = await startServer();
  await page.goto(server.url);
  await connected(page);
  await ask(page, "Suma 1 y 1");
  await expect(lastTurn(page).locator('[data-kind="complete"]')).toBeVisible();

  await server.stop();
  await expect(page.locator(".status")).toHaveAttribute("data-status", "reconnecting");
  await server.start();
  await connected(page);
  // The old session died with the server: the transcript stays, a new session starts.
  await expect(page.locator(".turn")).toHaveCount(1);
  await ask(page, "Suma 2 y 2");
  await expect(lastTurn(page).locator('[data-kind="response"]')).toHaveText("La suma de 2 y 2 es 4.");
});

test("resuming mid-turn loses and doubles nothing", async ({ page, startServer, startSlowToolbox }) => {
  const toolbox = await startSlowToolbox(1.0);
  const server = await startServer({ MCP_SERVER_URL: toolbox.url });
  await page.goto(server.url);
  await connected(page);
  await ask(page, "(10 + 5) * 3");
  const turn = lastTurn(page);
  await expect(turn.locator('[data-kind="tool_call"]')).toHaveCount(1);

  // Drop the connection while the first tool call runs; the turn goes on server-side.
  await page.getByRole("button", { name: "Disconnect" }).click();
  await expect(page.locator(".status")).toHaveAttribute("data-status", "offline");
  await page.waitForTimeout(1500);
  await page.getByRole("button", { name: "Connect", exact: true }).click();
  await connected(page);

  await expect(turn.locator('[data-kind="complete"]')).toContainText("7 events");
  await expect(turn.locator('[data-kind="start"]')).toHaveCount(1);
  await expect(turn.locator('[data-kind="step"]')).toHaveCount(1);
  await expect(turn.locator('[data-kind="tool_call"]')).toHaveCount(2);
  await expect(turn.locator('[data-kind="response"]')).toHaveCount(1);
  await expect(turn.locator('[data-kind="tool_result"]').last()).toHaveText("→ 45");

  // And across a page reload in the middle of a turn.
  await ask(page, "Suma 100 y 50");
  await expect(lastTurn(page).locator('[data-kind="tool_call"]')).toHaveCount(1);
  await page.reload();
  await connected(page);
  const resumed = lastTurn(page);
  await expect(resumed.locator('[data-kind="complete"]')).toContainText("5 events");
  await expect(resumed.locator('[data-kind="tool_call"]')).toHaveCount(1);
  await expect(resumed.locator('[data-kind="response"]')).toHaveText("La suma de 100 y 50 es 150.");
  await snapshot(page, "resumed");
});

test("Stop cancels the running turn", async ({ page, startServer, startSlowToolbox }) => {
  const toolbox = await startSlowToolbox(5.0);
  const server = await startServer({ MCP_SERVER_URL: toolbox.url });
  await page.goto(server.url);
  await connected(page);
  await ask(page, "Suma 10 y 5");
  const turn = lastTurn(page);
  await expect(turn.locator('[data-kind="tool_call"]')).toHaveCount(1);
  await page.getByRole("button", { name: "Stop" }).click();
  await expect(turn.locator('[data-kind="cancelled"]')).toHaveText("Stopped.");
  await expect(turn).toHaveAttribute("data-status", "stopped");
  await expect(page.getByRole("button", { name: "Stop" })).toHaveCount(0);
  await snapshot(page, "stopped");
});

test("errors stand out and say what to do", async ({ page, startServer }) => {
  // A toolbox that is not there.
  const server = await startServer({ MCP_SERVER_URL: "http://127.0.0.1:9/mcp" });
  await page.goto(server.url);
  await connected(page);
  await ask(page, "add 2 and 3");
  const error = lastTurn(page).locator('[role="alert"][data-kind="error"]');
  await expect(error.locator(".error-message")).toContainText("toolbox");
  await expect(error.locator(".error-hint")).toContainText("send the message again");
  await expect(lastTurn(page)).toHaveAttribute("data-status", "failed");
  await snapshot(page, "error");
});

test("a failing tool is shown on its card", async ({ page, startServer }) => {
  const server = await startServer();
  await page.goto(server.url);
  await connected(page);
  await ask(page, "divide 1 by 0");
  const card = lastTurn(page).locator('[data-kind="tool_call"]');
  await expect(card).toHaveClass(/failed/);
  await expect(card.locator('[data-kind="tool_result"]')).toContainText("division by zero");
});

test("the tools panel lists the toolbox's tools", async ({ page, startServer }) => {
  const server = await startServer();
  await page.goto(server.url);
  await connected(page);
  const panel = page.locator(".tools-panel");
  await expect(panel.locator(".tool-count")).toHaveText("4");
  await panel.locator("summary").click();
  await expect(panel.locator(".tool")).toHaveCount(4);
  await expect(panel.locator('[data-tool="divide"] .tool-name')).toHaveText("divide(a: number, b: number)");
  await expect(panel.locator('[data-tool="add"] .tool-description')).toContainText("Add two numbers");
});

test("works on a 360 px phone, in Spanish", async ({ browser, startServer }) => {
  const server = await startServer();
  const context = await browser.newContext({ viewport: { width: 360, height: 740 }, locale: "es-ES" });
  const page = await context.newPage();
  await page.goto(server.url);
  await expect(page.locator("html")).toHaveAttribute("lang", "es");
  await expect(page.locator(".status")).toHaveText("Conectado");
  await expect(page.locator(".llm-label")).toHaveText("Planificador local");
  await page.getByLabel("Mensaje").fill("Multiplica 6 por 7");
  await page.getByRole("button", { name: "Enviar" }).click();
  await expect(lastTurn(page).locator('[data-kind="complete"]')).toContainText("5 eventos");
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await expect(page.locator("#message")).toBeInViewport();
  await snapshot(page, "phone-es");
  await context.close();
});

test("the whole flow works with the keyboard alone", async ({ page, startServer, startSlowToolbox }) => {
  const toolbox = await startSlowToolbox(5.0);
  const server = await startServer({ MCP_SERVER_URL: toolbox.url });
  await page.goto(server.url);
  await connected(page);
  // Tab to the message box.
  for (let i = 0; i < 20; i++) {
    if (await page.evaluate(() => document.activeElement?.id === "message")) break;
    await page.keyboard.press("Tab");
  }
  await expect(page.locator("#message")).toBeFocused();
  const outline = await page.locator("#message").evaluate((el) => getComputedStyle(el).outlineStyle);
  expect(outline).not.toBe("none");
  await page.keyboard.type("Suma 10 y 5");
  await page.keyboard.press("Enter");
  await expect(lastTurn(page).locator('[data-kind="tool_call"]')).toHaveCount(1);
  // Escape stops the turn.
  await page.keyboard.press("Escape");
  await expect(lastTurn(page)).toHaveAttribute("data-status", "stopped");
  // Tab reaches the buttons, and Enter presses them.
  await page.keyboard.press("Shift+Tab");
  await page.keyboard.press("Shift+Tab");
  await expect(page.locator(":focus")).toHaveCount(1);
});

test("the original test page works against /ws unchanged", async ({ page, startServer }) => {
  // Opened from disk, the page sends Origin: null, which the server refuses unless told.
  const server = await startServer({ ALLOWED_ORIGINS: "null" });
  // The design document's test page, opened from disk (Origin: null) with only its
  // hard-coded URL pointed at this server.
  const original = fs.readFileSync(path.join(__dirname, "../fixtures/legacy-test-websocket.html"), "utf8");
  const html = original.replace("ws://localhost:8002/ws", `ws://127.0.0.1:${server.port}/ws`);
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

test("a streamed answer renders token by token without moving what is above", async ({ page, startServer, startFakeOpenAi }) => {
  const api = await startFakeOpenAi(0.25);
  const server = await startServer({ LLM_PROVIDER: "openai", OPENAI_BASE_URL: api.baseUrl, OPENAI_MODEL: "fake-model" });
  await page.goto(server.url);
  await connected(page);
  await expect(page.locator(".llm-label")).toContainText("fake-model");
  await ask(page, "Suma 10 y 5");
  const turn = lastTurn(page);
  const answer = turn.locator('[data-kind="response"]');
  await expect(turn.locator('[data-kind="tool_result"]')).toHaveText("→ 15");

  // Part of the answer is on screen before the rest has arrived.
  await expect(answer).toHaveText(/^La suma/);
  const partial = await answer.textContent();
  expect(partial).not.toBe("La suma de 10 y 5 es 15.");
  // Positions within the transcript's content (auto-scrolling moves the viewport).
  const offset = (selector: string) =>
    turn.locator(selector).evaluate((el) => el.getBoundingClientRect().top - el.closest(".turns")!.getBoundingClientRect().top);
  const cardTop = await offset('[data-kind="tool_call"]');
  const answerTop = await offset('[data-kind="response"]');

  await expect(turn.locator('[data-kind="complete"]')).toBeVisible();
  await expect(answer).toHaveText("La suma de 10 y 5 es 15.");
  // Growing text only extends the answer downwards: nothing above it moved.
  expect(await offset('[data-kind="tool_call"]')).toBe(cardTop);
  expect(await offset('[data-kind="response"]')).toBe(answerTop);
});

test("follows new answers, unless the reader scrolled up", async ({ page, startServer }) => {
  const server = await startServer();
  await page.setViewportSize({ width: 900, height: 560 });
  await page.goto(server.url);
  await connected(page);
  for (let i = 1; i <= 6; i++) {
    await ask(page, `Suma ${i} y ${i}`);
    await expect(lastTurn(page).locator('[data-kind="complete"]')).toBeVisible();
  }
  const transcript = page.locator(".transcript");
  const gap = () => transcript.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight);
  await expect.poll(gap).toBeLessThan(4);

  // Scrolled up to read: new content does not pull the view down.
  await transcript.hover();
  await page.mouse.wheel(0, -2000);
  await expect.poll(() => transcript.evaluate((el) => el.scrollTop)).toBe(0);
  const jump = page.getByRole("button", { name: /Jump to the latest/ });
  await expect(jump).toBeVisible();
  await ask(page, "Suma 7 y 7");
  await expect(lastTurn(page).locator('[data-kind="complete"]')).toBeAttached();
  expect(await transcript.evaluate((el) => el.scrollTop)).toBe(0);

  await jump.click();
  await expect.poll(gap).toBeLessThan(4);
  await expect(jump).toBeHidden();
});
