//! `POST /api/chat` and `POST /api/chat/stream`: one turn of a conversation over HTTP.
//! The turn runs in the conversation's session like a WebSocket turn (queued behind
//! a running one, seen live by the conversation's WebSocket clients); the request
//! follows the session's events and keeps its own turn's.

use std::{convert::Infallible, sync::Arc};

use axum::{
    Json,
    extract::{
        State,
        rejection::{BytesRejection, FailedToBufferBody, JsonRejection},
    },
    http::HeaderName,
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
};
use protocol::{ErrorCode, ServerFrame};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::{
    error::{AppError, ErrorBody},
    owner::Owner,
    session::{Follower, LiveSession, QueueError, TurnKind, Watch},
    state::AppState,
    transcript::{ToolCallRecord, Transcript},
};

/// A chat request (documents the body; handlers validate it by hand).
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
#[schema(example = json!({ "message": "Suma 10 y 5" }))]
pub struct ChatRequest {
    /// What the user asks, in Spanish or English.
    pub message: String,
    /// The conversation to continue (the caller's own); omitted: a new one.
    #[serde(default)]
    pub conversation_id: Option<String>,
}

/// The outcome of a turn.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "response": "La suma de 10 y 5 es 15.",
    "tool_calls": [{ "tool": "add", "args": { "a": 10, "b": 5 }, "result": "15" }],
    "steps": 5,
    "turn_id": "3f2a9c1b7d4e5a60",
    "conversation_id": "9b1c2d3e4f5a6b7c"
}))]
pub struct ChatResponse {
    /// The agent's answer.
    pub response: String,
    /// The tools called, in order, with their results.
    pub tool_calls: Vec<ToolCallRecord>,
    /// Events the turn produced before completing (as in the WebSocket `complete`).
    pub steps: u32,
    /// Identifies the turn in the conversation and the server's logs.
    pub turn_id: String,
    /// The conversation: pass it back to continue it.
    pub conversation_id: String,
    /// Tokens the turn used (absent for the local planner).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub usage: Option<protocol::Usage>,
}

/// A validated request.
struct Ask {
    message: String,
    conversation_id: Option<String>,
}

/// Validates the body. It is read as a JSON object, not straight into
/// [`ChatRequest`], because serde would also accept `["…"]` for it.
fn ask_of(
    state: &AppState,
    body: Result<Json<Map<String, Value>>, JsonRejection>,
) -> Result<Ask, AppError> {
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
        Some(Value::String(message)) => message,
        Some(_) => return Err(AppError::BadRequest("\"message\" must be a string".into())),
        None => return Err(AppError::BadRequest("the body has no \"message\"".into())),
    };
    let message = crate::input::question(message, state.settings.max_content_chars).map_err(
        |(code, why)| match code {
            ErrorCode::TooLarge => AppError::TooLarge(format!("\"message\": {why}")),
            _ => AppError::BadRequest(format!("\"message\": {why}")),
        },
    )?;
    let conversation_id = match object.get("conversation_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) => Some(id.clone()),
        Some(_) => {
            return Err(AppError::BadRequest(
                "\"conversation_id\" must be a string".into(),
            ));
        }
    };
    Ok(Ask {
        message: message.to_owned(),
        conversation_id,
    })
}

/// Answers 503 `busy` at once when the server already runs `MAX_CONCURRENT_TURNS`.
fn refuse_if_busy(state: &AppState, ask: &Ask) -> Result<(), AppError> {
    state
        .agent
        .refuse_if_full()
        .map_err(|error| AppError::Turn {
            code: error.code(),
            message: error.user_message(crate::lang::detect(&ask.message)),
        })
}

/// A turn queued in its session, with the means to follow it. If the request goes
/// away before the turn ends (the client disconnected), the turn is cancelled.
struct Started {
    session: Arc<LiveSession>,
    follower: Follower,
    turn_id: String,
    /// Set once the turn's terminal event was seen.
    ended: bool,
    _watch: Watch,
}

impl Drop for Started {
    fn drop(&mut self) {
        if !self.ended {
            self.session.cancel_turn(&self.turn_id);
        }
    }
}

/// Opens (or creates) the conversation, follows it, and queues the message.
/// `attended`: whether the client sees the turn's events and can answer approvals
/// (the stream does; plain `/api/chat` does not, so calls that need one are denied).
async fn start(
    state: &AppState,
    owner: &Owner,
    ask: Ask,
    attended: bool,
) -> Result<Started, AppError> {
    let hub = &state.hub;
    let session = match &ask.conversation_id.clone() {
        Some(id) => hub.open(id, owner).await?,
        None => hub.create(owner)?,
    };
    let watch = Watch::new(session.clone());
    // Followed before the message is queued: none of its events can be missed.
    let mut follower = if ask.conversation_id.is_none() {
        hub.follow_new(&session).await
    } else {
        hub.follow(&session, session.last_seq())
            .await
            .map(|(f, _)| f)
    }
    .map_err(|_| AppError::StorageUnavailable)?;
    let turn_id = hub
        .enqueue(&session, TurnKind::Message(ask.message), attended)
        .map_err(|error| match error {
            QueueError::Busy => AppError::Busy(
                "too many messages are waiting in this conversation; try again when they are answered".into(),
            ),
            QueueError::Closed => AppError::StorageUnavailable,
        })?;
    follower.expect_turn();
    Ok(Started {
        session,
        follower,
        turn_id,
        ended: false,
        _watch: watch,
    })
}

