//! Real MCP servers for the host tests, none of them written for toolstream's client:
//! the npm "everything" server (the MCP project's reference server, TypeScript SDK)
//! over stdio and over Streamable HTTP, a probe server on the official Python SDK
//! (`tests/fixtures/mcp_probe_server.py`), and `mcp.json` files naming them.
//!
//! The test command installs the npm package (`scripts/lib.sh`,
//! `install_mcp_test_servers`) and the Python SDK; when either is missing these
//! helpers fail with a message saying how to install it, never skip.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    sync::atomic::{AtomicU32, Ordering},
    time::Duration,
};

use serde_json::{Value, json};
use server::tools::expand::Environment;
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

/// The version `scripts/lib.sh` installs.
pub const EVERYTHING_VERSION: &str = "2026.8.31";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_owned()
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The "everything" server's entry point, as installed by the test command.
pub fn everything_entry() -> PathBuf {
    let entry = root().join(
        ".tools/mcp-everything/node_modules/@modelcontextprotocol/server-everything/dist/index.js",
    );
    assert!(
        entry.is_file(),
        "the npm package @modelcontextprotocol/server-everything is not installed at {}.\n\
         ./scripts/test.sh installs it; by hand: npm install --prefix .tools/mcp-everything \
         @modelcontextprotocol/server-everything@{EVERYTHING_VERSION}",
        entry.display()
    );
    entry
}

/// Node.js, from `PATH` (read on purpose: the tests need the machine's Node).
pub fn node() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("node"))
        .find(|candidate| candidate.is_file())
        .expect("Node.js (`node`) is not on PATH; the MCP host tests need it (Node 20)")
}

/// The Python of `.tools/venv`, where the test command installs the MCP SDK.
pub fn python() -> PathBuf {
    let python = root().join(".tools/venv/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: ./scripts/test.sh creates it with the official MCP Python SDK \
         (scripts/requirements-test.txt)",
        python.display()
    );
    python
}

/// An `mcp.json` entry running the "everything" server over stdio.
pub fn everything_stdio() -> Value {
    json!({ "command": node(), "args": [everything_entry(), "stdio"] })
}

/// An `mcp.json` entry running the Python probe server over stdio.
pub fn probe_stdio() -> Value {
    json!({ "command": python(), "args": [fixture("mcp_probe_server.py")] })
}

/// The environment `mcp.json` expands from and stdio servers inherit: nothing of the
/// test runner's own (the commands are absolute paths).
pub fn test_env() -> Environment {
    [("HOME", env!("CARGO_TARGET_TMPDIR")), ("LANG", "C.UTF-8")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// Writes `{"mcpServers": servers}` to a fresh file and returns its path.
pub fn write_config(servers: Value) -> PathBuf {
    write_text(&json!({ "mcpServers": servers }).to_string())
}

/// Writes `text` to a fresh `.json` file and returns its path.
pub fn write_text(text: &str) -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "mcp-{}-{}.json",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&path, text).unwrap();
    path
}

/// The "everything" server over Streamable HTTP, in its own Node process listening
/// on loopback (see `tests/fixtures/listen_loopback.cjs`).
pub struct EverythingHttp {
    child: Child,
    pub port: u16,
}

impl EverythingHttp {
    /// Starts it on `port` (0: a free one).
    pub async fn start(port: u16) -> Self {
        // A port just released may take a moment to be free again.
        for _ in 0..50 {
            if let Some(server) = Self::try_start(port).await {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the everything server could not listen on port {port}");
    }

    async fn try_start(port: u16) -> Option<Self> {
        let mut child = Command::new(node())
            .arg("-r")
            .arg(fixture("listen_loopback.cjs"))
            .arg(everything_entry())
            .arg("streamableHttp")
            .env_clear()
            .env("TOOLSTREAM_LISTEN_PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let mut lines = BufReader::new(stderr).lines();
        let listening = tokio::time::timeout(Duration::from_secs(20), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(port) = line.strip_prefix("TOOLSTREAM_LISTENING ") {
                    return port.trim().parse::<u16>().ok();
                }
            }
            None
        })
        .await
        .ok()
        .flatten();
        let Some(port) = listening else {
            let _ = child.kill().await;
            return None;
        };
        // Keep draining its stderr so that it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Some(Self { child, port })
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/mcp", self.port)
    }

    /// Kills the process (SIGKILL, no goodbye) and returns the port it had.
    pub async fn kill(mut self) -> u16 {
        self.child
            .kill()
            .await
            .expect("the everything server is killed");
        self.port
    }
}

/// Kills a process by id with SIGKILL, as a crash would end it.
pub fn kill_pid(pid: &str) {
    let status = std::process::Command::new("kill")
        .args(["-KILL", pid.trim()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -KILL {pid} failed");
}
