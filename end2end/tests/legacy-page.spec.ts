import { test, expect } from "./support";

// The original design's test page, served unchanged at /test-websocket.html with its
// own Content-Security-Policy: its inline script, onclick handlers and inline styles
// are allowed by hash. (It connects to ws://localhost:8002/ws, the Compose port, so
// here only its own code is checked, not a live session.)
test("the served original test page runs its inline code under its policy", async ({ page, startServer }) => {
  const server = await startServer();
  const violations: string[] = [];
  page.on("console", (message) => {
    if (/Content Security Policy/i.test(message.text()) && !/connect-src/i.test(message.text())) {
      violations.push(message.text());
    }
  });
  await page.goto(`${server.url}/test-websocket.html`);
  const messages = page.locator("#messages");
  // The inline script ran: connect() on load reported that its connection failed
  // (ws://localhost:8002 is not this origin, so the policy refuses it).
  await expect(messages).toContainText("Error");
  // An inline onclick handler runs too.
  const before = await messages.locator(".message").count();
  await page.getByRole("button", { name: "Conectar", exact: true }).click();
  await expect(messages.locator(".message")).not.toHaveCount(before);
  // The inline <style> and style attribute apply.
  await expect(messages).toHaveCSS("overflow-y", "scroll");
  await expect(page.locator("#input")).toHaveAttribute("style", "width: 80%;");
  expect(await page.locator("#input").evaluate((el) => el.style.width)).toBe("80%");
  expect(violations).toEqual([]);
});
