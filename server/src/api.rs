//! The REST API: the same agent and conversations as the WebSocket, for integrations.
//!
//! - `POST /api/chat`, `POST /api/chat/stream`: run a turn (JSON answer; Server-Sent
//!   Events), in a new conversation or, with `conversation_id`, an existing one.
//! - `/api/conversations`: list, read, rename and delete the caller's conversations.
//! - `POST /api/conversations/{id}/approvals/{call_id}`: approve or deny a tool call.
//! - `GET /api/openapi.json`: the OpenAPI document, generated from this code.
//!
//! The caller is identified by the owner cookie (see `owner.rs`). Each client address
//! may start `CLIENT_RATE_LIMIT_PER_SEC` turns per second and run
//! `MAX_API_TURNS_PER_CLIENT` at once (429 beyond); the server runs at most
//! `MAX_CONCURRENT_TURNS` turns (503 beyond); each Server-Sent Event is at most
//! `MAX_SSE_EVENT_BYTES`.

mod approvals;
mod chat;
mod conversations;
mod sse;

use std::{net::SocketAddr, sync::Arc};

use axum::{
    Json, Router,
    body::Body,
    extract::{ConnectInfo, DefaultBodyLimit, Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use utoipa::OpenApi;

use crate::{
    error::{AppError, ErrorBody},
    limits::ClientLimits,
    metrics::Metrics,
    security,
    serve::{Guarded, Peer},
    state::AppState,
    transcript,
};

pub use chat::{ChatRequest, ChatResponse};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "toolstream agent API",
        description = "Run agent turns over HTTP and manage conversations. The caller \
            is identified by the `toolstream_owner` cookie, which the server sets on \
            the first response to a request without it: send it back as `Cookie` to \
            continue, read or delete your conversations. When the server has an API key \
            (`AGENT_API_KEY`), send it as `Authorization: Bearer KEY` or `X-API-Key`."
    ),
    paths(
        chat::chat,
        chat::chat_stream,
        conversations::list,
        conversations::read,
        conversations::rename,
        conversations::delete,
        approvals::answer
    ),
    components(schemas(
        ChatRequest,
        ChatResponse,
        transcript::ToolCallRecord,
        transcript::Transcript,
        transcript::Outcome,
        conversations::ConversationDetail,
        conversations::ConversationItem,
        conversations::TurnDetail,
        conversations::Rename,
        approvals::ApprovalAnswer,
        ErrorBody
    ))
)]
pub struct ApiDoc;

/// The `/api` routes, with their rate limits, API key check, body limit and CORS.
pub fn routes(state: &AppState) -> Router<AppState> {
    let key = state.settings.api_key.clone().map(Arc::new);
    let turns = Router::new()
        .route("/api/chat", post(chat::chat))
        .route("/api/chat/stream", post(chat::chat_stream))
        // A client over its limits is refused before anything else.
        .layer(axum::middleware::from_fn_with_state(
            (state.limits.clone(), state.metrics.clone()),
            client_limits,
        ));
    let guarded = Router::new()
        .route("/api/conversations", get(conversations::list))
        .route(
            "/api/conversations/{id}",
            get(conversations::read)
                .patch(conversations::rename)
                .delete(conversations::delete),
        )
        .route(
            "/api/conversations/{id}/approvals/{call_id}",
            post(approvals::answer),
        )
        .merge(turns)
        .layer(axum::middleware::from_fn_with_state(
            key,
            security::require_api_key,
        ));
    Router::new()
        .route("/api/openapi.json", get(openapi))
        .merge(guarded)
        .layer(DefaultBodyLimit::max(state.settings.max_body_bytes))
        .layer(security::cors(&state.settings.cors_allowed_origins))
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// Admits a REST turn against its client's rate and concurrency, holding the
/// client's slot until the response (or its event stream) ends.
async fn client_limits(
    State((limits, metrics)): State<(Arc<ClientLimits>, Arc<Metrics>)>,
    request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0);
    let client = limits.client_ip(request.headers(), Peer(peer).or_unspecified());
    match limits.api_turn(client) {
        Ok(slot) => next
            .run(request)
            .await
            .map(|body| Body::new(Guarded::new(body, slot))),
        Err(refused) => {
            metrics.reject("client_api_limit");
            tracing::info!(%client, %refused, "REST turn refused");
            AppError::RateLimited {
                message: format!("{refused}; try again in a moment"),
                retry_after_secs: refused.retry_after_secs(),
            }
            .into_response()
        }
    }
}
