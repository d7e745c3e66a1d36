//! The MCP toolbox: arithmetic tools served over MCP Streamable HTTP at `/mcp`.
//!
//! The same service runs as the standalone `toolbox` binary and, when the agent server
//! has no `MCP_SERVER_URL`, mounted inside the server on its own port. Either way the
//! agent reaches it over real HTTP.

pub mod calculator;
pub mod probe;
pub mod signal;
pub mod telemetry;

use axum::{Json, Router, http::StatusCode, routing::get};
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

pub use calculator::{Calculator, Operation};

/// The hosts rmcp accepts by default; anything else is refused as a DNS-rebinding guard.
pub const DEFAULT_ALLOWED_HOSTS: &str = "localhost,127.0.0.1,::1";

/// Who may reach the MCP endpoint, as the MCP specification asks servers to check.
#[derive(Debug, Clone)]
pub struct AccessPolicy {
    /// Accepted `Host` header values (`name` or `name:port`). Compose and Kubernetes
    /// address the toolbox by service name (`http://mcp-server:8000`), which must be
    /// listed here. A single `*` accepts any host.
    pub allowed_hosts: Vec<String>,
    /// Accepted browser `Origin`s (with scheme, e.g. `https://app.example.com:443`).
    /// Requests without an `Origin` (servers, CLI clients) always pass; requests with
    /// an `Origin` not listed here are refused with 403.
    pub allowed_origins: Vec<String>,
}

impl Default for AccessPolicy {
    fn default() -> Self {
        Self {
            allowed_hosts: DEFAULT_ALLOWED_HOSTS
                .split(',')
                .map(str::to_owned)
                .collect(),
            allowed_origins: Vec::new(),
        }
    }
}

/// Builds the MCP Streamable HTTP service, to be mounted with `nest_service("/mcp", …)`.
///
/// Both current protocol revisions are served: 2025-11-25 clients get a session from
/// `initialize`, 2026-07-28 clients are served statelessly. Simple tool calls are
/// answered as plain JSON rather than an SSE stream, which is cheaper for both ends.
pub fn mcp_service(
    policy: &AccessPolicy,
    shutdown: CancellationToken,
) -> StreamableHttpService<Calculator, LocalSessionManager> {
    let mut config = StreamableHttpServerConfig::default()
        .with_json_response(true)
        .with_sse_keep_alive(None)
        .with_cancellation_token(shutdown)
        .enforce_origin_validation()
        .with_allowed_origins(policy.allowed_origins.iter().cloned());
    config = if policy.allowed_hosts.iter().any(|host| host == "*") {
        config.disable_allowed_hosts()
    } else {
        config.with_allowed_hosts(policy.allowed_hosts.iter().cloned())
    };
    let calculator = Calculator::new();
    StreamableHttpService::new(move || Ok(calculator.clone()), Default::default(), config)
}

/// The MCP endpoint alone, mounted at `/mcp`: what the agent server embeds.
pub fn mcp_router<S>(policy: &AccessPolicy, shutdown: CancellationToken) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .nest_service("/mcp", mcp_service(policy, shutdown))
        .layer(axum::middleware::map_response(session_delete_no_content))
}

/// The toolbox's HTTP surface: `/mcp`, and `GET /health` (also `/healthz`, `/readyz`
/// for Kubernetes probes: the toolbox has no dependency to wait for).
pub fn router(policy: &AccessPolicy, shutdown: CancellationToken) -> Router {
    mcp_router(policy, shutdown)
        .route("/health", get(health))
        .route("/healthz", get(health))
        .route("/readyz", get(health))
}

/// rmcp acknowledges a session `DELETE` with 202; clients such as the official Python
/// SDK expect 200 or 204 and log a failure otherwise. A terminated session has no
/// content to return, so say so.
async fn session_delete_no_content(
    method: axum::http::Method,
    mut response: axum::response::Response,
) -> axum::response::Response {
    if method == axum::http::Method::DELETE && response.status() == StatusCode::ACCEPTED {
        *response.status_mut() = StatusCode::NO_CONTENT;
    }
    response
}

async fn health() -> Json<Value> {
    Json(json!({ "status": "ok", "service": "toolbox" }))
}