/// The next event of the started turn (others' events skipped); `None` after its
/// terminal event or if the session went away.
async fn next_event(state: &AppState, started: &mut Started) -> Option<(ServerFrame, Arc<str>)> {
    loop {
        let live = state.hub.next(&mut started.follower).await?;
        if *live.turn != *started.turn_id {
            continue;
        }
        let frame: ServerFrame = serde_json::from_str(&live.frame).ok()?;
        started.ended |= frame.event.is_terminal();
        return Some((frame, live.frame));
    }
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
        (status = 404, description = "No such conversation of the caller", body = ErrorBody),
        (status = 413, description = "Body or message too large", body = ErrorBody),
        (status = 422, description = "The agent hit its iteration limit", body = ErrorBody),
        (status = 429, description = "The conversation's queue is full", body = ErrorBody),
        (status = 502, description = "The toolbox or the LLM is unavailable", body = ErrorBody),
        (status = 503, description = "Shutting down, or the store is unavailable", body = ErrorBody),
        (status = 504, description = "A tool, the LLM or the turn timed out", body = ErrorBody),
    )
)]
pub async fn chat(
    State(state): State<AppState>,
    owner: Owner,
    body: Result<Json<Map<String, Value>>, JsonRejection>,
) -> Result<Json<ChatResponse>, AppError> {
    let ask = ask_of(&state, body)?;
    refuse_if_busy(&state, &ask)?;
    let mut started = start(&state, &owner, ask, false).await?;
    let mut transcript = Transcript::new(started.turn_id.clone());
    loop {
        let Some((frame, _)) = next_event(&state, &mut started).await else {
            return Err(AppError::StorageUnavailable);
        };
        if transcript.apply(&frame) {
            break;
        }
    }
    if let (Some(code), Some(message)) = (transcript.error_code, transcript.error.clone()) {
        return Err(AppError::Turn { code, message });
    }
    if transcript.outcome == crate::transcript::Outcome::Cancelled {
        return Err(AppError::Turn {
            code: ErrorCode::Cancelled,
            message: "the turn was cancelled".into(),
        });
    }
    Ok(Json(ChatResponse {
        response: transcript.response,
        tool_calls: transcript.tool_calls,
        steps: transcript.steps,
        turn_id: started.turn_id.clone(),
        conversation_id: started.session.id.clone(),
        usage: transcript.usage,
    }))
}

/// Runs one agent turn and streams its events.
///
/// Each Server-Sent Event is named after the event's `type`, and its data is the
/// event as the WebSocket sends it (`{"type":"tool_call",…}`, with `turn_id` and
/// `seq`). The response headers `X-Conversation-Id` and `X-Turn-Id` name the
/// conversation (pass it back to continue) and the turn. A tool call that needs
/// approval shows as `approval_required`; answer it with
/// `POST /api/conversations/{id}/approvals/{call_id}`. The stream ends after the
/// turn's `complete`, `error` or `cancelled`.
#[utoipa::path(
    post,
    path = "/api/chat/stream",
    request_body = ChatRequest,
    responses(
        (status = 200, description = "The turn's events", content_type = "text/event-stream", body = String,
            headers(
                ("x-conversation-id" = String, description = "The conversation"),
                ("x-turn-id" = String, description = "The turn"),
            )),
        (status = 400, description = "Malformed or empty input", body = ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = ErrorBody),
        (status = 404, description = "No such conversation of the caller", body = ErrorBody),
        (status = 413, description = "Body or message too large", body = ErrorBody),
        (status = 429, description = "The conversation's queue is full", body = ErrorBody),
        (status = 503, description = "Shutting down, or the store is unavailable", body = ErrorBody),
    )
)]
pub async fn chat_stream(
    State(state): State<AppState>,
    owner: Owner,
    body: Result<Json<Map<String, Value>>, JsonRejection>,
) -> Result<Response, AppError> {
    let ask = ask_of(&state, body)?;
    // Refused before the stream starts, so the client gets a status, not an event.
    refuse_if_busy(&state, &ask)?;
    let started = start(&state, &owner, ask, true).await?;
    let max_event_bytes = state.settings.max_sse_event_bytes as usize;
    let headers = [
        (
            HeaderName::from_static("x-conversation-id"),
            started.session.id.clone(),
        ),
        (
            HeaderName::from_static("x-turn-id"),
            started.turn_id.clone(),
        ),
    ];
    let events =
        futures::stream::unfold((state, Some(started)), move |(state, started)| async move {
            let mut started = started?;
            let (frame, text) = next_event(&state, &mut started).await?;
            let data = if text.len() <= max_event_bytes {
                text.to_string()
            } else {
                super::sse::fit_event(&frame, max_event_bytes).unwrap_or_default()
            };
            let event = Event::default().event(frame.event.kind()).data(data);
            let next = (!frame.event.is_terminal()).then_some(started);
            Some((Ok::<_, Infallible>(event), (state, next)))
        });
    Ok((headers, Sse::new(events).keep_alive(KeepAlive::default())).into_response())
}
