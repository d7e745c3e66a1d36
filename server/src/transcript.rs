//! A turn told from its events: the answer, the tool calls with their arguments and
//! results, how it ended. What REST answers with, and what the conversations API
//! shows of stored turns.

use protocol::{Args, ContentItem, ErrorCode, ServerEvent, ServerFrame, Usage};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// One tool call of a turn.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ToolCallRecord {
    pub tool: String,
    /// The arguments, numbers as given.
    #[schema(value_type = Object)]
    pub args: Args,
    /// The result as text (`"15"`), or the error message when `is_error`.
    pub result: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_error: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// The tool's structured result, when it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub structured: Option<Value>,
    /// Images and links the tool returned.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    pub content: Vec<ContentItem>,
}

/// How a turn ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Running,
    Complete,
    Error,
    Cancelled,
}

/// A turn, from its events.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Transcript {
    pub turn_id: String,
    /// The answer (empty until the turn answers).
    pub response: String,
    pub tool_calls: Vec<ToolCallRecord>,
    pub outcome: Outcome,
    /// Events sent before `complete` (as in the WebSocket `complete`).
    pub steps: u32,
    /// The error that ended the turn, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub error_code: Option<ErrorCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub usage: Option<Usage>,
    /// The turn this one answered again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
    /// Server times (Unix ms) of its first and last events.
    pub started_ms: u64,
    pub ended_ms: u64,
}

impl Transcript {
    pub fn new(turn_id: impl Into<String>) -> Self {
        Self {
            turn_id: turn_id.into(),
            response: String::new(),
            tool_calls: Vec::new(),
            outcome: Outcome::Running,
            steps: 0,
            error_code: None,
            error: None,
            usage: None,
            replaces: None,
            started_ms: 0,
            ended_ms: 0,
        }
    }

    /// Applies one event of the turn; says whether it ended the turn.
    pub fn apply(&mut self, frame: &ServerFrame) -> bool {
        let at = frame.ts_ms.unwrap_or_default();
        if self.started_ms == 0 {
            self.started_ms = at;
        }
        self.ended_ms = at;
        match &frame.event {
            ServerEvent::Start { replaces, .. } => self.replaces.clone_from(replaces),
            ServerEvent::ToolCall {
                tool,
                args,
                call_id,
                server,
            } => self.tool_calls.push(ToolCallRecord {
                tool: tool.clone(),
                args: args.clone(),
                result: String::new(),
                is_error: false,
                call_id: call_id.clone(),
                server: server.clone(),
                structured: None,
                content: Vec::new(),
            }),
            ServerEvent::ToolResult {
                tool,
                result,
                is_error,
                call_id,
                structured,
                content,
            } => {
                let pending = self.tool_calls.iter_mut().rev().find(|call| match call_id {
                    Some(id) => call.call_id.as_deref() == Some(id.as_str()),
                    None => call.tool == *tool && call.result.is_empty(),
                });
                if let Some(call) = pending {
                    call.result.clone_from(result);
                    call.is_error = *is_error;
                    call.structured.clone_from(structured);
                    call.content.clone_from(content);
                }
            }
            ServerEvent::Response { content } => self.response.clone_from(content),
            ServerEvent::Complete { steps, usage, .. } => {
                self.outcome = Outcome::Complete;
                self.steps = *steps;
                self.usage = *usage;
                return true;
            }
            ServerEvent::Cancelled {} => {
                self.outcome = Outcome::Cancelled;
                return true;
            }
            ServerEvent::Error { message, code } => {
                self.outcome = Outcome::Error;
                self.error_code = *code;
                self.error = Some(message.clone());
                return true;
            }
            _ => {}
        }
        false
    }

    /// The transcript of a whole turn from its JSON frames.
    pub fn of_frames<'a>(turn_id: &str, frames: impl IntoIterator<Item = &'a str>) -> Self {
        let mut transcript = Self::new(turn_id);
        for frame in frames {
            if let Ok(frame) = serde_json::from_str::<ServerFrame>(frame) {
                transcript.apply(&frame);
            }
        }
        transcript
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_turn_from_its_frames() {
        let frames = [
            r#"{"type":"start","message":"…","turn_id":"t","seq":1,"ts_ms":10}"#,
            r#"{"type":"tool_call","tool":"add","args":{"a":10,"b":5},"turn_id":"t","seq":2,"ts_ms":11}"#,
            r#"{"type":"tool_result","tool":"add","result":"15","turn_id":"t","seq":3,"ts_ms":12}"#,
            r#"{"type":"response","content":"15","turn_id":"t","seq":4,"ts_ms":13}"#,
            r#"{"type":"complete","steps":4,"turn_id":"t","seq":5,"ts_ms":14}"#,
        ];
        let t = Transcript::of_frames("t", frames);
        assert_eq!(t.outcome, Outcome::Complete);
        assert_eq!(t.response, "15");
        assert_eq!(t.tool_calls.len(), 1);
        assert_eq!(t.tool_calls[0].result, "15");
        assert_eq!((t.started_ms, t.ended_ms, t.steps), (10, 14, 4));
    }
}
