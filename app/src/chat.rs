//! The conversation as the UI shows it, built from protocol events by pure code: the
//! same in the browser and in native tests, and saved in browser storage so the
//! transcript survives a reload.
//!
//! The conversation routes each event to its turn (dropping events it has seen, by
//! `seq`) and lets [`Turn::apply`] change that turn alone. Each turn sits in a
//! [`TurnCell`]: the turn itself in tests and storage, a reactive signal in the
//! browser, so that a streamed piece notifies the views of its own turn and nothing
//! else.

mod stored;
mod tool;
mod turn;

use protocol::{ServerFrame, Usage};
use serde::{Serialize, Serializer, ser::SerializeSeq};

pub use tool::{Approval, Attachment, Progress, ToolCall};
pub use turn::{Change, Step, Turn, TurnError, TurnStatus};

/// Where the conversation keeps one turn.
pub trait TurnCell {
    fn wrap(turn: Turn) -> Self;
    /// Reads the turn (in the browser: without subscribing to it).
    fn read_turn<R>(&self, f: impl FnOnce(&Turn) -> R) -> R;
    /// Changes the turn (in the browser: without notifying; the page notifies the
    /// turn's views once the conversation is consistent again).
    fn write_turn<R>(&mut self, f: impl FnOnce(&mut Turn) -> R) -> R;
}

impl TurnCell for Turn {
    fn wrap(turn: Turn) -> Self {
        turn
    }

    fn read_turn<R>(&self, f: impl FnOnce(&Turn) -> R) -> R {
        f(self)
    }

    fn write_turn<R>(&mut self, f: impl FnOnce(&mut Turn) -> R) -> R {
        f(self)
    }
}

/// What applying a frame changed, so the page can react.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// Nothing: a duplicate (already seen `seq`) or not a turn event.
    Nothing,
    /// Turn `local_id` changed.
    Turn {
        local_id: u64,
        /// The event ended the turn.
        finished: bool,
        /// Something beyond that turn's content changed: the list of turns, a turn's
        /// status, or the conversation's totals.
        reshaped: bool,
    },
}

/// The whole conversation of one session.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversation<C = Turn> {
    /// In transcript order; `local_id`s increase along it.
    turns: Vec<C>,
    /// The server session these turns belong to.
    pub session_id: Option<String>,
    /// The highest event `seq` applied: resume asks for what comes after.
    pub last_seq: u64,
    next_local_id: u64,
    /// Tokens the whole conversation used, as the server last counted them.
    pub usage: Option<Usage>,
    /// Questions of turns about to be replayed (a conversation opened from the
    /// server), by turn id: events do not carry the question.
    questions: Vec<(String, String)>,
}

impl<C> Default for Conversation<C> {
    fn default() -> Self {
        Self {
            turns: Vec::new(),
            session_id: None,
            last_seq: 0,
            next_local_id: 0,
            usage: None,
            questions: Vec::new(),
        }
    }
}

impl<C: TurnCell> Conversation<C> {
    /// A conversation saved by its `Serialize` (browser storage), if `text` is one.
    pub fn restore(text: &str) -> Option<Self> {
        stored::decode(text)
    }

    /// A stored conversation about to be replayed from its first event, with the
    /// questions of its turns (from the conversations API).
    pub fn opened(session_id: String, questions: Vec<(String, String)>) -> Self {
        Self {
            session_id: Some(session_id),
            questions,
            ..Self::default()
        }
    }

    pub fn cells(&self) -> &[C] {
        &self.turns
    }

    pub fn len(&self) -> usize {
        self.turns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.turns.is_empty()
    }

    /// The turn `local_id` (ids increase along the transcript: a binary search).
    pub fn cell(&self, local_id: u64) -> Option<&C> {
        self.index_of(local_id).map(|i| &self.turns[i])
    }

    fn index_of(&self, local_id: u64) -> Option<usize> {
        self.turns
            .binary_search_by_key(&local_id, |c| c.read_turn(|t| t.local_id))
            .ok()
    }

    /// Records a question the user just sent.
    pub fn ask(&mut self, question: String) -> u64 {
        self.next_local_id += 1;
        let local_id = self.next_local_id;
        self.turns.push(C::wrap(Turn::waiting(local_id, question)));
        local_id
    }

    /// The last turn, if the server may answer it again (`edit`, `regenerate`): it
    /// ended, in this session, and nothing runs.
    pub fn revisable(&self) -> Option<u64> {
        let last = self.turns.last()?;
        last.read_turn(|t| {
            let ended = matches!(
                t.status,
                TurnStatus::Done | TurnStatus::Failed | TurnStatus::Stopped
            );
            (ended && t.turn_id.is_some()).then_some(t.local_id)
        })
    }

    /// Records an `edit` of the last question: a new turn asking `content`, which
    /// replaces the last one once the server starts it.
    pub fn edit(&mut self, content: String) -> Option<u64> {
        self.revisable()?;
        Some(self.ask(content))
    }

    /// Records a `regenerate`: the last question asked again.
    pub fn regenerate(&mut self) -> Option<u64> {
        let last = self.revisable()?;
        let question = self.cell(last)?.read_turn(|t| t.question.clone());
        Some(self.ask(question))
    }

