//! The toolstream WebSocket protocol: one JSON object per text frame, tagged by `"type"`.
//!
//! This crate is the single source of the wire types for the server, the browser UI, the
//! tests and the load generator. It depends on serde alone so it builds for native and
//! `wasm32` targets alike.
//!
//! The first seven server events and the `message` client message are a contract with
//! existing clients: their names, fields and meanings never change. Everything else is
//! additive, and a client that ignores unknown types and fields keeps working.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Version of the protocol spoken by this crate, announced to clients on connect.
pub const PROTOCOL_VERSION: u32 = 1;

/// Tool-call arguments: always a JSON object, numbers kept as the user gave them.
pub type Args = serde_json::Map<String, Value>;

/// A message from a client to the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// Run one agent turn for this user message.
    Message { content: String },
    /// Stop the turn in progress (and drop the queued ones); answered by `cancelled`.
    Cancel {},
    /// Continue an earlier session on this connection: the server replays the events
    /// after `last_seq` (0 for all it still has), then sends live ones.
    Resume { session_id: String, last_seq: u64 },
}

/// The `type` names a client may send, for error messages.
pub const CLIENT_MESSAGE_TYPES: &[&str] = &["message", "cancel", "resume"];

/// An event the server streams to a client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerEvent {
    /// Sent once when a connection opens: what this server offers.
    Ready {
        /// [`PROTOCOL_VERSION`] of the server.
        protocol: u32,
        /// Identifies this client's session.
        session_id: String,
        /// The language model that drives the agent.
        llm: LlmDescriptor,
        /// The toolbox's tools (empty while the toolbox is unreachable).
        tools: Vec<ToolDescriptor>,
    },
    /// The turn began.
    Start { message: String },
    /// A workflow node runs.
    Step { node: Node, message: String },
    /// A tool is called with these arguments.
    ToolCall { tool: String, args: Args },
    /// A tool answered; `result` is its text (`"15"`, not `"15.0"`).
    ToolResult {
        tool: String,
        result: String,
        /// The tool reported an error and `result` is its message. Omitted when false.
        #[serde(default, skip_serializing_if = "is_false")]
        is_error: bool,
    },
    /// A piece of the answer as the model streams it. The whole answer still
    /// follows as `response`. Pieces sent before a `tool_call` were the model
    /// thinking aloud, not the answer.
    ResponseDelta { content: String },
    /// The final answer of the turn, whole.
    Response { content: String },
    /// The turn ended; `steps` counts the events sent for the turn before this one.
    Complete { steps: u32 },
    /// The turn stopped because the client asked (`cancel`). Ends the turn.
    Cancelled {},
    /// Something went wrong; `message` is clear and safe to show to a user.
    Error {
        message: String,
        /// A stable machine-readable reason, when one applies.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<ErrorCode>,
    },
}

fn is_false(flag: &bool) -> bool {
    !flag
}

/// The model behind the agent, as announced in `ready`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LlmDescriptor {
    /// `local`, `bedrock` or `openai`.
    pub provider: String,
    /// The model id (`planner` for the local planner).
    pub model: String,
    /// A short human-readable name.
    pub label: String,
}

/// A tool of the toolbox, as announced in `ready`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolDescriptor {
    pub name: String,
    pub description: String,
    /// The tool's input JSON Schema.
    pub parameters: Value,
}

/// The nodes of the agent workflow, as named in `step` events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Node {
    /// The language model (or the local planner) decides what to do next.
    Llm,
    /// The requested tools run.
    Tools,
}

/// Stable, machine-readable reasons carried by `error` events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame was not valid JSON.
    InvalidJson,
    /// The frame was JSON but not a valid client message.
    InvalidMessage,
    /// The message or one of its fields is over the size limit.
    TooLarge,
    /// The client sends faster than its rate limit allows.
    RateLimited,
    /// A turn is already running and the queue is full.
    Busy,
    /// The MCP toolbox cannot be reached.
    ToolboxUnavailable,
    /// The language model cannot be reached or refused the request.
    LlmUnavailable,
    /// A tool, model or turn ran out of time.
    Timeout,
    /// The turn was cancelled.
    Cancelled,
    /// The agent hit its iteration cap without an answer.
    IterationLimit,
    /// `resume` named a session the server no longer has.
    SessionExpired,
    /// `resume` succeeded, but some missed events had left the server's log.
    ResumeGap,
    /// An API key is required, or the one given is wrong.
    Unauthorized,
    /// An unexpected server fault; details are in the server log.
    Internal,
    /// A code this client does not know yet (sent by a newer server).
    #[serde(other)]
    Unknown,
}

