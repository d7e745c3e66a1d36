//! Builds the application from its settings and runs it.

use std::{future::Future, net::SocketAddr, pin::Pin, sync::Arc, time::Duration};

use anyhow::Context;
use axum::Router;
use leptos::config::LeptosOptions;
use tokio::{net::TcpListener, sync::Semaphore};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{
    agent::{Agent, AgentSettings},
    bus::{Bus, local::LocalBus},
    config::Settings,
    limits::{ClientLimits, LimitSettings},
    llm::Llm,
    metrics::Metrics,
    security::{self, HostPolicy},
    serve::{ServeSettings, serve},
    session::{Hub, SessionSettings},
    state::AppState,
    store::journal::{Journal, JournalSettings},
    tools::{
        self, McpConfig, McpToolbox, ServerConfig, Toolbox, ToolboxSettings, expand::Environment,
    },
};

/// A built, bound, not yet running server.
pub struct Application {
    listener: TcpListener,
    address: SocketAddr,
    router: Router,
    state: AppState,
    /// Stops the embedded toolbox's sessions once the server has stopped.
    toolbox_shutdown: CancellationToken,
    /// Stops the journal's writer, which then commits what is left.
    writer_stop: CancellationToken,
    writer: tokio::task::JoinHandle<()>,
}

/// The futures of start-up and of the server's life are boxed where they are made:
/// their code (the router, the accept loop, every connection's) is then compiled once,
/// in this crate, instead of again in the binary and in each test that runs a server.
type Boxed<T> = Pin<Box<dyn Future<Output = anyhow::Result<T>> + Send>>;

impl Application {
    /// Binds the listener and wires every part, without serving yet.
    pub fn build(settings: Settings) -> Boxed<Self> {
        Box::pin(async move {
            let llm = crate::llm::from_settings(&settings.llm).await?;
            Self::assemble(settings, llm).await
        })
    }

    /// Like [`Application::build`], with the given LLM.
    pub fn build_with_llm(settings: Settings, llm: Arc<dyn Llm>) -> Boxed<Self> {
        Box::pin(Self::assemble(settings, llm))
    }

