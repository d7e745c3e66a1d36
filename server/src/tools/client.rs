//! One configured MCP server: its connection, its last known tools and its state, its
//! calls and its readiness. A supervisor task (`supervise`) keeps it connected.

use std::{
    sync::{Arc, Mutex, MutexGuard, RwLock},
    time::Duration,
};

use protocol::Args;
use rmcp::{
    model::Tool,
    service::{Peer, RoleClient, ServiceError},
};
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use super::{
    ProgressSender, ServerState, ServerStatus, ToolError, ToolOutput,
    call::{CallError, call_tool},
    config::{ServerConfig, ServerTransport},
    handler::ProgressRoutes,
    http::HttpTarget,
};

mod supervise;

/// Tells the registry that a server's state or tools changed.
#[derive(Default)]
pub struct Changes {
    /// Counts changes, so the catalogue is rebuilt only when something changed.
    version: std::sync::atomic::AtomicU64,
    notify: Notify,
}

impl Changes {
    fn bump(&self) {
        self.version
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        self.notify.notify_one();
    }

    /// How many changes there have been.
    pub fn version(&self) -> u64 {
        self.version.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Resolves at the next change (or at once, for one not yet waited for).
    pub async fn next(&self) {
        self.notify.notified().await;
    }
}

/// Timing of connection attempts.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// How long connecting and listing tools may take.
    pub connect_timeout: Duration,
    /// The first delay before reconnecting; it doubles up to `max_backoff`.
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// How long one tool call may take.
    pub call_timeout: Duration,
}

/// A live connection's handle for calls.
struct Connection {
    peer: Peer<RoleClient>,
    routes: Arc<ProgressRoutes>,
    /// Which connection of this server it is (1, 2, …), so a late failure report about
    /// an earlier one cannot bring down a newer one.
    generation: u64,
}

struct Snapshot {
    state: ServerState,
    tools: Arc<[Tool]>,
    error: Option<String>,
}

/// How to reach the server.
enum Target {
    Http(HttpTarget),
    Stdio,
    /// The configuration cannot work (e.g. the TLS roots did not load).
    Broken(String),
}

/// One server, shared by the registry, its supervisor and the calls in flight.
pub struct ServerClient {
    pub config: ServerConfig,
    name: Arc<str>,
    target: Target,
    timing: Timing,
    snapshot: Mutex<Snapshot>,
    state: watch::Sender<ServerState>,
    connection: RwLock<Option<Arc<Connection>>>,
    /// The generation a caller found broken.
    lost: watch::Sender<u64>,
    /// The registry's signal that some server's tools or state changed.
    changed: Arc<Changes>,
}

impl ServerClient {
    pub fn new(
        config: ServerConfig,
        tls: Result<&rustls::ClientConfig, &String>,
        timing: Timing,
        changed: Arc<Changes>,
    ) -> Self {
        let target = match (&config.transport, tls) {
            (ServerTransport::Http { url, headers }, Ok(tls)) => {
                match HttpTarget::new(url, headers, tls.clone()) {
                    Ok(target) => Target::Http(target),
                    Err(error) => Target::Broken(error),
                }
            }
            (ServerTransport::Http { .. }, Err(error)) => Target::Broken(error.clone()),
            (ServerTransport::Stdio { .. }, _) => Target::Stdio,
        };
        let state = if config.disabled {
            ServerState::Disabled
        } else {
            ServerState::Connecting
        };
        Self {
            name: config.name.as_str().into(),
            config,
            target,
            timing,
            snapshot: Mutex::new(Snapshot {
                state,
                tools: Arc::from(Vec::new()),
                error: None,
            }),
            state: watch::Sender::new(state),
            connection: RwLock::new(None),
            lost: watch::Sender::new(0),
            changed,
        }
    }

    fn snapshot(&self) -> MutexGuard<'_, Snapshot> {
        // Plain fields swapped whole; a panic elsewhere cannot tear them.
        self.snapshot.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its state and last known tools (kept while it is down, for stable naming).
    pub fn current(&self) -> (ServerState, Arc<[Tool]>) {
        let snapshot = self.snapshot();
        (snapshot.state, snapshot.tools.clone())
    }

    /// `text` without the server's raw URL, which may carry credentials.
    fn scrub(&self, text: &str) -> String {
        match &self.config.transport {
            ServerTransport::Http { url, .. } if !url.is_empty() => {
                let safe = self.config.transport.describe();
                // Errors may quote the URL as written or as parsed (normalised).
                let parsed = reqwest::Url::parse(url).map(|u| u.to_string());
                let text = text.replace(url.as_str(), &safe);
                match parsed {
                    Ok(parsed) => text.replace(&parsed, &safe),
                    Err(_) => text,
                }
            }
            _ => text.to_owned(),
        }
    }

