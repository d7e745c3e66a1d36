//! The conversation as the UI shows it, built from protocol events. Pure and
//! serialisable: the same on the server, in the browser and in native tests, and
//! saved in browser storage so the transcript survives a reload.

use protocol::{ErrorCode, ServerEvent, ServerFrame};
use serde::{Deserialize, Serialize};

/// Where a turn stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    Tool {
        tool: String,
        /// The arguments as JSON text, numbers as given.
        args: String,
        result: Option<String>,
        is_error: bool,
        called_ms: u64,
        returned_ms: Option<u64>,
    },
}

impl Step {
    pub fn at_ms(&self) -> u64 {
        match self {
            Self::Started { at_ms, .. }
            | Self::Node { at_ms, .. }
            | Self::Thought { at_ms, .. } => *at_ms,
            Self::Tool { called_ms, .. } => *called_ms,
        }
    }
}

/// An error that ended a turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TurnError {
    pub code: Option<ErrorCode>,
    pub message: String,
}

/// One question and everything that answered it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    /// Stable within the page (and storage), for keyed rendering.
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
}

impl Turn {
    /// Milliseconds from `start` to the end (or to `now_ms` while running).
    pub fn elapsed_ms(&self, now_ms: u64) -> Option<u64> {
        let start = self.started_ms?;
        Some(self.ended_ms.unwrap_or(now_ms).saturating_sub(start))
    }
}

/// What applying a frame changed, so the page can react.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// Nothing: a duplicate (already seen `seq`) or not a turn event.
    Nothing,
    /// A turn changed.
    Turn { local_id: u64, finished: bool },
}

/// The whole conversation of one session.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    pub turns: Vec<Turn>,
    /// The server session these turns belong to.
    pub session_id: Option<String>,
    /// The highest event `seq` applied: resume asks for what comes after.
    pub last_seq: u64,
    next_local_id: u64,
}

impl Conversation {
    /// Records a question the user just sent.
    pub fn ask(&mut self, question: String) -> u64 {
        self.next_local_id += 1;
        let local_id = self.next_local_id;
        self.turns.push(Turn {
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
        });
        local_id
    }

    pub fn turn(&self, local_id: u64) -> Option<&Turn> {
        self.turns.iter().find(|t| t.local_id == local_id)
    }

    /// Fails the newest waiting turn with an error that refused its message before
    /// any turn started (`busy`, `rate_limited`, `too_large`, …).
    pub fn refuse_latest(&mut self, error: TurnError) -> Option<u64> {
        let turn = self
            .turns
            .iter_mut()
            .rev()
            .find(|t| t.status == TurnStatus::Waiting && t.turn_id.is_none())?;
        turn.status = TurnStatus::Failed;
        turn.error = Some(error);
        Some(turn.local_id)
    }

    /// Whether a turn is waiting or running.
    pub fn is_busy(&self) -> bool {
        self.turns.iter().any(|t| t.status.is_open())
    }

    /// Starts over in a new session (or after the old one expired): the numbering of
    /// events restarts, and turns still open can no longer finish.
    pub fn switch_session(&mut self, session_id: String) {
        if self.session_id.as_deref() != Some(session_id.as_str()) {
            self.session_id = Some(session_id);
            self.last_seq = 0;
            for turn in &mut self.turns {
                if turn.status.is_open() {
                    turn.status = TurnStatus::Interrupted;
                }
            }
        }
    }

    /// Applies one server frame. Turn events seen before (by `seq`) are ignored, so
    /// a replay after `resume` never shows anything twice.
    pub fn apply(&mut self, frame: &ServerFrame) -> Applied {
        if let Some(seq) = frame.seq {
            if seq <= self.last_seq {
                return Applied::Nothing;
            }
            self.last_seq = seq;
        }
        let Some(turn_id) = frame.turn_id.as_deref() else {
            return Applied::Nothing;
        };
        let at = frame.ts_ms.unwrap_or_default();
        let turn = self.turn_for(turn_id);
        let local_id = turn.local_id;
        let finished = apply_event(turn, &frame.event, at);
        Applied::Turn { local_id, finished }
    }

    /// The turn an event belongs to: known by id, else the oldest waiting one (the
    /// server runs messages in order), else a new one (events of a turn this page
    /// did not send, e.g. after resuming a session from another tab).
    fn turn_for(&mut self, turn_id: &str) -> &mut Turn {
        let index = self
            .turns
            .iter()
            .position(|t| t.turn_id.as_deref() == Some(turn_id))
            .or_else(|| {
                self.turns
                    .iter()
                    .position(|t| t.status == TurnStatus::Waiting && t.turn_id.is_none())
            });
        let index = match index {
            Some(index) => index,
            None => {
                self.ask(String::new());
                self.turns.len() - 1
            }
        };
        let turn = &mut self.turns[index];
        turn.turn_id = Some(turn_id.to_owned());
        turn
    }
}

