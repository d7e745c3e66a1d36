// Answers people act on: markdown as it streams (and safely), copy, edit and resend,
// regenerate, token usage. Against the real server with a fake OpenAI-compatible API.
import { ask, connected, expect, lastTurn, snapshot, test } from "./support";

const openai = (baseUrl: string, extra: Record<string, string> = {}) => ({
  LLM_PROVIDER: "openai",
  OPENAI_BASE_URL: baseUrl,
  OPENAI_MODEL: "fake-model",
  ...extra,
});

test("markdown answers are formatted while they stream and when done", async ({ page, startServer, startFakeOpenAi, consoleErrors }) => {
  const api = await startFakeOpenAi(0.02);
  const server = await startServer(openai(api.baseUrl));
  await page.goto(server.url);
  await connected(page);

  // Half-received blocks: an open fence is already a code block, an open list a list.
  await ask(page, "/script Intro:\\n\\n- one\\n- tw~~pause~~o\\n\\n```py\\nprint(1)\\n~~pause~~```\\n\\nDone.");
  const turn = lastTurn(page);
  const answer = turn.locator('[data-kind="response"] .markdown');
  await expect(answer.locator("ul > li")).toHaveCount(2);
  await expect(answer.locator("ul > li").last()).toHaveText("tw");
  await expect(answer.locator(".code-block pre code")).toHaveText("print(1)\n");
  await expect(answer.locator(".code-lang")).toHaveText("py");
  await expect(turn.locator('[data-kind="complete"]')).toHaveCount(0);
  await expect(turn.locator('[data-kind="complete"]')).toBeVisible();
  await expect(answer.locator("ul > li").last()).toHaveText("two");
  await expect(answer.locator("p").last()).toHaveText("Done.");

  // Everything at once.
  await ask(page, "/md");
  const md = lastTurn(page).locator('[data-kind="response"] .markdown');
  await expect(lastTurn(page).locator('[data-kind="complete"]')).toBeVisible();
  await expect(md.locator("h2")).toHaveText("Resumen");
  await expect(md.locator("strong")).toHaveText("importante");
  await expect(md.locator("em")).toHaveText("no tanto");
  await expect(md.locator("del")).toHaveText("sobra");
  await expect(md.locator("p > code")).toHaveText("cargo test");
  await expect(md.locator("ol > li")).toHaveText(["Primero", "Segundo"]);
  await expect(md.locator("li.task input[type=checkbox]")).toHaveCount(2);
  await expect(md.locator("li.task input").first()).toBeChecked();
  await expect(md.locator("li.task input").last()).not.toBeChecked();
  await expect(md.locator("table th")).toHaveText(["Herramienta", "Resultado"]);
  await expect(md.locator("table td.right")).toHaveText("15");
  await expect(md.locator("blockquote")).toHaveText("Una cita.");
  await expect(md.locator(".code-lang")).toHaveText("rust");
  // Markup inside code is text.
  await expect(md.locator(".code-block code")).toContainText('println!("<b>hola</b>");');
  await expect(md.locator(".code-block b")).toHaveCount(0);
  const link = md.locator("a");
  await expect(link).toHaveText("la documentación");
  await expect(link).toHaveAttribute("href", "https://example.com/docs");
  await expect(link).toHaveAttribute("target", "_blank");
  await expect(link).toHaveAttribute("rel", "noopener noreferrer");
  await snapshot(page, "markdown");
  expect(consoleErrors).toEqual([]);
});

test("raw HTML and dangerous links in an answer stay inert", async ({ page, startServer, startFakeOpenAi, consoleErrors }) => {
  const api = await startFakeOpenAi(0);
  const server = await startServer(openai(api.baseUrl));
  const beacons: string[] = [];
  page.on("request", (request) => {
    if (request.url().includes("beacon") || request.url().includes("evil")) beacons.push(request.url());
  });
  await page.goto(server.url);
  await connected(page);
  await ask(page, "/inject");
  const turn = lastTurn(page);
  await expect(turn.locator('[data-kind="complete"]')).toBeVisible();
  const md = turn.locator('[data-kind="response"] .markdown');
  // The HTML shows as the text it is, and nothing of it runs or loads.
  await expect(md).toContainText("<script>window.__pwned = 1</script>");
  await expect(md).toContainText('<img src=x onerror="window.__pwned = 2">');
  await expect(md).toContainText('<b onmouseover="window.__pwned=5">bold?</b>');
  for (const tag of ["script", "img", "iframe", "b", "object", "embed"]) {
    await expect(md.locator(tag)).toHaveCount(0);
  }
  await md.hover();
  // Only http(s) and mailto links are live: the javascript: and data: ones are text.
  const links = md.locator("a");
  await expect(links).toHaveText(["beacon", "real one"]);
  await expect(links.nth(0)).toHaveAttribute("href", "https://127.0.0.1:9/beacon.png");
  await expect(links.nth(1)).toHaveAttribute("href", "https://example.com/safe");
  for (const a of await links.all()) {
    await expect(a).toHaveAttribute("rel", "noopener noreferrer");
    await expect(a).toHaveAttribute("target", "_blank");
  }
  await expect(md).toContainText("Click here or there.");
  expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
  expect(beacons).toEqual([]);
  // The user's own message is plain text too.
  await ask(page, "<b>mine</b> **not bold**");
  await expect(lastTurn(page).locator('[data-kind="user"]')).toHaveText("<b>mine</b> **not bold**");
  await expect(lastTurn(page).locator('[data-kind="user"] b, [data-kind="user"] strong')).toHaveCount(0);
  expect(consoleErrors).toEqual([]);
});

