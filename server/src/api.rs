//! The REST agent: the same turns as the WebSocket, for integrations.
//!
//! - `POST /api/chat`: runs a turn, answers with the response and the tool calls.
//! - `POST /api/chat/stream`: the same turn as Server-Sent Events carrying the
//!   WebSocket protocol's events.
//! - `GET /api/openapi.json`: the OpenAPI document, generated from this code.
//!
//! Each client address may start `CLIENT_RATE_LIMIT_PER_SEC` turns per second and run
//! `MAX_API_TURNS_PER_CLIENT` at once (429 beyond); the server runs at most
//! `MAX_CONCURRENT_TURNS` turns (503 beyond). Turns are tracked, so shutdown lets them
//! finish; each Server-Sent Event is at most `MAX_SSE_EVENT_BYTES`.

mod sse;

use std::{convert::Infallible, net::SocketAddr, sync::Arc};

use async_trait::async_trait;
use axum::{
    Json, Router,
    body::Body,
    extract::{
        ConnectInfo, DefaultBodyLimit, Request, State,
        rejection::{BytesRejection, FailedToBufferBody, JsonRejection},
    },
    middleware::Next,
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
    routing::{get, post},
};
use futures::Stream;
use protocol::{Args, ServerEvent};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::sync::mpsc;
use utoipa::{OpenApi, ToSchema};

use self::sse::SseSink;
use crate::{
    agent::{EventSink, SinkClosed},
    error::{AppError, ErrorBody},
    lang::detect,
    limits::ClientLimits,
    metrics::Metrics,
    security,
    serve::{Guarded, Peer},
    state::AppState,
    ws::connection::new_id,
};

/// A chat request (documents the body; handlers validate it by hand).
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
#[schema(example = json!({ "message": "Suma 10 y 5" }))]
pub struct ChatRequest {
    /// What the user asks, in Spanish or English.
    pub message: String,
}

/// The outcome of a turn.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "response": "La suma de 10 y 5 es 15.",
    "tool_calls": [{ "tool": "add", "args": { "a": 10, "b": 5 }, "result": "15" }],
    "steps": 5,
    "turn_id": "3f2a9c1b7d4e5a60"
}))]
pub struct ChatResponse {
    /// The agent's answer.
    pub response: String,
    /// The tools called, in order, with their results.
    pub tool_calls: Vec<ToolCallRecord>,
    /// Events the turn produced before completing (as in the WebSocket `complete`).
    pub steps: u32,
    /// Identifies the turn in the server's logs.
    pub turn_id: String,
}

/// One tool call of a turn.
#[derive(Debug, Serialize, ToSchema)]
pub struct ToolCallRecord {
    pub tool: String,
    /// The arguments, numbers as given.
    #[schema(value_type = Object)]
    pub args: Args,
    /// The result as text (`"15"`), or the error message when `is_error`.
    pub result: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_error: bool,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "toolstream agent API",
        description = "Run agent turns over HTTP. When the server has an API key \
            (`AGENT_API_KEY`), send it as `Authorization: Bearer KEY` or `X-API-Key`."
    ),
    paths(chat, chat_stream),
    components(schemas(ChatRequest, ChatResponse, ToolCallRecord, ErrorBody))
)]
pub struct ApiDoc;

