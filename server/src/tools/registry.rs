//! [`McpToolbox`]: every configured MCP server behind the [`Toolbox`] seam. It keeps
//! the catalogue of tools (named apart where servers collide, `deny` tools left out,
//! only those of reachable servers offered), publishes it whenever it changes, and
//! routes each call to the server that offers the tool.

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use protocol::Args;
use rmcp::model::Tool;
use tokio::sync::watch;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use super::{
    ApprovalPolicy, McpConfig, ProgressSender, ServerState, ServerStatus, ToolError, ToolHints,
    ToolInfo, ToolOutput, Toolbox,
    client::{Changes, ServerClient, Timing},
    naming::exposed_names,
    tls,
};

/// How long a turn waits for a required server that is still connecting.
const TURN_WAIT: Duration = Duration::from_secs(5);

/// Settings of the MCP host.
#[derive(Debug, Clone)]
pub struct ToolboxSettings {
    /// How long one tool call may take.
    pub call_timeout: Duration,
    /// How long connecting to an HTTP server and listing its tools may take.
    pub connect_timeout: Duration,
    /// How long starting a stdio server and listing its tools may take (`npx -y`
    /// may download the server first).
    pub start_timeout: Duration,
    /// Extra trusted CA certificates (PEM) for `https://` servers (`SSL_CERT_FILE`).
    pub extra_roots: Option<PathBuf>,
    /// Reconnection backoff of HTTP servers: first delay, then doubling up to the max.
    pub http_backoff: (Duration, Duration),
    /// Restart backoff of stdio servers whose process exits.
    pub stdio_backoff: (Duration, Duration),
}

impl ToolboxSettings {
    pub fn new(call_timeout: Duration, extra_roots: Option<PathBuf>) -> Self {
        Self {
            call_timeout,
            connect_timeout: Duration::from_secs(10),
            start_timeout: Duration::from_secs(60),
            extra_roots,
            http_backoff: (Duration::from_millis(100), Duration::from_secs(2)),
            stdio_backoff: (Duration::from_millis(250), Duration::from_secs(30)),
        }
    }
}

/// The tools on offer, and where each name goes.
#[derive(Default)]
struct Catalog {
    /// The [`Changes`] version it was built from.
    version: u64,
    tools: Arc<[ToolInfo]>,
    /// Every known name (reachable server or not) → (server index, its name for it).
    routes: HashMap<String, (usize, String)>,
}

/// Cheap to clone: a handle on the shared registry.
#[derive(Clone)]
pub struct McpToolbox {
    inner: Arc<Inner>,
}

struct Inner {
    servers: Vec<Arc<ServerClient>>,
    catalog: Mutex<Arc<Catalog>>,
    published: watch::Sender<Arc<[ToolInfo]>>,
    changed: Arc<Changes>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
    started: AtomicBool,
}

impl McpToolbox {
    /// The registry for `config`. Nothing connects until [`Toolbox::start`].
    pub fn new(config: McpConfig, settings: &ToolboxSettings) -> Self {
        // One TLS configuration for every HTTPS server. If it cannot be built, the
        // HTTP servers report why and the others still work.
        let tls = tls::client_config(settings.extra_roots.as_deref()).map_err(|e| e.to_string());
        if let Err(error) = &tls {
            tracing::error!(%error, "TLS roots unavailable: HTTP MCP servers cannot connect");
        }
        let changed = Arc::new(Changes::default());
        let servers = config
            .servers
            .into_iter()
            .map(|server| {
                let ((min_backoff, max_backoff), connect_timeout) = match server.transport.kind() {
                    "stdio" => (settings.stdio_backoff, settings.start_timeout),
                    _ => (settings.http_backoff, settings.connect_timeout),
                };
                let timing = Timing {
                    connect_timeout,
                    min_backoff,
                    max_backoff,
                    call_timeout: settings.call_timeout,
                };
                Arc::new(ServerClient::new(
                    server,
                    tls.as_ref(),
                    timing,
                    changed.clone(),
                ))
            })
            .collect();
        Self {
            inner: Arc::new(Inner {
                servers,
                catalog: Mutex::new(Arc::default()),
                published: watch::Sender::new(Arc::from(Vec::new())),
                changed,
                shutdown: CancellationToken::new(),
                tasks: TaskTracker::new(),
                started: AtomicBool::new(false),
            }),
        }
    }
}

impl Inner {
    /// Waits for the required servers still connecting; returns each one's state.
    async fn settle_required(&self, max_wait: Duration) -> Vec<(&Arc<ServerClient>, ServerState)> {
        let required = self
            .servers
            .iter()
            .filter(|s| s.config.required && !s.config.disabled);
        futures::future::join_all(
            required.map(|server| async move { (server, server.settled(max_wait).await) }),
        )
        .await
    }

    fn catalog(&self) -> Arc<Catalog> {
        self.lock_catalog().clone()
    }