test("an answer and its code blocks can be copied", async ({ page, context, startServer, startFakeOpenAi }) => {
  await context.grantPermissions(["clipboard-read", "clipboard-write"]);
  const api = await startFakeOpenAi(0);
  const server = await startServer(openai(api.baseUrl));
  await page.goto(server.url);
  await connected(page);
  await ask(page, "/md");
  const turn = lastTurn(page);
  await expect(turn.locator('[data-kind="complete"]')).toBeVisible();
  const clipboard = () => page.evaluate(() => navigator.clipboard.readText());

  await turn.locator(".copy-code").click();
  await expect(turn.locator(".copy-code")).toHaveText("Copied ✓");
  expect(await clipboard()).toBe('fn main() {\n    println!("<b>hola</b>");\n}\n');

  // The answer as written (its markdown), from the keyboard.
  await turn.locator(".copy-answer").focus();
  await page.keyboard.press("Enter");
  await expect(turn.locator(".copy-answer")).toHaveText("Copied ✓");
  const copied = await clipboard();
  expect(copied.startsWith("## Resumen\n\nEsto es **importante**")).toBe(true);
  await expect(turn.locator(".copy-answer")).toHaveText("Copy", { timeout: 5_000 });
});

test("regenerate and edit replace the last turn, also after a reload", async ({ page, startServer, startFakeOpenAi }) => {
  const api = await startFakeOpenAi(0);
  const server = await startServer(openai(api.baseUrl));
  await page.goto(server.url);
  await connected(page);
  await ask(page, "/count");
  await expect(lastTurn(page).locator('[data-kind="response"]')).toHaveText("Answer number 1.");
  await ask(page, "/count");
  await expect(lastTurn(page).locator('[data-kind="response"]')).toHaveText("Answer number 2.");
  // Only the last turn offers them.
  await expect(page.locator(".turn").first().locator(".regenerate, .edit")).toHaveCount(0);

  await lastTurn(page).getByRole("button", { name: "Regenerate" }).click();
  await expect(lastTurn(page).locator('[data-kind="response"]')).toHaveText("Answer number 3.");
  await expect(page.locator(".turn")).toHaveCount(2);
  await expect(lastTurn(page).locator('[data-kind="user"]')).toHaveText("/count");

  // Edit from the keyboard: Edit, type, Enter.
  await lastTurn(page).getByRole("button", { name: "Edit" }).click();
  const box = page.getByLabel("Edit your question");
  await expect(box).toBeFocused();
  await expect(box).toHaveValue("/count");
  await box.fill("/say edited answer");
  await box.press("Enter");
  await expect(lastTurn(page).locator('[data-kind="response"]')).toHaveText("edited answer");
  await expect(lastTurn(page).locator('[data-kind="user"]')).toHaveText("/say edited answer");
  await expect(page.locator(".turn")).toHaveCount(2);

  await page.reload();
  await connected(page);
  await expect(page.locator(".turn")).toHaveCount(2);
  await expect(page.locator('[data-kind="user"]')).toHaveText(["/count", "/say edited answer"]);
  await expect(page.locator('[data-kind="response"]')).toHaveText(["Answer number 1.", "edited answer"]);
  await snapshot(page, "edited");
});

test("each turn shows its tokens, and the conversation its totals and cost", async ({ page, startServer, startFakeOpenAi }) => {
  const api = await startFakeOpenAi(0);
  const server = await startServer(
    openai(api.baseUrl, { LLM_PRICE_INPUT_PER_MTOK: "5", LLM_PRICE_OUTPUT_PER_MTOK: "10" }),
  );
  await page.goto(server.url);
  await connected(page);
  // Two model calls: the tool call (1000 in, 2 out) and the answer (1000 in, 8 out).
  await ask(page, "Suma 10 y 5");
  const turn = lastTurn(page);
  await expect(turn.locator('[data-kind="usage"]')).toHaveText(" · tokens: 2,000 in · 10 out · $0.0101");
  await expect(page.locator('[data-kind="usage-total"]')).toHaveText("This conversation: tokens 2,000 in · 10 out · $0.0101");
  await ask(page, "/say hi");
  await expect(lastTurn(page).locator('[data-kind="usage"]')).toHaveText(" · tokens: 1,000 in · 1 out · $0.0050");
  await expect(page.locator('[data-kind="usage-total"]')).toHaveText("This conversation: tokens 3,000 in · 11 out · $0.0151");
  // Totals survive a reload.
  await page.reload();
  await connected(page);
  await expect(page.locator('[data-kind="usage-total"]')).toHaveText("This conversation: tokens 3,000 in · 11 out · $0.0151");
});