/// The `/api` routes, with their rate limits, API key check, body limit and CORS.
pub fn routes(state: &AppState) -> Router<AppState> {
    let key = state.settings.api_key.clone().map(Arc::new);
    let guarded = Router::new()
        .route("/api/chat", post(chat))
        .route("/api/chat/stream", post(chat_stream))
        .layer(axum::middleware::from_fn_with_state(
            key,
            security::require_api_key,
        ))
        // Outermost: a client over its limits is refused before anything else.
        .layer(axum::middleware::from_fn_with_state(
            (state.limits.clone(), state.metrics.clone()),
            client_limits,
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

/// Validates the body into a message to run. The body is read as a JSON object, not
/// straight into [`ChatRequest`], because serde would also accept `["…"]` for it.
fn message_of(
    state: &AppState,
    body: Result<Json<Map<String, Value>>, JsonRejection>,
) -> Result<String, AppError> {
    if state.shutdown.is_cancelled() {
        return Err(AppError::ShuttingDown);
    }
    let Json(object) = body.map_err(|rejection| match rejection {
        JsonRejection::BytesRejection(BytesRejection::FailedToBufferBody(
            FailedToBufferBody::LengthLimitError(_),
        )) => AppError::TooLarge(format!(
            "the request body is larger than {} bytes",
            state.settings.max_body_bytes
        )),
        JsonRejection::BytesRejection(BytesRejection::FailedToBufferBody(_)) => {
            AppError::BadRequest(
                "the request body could not be read (it stopped arriving or was cut off)".into(),
            )
        }
        other => AppError::BadRequest(format!(
            "expected a JSON body such as {{\"message\":\"Suma 10 y 5\"}}: {}",
            other.body_text()
        )),
    })?;
    let message = match object.get("message") {
        Some(Value::String(message)) => message.trim(),
        Some(_) => return Err(AppError::BadRequest("\"message\" must be a string".into())),
        None => return Err(AppError::BadRequest("the body has no \"message\"".into())),
    };
    if message.is_empty() {
        return Err(AppError::BadRequest("\"message\" is empty".into()));
    }
    if message.chars().count() > state.settings.max_content_chars {
        return Err(AppError::TooLarge(format!(
            "\"message\" is longer than {} characters",
            state.settings.max_content_chars
        )));
    }
    Ok(message.to_owned())
}

/// Runs one agent turn.
#[utoipa::path(
    post,
    path = "/api/chat",
    request_body = ChatRequest,
    responses(
        (status = 200, description = "The turn completed", body = ChatResponse),
        (status = 400, description = "Malformed or empty input", body = ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = ErrorBody),
        (status = 413, description = "Body or message too large", body = ErrorBody),
        (status = 422, description = "The agent hit its iteration limit", body = ErrorBody),
        (status = 429, description = "This client sends too many requests or runs too many turns at once (see Retry-After)", body = ErrorBody),
        (status = 502, description = "The toolbox or the LLM is unavailable", body = ErrorBody),
        (status = 503, description = "The server is busy or shutting down (see Retry-After)", body = ErrorBody),
        (status = 504, description = "A tool, the LLM or the turn timed out", body = ErrorBody),
    )
)]
async fn chat(
    State(state): State<AppState>,
    body: Result<Json<Map<String, Value>>, JsonRejection>,
) -> Result<Json<ChatResponse>, AppError> {
    let message = message_of(&state, body)?;
    let lang = detect(&message);
    let permit = state
        .agent
        .admit()
        .map_err(|error| AppError::Agent { error, lang })?;
    let turn_id = new_id();
    // The turn stops if the client goes away (axum drops this future) or when the
    // server's shutdown grace period is over; until then, shutdown waits for it.
    let cancel = state.hard_stop.child_token();
    let agent = state.agent.clone();
    let turn = async {
        agent
            .run_admitted_turn(permit, &turn_id, &message, &[], &mut Discard, &cancel)
            .await
    };
    let summary = state
        .turns
        .track_future(turn)
        .await
        .map_err(|error| AppError::Agent { error, lang })?;
    Ok(Json(ChatResponse {
        response: summary.response,
        tool_calls: summary
            .tool_calls
            .into_iter()
            .map(|record| ToolCallRecord {
                tool: record.call.name,
                args: record.call.args,
                result: record.result,
                is_error: record.is_error,
            })
            .collect(),
        steps: summary.steps,
        turn_id,
    }))
}

/// Runs one agent turn and streams its events.
///
/// Each Server-Sent Event is named after the event's `type`, and its data is the
/// event as the WebSocket sends it (`{"type":"tool_call",…}`). The stream ends after
/// `complete` or `error`.
#[utoipa::path(
    post,
    path = "/api/chat/stream",
    request_body = ChatRequest,
    responses(
        (status = 200, description = "The turn's events", content_type = "text/event-stream", body = String),
        (status = 400, description = "Malformed or empty input", body = ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = ErrorBody),
        (status = 413, description = "Body or message too large", body = ErrorBody),
        (status = 429, description = "This client sends too many requests or runs too many turns at once (see Retry-After)", body = ErrorBody),
        (status = 503, description = "The server is busy or shutting down (see Retry-After)", body = ErrorBody),
    )
)]
async fn chat_stream(
    State(state): State<AppState>,
    body: Result<Json<Map<String, Value>>, JsonRejection>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, AppError> {
    let message = message_of(&state, body)?;
    // Refused before the stream starts, so the client gets a status, not an event.
    let permit = state.agent.admit().map_err(|error| AppError::Agent {
        error,
        lang: detect(&message),
    })?;
    let turn_id = new_id();
    let (tx, rx) = mpsc::channel(64);
    let cancel = state.hard_stop.child_token();
    let agent = state.agent.clone();
    let max_event_bytes = state.settings.max_sse_event_bytes as usize;
    state.turns.spawn(async move {
        let mut sink = SseSink {
            tx,
            turn_id: turn_id.clone(),
            max_event_bytes,
        };
        // Errors reach the client as `error` events; a vanished client stops the turn.
        let _ = agent
            .run_admitted_turn(permit, &turn_id, &message, &[], &mut sink, &cancel)
            .await;
    });
    let events = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|event| (Ok(event), rx))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

/// `/api/chat` answers from the turn's summary, so its events go nowhere.
struct Discard;

#[async_trait]
impl EventSink for Discard {
    async fn send(&mut self, _event: ServerEvent) -> Result<(), SinkClosed> {
        Ok(())
    }
}