    async fn assemble(settings: Settings, llm: Arc<dyn Llm>) -> anyhow::Result<Self> {
        // Leptos renders on tokio; registering is idempotent, so failure means done.
        let _ = any_spawner::Executor::init_tokio();
        tools::tls::install_crypto_provider();
        // A bad MCP configuration stops start-up before anything listens.
        let file_config = match &settings.mcp_config {
            Some(path) => {
                let env = settings.mcp_env.clone().unwrap_or_else(process_environment);
                let config = tools::config::load(path, &env)?;
                // Whatever logs them (rmcp quotes URLs in its errors), never show them.
                for secret in config.secrets() {
                    toolbox::telemetry::redact(&secret);
                }
                Some(config)
            }
            None => None,
        };
        let bind = SocketAddr::new(settings.host, settings.port);
        let listener = TcpListener::bind(bind)
            .await
            .with_context(|| format!("cannot listen on {bind} (PORT/HOST)"))?;
        let address = listener.local_addr()?;

        let toolbox_shutdown = CancellationToken::new();
        // `MCP_CONFIG`, else the `MCP_SERVER_URL` toolbox, else the embedded one.
        let (mcp_config, embedded_toolbox) = match (file_config, &settings.mcp_server_url) {
            (Some(config), _) => (config, None),
            (None, Some(url)) => (one_server(url.clone()), None),
            (None, None) => (
                one_server(format!("http://{}/mcp", loopback(address))),
                Some(toolbox::mcp_router(
                    &toolbox::AccessPolicy::default(),
                    toolbox_shutdown.clone(),
                )),
            ),
        };
        let metrics = Metrics::new();
        let mut mcp_config = mcp_config;
        if embedded_toolbox.is_some()
            && let Some(key) = &settings.api_key
        {
            // The embedded toolbox's /mcp wants the key like every public route.
            mcp_config.authorize_first(key.clone());
        }
        let toolbox: Arc<dyn Toolbox> = Arc::new(McpToolbox::new(
            mcp_config,
            &ToolboxSettings::new(settings.tool_timeout, settings.ssl_cert_file.clone()),
        ));
        let agent = Arc::new(Agent::new(
            llm,
            toolbox.clone(),
            AgentSettings {
                max_iterations: settings.max_iterations,
                turn_timeout: settings.turn_timeout,
                llm_timeout: settings.llm.timeout,
                max_history_bytes: settings.max_history_bytes,
                max_answer_chars: settings.max_answer_chars as usize,
                max_concurrent_turns: settings.max_concurrent_turns as usize,
                approval_timeout: settings.approval_timeout,
                max_tool_result_chars: settings.max_tool_result_chars as usize,
                prices: settings.llm.prices(),
            },
            metrics.clone(),
        ));
        let store = crate::store::open(&settings.database_url)
            .await
            .context("cannot open the conversation store (DATABASE_URL)")?;
        let bus: Arc<dyn Bus> = match &settings.redis_url {
            Some(url) => Arc::new(
                crate::bus::redis::RedisBus::connect(
                    url,
                    settings.turn_lease,
                    settings.session_grace,
                )
                .await
                .context("cannot reach Redis (REDIS_URL)")?,
            ),
            None => Arc::new(LocalBus::default()),
        };
        let journal = Journal::new(
            store,
            JournalSettings {
                flush_every: Duration::from_secs(1),
                max_pending_bytes: settings.session_memory_mb * 1024 * 1024 / 2,
                max_events_per_conversation: settings.max_stored_events,
            },
        );
        let writer_stop = CancellationToken::new();
        let writer = tokio::spawn(journal.clone().run_writer(writer_stop.clone()));
        let (shutdown, hard_stop) = (CancellationToken::new(), CancellationToken::new());
        let hub = Hub::new(
            journal,
            bus,
            agent.clone(),
            SessionSettings {
                grace: settings.session_grace,
                max_queued: settings.max_queued_turns,
                max_sessions: settings.max_sessions,
                memory_budget: settings.session_memory_mb * 1024 * 1024,
                lease_ttl: settings.turn_lease,
            },
            metrics.clone(),
            shutdown.clone(),
            hard_stop.clone(),
        );
        if !hub.bus.shared() {
            let closed = crate::session::close_running_turns(&hub)
                .await
                .context("cannot read the conversation store")?;
            if closed > 0 {
                tracing::warn!(
                    turns = closed,
                    "turns cut short by the last stop were marked interrupted"
                );
            }
        }
        hub.start();
        let hosts = HostPolicy::new(
            settings.allowed_hosts.iter().map(String::as_str),
            settings.public_origin.as_deref(),
        );
        let state = AppState {
            leptos_options: leptos_options()?,
            agent,
            hub,
            toolbox,
            connection_slots: Arc::new(Semaphore::new(settings.max_connections)),
            limits: ClientLimits::new(LimitSettings::from_settings(&settings)),
            hosts: Arc::new(hosts),
            settings: Arc::new(settings),
            metrics,
            connections: TaskTracker::new(),
            turns: TaskTracker::new(),
            shutdown,
            hard_stop,
        };
        crate::retention::spawn(&state);
        let router = crate::routes::router(state.clone(), embedded_toolbox);
        Ok(Self {
            listener,
            address,
            router,
            state,
            toolbox_shutdown,
            writer_stop,
            writer,
        })
    }

    /// The address the server listens on (with the real port when bound to port 0).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `signal` resolves, then shuts down gracefully: `/readyz` turns 503,
    /// new WebSocket sessions and turns stop, turns in flight (WebSocket, REST, SSE)
    /// finish within the grace period, sockets close with 1001, and the listener stops
    /// once the HTTP requests still open are answered.
    pub fn run_until_stopped(self, signal: impl Future<Output = ()> + Send + 'static) -> Boxed<()> {
        Box::pin(self.run(Box::pin(signal)))
    }

