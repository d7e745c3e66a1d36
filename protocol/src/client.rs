//! What clients send: [`ClientMessage`], and how a frame is decoded into one, with a
//! precise explanation when it cannot be.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ErrorCode;

/// A message from a client to the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// Run one agent turn for this user message.
    Message { content: String },
    /// Stop the turn in progress (and drop the queued ones); answered by `cancelled`.
    Cancel {},
    /// Continue an earlier session on this connection: the server replays the events
    /// after `last_seq` (0 for all it still has), then sends live ones. Only the
    /// session's owner (the client holding its owner cookie) may resume it.
    Resume { session_id: String, last_seq: u64 },
    /// Let the tool call `call_id`, announced by `approval_required`, run.
    Approve { call_id: String },
    /// Refuse the tool call `call_id`; the model is told it was declined.
    Deny {
        call_id: String,
        /// Why, in the user's words, passed on to the model.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Replace the session's last question with `content` and answer it afresh. The new
    /// turn's `start` names the turn it replaces.
    Edit { content: String },
    /// Answer the session's last question again, forgetting the previous answer.
    Regenerate {},
}

/// The `type` names a client may send, for error messages.
pub const CLIENT_MESSAGE_TYPES: &[&str] = &[
    "message",
    "cancel",
    "resume",
    "approve",
    "deny",
    "edit",
    "regenerate",
];

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
    /// valid client message. Only a JSON object is a message: serde would also read
    /// an internally tagged enum from an array (`["message","hi"]`), which the
    /// protocol does not allow.
    pub fn decode(text: &str) -> Result<Self, DecodeError> {
        if !text.trim_start().starts_with('{') {
            return Err(diagnose(text));
        }
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