/// Applies one event to its turn; says whether the turn ended.
fn apply_event(turn: &mut Turn, event: &ServerEvent, at: u64) -> bool {
    match event {
        ServerEvent::Start { message, .. } => {
            turn.status = TurnStatus::Running;
            turn.started_ms = Some(at);
            turn.steps.push(Step::Started {
                message: message.clone(),
                at_ms: at,
            });
        }
        ServerEvent::Step { node, message } => turn.steps.push(Step::Node {
            node: serde_json::to_value(node)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            message: message.clone(),
            at_ms: at,
        }),
        ServerEvent::ResponseDelta { content } => turn.answer.push_str(content),
        ServerEvent::ToolCall { tool, args, .. } => {
            // Text streamed before a tool call was the model thinking aloud.
            if !turn.answer.is_empty() {
                let text = std::mem::take(&mut turn.answer);
                turn.steps.push(Step::Thought { text, at_ms: at });
            }
            turn.steps.push(Step::Tool {
                tool: tool.clone(),
                args: serde_json::to_string(args).unwrap_or_default(),
                result: None,
                is_error: false,
                called_ms: at,
                returned_ms: None,
            });
        }
        ServerEvent::ToolResult {
            tool,
            result,
            is_error,
            ..
        } => {
            let pending = turn.steps.iter_mut().rev().find_map(|step| match step {
                Step::Tool {
                    tool: name,
                    result: slot @ None,
                    is_error: error,
                    returned_ms,
                    ..
                } if name == tool => Some((slot, error, returned_ms)),
                _ => None,
            });
            if let Some((slot, error, returned_ms)) = pending {
                *slot = Some(result.clone());
                *error = *is_error;
                *returned_ms = Some(at);
            }
        }
        ServerEvent::Response { content } => turn.answer = content.clone(),
        ServerEvent::Complete { steps, .. } => {
            turn.status = TurnStatus::Done;
            turn.event_count = Some(*steps);
            turn.ended_ms = Some(at);
            return true;
        }
        ServerEvent::Cancelled {} => {
            turn.status = TurnStatus::Stopped;
            turn.ended_ms = Some(at);
            return true;
        }
        ServerEvent::Error { message, code } => {
            turn.status = TurnStatus::Failed;
            turn.error = Some(TurnError {
                code: *code,
                message: message.clone(),
            });
            turn.ended_ms = Some(at);
            return true;
        }
        // Not turn events, or not shown yet.
        ServerEvent::Ready { .. }
        | ServerEvent::ToolsChanged { .. }
        | ServerEvent::ApprovalRequired { .. }
        | ServerEvent::ApprovalResolved { .. }
        | ServerEvent::ToolProgress { .. } => {}
    }
    false
}