    /// Fails the newest waiting turn with an error that refused its message before
    /// any turn started (`busy`, `rate_limited`, `too_large`, …).
    pub fn refuse_latest(&mut self, error: TurnError) -> Option<u64> {
        let cell =
            self.turns.iter_mut().rev().find(|c| {
                c.read_turn(|t| t.status == TurnStatus::Waiting && t.turn_id.is_none())
            })?;
        Some(cell.write_turn(|t| {
            t.fail(error);
            t.local_id
        }))
    }

    /// Whether a turn is waiting or running.
    pub fn is_busy(&self) -> bool {
        self.turns
            .iter()
            .any(|c| c.read_turn(|t| t.status.is_open()))
    }

    /// Starts over in a new session (or after the old one expired): the numbering of
    /// events restarts, and turns still open can no longer finish. Returns the turns
    /// it interrupted.
    pub fn switch_session(&mut self, session_id: String) -> Vec<u64> {
        if self.session_id.as_deref() == Some(session_id.as_str()) {
            return Vec::new();
        }
        self.session_id = Some(session_id);
        self.last_seq = 0;
        self.usage = None;
        let mut interrupted = Vec::new();
        for cell in &mut self.turns {
            cell.write_turn(|t| {
                if t.status.is_open() {
                    t.status = TurnStatus::Interrupted;
                    interrupted.push(t.local_id);
                }
            });
        }
        interrupted
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
        let mut reshaped = false;
        if let protocol::ServerEvent::Start {
            replaces: Some(old),
            ..
        } = &frame.event
        {
            reshaped |= self.replace(turn_id, old);
        }
        let (index, created) = self.turn_for(turn_id);
        if let protocol::ServerEvent::Complete {
            total_usage: Some(total),
            ..
        } = &frame.event
        {
            self.usage = Some(*total);
        }
        let at = frame.ts_ms.unwrap_or_default();
        let (local_id, change) =
            self.turns[index].write_turn(|t| (t.local_id, t.apply(&frame.event, at)));
        Applied::Turn {
            local_id,
            finished: change.finished,
            reshaped: reshaped || created || change.status || change.finished,
        }
    }

    /// Drops the turn `old`, which turn `new` answers again; a turn that has no
    /// question yet (a `regenerate` sent from elsewhere) takes the old one's.
    fn replace(&mut self, new: &str, old: &str) -> bool {
        let Some(index) = self.find_turn_id(old) else {
            return false;
        };
        let removed = self.turns.remove(index);
        let question = removed.read_turn(|t| t.question.clone());
        let (index, _) = self.turn_for(new);
        self.turns[index].write_turn(|t| {
            if t.question.is_empty() {
                t.question = question;
            }
        });
        true
    }

    fn find_turn_id(&self, turn_id: &str) -> Option<usize> {
        // Events belong to the newest turns: search from the end.
        self.turns
            .iter()
            .rposition(|c| c.read_turn(|t| t.turn_id.as_deref() == Some(turn_id)))
    }

    /// The index of the turn an event belongs to, and whether it is new: known by
    /// id, else the oldest waiting one (the server runs messages in order), else a
    /// new one (a turn this page did not send, e.g. one resumed from another tab).
    fn turn_for(&mut self, turn_id: &str) -> (usize, bool) {
        if let Some(index) = self.find_turn_id(turn_id) {
            return (index, false);
        }
        let waiting = self
            .turns
            .iter()
            .position(|c| c.read_turn(|t| t.status == TurnStatus::Waiting && t.turn_id.is_none()));
        let (index, created) = match waiting {
            Some(index) => (index, false),
            None => {
                let question = match self.questions.iter().position(|(id, _)| id == turn_id) {
                    Some(known) => self.questions.swap_remove(known).1,
                    None => String::new(),
                };
                self.ask(question);
                (self.turns.len() - 1, true)
            }
        };
        self.turns[index].write_turn(|t| t.turn_id = Some(turn_id.to_owned()));
        (index, created)
    }
}

impl Conversation<Turn> {
    pub fn turn(&self, local_id: u64) -> Option<&Turn> {
        self.cell(local_id)
    }

    pub fn turns(&self) -> &[Turn] {
        &self.turns
    }
}

/// The stored form: the same fields whatever holds the turns (read back by
/// `stored::decode`).
#[derive(Serialize)]
struct Stored<T> {
    turns: T,
    session_id: Option<String>,
    last_seq: u64,
    next_local_id: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    usage: Option<Usage>,
}

/// Serialises turns in place, whatever cell holds them.
struct Cells<'a, C>(&'a [C]);

impl<C: TurnCell> Serialize for Cells<'_, C> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for cell in self.0 {
            cell.read_turn(|turn| seq.serialize_element(turn))?;
        }
        seq.end()
    }
}

impl<C: TurnCell> Serialize for Conversation<C> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Stored {
            turns: Cells(&self.turns),
            session_id: self.session_id.clone(),
            last_seq: self.last_seq,
            next_local_id: self.next_local_id,
            usage: self.usage,
        }
        .serialize(serializer)
    }
}

#[cfg(test)]
mod tests;
