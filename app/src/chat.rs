//! The transcript model: what the chat shows, built from protocol events. Pure, so it
//! is the same on the server, in the browser and in native tests.

use protocol::{ServerEvent, ServerFrame};

/// The kinds of transcript entries, each with its own style.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    User,
    Start,
    Step,
    ToolCall,
    ToolResult,
    Response,
    Complete,
    Error,
    /// Connection notices (connected, disconnected).
    Notice,
}

impl EntryKind {
    /// The CSS class suffix and `data-kind` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Start => "start",
            Self::Step => "step",
            Self::ToolCall => "tool_call",
            Self::ToolResult => "tool_result",
            Self::Response => "response",
            Self::Complete => "complete",
            Self::Error => "error",
            Self::Notice => "notice",
        }
    }
}

/// One line of the transcript.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Unique within the page, for keyed rendering.
    pub id: u64,
    pub kind: EntryKind,
    /// A short label shown before the text ("add", "llm").
    pub label: Option<String>,
    pub text: String,
    /// A tool result that is an error.
    pub failed: bool,
}

/// The connection's state as the UI shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Connecting,
    Connected,
    Disconnected,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Connected => "connected",
            Self::Disconnected => "disconnected",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Connecting => "Connecting…",
            Self::Connected => "Connected",
            Self::Disconnected => "Disconnected",
        }
    }
}

/// The transcript entry for an event, if it shows as one.
pub fn entry_for(id: u64, frame: &ServerFrame) -> Option<Entry> {
    let entry = |kind, label: Option<String>, text: String| Entry {
        id,
        kind,
        label,
        text,
        failed: false,
    };
    Some(match &frame.event {
        // The streamed pieces are shown by the whole `response` that follows.
        ServerEvent::Ready { .. } | ServerEvent::ResponseDelta { .. } => return None,
        ServerEvent::Start { message } => entry(EntryKind::Start, None, message.clone()),
        ServerEvent::Step { node, message } => entry(
            EntryKind::Step,
            Some(serde_json::to_value(node).ok()?.as_str()?.to_owned()),
            message.clone(),
        ),
        ServerEvent::ToolCall { tool, args } => entry(
            EntryKind::ToolCall,
            Some(tool.clone()),
            serde_json::to_string(args).unwrap_or_default(),
        ),
        ServerEvent::ToolResult {
            tool,
            result,
            is_error,
        } => Entry {
            failed: *is_error,
            ..entry(EntryKind::ToolResult, Some(tool.clone()), result.clone())
        },
        ServerEvent::Response { content } => entry(EntryKind::Response, None, content.clone()),
        ServerEvent::Complete { steps } => entry(
            EntryKind::Complete,
            None,
            format!("Completed in {steps} steps"),
        ),
        ServerEvent::Cancelled {} => entry(EntryKind::Notice, None, "Stopped".into()),
        ServerEvent::Error { message, .. } => entry(EntryKind::Error, None, message.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(json: &str) -> ServerFrame {
        serde_json::from_str(json).expect("valid frame")
    }

    #[test]
    fn every_event_kind_has_its_entry() {
        let cases = [
            (
                r#"{"type":"start","message":"Procesando"}"#,
                EntryKind::Start,
                "Procesando",
            ),
            (
                r#"{"type":"step","node":"llm","message":"Consultando"}"#,
                EntryKind::Step,
                "Consultando",
            ),
            (
                r#"{"type":"tool_call","tool":"add","args":{"a":10,"b":5}}"#,
                EntryKind::ToolCall,
                r#"{"a":10,"b":5}"#,
            ),
            (
                r#"{"type":"tool_result","tool":"add","result":"15"}"#,
                EntryKind::ToolResult,
                "15",
            ),
            (
                r#"{"type":"response","content":"Es 15."}"#,
                EntryKind::Response,
                "Es 15.",
            ),
            (
                r#"{"type":"complete","steps":5}"#,
                EntryKind::Complete,
                "Completed in 5 steps",
            ),
            (
                r#"{"type":"error","message":"boom"}"#,
                EntryKind::Error,
                "boom",
            ),
        ];
        for (json, kind, text) in cases {
            let entry = entry_for(1, &frame(json)).expect(json);
            assert_eq!(entry.kind, kind, "{json}");
            assert_eq!(entry.text, text, "{json}");
        }
        let step = entry_for(1, &frame(r#"{"type":"step","node":"llm","message":"m"}"#)).unwrap();
        assert_eq!(step.label.as_deref(), Some("llm"));
    }

    #[test]
    fn ready_is_not_a_transcript_line() {
        let ready = r#"{"type":"ready","protocol":1,"session_id":"s","llm":{"provider":"local","model":"planner","label":"Local planner"},"tools":[]}"#;
        assert_eq!(entry_for(1, &frame(ready)), None);
    }
}
