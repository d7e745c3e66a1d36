import { test as base, expect, type Page } from "@playwright/test";
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as readline from "node:readline";

const root = path.resolve(__dirname, "../..");

/**
 * The port a process prints once it listens: no port is picked and released before
 * the process binds it (another process could take it meanwhile). `find` reads one
 * line of the process's output; the rest of the output is read and dropped.
 */
function listeningPort(child: ChildProcess, find: (line: string) => number | undefined, timeoutMs = 20_000): Promise<number> {
  return new Promise((resolve, reject) => {
    const stdout = child.stdout;
    if (!stdout) return reject(new Error("the process's output is not piped"));
    const lines = readline.createInterface({ input: stdout });
    const timer = setTimeout(() => reject(new Error("the process never said where it listens")), timeoutMs);
    lines.on("line", (line) => {
      const port = find(line);
      if (port !== undefined) {
        clearTimeout(timer);
        resolve(port);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the process exited (${code}) before listening`));
    });
  });
}

/** The port in the server's "toolstream server listening" log line (JSON logs). */
function serverPort(line: string): number | undefined {
  try {
    const entry = JSON.parse(line);
    if (entry.message !== "toolstream server listening") return undefined;
    const port = Number(String(entry.address).split(":").pop());
    return Number.isInteger(port) && port > 0 ? port : undefined;
  } catch {
    return undefined;
  }
}

/** The port in a fixture's "listening on PORT" line. */
function fixturePort(line: string): number | undefined {
  const match = /^listening on (\d+)$/.exec(line.trim());
  return match ? Number(match[1]) : undefined;
}

async function waitFor(url: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const response = await fetch(url);
      if (response.status < 500) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${url} never answered`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function stopProcess(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
  if (child.exitCode === null) child.kill("SIGKILL");
}

/** The release `server` binary, run the way operators run it, with its own SQLite
 *  file (kept across `restart()`, removed by `remove()`). */
export class AgentServer {
  private child?: ChildProcess;
  readonly database = path.join(os.tmpdir(), `toolstream-e2e-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.db`);
  /** Learned from the first start (on port 0); a restart keeps it, as a real restart would. */
  port = 0;
  constructor(private env: Record<string, string> = {}) {}

  /** Deletes the server's database files. */
  remove(): void {
    for (const suffix of ["", "-wal", "-shm", "-journal"]) fs.rmSync(this.database + suffix, { force: true });
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.child = spawn(path.join(root, "target/release/server"), [], {
      cwd: root,
      env: {
        PATH: process.env.PATH ?? "",
        HOST: "127.0.0.1",
        PORT: String(this.port),
        LEPTOS_SITE_ROOT: "target/site",
        // Warnings only, plus the startup lines that say where it listens.
        LOG_LEVEL: "warn,server::startup=info",
        LOG_FORMAT: "json",
        RATE_LIMIT_PER_SEC: "0",
        DATABASE_URL: `sqlite://${this.database}`,
        ...this.env,
      },
      stdio: ["ignore", "pipe", "inherit"],
    });
    this.port = await listeningPort(this.child, serverPort);
    await waitFor(`${this.url}/healthz`);
  }

  async stop(): Promise<void> {
    await stopProcess(this.child);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }
}

/** A real MCP toolbox (the official Python SDK) whose calls take `delay` seconds. */
export class SlowToolbox {
  private child?: ChildProcess;
  port = 0;
  constructor(private delay: number) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}/mcp`;
  }

  async start(): Promise<void> {
    const python = path.join(root, ".tools/venv/bin/python");
    this.child = spawn(python, [path.join(__dirname, "../fixtures/slow_toolbox.py"), "0", String(this.delay)], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    this.port = await listeningPort(this.child, fixturePort);
    await waitFor(`http://127.0.0.1:${this.port}/mcp`);
  }

  async stop(): Promise<void> {
    await stopProcess(this.child);
  }
}

/** A fake OpenAI-compatible API that streams its answers slowly. */
export class FakeOpenAi {
  private child?: ChildProcess;
  port = 0;
  constructor(private pieceDelay: number) {}

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}/v1`;
  }

  async start(): Promise<void> {
    this.child = spawn("python3", [path.join(__dirname, "../fixtures/fake_openai.py"), "0", String(this.pieceDelay)], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    this.port = await listeningPort(this.child, fixturePort);
    await waitFor(`http://127.0.0.1:${this.port}/`);
  }

  async stop(): Promise<void> {
    await stopProcess(this.child);
  }
}

type Fixtures = {
  /** Starts a fake OpenAI-compatible API streaming pieces `delay` seconds apart. */
  startFakeOpenAi: (pieceDelay: number) => Promise<FakeOpenAi>;
  /** Starts a server with extra settings (at most one per test). */
  startServer: (env?: Record<string, string>) => Promise<AgentServer>;
  /** Starts a slow toolbox (calls take `delay` seconds). */
  startSlowToolbox: (delay: number) => Promise<SlowToolbox>;
  /** Console errors and uncaught exceptions of the page. */
  consoleErrors: string[];
};

export const test = base.extend<Fixtures>({
  startServer: async ({}, use) => {
    const started: AgentServer[] = [];
    await use(async (env = {}) => {
      const server = new AgentServer(env);
      await server.start();
      started.push(server);
      return server;
    });
    for (const server of started) {
      await server.stop();
      server.remove();
    }
  },
  startSlowToolbox: async ({}, use) => {
    const started: SlowToolbox[] = [];
    await use(async (delay) => {
      const toolbox = new SlowToolbox(delay);
      await toolbox.start();
      started.push(toolbox);
      return toolbox;
    });
    for (const toolbox of started) await toolbox.stop();
  },
  startFakeOpenAi: async ({}, use) => {
    const started: FakeOpenAi[] = [];
    await use(async (pieceDelay) => {
      const api = new FakeOpenAi(pieceDelay);
      await api.start();
      started.push(api);
      return api;
    });
    for (const api of started) await api.stop();
  },
  consoleErrors: async ({ page }, use) => {
    const errors: string[] = [];
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(message.text());
    });
    page.on("pageerror", (error) => errors.push(String(error)));
    await use(errors);
  },
});

export { expect };

/** Waits until the page is hydrated and connected. */
export async function connected(page: Page): Promise<void> {
  await expect(page.locator(".status")).toHaveAttribute("data-status", "connected");
}

/** Types a message and presses Enter. */
export async function ask(page: Page, text: string): Promise<void> {
  const input = page.locator("#message");
  await input.fill(text);
  await input.press("Enter");
}

/** The newest turn of the transcript. */
export function lastTurn(page: Page) {
  return page.locator(".turn").last();
}

/** Saves a screenshot among the test artifacts. */
export async function snapshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(__dirname, "../test-results/screenshots", `${name}.png`), fullPage: true });
}