/// One server frame on the wire: the event, plus optional metadata fields that sit
/// beside `type` in the same JSON object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerFrame {
    #[serde(flatten)]
    pub event: ServerEvent,
    /// The turn this event belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn_id: Option<String>,
    /// Per-session sequence number, increasing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// Server time in Unix milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts_ms: Option<u64>,
}

impl From<ServerEvent> for ServerFrame {
    fn from(event: ServerEvent) -> Self {
        Self {
            event,
            turn_id: None,
            seq: None,
            ts_ms: None,
        }
    }
}

impl ServerEvent {
    /// An `error` event without a code.
    pub fn error(message: impl Into<String>) -> Self {
        Self::Error {
            message: message.into(),
            code: None,
        }
    }

    /// An `error` event with a machine-readable code.
    pub fn error_with_code(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Error {
            message: message.into(),
            code: Some(code),
        }
    }

    /// The wire name of this event's `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Ready { .. } => "ready",
            Self::Start { .. } => "start",
            Self::Step { .. } => "step",
            Self::ToolCall { .. } => "tool_call",
            Self::ToolResult { .. } => "tool_result",
            Self::ResponseDelta { .. } => "response_delta",
            Self::Response { .. } => "response",
            Self::Complete { .. } => "complete",
            Self::Cancelled { .. } => "cancelled",
            Self::Error { .. } => "error",
        }
    }

    /// Whether this event ends a turn.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Self::Complete { .. } | Self::Error { .. } | Self::Cancelled { .. }
        )
    }
}

/// Why a client frame could not be decoded. The `Display` text is safe to send back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    pub code: ErrorCode,
    pub message: String,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DecodeError {}

impl ClientMessage {
    /// Decodes one text frame, explaining precisely what is wrong when it is not a
    /// valid client message.
    pub fn decode(text: &str) -> Result<Self, DecodeError> {
        match serde_json::from_str::<Self>(text) {
            Ok(message) => Ok(message),
            Err(_) => Err(diagnose(text)),
        }
    }
}

/// Works out a clear explanation for a frame that failed to decode. Only runs on the
/// error path, so parsing the frame a second time costs nothing on the hot path.
fn diagnose(text: &str) -> DecodeError {
    let invalid = |message: String| DecodeError {
        code: ErrorCode::InvalidMessage,
        message,
    };
    let value: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(err) => {
            return DecodeError {
                code: ErrorCode::InvalidJson,
                message: format!("the message is not valid JSON ({err})"),
            };
        }
    };
    let Value::Object(object) = &value else {
        return invalid(format!(
            "expected a JSON object such as {{\"type\":\"message\",\"content\":\"...\"}}, got {}",
            json_kind(&value)
        ));
    };
    let kind = match object.get("type") {
        None => return invalid("the message has no \"type\" field".to_owned()),
        Some(Value::String(kind)) => kind.as_str(),
        Some(other) => {
            return invalid(format!(
                "\"type\" must be a string, got {}",
                json_kind(other)
            ));
        }
    };
    if !CLIENT_MESSAGE_TYPES.contains(&kind) {
        return invalid(format!(
            "unknown message type \"{}\"; expected one of: {}",
            truncate(kind, 40),
            CLIENT_MESSAGE_TYPES.join(", ")
        ));
    }
    match serde_json::from_value::<ClientMessage>(value.clone()) {
        Ok(_) => invalid("the message could not be decoded".to_owned()),
        Err(err) => invalid(format!("invalid \"{kind}\" message: {err}")),
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// Formats a tool's numeric result the way the protocol shows it: whole numbers without
/// a fractional part (`15`, not `15.0`), others in their shortest exact form (`2.5`).
pub fn format_number(value: f64) -> String {
    // 2^53: beyond it not every integer is representable, so `as i64` would mislead.
    const MAX_EXACT: f64 = 9_007_199_254_740_992.0;
    if value.fract() == 0.0 && value.abs() < MAX_EXACT {
        // Exact: the value is a whole number within i64's exactly representable range.
        let whole = value as i64;
        if whole == 0 {
            // Avoids "-0" for negative zero.
            return "0".to_owned();
        }
        whole.to_string()
    } else {
        value.to_string()
    }
}
