//! Builds the application from its settings and runs it.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use axum::{Json, Router, http::StatusCode, response::IntoResponse, routing::get};
use leptos::config::LeptosOptions;
use serde_json::json;
use tokio::{net::TcpListener, sync::Semaphore};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tower_http::{catch_panic::CatchPanicLayer, services::ServeDir, trace::TraceLayer};

use crate::{
    agent::{Agent, AgentSettings},
    api,
    bus::{Bus, local::LocalBus},
    config::Settings,
    legacy_page,
    limits::{ClientLimits, LimitSettings},
    llm::Llm,
    metrics::Metrics,
    security::{self, HostPolicy},
    serve::{ServeSettings, serve},
    session::{Hub, SessionSettings},
    state::AppState,
    store::journal::{Journal, JournalSettings},
    tools::{
        self, McpConfig, McpToolbox, ServerConfig, ServerState, Toolbox, ToolboxSettings,
        expand::Environment,
    },
    ws,
};

/// The longest `/readyz` takes: it answers 503 rather than wait longer for the
/// toolbox (the Kubernetes probe's timeout is set above this).
pub const READINESS_TIMEOUT: Duration = Duration::from_secs(3);

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

impl Application {
    /// Binds the listener and wires every part, without serving yet.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let llm = crate::llm::from_settings(&settings.llm).await?;
        Self::build_with_llm(settings, llm).await
    }

    /// Like [`Application::build`], with the given LLM.
    pub async fn build_with_llm(settings: Settings, llm: Arc<dyn Llm>) -> anyhow::Result<Self> {
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
        let router = router(state.clone(), embedded_toolbox);
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
    pub async fn run_until_stopped(
        self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
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

/// Every route of the server. `embedded_toolbox` is the toolbox's `/mcp` router,
/// when it runs in-process.
pub fn router(state: AppState, embedded_toolbox: Option<Router<AppState>>) -> Router {
    let options = state.leptos_options.clone();
    let page = leptos_axum::render_app_to_stream_with_context(provide_request_context, move || {
        app::shell(options.clone())
    });
    let assets = ServeDir::new(&*state.leptos_options.site_root)
        .precompressed_br()
        .precompressed_gzip()
        .fallback(get(not_found).with_state(()));
    let mut router = Router::new()
        .route("/", get(page))
        .route("/ws", get(ws::upgrade))
        .route("/test-websocket.html", get(legacy_page::serve))
        .route("/health", get(health))
        .route("/healthz", get(health))
        .route("/readyz", get(readiness))
        .route("/metrics", get(metrics));
    router = router.merge(api::routes(&state));
    if let Some(toolbox) = embedded_toolbox {
        let key = state.settings.api_key.clone().map(Arc::new);
        router = router.merge(toolbox.layer(axum::middleware::from_fn_with_state(
            key,
            security::require_api_key,
        )));
    }
    router
        .fallback_service(assets)
        .layer(axum::middleware::from_fn(crate::owner::middleware))
        .layer(axum::middleware::from_fn_with_state(
            state.hosts.clone(),
            security::guard,
        ))
        .layer(TraceLayer::new_for_http())
        .layer(CatchPanicLayer::new())
        .with_state(state)
}

/// What the page's rendering needs from the request: the nonce that
/// [`security::guard`] put in the CSP header (so Leptos's inline hydration script
/// carries the same one), and the UI language from `Accept-Language`.
fn provide_request_context() {
    use leptos::prelude::{provide_context, use_context};
    let Some(parts) = use_context::<axum::http::request::Parts>() else {
        return;
    };
    if let Some(security::CspNonce(nonce)) = parts.extensions.get() {
        provide_context(leptos::nonce::Nonce::from_value(nonce.clone()));
    }
    let accept = parts
        .headers
        .get(axum::http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    provide_context(app::i18n::UiLang::from_header(accept));
}

async fn metrics(axum::extract::State(state): axum::extract::State<AppState>) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
}

async fn health() -> impl IntoResponse {
    Json(json!({ "status": "healthy", "service": "websocket-agent" }))
}

/// Ready when every required MCP server (the embedded or `MCP_SERVER_URL` toolbox;
/// `mcp.json` servers only with `"required": true`), the conversation store and the bus
/// answer, within [`READINESS_TIMEOUT`]; the body names the part that does not and
/// lists each MCP server's state. Never while shutting down, so traffic moves away at
/// once.
async fn readiness(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> impl IntoResponse {
    let llm = state.agent.llm().info();
    let draining = || {
        let body = json!({
            "status": "draining",
            "error": "the server is shutting down",
            "llm": { "provider": llm.provider, "model": llm.model },
        });
        (StatusCode::SERVICE_UNAVAILABLE, Json(body))
    };
    if state.shutdown.is_cancelled() {
        return draining();
    }
    let probe = tokio::time::timeout(READINESS_TIMEOUT, async {
        tokio::join!(
            state.toolbox.status(Duration::from_secs(2)),
            state.hub.journal.store().ping(),
            state.hub.bus.ping(),
        )
    });
    // Shutdown may begin while the parts are asked: it wins at once.
    let answers = tokio::select! {
        biased;
        () = state.shutdown.cancelled() => return draining(),
        answers = probe => answers.ok(),
    };
    let late = || json!({ "ok": false, "error": "no answer in time" });
    let (toolbox, servers, store, bus) = match answers {
        None => (late(), json!([]), late(), late()),
        Some((servers, store, bus)) => {
            let ready = servers
                .iter()
                .filter(|s| s.required && s.state != ServerState::Disabled)
                .all(|s| s.state == ServerState::Ready);
            let toolbox = json!({ "ok": ready, "tools": state.toolbox.tools().len() });
            // Answering is not enough for the store: turns waiting to be written must
            // have been.
            let store = match store {
                Ok(()) if state.hub.journal.healthy() => json!({ "ok": true }),
                Ok(()) => json!({ "ok": false, "error": "turns are waiting to be written" }),
                Err(error) => json!({ "ok": false, "error": error.to_string() }),
            };
            let bus = match bus {
                Ok(()) => json!({ "ok": true }),
                Err(error) => json!({ "ok": false, "error": error.to_string() }),
            };
            (toolbox, json!(servers), store, bus)
        }
    };
    let mut store = store;
    store["kind"] = json!(state.hub.journal.store().kind());
    let mut bus = bus;
    bus["kind"] = json!(state.hub.bus.kind());
    let ready = [&toolbox, &store, &bus]
        .iter()
        .all(|part| part["ok"] == json!(true));
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "toolbox": toolbox,
        "servers": servers,
        "store": store,
        "bus": bus,
        "llm": { "provider": llm.provider, "model": llm.model },
    });
    (status, Json(body))
}

async fn not_found() -> impl IntoResponse {
    (StatusCode::NOT_FOUND, "not found")
}
