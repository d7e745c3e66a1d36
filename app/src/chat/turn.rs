//! One turn as the UI shows it, and the pure reducer that applies a turn's events to
//! it. A turn changes only through [`Turn::apply`], so a streamed piece of one answer
//! touches that turn alone, whatever the length of the conversation.

use protocol::{ErrorCode, ServerEvent, Usage};
use serde::Serialize;

use super::tool::{Progress, Returned, ToolCall};

/// Where a turn stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TurnStatus {
    /// Sent; the server has not started it yet.
    Waiting,
    Running,
    Done,
    Failed,
    /// Stopped on the user's request.
    Stopped,
    /// The connection was lost and the session could not be resumed.
    Interrupted,
}

impl TurnStatus {
    pub fn is_open(self) -> bool {
        matches!(self, Self::Waiting | Self::Running)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::Running => "running",
            Self::Done => "done",
            Self::Failed => "failed",
            Self::Stopped => "stopped",
            Self::Interrupted => "interrupted",
        }
    }
}

/// One entry of a turn's timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Step {
    /// `start`: the server took the turn.
    Started { message: String, at_ms: u64 },
    /// `step`: a workflow node ran.
    Node {
        node: String,
        message: String,
        at_ms: u64,
    },
    /// Text the model streamed before deciding to call a tool.
    Thought { text: String, at_ms: u64 },
    /// A tool call and, once it came back, its result.
    Tool(ToolCall),
}

impl Step {
    pub fn at_ms(&self) -> u64 {
        match self {
            Self::Started { at_ms, .. }
            | Self::Node { at_ms, .. }
            | Self::Thought { at_ms, .. } => *at_ms,
            Self::Tool(call) => call.called_ms,
        }
    }
}

/// An error that ended a turn.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TurnError {
    pub code: Option<ErrorCode>,
    pub message: String,
}

/// One question and everything that answered it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Turn {
    /// Stable within the page (and storage), for keyed rendering; increasing in the
    /// order of the transcript.
    pub local_id: u64,
    /// The server's id, once it started the turn.
    pub turn_id: Option<String>,
    pub question: String,
    pub status: TurnStatus,
    pub steps: Vec<Step>,
    /// The answer: streamed pieces while they arrive, then the whole `response`.
    pub answer: String,
    pub error: Option<TurnError>,
    /// Server times of `start` and of the terminal event.
    pub started_ms: Option<u64>,
    pub ended_ms: Option<u64>,
    /// `complete.steps`.
    pub event_count: Option<u32>,
    /// Tokens the turn's model calls used (`complete.usage`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

/// What applying an event did to its turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// The turn's status changed (it started or ended).
    pub status: bool,
    /// The event ended the turn.
    pub finished: bool,
}

impl Turn {
    /// A question just sent, waiting for the server.
    pub fn waiting(local_id: u64, question: String) -> Self {
        Self {
            local_id,
            turn_id: None,
            question,
            status: TurnStatus::Waiting,
            steps: Vec::new(),
            answer: String::new(),
            error: None,
            started_ms: None,
            ended_ms: None,
            event_count: None,
            usage: None,
        }
    }

    /// Milliseconds from `start` to the end (or to `now_ms` while running).
    pub fn elapsed_ms(&self, now_ms: u64) -> Option<u64> {
        let start = self.started_ms?;
        Some(self.ended_ms.unwrap_or(now_ms).saturating_sub(start))
    }

    /// Ends the turn with an error that came before the server started it.
    pub fn fail(&mut self, error: TurnError) {
        self.status = TurnStatus::Failed;
        self.error = Some(error);
    }

    /// Applies one of this turn's events, sent at server time `at`.
    pub fn apply(&mut self, event: &ServerEvent, at: u64) -> Change {
        let before = self.status;
        self.apply_event(event, at);
        Change {
            status: self.status != before,
            finished: event.is_terminal(),
        }
    }

    fn apply_event(&mut self, event: &ServerEvent, at: u64) {
        match event {
            ServerEvent::Start { message, .. } => {
                self.status = TurnStatus::Running;
                self.started_ms = Some(at);
                self.steps.push(Step::Started {
                    message: message.clone(),
                    at_ms: at,
                });
            }
            ServerEvent::Step { node, message } => self.steps.push(Step::Node {
                node: node_name(*node).to_owned(),
                message: message.clone(),
                at_ms: at,
            }),
            ServerEvent::ResponseDelta { content } => self.answer.push_str(content),
            ServerEvent::ToolCall {
                tool,
                args,
                call_id,
                server,
            } => {
                // Text streamed before a tool call was the model thinking aloud.
                if !self.answer.is_empty() {
                    let text = std::mem::take(&mut self.answer);
                    self.steps.push(Step::Thought { text, at_ms: at });
                }
                self.tool_called(tool, args, call_id.as_deref(), server.as_deref(), at);
            }
            ServerEvent::ApprovalRequired {
                call_id,
                tool,
                args,
                server,
            } => self.approval_required(call_id, tool, args, server, at),
            ServerEvent::ApprovalResolved {
                call_id,
                approved,
                reason,
            } => self.approval_resolved(call_id, *approved, reason.as_deref()),
            ServerEvent::ToolProgress {
                call_id,
                progress,
                total,
                message,
                ..
            } => self.tool_progress(
                call_id,
                Progress {
                    progress: *progress,
                    total: *total,
                    message: message.clone(),
                },
            ),
            ServerEvent::ToolResult {
                tool,
                result,
                is_error,
                call_id,
                content,
                ..
            } => self.tool_returned(
                Returned {
                    tool,
                    result,
                    is_error: *is_error,
                    call_id: call_id.as_deref(),
                    content,
                },
                at,
            ),
            ServerEvent::Response { content } => self.answer.clone_from(content),
            ServerEvent::Complete { steps, usage, .. } => {
                self.status = TurnStatus::Done;
                self.event_count = Some(*steps);
                self.usage = *usage;
                self.ended_ms = Some(at);
            }
            ServerEvent::Cancelled {} => {
                self.status = TurnStatus::Stopped;
                self.ended_ms = Some(at);
            }
            ServerEvent::Error { message, code } => {
                self.fail(TurnError {
                    code: *code,
                    message: message.clone(),
                });
                self.ended_ms = Some(at);
            }
            // Not turn events.
            ServerEvent::Ready { .. } | ServerEvent::ToolsChanged { .. } => {}
        }
    }
}

/// The wire name of a workflow node, without a round trip through JSON.
fn node_name(node: protocol::Node) -> &'static str {
    match node {
        protocol::Node::Llm => "llm",
        protocol::Node::Tools => "tools",
    }
}