    fn set(&self, state: ServerState, tools: Option<Vec<Tool>>, error: Option<String>) {
        let error = error.map(|e| short(&self.scrub(&e)));
        {
            let mut snapshot = self.snapshot();
            snapshot.state = state;
            if let Some(tools) = tools {
                snapshot.tools = tools.into();
            }
            snapshot.error = error;
        }
        self.state.send_replace(state);
        self.changed.bump();
    }

    fn live(&self) -> Option<Arc<Connection>> {
        let current = self.connection.read().unwrap_or_else(|p| p.into_inner());
        current.clone()
    }

    fn set_connection(&self, connection: Option<Arc<Connection>>) {
        *self.connection.write().unwrap_or_else(|p| p.into_inner()) = connection;
    }

    /// A caller found `generation` broken: mark the server down now (so readiness
    /// tells at once) and let the supervisor reconnect.
    fn report_lost(&self, generation: u64, detail: &str) {
        let current = self.live().map(|c| c.generation);
        if current == Some(generation) {
            self.set_connection(None);
            self.set(ServerState::Down, None, Some(detail.to_owned()));
            self.lost.send_replace(generation);
        }
    }

    /// Waits until the server is no longer connecting, at most `max_wait`.
    pub async fn settled(&self, max_wait: Duration) -> ServerState {
        let mut state = self.state.subscribe();
        let wait = state.wait_for(|s| *s != ServerState::Connecting);
        match tokio::time::timeout(max_wait, wait).await {
            Ok(Ok(state)) => *state,
            _ => *self.state.borrow(),
        }
    }

    pub fn unavailable(&self, detail: impl Into<String>) -> ToolError {
        ToolError::Unavailable {
            server: self.name.to_string(),
            required: self.config.required,
            detail: detail.into(),
        }
    }

    /// Calls `tool` (this server's name for it).
    pub async fn call(
        &self,
        tool: &str,
        args: &Args,
        progress: ProgressSender,
        cancel: &CancellationToken,
    ) -> Result<ToolOutput, ToolError> {
        let Some(connection) = self.live() else {
            return Err(self.unavailable("not connected"));
        };
        let timeout = self.timing.call_timeout;
        let call = call_tool(
            &connection.peer,
            &connection.routes,
            tool,
            args,
            progress,
            cancel,
            timeout,
        );
        match call.await {
            Ok(output) => Ok(output),
            Err(CallError::Cancelled) => Err(ToolError::Cancelled),
            Err(CallError::Timeout) => Err(ToolError::Timeout {
                tool: tool.to_owned(),
                timeout,
            }),
            Err(CallError::Transport(detail)) => {
                tracing::warn!(server = %self.name, error = %self.scrub(&detail), "lost the MCP server during a call");
                self.report_lost(connection.generation, &detail);
                Err(self.unavailable(detail))
            }
        }
    }

    /// Its readiness: a ready server is asked for its tools (MCP 2026-07-28 has no
    /// `ping`) and marked down if it does not answer in time.
    pub async fn status(&self, probe_timeout: Duration) -> ServerStatus {
        if let Some(connection) = self.live() {
            let probe = tokio::time::timeout(probe_timeout, connection.peer.list_tools(None)).await;
            match probe {
                // An MCP-level error still means the server is there and answering.
                Ok(Ok(_)) | Ok(Err(ServiceError::McpError(_))) => {}
                Ok(Err(error)) => self.report_lost(connection.generation, &error.to_string()),
                Err(_) => self.report_lost(connection.generation, "did not answer in time"),
            }
        }
        let snapshot = self.snapshot();
        ServerStatus {
            name: self.name.to_string(),
            transport: self.config.transport.kind(),
            state: snapshot.state,
            required: self.config.required,
            tools: if snapshot.state == ServerState::Ready {
                snapshot.tools.len()
            } else {
                0
            },
            error: snapshot.error.clone(),
        }
    }
}

/// An error kept for `/readyz`: one line, bounded.
fn short(detail: &str) -> String {
    let line = detail.lines().next().unwrap_or_default();
    match line.char_indices().nth(200) {
        Some((end, _)) => format!("{}…", &line[..end]),
        None => line.to_owned(),
    }
}
