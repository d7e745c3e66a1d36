//! One configured MCP server: its connection, its last known tools and its state,
//! kept up by a supervisor task that connects, lists the tools, re-lists them when the
//! server says they changed, and reconnects with backoff when the connection is lost
//! (a stdio server's process exited, an HTTP server stopped answering).

use std::{
    sync::{Arc, Mutex, MutexGuard, RwLock},
    time::{Duration, Instant},
};

use protocol::Args;
use rmcp::{
    model::{ProtocolVersion, Tool},
    service::{
        ClientLifecycleMode, ClientServiceExt, Peer, RoleClient, RunningService, ServiceError,
    },
};
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use super::{
    ProgressSender, ServerState, ServerStatus, ToolError, ToolOutput,
    call::{CallError, call_tool},
    config::{ServerConfig, ServerTransport},
    handler::{HostHandler, ProgressRoutes},
    http::HttpTarget,
    stdio,
};

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
    changed: Arc<Notify>,
}

impl ServerClient {
    pub fn new(
        config: ServerConfig,
        tls: Result<&rustls::ClientConfig, &String>,
        timing: Timing,
        changed: Arc<Notify>,
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
                text.replace(url.as_str(), &self.config.transport.describe())
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
        self.changed.notify_one();
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

    /// Waits until the server is no longer connecting, at most `max_wait` (or the
    /// connect timeout when `None`).
    pub async fn settled(&self, max_wait: Option<Duration>) -> ServerState {
        let mut state = self.state.subscribe();
        let wait = state.wait_for(|s| *s != ServerState::Connecting);
        let limit = max_wait.unwrap_or(self.timing.connect_timeout);
        match tokio::time::timeout(limit, wait).await {
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

    /// Keeps the server connected until `shutdown`.
    pub async fn supervise(self: Arc<Self>, shutdown: CancellationToken) {
        if self.config.disabled {
            return;
        }
        let mut delay = None::<Duration>;
        let mut generation = 0;
        loop {
            generation += 1;
            // The last error stays until this attempt ends: it says why we retry.
            let last_error = self.snapshot().error.clone();
            self.set(ServerState::Connecting, None, last_error);
            let connected = tokio::select! {
                () = shutdown.cancelled() => return,
                attempt = tokio::time::timeout(self.timing.connect_timeout, Box::pin(self.connect(generation))) => {
                    attempt.unwrap_or_else(|_| Err("timed out connecting".into()))
                }
            };
            match connected {
                Ok((service, tools_changed)) => {
                    let since = Instant::now();
                    let ended = self
                        .hold(service, generation, tools_changed, &shutdown)
                        .await;
                    self.set_connection(None);
                    if ended == Ended::Shutdown {
                        return;
                    }
                    // A connection that lived a while resets the backoff; a server that
                    // dies right after starting keeps backing off.
                    if since.elapsed() > self.timing.max_backoff * 5 {
                        delay = None;
                    }
                }
                Err(error) => {
                    let error = self.scrub(&error);
                    let first = delay.is_none();
                    if first {
                        tracing::warn!(server = %self.name, at = %self.config.transport.describe(), %error, "cannot connect to the MCP server; retrying with backoff");
                    } else {
                        tracing::debug!(server = %self.name, %error, "MCP server still unreachable");
                    }
                    self.set(ServerState::Down, None, Some(error));
                }
            }
            let next = delay.map_or(self.timing.min_backoff, |d| {
                (d * 2).min(self.timing.max_backoff)
            });
            delay = Some(next);
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(next) => {}
            }
        }
    }

    /// Connects and lists the tools; the server is then ready.
    async fn connect(
        &self,
        generation: u64,
    ) -> Result<(RunningService<RoleClient, HostHandler>, Arc<Notify>), String> {
        let routes = Arc::new(ProgressRoutes::default());
        let tools_changed = Arc::new(Notify::new());
        let handler = || HostHandler {
            server: self.name.clone(),
            routes: routes.clone(),
            tools_changed: tools_changed.clone(),
        };
        // Prefer the stateless 2026-07-28 protocol; rmcp falls back to a 2025-11-25
        // session when the server has no `server/discover`.
        let auto = || ClientLifecycleMode::Auto {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            legacy_version: Some(ProtocolVersion::V_2025_11_25),
        };
        let service = match &self.target {
            Target::Broken(error) => return Err(error.clone()),
            Target::Http(http) => match handler()
                .serve_with_lifecycle(http.transport(), auto())
                .await
            {
                Ok(service) => service,
                // A server that has `server/discover` but refuses 2026-07-28 gets a
                // plain `initialize` as a second try.
                Err(first) => handler()
                    .serve_with_lifecycle(http.transport(), ClientLifecycleMode::Initialize)
                    .await
                    .map_err(|_| first.to_string())?,
            },
            Target::Stdio => {
                let child = stdio::spawn(&self.name, &self.config.transport)?;
                handler()
                    .serve_with_lifecycle(child, auto())
                    .await
                    .map_err(|e| e.to_string())?
            }
        };
        let tools = match service.peer().list_all_tools().await {
            Ok(tools) => tools,
            Err(error) => {
                service.cancellation_token().cancel();
                return Err(format!("listing its tools failed: {error}"));
            }
        };
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
        tracing::info!(server = %self.name, at = %self.config.transport.describe(), tools = ?names, "connected to the MCP server");
        self.set_connection(Some(Arc::new(Connection {
            peer: service.peer().clone(),
            routes,
            generation,
        })));
        self.set(ServerState::Ready, Some(tools), None);
        Ok((service, tools_changed))
    }

    /// Holds a connection until it closes, a caller reports it broken, or shutdown;
    /// re-lists the tools whenever the server says they changed.
    async fn hold(
        &self,
        service: RunningService<RoleClient, HostHandler>,
        generation: u64,
        tools_changed: Arc<Notify>,
        shutdown: &CancellationToken,
    ) -> Ended {
        let peer = service.peer().clone();
        let mut stop = Some(service.cancellation_token());
        let mut waiting = std::pin::pin!(service.waiting());
        let mut lost = self.lost.subscribe();
        let ended = loop {
            tokio::select! {
                _ = &mut waiting => {
                    stop = None;
                    tracing::warn!(server = %self.name, "the MCP server closed the connection; reconnecting");
                    self.set(ServerState::Down, None, Some("the connection closed".into()));
                    break Ended::Closed;
                }
                // (The wait's `Ref` is dropped at once: it must not live across awaits.)
                () = async { let _ = lost.wait_for(|g| *g == generation).await; } => break Ended::Lost,
                () = shutdown.cancelled() => break Ended::Shutdown,
                () = tools_changed.notified() => match peer.list_all_tools().await {
                    Ok(tools) => self.set(ServerState::Ready, Some(tools), None),
                    Err(error) => {
                        self.report_lost(generation, &error.to_string());
                        break Ended::Lost;
                    }
                },
            }
        };
        if let Some(stop) = stop.take() {
            stop.cancel();
            // A stdio server gets a moment to exit after its stdin closes, then the
            // kill (see `stdio`); dropping the service kills it in any case.
            let _ = tokio::time::timeout(Duration::from_secs(5), waiting).await;
        }
        ended
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    Closed,
    Lost,
    Shutdown,
}

/// An error kept for `/readyz`: one line, bounded.
fn short(detail: &str) -> String {
    let line = detail.lines().next().unwrap_or_default();
    match line.char_indices().nth(200) {
        Some((end, _)) => format!("{}…", &line[..end]),
        None => line.to_owned(),
    }
}
