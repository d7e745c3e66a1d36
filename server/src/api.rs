//! The REST agent: the same turns as the WebSocket, for integrations.
//!
//! - `POST /api/chat`: runs a turn, answers with the response and the tool calls.
//! - `POST /api/chat/stream`: the same turn as Server-Sent Events carrying the
//!   WebSocket protocol's events.
//! - `POST /api/approvals/{call_id}`: approves or denies a tool call that a streamed
//!   turn announced with `approval_required`.
//! - `GET /api/openapi.json`: the OpenAPI document, generated from this code.

use std::convert::Infallible;

use async_trait::async_trait;
use axum::{
    Json, Router,
    extract::{
        DefaultBodyLimit, Path, Request, State,
        rejection::{BytesRejection, JsonRejection},
    },
    http::StatusCode,
    middleware::Next,
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
    routing::{get, post},
};
use futures::Stream;
use protocol::{Args, ServerEvent, ServerFrame};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::sync::mpsc;
use utoipa::{OpenApi, ToSchema};

use crate::{
    agent::{ApprovalInbox, Decision, EventSink, SinkClosed, approval_channel},
    error::{AppError, ErrorBody},
    lang::detect,
    security,
    state::AppState,
    ws::{connection::new_id, session::now_ms},
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
    paths(chat, chat_stream, answer_approval),
    components(schemas(ChatRequest, ChatResponse, ToolCallRecord, ApprovalAnswer, ErrorBody))
)]
pub struct ApiDoc;

/// The `/api` routes, with their API key check, body limit and CORS.
pub fn routes(state: &AppState) -> Router<AppState> {
    let guarded = Router::new()
        .route("/api/chat", post(chat))
        .route("/api/chat/stream", post(chat_stream))
        .route("/api/approvals/{call_id}", post(answer_approval))
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
        JsonRejection::BytesRejection(BytesRejection::FailedToBufferBody(_)) => {
            AppError::TooLarge(format!(
                "the request body is larger than {} bytes",
                state.settings.max_body_bytes
            ))
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
        (status = 502, description = "The toolbox or the LLM is unavailable", body = ErrorBody),
        (status = 503, description = "The server is shutting down", body = ErrorBody),
        (status = 504, description = "A tool, the LLM or the turn timed out", body = ErrorBody),
    )
)]
async fn chat(
    State(state): State<AppState>,
    body: Result<Json<Map<String, Value>>, JsonRejection>,
) -> Result<Json<ChatResponse>, AppError> {
    let message = message_of(&state, body)?;
    let turn_id = new_id();
    // The turn stops if the client goes away (axum drops this future) or when the
    // server's shutdown grace period is over.
    let cancel = state.hard_stop.child_token();
    // Nobody sees this turn's events, so nobody can approve: calls that need
    // approval are denied at once (use `/api/chat/stream` for them).
    let approvals = ApprovalInbox::unattended();
    let summary = state
        .agent
        .run_turn(&turn_id, &message, &[], &mut Discard, &approvals, &cancel)
        .await
        .map_err(|error| AppError::Agent {
            error,
            lang: detect(&message),
        })?;
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
/// `complete` or `error`. A tool call that needs approval shows as
/// `approval_required`; answer it with `POST /api/approvals/{call_id}`.
#[utoipa::path(
    post,
    path = "/api/chat/stream",
    request_body = ChatRequest,
    responses(
        (status = 200, description = "The turn's events", content_type = "text/event-stream", body = String),
        (status = 400, description = "Malformed or empty input", body = ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = ErrorBody),
        (status = 413, description = "Body or message too large", body = ErrorBody),
        (status = 503, description = "The server is shutting down", body = ErrorBody),
    )
)]
async fn chat_stream(
    State(state): State<AppState>,
    body: Result<Json<Map<String, Value>>, JsonRejection>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, AppError> {
    let message = message_of(&state, body)?;
    let turn_id = new_id();
    let (tx, rx) = mpsc::channel(64);
    let cancel = state.hard_stop.child_token();
    tokio::spawn(async move {
        let gone = tx.clone();
        let mut sink = SseSink {
            tx,
            turn_id: turn_id.clone(),
        };
        // Approvals are answered through the process-wide index, by call_id.
        let (_answers, approvals) = approval_channel();
        let approvals = approvals.indexed(state.approvals.clone());
        // Errors reach the client as `error` events. A vanished client stops the
        // turn at once, even one waiting for an approval or a slow tool (the MCP
        // server is told the call is cancelled).
        let turn = state
            .agent
            .run_turn(&turn_id, &message, &[], &mut sink, &approvals, &cancel);
        let mut turn = std::pin::pin!(turn);
        tokio::select! {
            _ = &mut turn => {}
            () = gone.closed() => {
                cancel.cancel();
                let _ = turn.await;
            }
        }
    });
    let events = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|event| (Ok(event), rx))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

/// The answer to `approval_required`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({ "approve": false, "reason": "not on production" }))]
pub struct ApprovalAnswer {
    /// `true` runs the tool call; `false` refuses it (the model is told).
    pub approve: bool,
    /// Why it is refused, passed on to the model.
    #[serde(default)]
    pub reason: Option<String>,
}

/// Approves or denies a tool call waiting for approval.
///
/// `call_id` is the one `approval_required` carried (on `/api/chat/stream` or a
/// WebSocket). The turn then goes on and sends `approval_resolved`.
#[utoipa::path(
    post,
    path = "/api/approvals/{call_id}",
    params(("call_id" = String, Path, description = "The call_id of approval_required")),
    request_body = ApprovalAnswer,
    responses(
        (status = 204, description = "Delivered; the turn goes on"),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = ErrorBody),
        (status = 404, description = "No tool call with this call_id waits for approval", body = ErrorBody),
    )
)]
async fn answer_approval(
    State(state): State<AppState>,
    Path(call_id): Path<String>,
    body: Result<Json<ApprovalAnswer>, JsonRejection>,
) -> Result<StatusCode, AppError> {
    let Json(answer) = body.map_err(|rejection| {
        AppError::BadRequest(format!(
            "expected a JSON body such as {{\"approve\":true}}: {}",
            rejection.body_text()
        ))
    })?;
    let decision = Decision {
        approved: answer.approve,
        reason: answer.reason,
    };
    state
        .approvals
        .decide(&call_id, decision)
        .map_err(|error| AppError::NotFound(error.to_string()))?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sends turn events as SSE events, serialised once.
struct SseSink {
    tx: mpsc::Sender<Event>,
    turn_id: String,
}

#[async_trait]
impl EventSink for SseSink {
    async fn send(&mut self, event: ServerEvent) -> Result<(), SinkClosed> {
        let kind = event.kind();
        let frame = ServerFrame {
            event,
            turn_id: Some(self.turn_id.clone()),
            seq: None,
            ts_ms: Some(now_ms()),
        };
        let data = serde_json::to_string(&frame).map_err(|_| SinkClosed)?;
        self.tx
            .send(Event::default().event(kind).data(data))
            .await
            .map_err(|_| SinkClosed)
    }
}

/// `/api/chat` answers from the turn's summary, so its events go nowhere.
struct Discard;

#[async_trait]
impl EventSink for Discard {
    async fn send(&mut self, _event: ServerEvent) -> Result<(), SinkClosed> {
        Ok(())
    }
}
