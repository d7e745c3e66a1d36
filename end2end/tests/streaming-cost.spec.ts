// The cost of a streamed piece does not grow with the conversation: 2,000 pieces
// into a conversation that already holds 100 turns cost what they cost into a new
// one. Times come from the page's own User Timing measures (`/?perf`):
// `toolstream:frame` spans a frame from arrival to the end of the view updates it
// caused, `toolstream:render` one markdown render (at most one per animation frame).
import { ask, connected, expect, lastTurn, test } from "./support";

const PIECES = 2000;

type Figures = { frames: number; mean: number; median: number; p95: number; renders: number; renderMean: number };

function figures(frames: number[], renders: number[]): Figures {
  const sorted = [...frames].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  return {
    frames: frames.length,
    mean: mean(frames),
    median: at(0.5),
    p95: at(0.95),
    renders: renders.length,
    renderMean: mean(renders),
  };
}

/** Streams `pieces` pieces into a new turn and returns the page's measures. */
async function stream(page: import("@playwright/test").Page, pieces: number): Promise<Figures> {
  await page.evaluate(() => performance.clearMeasures());
  await ask(page, `/stream ${pieces}`);
  const turn = lastTurn(page);
  await expect(turn.locator('[data-kind="complete"]')).toBeVisible({ timeout: 60_000 });
  await expect(turn.locator('[data-kind="response"]')).toContainText(`w${pieces - 1}`);
  const measures = await page.evaluate(() => ({
    frames: performance.getEntriesByName("toolstream:frame").map((e) => e.duration),
    renders: performance.getEntriesByName("toolstream:render").map((e) => e.duration),
  }));
  return figures(measures.frames, measures.renders);
}

/** A stored conversation of `count` finished turns, each with a timeline and a
 *  markdown answer, as the page saves it. */
function storedConversation(count: number): string {
  const answer = [
    "## Result",
    "",
    "The **sum** is `15`. Steps:",
    "",
    "1. add 10 and 5",
    "2. check",
    "",
    "| a | b | sum |",
    "|--:|--:|--:|",
    "| 10 | 5 | 15 |",
    "",
    "```rust",
    "let sum = 10 + 5;",
    "```",
  ].join("\n");
  const turns = Array.from({ length: count }, (_, i) => ({
    local_id: i + 1,
    turn_id: `old-${i}`,
    question: `Question ${i}: suma 10 y 5`,
    status: "Done",
    steps: [
      { Started: { message: "Procesando", at_ms: 1000 } },
      { Node: { node: "llm", message: "Consultando", at_ms: 1001 } },
      { Tool: { tool: "add", args: '{"a":10,"b":5}', result: "15", is_error: false, called_ms: 1002, returned_ms: 1010 } },
    ],
    answer,
    error: null,
    started_ms: 1000,
    ended_ms: 1012,
    event_count: 6,
  }));
  return JSON.stringify({ turns, session_id: "gone", last_seq: 0, next_local_id: count });
}

test("a streamed piece costs the same with 100 earlier turns", async ({ page, startServer, startFakeOpenAi, consoleErrors }) => {
  test.setTimeout(240_000);
  const api = await startFakeOpenAi(0);
  const server = await startServer({
    LLM_PROVIDER: "openai",
    OPENAI_BASE_URL: api.baseUrl,
    OPENAI_MODEL: "fake-model",
  });

  // A new conversation: warm up, then measure.
  await page.goto(`${server.url}/?perf`);
  await connected(page);
  await stream(page, 200);
  const fresh = await stream(page, PIECES);

  // The same with 100 turns already in the transcript (stored from another page of
  // the site: the chat page saves its own conversation when it goes away).
  await page.route("**/favicon.ico", (route) => route.fulfill({ status: 204 }));
  await page.goto(`${server.url}/healthz`);
  await page.evaluate((stored) => localStorage.setItem("toolstream.conversation.v1", stored), storedConversation(100));
  await page.goto(`${server.url}/?perf`);
  await connected(page);
  await expect(page.locator(".turn")).toHaveCount(100);
  await expect(page.locator(".turn").first().locator(".markdown table")).toBeAttached();
  await stream(page, 200);
  const long = await stream(page, PIECES);
  await expect(page.locator(".turn")).toHaveCount(102);

  const report = (name: string, f: Figures) =>
    `${name}: ${f.frames} frames, mean ${f.mean.toFixed(3)} ms, median ${f.median.toFixed(3)} ms, ` +
    `p95 ${f.p95.toFixed(3)} ms; ${f.renders} renders, mean ${f.renderMean.toFixed(3)} ms`;
  console.log(report("1 earlier turn   ", fresh));
  console.log(report("101 earlier turns", long));
  test.info().annotations.push({ type: "streaming cost", description: `${report("new", fresh)} | ${report("100 turns", long)}` });

  // Every piece was measured, and the answer rendered in batches, not per piece.
  expect(fresh.frames).toBeGreaterThanOrEqual(PIECES);
  expect(long.frames).toBeGreaterThanOrEqual(PIECES);
  expect(long.renders).toBeLessThan(PIECES / 2);
  // Per piece: the same cost within noise. The browser's clock has 0.1 ms steps, so
  // the mean over 2,000 pieces is the figure. (With every turn's views re-run per
  // piece, as before turns had their own signals, it was over ten times larger.)
  expect(long.mean).toBeLessThanOrEqual(fresh.mean * 2 + 0.1);
  expect(consoleErrors).toEqual([]);
});
