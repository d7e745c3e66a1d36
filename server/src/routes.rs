//! Every route of the server (the page, `/ws`, the REST API, the embedded toolbox,
//! the static site) with the layers they share, and the probes: `/health`,
//! `/readyz`, `/metrics`.

use std::{sync::Arc, time::Duration};

use axum::{Json, Router, http::StatusCode, response::IntoResponse, routing::get};
use serde_json::json;
use tower_http::{catch_panic::CatchPanicLayer, services::ServeDir, trace::TraceLayer};

use crate::{api, legacy_page, security, state::AppState, tools::ServerState, ws};

/// The longest `/readyz` takes: it answers 503 rather than wait longer for the
/// toolbox (the Kubernetes probe's timeout is set above this).
pub const READINESS_TIMEOUT: Duration = Duration::from_secs(3);

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
