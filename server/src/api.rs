//! The REST API: the same agent and conversations as the WebSocket, for integrations.
//!
//! - `POST /api/chat`, `POST /api/chat/stream`: run a turn (JSON answer; Server-Sent
//!   Events), in a new conversation or, with `conversation_id`, an existing one.
//! - `/api/conversations`: list, read, rename and delete the caller's conversations.
//! - `GET /api/openapi.json`: the OpenAPI document, generated from this code.
//!
//! The caller is identified by the owner cookie (see `owner.rs`).

mod chat;
mod conversations;

use axum::{
    Json, Router,
    extract::{DefaultBodyLimit, Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use utoipa::OpenApi;

use crate::{
    error::{AppError, ErrorBody},
    security,
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
        conversations::delete
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
        ErrorBody
    ))
)]
pub struct ApiDoc;

/// The `/api` routes, with their API key check, body limit and CORS.
pub fn routes(state: &AppState) -> Router<AppState> {
    let guarded = Router::new()
        .route("/api/chat", post(chat::chat))
        .route("/api/chat/stream", post(chat::chat_stream))
        .route("/api/conversations", get(conversations::list))
        .route(
            "/api/conversations/{id}",
            get(conversations::read)
                .patch(conversations::rename)
                .delete(conversations::delete),
        )
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_api_key,
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

async fn require_api_key(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let key = state.settings.api_key.as_ref();
    if security::authorized(key, request.headers(), request.uri().query()) {
        next.run(request).await
    } else {
        AppError::Unauthorized.into_response()
    }
}