    fn lock_catalog(&self) -> MutexGuard<'_, Arc<Catalog>> {
        // Swapped whole under the lock; a panic elsewhere cannot tear it.
        self.catalog.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Rebuilds the catalogue from the servers' states and tools; publishes it when
    /// the tools on offer changed.
    fn refresh(&self) -> Arc<Catalog> {
        // Read the version first: a change while building leaves it stale, so the
        // next call builds again.
        let version = self.changed.version();
        let built = self.catalog();
        if built.version == version && version != 0 {
            return built;
        }
        let current: Vec<(ServerState, Arc<[Tool]>)> =
            self.servers.iter().map(|s| s.current()).collect();
        // Tools that may be offered at all, by server (`deny` ones never are).
        let offered: Vec<Vec<(&Tool, ApprovalPolicy)>> = self
            .servers
            .iter()
            .zip(&current)
            .map(|(server, (state, tools))| {
                if *state == ServerState::Disabled {
                    return Vec::new();
                }
                tools
                    .iter()
                    .map(|tool| {
                        let read_only = tool.annotations.as_ref().and_then(|a| a.read_only_hint);
                        let policy = server.config.approval.resolve(&tool.name, read_only);
                        (tool, policy)
                    })
                    .filter(|(_, policy)| *policy != ApprovalPolicy::Deny)
                    .collect()
            })
            .collect();
        let listing: Vec<(&str, Vec<&str>)> = self
            .servers
            .iter()
            .zip(&offered)
            .map(|(server, tools)| {
                (
                    server.name(),
                    tools.iter().map(|(t, _)| t.name.as_ref()).collect(),
                )
            })
            .collect();
        let names = exposed_names(&listing);
        let mut catalog = Catalog {
            version,
            ..Catalog::default()
        };
        let mut tools = Vec::new();
        for (index, ((server, tools_of), names_of)) in
            self.servers.iter().zip(&offered).zip(names).enumerate()
        {
            let reachable = current[index].0 == ServerState::Ready;
            for ((tool, policy), name) in tools_of.iter().zip(names_of) {
                catalog
                    .routes
                    .insert(name.clone(), (index, tool.name.to_string()));
                if reachable {
                    tools.push(tool_info(name, server.name(), tool, *policy));
                }
            }
        }
        catalog.tools = tools.into();
        let catalog = Arc::new(catalog);
        let mut slot = self.lock_catalog();
        if slot.version > catalog.version {
            // A concurrent refresh saw a later change: keep its catalogue.
            return slot.clone();
        }
        let same = slot.tools == catalog.tools;
        *slot = catalog.clone();
        // Published under the lock, so that the order of publications is the order
        // of the catalogues.
        if !same {
            self.published.send_replace(catalog.tools.clone());
        }
        drop(slot);
        catalog
    }
}

/// What the agent knows of one tool.
fn tool_info(name: String, server: &str, tool: &Tool, approval: ApprovalPolicy) -> ToolInfo {
    let hints = tool
        .annotations
        .as_ref()
        .map(|a| ToolHints {
            title: a.title.clone(),
            read_only: a.read_only_hint,
            destructive: a.destructive_hint,
            idempotent: a.idempotent_hint,
            open_world: a.open_world_hint,
        })
        .unwrap_or_default();
    ToolInfo {
        name,
        remote_name: tool.name.to_string(),
        server: server.to_owned(),
        description: tool.description.as_deref().unwrap_or_default().to_owned(),
        input_schema: tool.input_schema.clone(),
        output_schema: tool.output_schema.clone(),
        hints,
        approval,
    }
}

#[async_trait]
impl Toolbox for McpToolbox {
    fn tools(&self) -> Arc<[ToolInfo]> {
        self.inner.refresh().tools.clone()
    }

    fn watch(&self) -> watch::Receiver<Arc<[ToolInfo]>> {
        self.inner.published.subscribe()
    }

    async fn settle(&self, max_wait: Duration) {
        let _ = self.inner.settle_required(max_wait).await;
        self.inner.refresh();
    }

    async fn tools_for_turn(&self) -> Result<Arc<[ToolInfo]>, ToolError> {
        let states = self.inner.settle_required(TURN_WAIT).await;
        if let Some((server, state)) = states.into_iter().find(|(_, s)| *s != ServerState::Ready) {
            return Err(server.unavailable(format!("required server is {state:?}")));
        }
        Ok(self.inner.refresh().tools.clone())
    }

    async fn call(
        &self,
        tool: &str,
        args: &Args,
        progress: ProgressSender,
        cancel: &CancellationToken,
    ) -> Result<ToolOutput, ToolError> {
        let catalog = self.inner.catalog();
        let Some((index, remote)) = catalog.routes.get(tool) else {
            let known: Vec<&str> = catalog.tools.iter().map(|t| t.name.as_str()).collect();
            return Ok(ToolOutput::error(format!(
                "unknown tool \"{tool}\"; the tools available are: {}",
                known.join(", ")
            )));
        };
        let server = &self.inner.servers[*index];
        server.call(remote, args, progress, cancel).await
    }

    async fn status(&self, probe_timeout: Duration) -> Vec<ServerStatus> {
        let statuses = futures::future::join_all(
            self.inner
                .servers
                .iter()
                .map(|server| server.status(probe_timeout)),
        )
        .await;
        self.inner.refresh();
        statuses
    }

    fn start(&self) {
        if self.inner.started.swap(true, Ordering::AcqRel) {
            return;
        }
        for server in &self.inner.servers {
            let supervise = server.clone().supervise(self.inner.shutdown.clone());
            self.inner.tasks.spawn(supervise);
        }
        let inner = Arc::downgrade(&self.inner);
        let (changed, shutdown) = (self.inner.changed.clone(), self.inner.shutdown.clone());
        self.inner.tasks.spawn(async move {
            loop {
                tokio::select! {
                    () = changed.next() => match inner.upgrade() {
                        Some(inner) => { inner.refresh(); }
                        None => return,
                    },
                    () = shutdown.cancelled() => return,
                }
            }
        });
    }

    async fn close(&self) {
        self.inner.shutdown.cancel();
        self.inner.tasks.close();
        if tokio::time::timeout(Duration::from_secs(8), self.inner.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("some MCP servers did not stop in time");
        }
    }
}