    async fn run(self, signal: Pin<Box<dyn Future<Output = ()> + Send>>) -> anyhow::Result<()> {
        let state = self.state;
        let info = state.agent.llm().info().clone();
        tracing::info!(
            address = %self.address,
            llm.provider = %info.provider,
            llm.model = %info.model,
            "toolstream server listening"
        );
        warn_about_exposure(&state.settings, self.address);
        // Connect to the MCP servers (and start the stdio ones) now, so the first turn
        // does not pay for it.
        state.toolbox.start();

        let stopping = state.clone();
        let settings = &state.settings;
        let serve_settings = ServeSettings {
            header_read_timeout: settings.header_read_timeout,
            idle_timeout: settings.http_idle_timeout,
            max_connections: settings.max_http_connections as usize,
            drain_timeout: Duration::from_secs(5),
        };
        serve(
            self.listener,
            self.router,
            serve_settings,
            state.limits.clone(),
            state.metrics.clone(),
            async move {
                signal.await;
                drain(&stopping).await;
            },
        )
        .await;
        state.hub.stop().await;
        self.writer_stop.cancel();
        if self.writer.await.is_err() {
            tracing::error!("the journal writer stopped abnormally");
        }
        self.toolbox_shutdown.cancel();
        state.toolbox.close().await;
        tracing::info!("server stopped");
        Ok(())
    }
}

/// Says at startup what an operator should know about who can reach the server.
fn warn_about_exposure(settings: &Settings, address: SocketAddr) {
    match &settings.api_key {
        None if !address.ip().is_loopback() => tracing::warn!(
            %address,
            "listening beyond loopback without AGENT_API_KEY: anyone who reaches this port \
             can run turns (and spend on the LLM) and call the tools; set AGENT_API_KEY, or \
             HOST=127.0.0.1 for local use"
        ),
        Some(key) if !security::fits_subprotocol(key) => tracing::warn!(
            "AGENT_API_KEY has characters a WebSocket subprotocol cannot carry, so the \
             browser UI cannot send it; use letters, digits and -._~+ (e.g. `openssl rand -hex 32`)"
        ),
        _ => {}
    }
}

/// Shutdown, first phase (the listener still answers, so `/readyz` can say 503 and
/// health checks pass): refuse new connections and turns, let turns in flight
/// finish within the grace period, close WebSockets with 1001. Then the server stops
/// listening and waits for the HTTP requests still in flight.
async fn drain(state: &AppState) {
    let grace = state.settings.shutdown_grace;
    tracing::info!(
        grace_secs = grace.as_secs_f32(),
        "shutting down: finishing turns in flight"
    );
    state.shutdown.cancel();
    state.connections.close();
    state.turns.close();
    let everything = async {
        state.connections.wait().await;
        state.turns.wait().await;
        while !state.hub.all_idle() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    if tokio::time::timeout(grace, everything).await.is_err() {
        tracing::warn!("grace period over; cancelling the remaining turns");
    }
    state.hard_stop.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        state.connections.wait().await;
        state.turns.wait().await;
    })
    .await;
}

/// The single toolbox of `MCP_SERVER_URL` or the embedded one.
fn one_server(url: String) -> McpConfig {
    McpConfig {
        servers: vec![ServerConfig::toolbox(url)],
    }
}

/// The process environment, read once for the MCP configuration.
fn process_environment() -> Environment {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

/// A loopback address to reach a listener bound to `address`.
fn loopback(address: SocketAddr) -> SocketAddr {
    let ip = match address.ip() {
        ip if ip.is_unspecified() && ip.is_ipv6() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip if ip.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        ip => ip,
    };
    SocketAddr::new(ip, address.port())
}

/// Leptos settings from `LEPTOS_*` variables (set by cargo-leptos and the container).
fn leptos_options() -> anyhow::Result<LeptosOptions> {
    let mut options = leptos::config::get_configuration(None)
        .context("invalid LEPTOS_* settings")?
        .leptos_options;
    if options.output_name.is_empty() {
        options.output_name = "toolstream".into();
    }
    Ok(options)
}
