//! What the server sends: [`ServerEvent`], inside a [`ServerFrame`] with its metadata.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    Args, ContentItem, ConversationSummary, ErrorCode, LlmDescriptor, Node, ToolDescriptor, Usage,
};

/// An event the server streams to a client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerEvent {
    /// Sent once when a connection opens (and after a `resume`): what this server offers.
    Ready {
        /// [`crate::PROTOCOL_VERSION`] of the server.
        protocol: u32,
        /// Identifies this client's session, which is also its conversation.
        session_id: String,
        /// The language model that drives the agent.
        llm: LlmDescriptor,
        /// The tools available now (empty while no tool server is reachable).
        tools: Vec<ToolDescriptor>,
        /// The conversation resumed, when it has turns already.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        conversation: Option<ConversationSummary>,
    },
    /// The turn began.
    Start {
        message: String,
        /// The turn this one answers again (`edit`, `regenerate`): clients drop it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        replaces: Option<String>,
    },
    /// A workflow node runs.
    Step { node: Node, message: String },
    /// A tool is called with these arguments.
    ToolCall {
        tool: String,
        args: Args,
        /// Pairs this call with its approval, progress and result.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        call_id: Option<String>,
        /// The MCP server that offers the tool.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        server: Option<String>,
    },
    /// A tool call waits for the user's `approve` or `deny`.
    ApprovalRequired {
        call_id: String,
        tool: String,
        args: Args,
        server: String,
    },
    /// A pending approval was answered (by the user, or by the timeout).
    ApprovalResolved {
        call_id: String,
        approved: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// A running tool reported progress.
    ToolProgress {
        call_id: String,
        tool: String,
        progress: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        total: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// A tool answered; `result` is its text (`"15"`, not `"15.0"`).
    ToolResult {
        tool: String,
        result: String,
        /// The tool reported an error and `result` is its message. Omitted when false.
        #[serde(default, skip_serializing_if = "is_false")]
        is_error: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        call_id: Option<String>,
        /// The tool's `structuredContent`, when it returned one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        structured: Option<Value>,
        /// Images and resource links the tool returned besides its text.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        content: Vec<ContentItem>,
    },
    /// A piece of the answer as the model streams it. The whole answer still
    /// follows as `response`. Pieces sent before a `tool_call` were the model
    /// thinking aloud, not the answer.
    ResponseDelta { content: String },
    /// The final answer of the turn, whole.
    Response { content: String },
    /// The turn ended; `steps` counts the events sent for the turn before this one.
    Complete {
        steps: u32,
        /// Tokens this turn's model calls used (absent for the local planner).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        usage: Option<Usage>,
        /// Tokens the whole conversation has used so far, this turn included.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        total_usage: Option<Usage>,
    },
    /// The turn stopped because the client asked (`cancel`). Ends the turn.
    Cancelled {},
    /// Something went wrong; `message` is clear and safe to show to a user.
    Error {
        message: String,
        /// A stable machine-readable reason, when one applies.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<ErrorCode>,
    },
    /// The set of available tools changed (a server came or went, or listed anew).
    ToolsChanged { tools: Vec<ToolDescriptor> },
}

fn is_false(flag: &bool) -> bool {
    !flag
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

    /// A `start` event of a new turn.
    pub fn start(message: impl Into<String>) -> Self {
        Self::Start {
            message: message.into(),
            replaces: None,
        }
    }

    /// A `complete` event without usage (the local planner's).
    pub fn complete(steps: u32) -> Self {
        Self::Complete {
            steps,
            usage: None,
            total_usage: None,
        }
    }

    /// A `tool_call` event with no call id or server (the seed's shape).
    pub fn tool_call(tool: impl Into<String>, args: Args) -> Self {
        Self::ToolCall {
            tool: tool.into(),
            args,
            call_id: None,
            server: None,
        }
    }

    /// A plain-text `tool_result` event (the seed's shape).
    pub fn tool_result(tool: impl Into<String>, result: impl Into<String>, is_error: bool) -> Self {
        Self::ToolResult {
            tool: tool.into(),
            result: result.into(),
            is_error,
            call_id: None,
            structured: None,
            content: Vec::new(),
        }
    }

    /// The wire name of this event's `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Ready { .. } => "ready",
            Self::Start { .. } => "start",
            Self::Step { .. } => "step",
            Self::ToolCall { .. } => "tool_call",
            Self::ApprovalRequired { .. } => "approval_required",
            Self::ApprovalResolved { .. } => "approval_resolved",
            Self::ToolProgress { .. } => "tool_progress",
            Self::ToolResult { .. } => "tool_result",
            Self::ResponseDelta { .. } => "response_delta",
            Self::Response { .. } => "response",
            Self::Complete { .. } => "complete",
            Self::Cancelled { .. } => "cancelled",
            Self::Error { .. } => "error",
            Self::ToolsChanged { .. } => "tools_changed",
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