/// Shows a duration the way people read it: `850 ms`, `1.3 s`.
pub fn format_duration(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(json: &str) -> ServerFrame {
        serde_json::from_str(json).expect("valid frame")
    }

    fn feed(conversation: &mut Conversation, frames: &[&str]) {
        for json in frames {
            conversation.apply(&frame(json));
        }
    }

    const SUMA: [&str; 6] = [
        r#"{"type":"start","message":"Procesando","turn_id":"t1","seq":1,"ts_ms":1000}"#,
        r#"{"type":"step","node":"llm","message":"Consultando","turn_id":"t1","seq":2,"ts_ms":1001}"#,
        r#"{"type":"tool_call","tool":"add","args":{"a":10,"b":5},"turn_id":"t1","seq":3,"ts_ms":1002}"#,
        r#"{"type":"tool_result","tool":"add","result":"15","turn_id":"t1","seq":4,"ts_ms":1010}"#,
        r#"{"type":"response","content":"La suma de 10 y 5 es 15.","turn_id":"t1","seq":5,"ts_ms":1011}"#,
        r#"{"type":"complete","steps":5,"turn_id":"t1","seq":6,"ts_ms":1012}"#,
    ];

    #[test]
    fn a_turn_builds_its_timeline_and_answer() {
        let mut c = Conversation::default();
        let id = c.ask("Suma 10 y 5".into());
        feed(&mut c, &SUMA);
        let turn = c.turn(id).unwrap();
        assert_eq!(turn.status, TurnStatus::Done);
        assert_eq!(turn.answer, "La suma de 10 y 5 es 15.");
        assert_eq!(turn.event_count, Some(5));
        assert_eq!(turn.elapsed_ms(0), Some(12));
        assert_eq!(
            turn.steps[2],
            Step::Tool {
                tool: "add".into(),
                args: r#"{"a":10,"b":5}"#.into(),
                result: Some("15".into()),
                is_error: false,
                called_ms: 1002,
                returned_ms: Some(1010),
            }
        );
        assert!(!c.is_busy());
    }

    #[test]
    fn replayed_events_are_applied_once() {
        let mut c = Conversation::default();
        let id = c.ask("Suma 10 y 5".into());
        feed(&mut c, &SUMA[..4]);
        // A resume replays from seq 3 on: 3 and 4 are already known.
        feed(&mut c, &SUMA[2..]);
        let turn = c.turn(id).unwrap();
        assert_eq!(turn.steps.len(), 3, "{:?}", turn.steps);
        assert_eq!(turn.status, TurnStatus::Done);
        assert_eq!(c.last_seq, 6);
    }

    #[test]
    fn streamed_text_before_a_tool_call_becomes_a_thought() {
        let mut c = Conversation::default();
        let id = c.ask("q".into());
        feed(
            &mut c,
            &[
                r#"{"type":"start","message":"s","turn_id":"t","ts_ms":1}"#,
                r#"{"type":"response_delta","content":"Let me ","turn_id":"t","ts_ms":2}"#,
                r#"{"type":"response_delta","content":"add.","turn_id":"t","ts_ms":3}"#,
                r#"{"type":"tool_call","tool":"add","args":{"a":1,"b":2},"turn_id":"t","ts_ms":4}"#,
                r#"{"type":"tool_result","tool":"add","result":"3","turn_id":"t","ts_ms":5}"#,
                r#"{"type":"response_delta","content":"It is ","turn_id":"t","ts_ms":6}"#,
                r#"{"type":"response_delta","content":"3.","turn_id":"t","ts_ms":7}"#,
            ],
        );
        let turn = c.turn(id).unwrap();
        assert_eq!(turn.answer, "It is 3.");
        assert!(matches!(&turn.steps[1], Step::Thought { text, .. } if text == "Let me add."));
        assert_eq!(turn.status, TurnStatus::Running);
    }

    #[test]
    fn queued_questions_take_their_turns_in_order() {
        let mut c = Conversation::default();
        let first = c.ask("one".into());
        let second = c.ask("two".into());
        feed(
            &mut c,
            &[
                r#"{"type":"start","message":"s","turn_id":"a"}"#,
                r#"{"type":"start","message":"s","turn_id":"b"}"#,
                r#"{"type":"cancelled","turn_id":"b"}"#,
                r#"{"type":"error","message":"down","code":"toolbox_unavailable","turn_id":"a"}"#,
            ],
        );
        assert_eq!(c.turn(first).unwrap().status, TurnStatus::Failed);
        assert_eq!(
            c.turn(first).unwrap().error.as_ref().unwrap().code,
            Some(ErrorCode::ToolboxUnavailable)
        );
        assert_eq!(c.turn(second).unwrap().status, TurnStatus::Stopped);
    }

    #[test]
    fn a_new_session_interrupts_open_turns_and_restarts_numbering() {
        let mut c = Conversation::default();
        c.switch_session("s1".into());
        let id = c.ask("q".into());
        feed(&mut c, &SUMA[..3]);
        c.switch_session("s2".into());
        assert_eq!(c.turn(id).unwrap().status, TurnStatus::Interrupted);
        assert_eq!(c.last_seq, 0);
    }

    #[test]
    fn a_refused_message_fails_its_turn() {
        let mut c = Conversation::default();
        let first = c.ask("one".into());
        let second = c.ask("two".into());
        let refused = c.refuse_latest(TurnError {
            code: Some(ErrorCode::Busy),
            message: "busy".into(),
        });
        assert_eq!(refused, Some(second));
        assert_eq!(c.turn(second).unwrap().status, TurnStatus::Failed);
        assert_eq!(c.turn(first).unwrap().status, TurnStatus::Waiting);
    }

    #[test]
    fn storage_round_trip() {
        let mut c = Conversation::default();
        c.ask("Suma 10 y 5".into());
        feed(&mut c, &SUMA);
        let saved = serde_json::to_string(&c).unwrap();
        let restored: Conversation = serde_json::from_str(&saved).unwrap();
        assert_eq!(restored, c);
        let mut restored = restored;
        assert_eq!(
            restored.ask("next".into()),
            2,
            "ids continue after a reload"
        );
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_duration(12), "12 ms");
        assert_eq!(format_duration(1340), "1.3 s");
    }
}
