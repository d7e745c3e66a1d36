//! What the model remembers of a conversation: the history entries of its turns, kept
//! per turn so that `edit` and `regenerate` can set the last one aside, and rebuilt
//! from the store when a session is opened on a server that does not hold it.

use crate::{
    llm::ChatMessage,
    store::{TurnRecord, TurnStatus},
};

/// Whole turns the model sees at most; older ones are left out (they stay stored).
/// The agent then keeps the newest of them that fit `MAX_HISTORY_BYTES`.
const MAX_TURNS_FOR_MODEL: usize = 32;
/// Turns a session keeps in memory: the model's window, and some to spare for edits.
const MAX_TURNS_HELD: usize = 2 * MAX_TURNS_FOR_MODEL;

/// One turn as the model remembers it.
#[derive(Debug, Clone, PartialEq)]
pub struct RememberedTurn {
    pub turn_id: String,
    pub question: String,
    /// Empty when the turn did not complete: the model never saw it.
    pub messages: Vec<ChatMessage>,
}

/// A conversation's turns, oldest first, without the replaced ones.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    turns: Vec<RememberedTurn>,
    /// Rough bytes held, for the process-wide memory budget.
    bytes: usize,
}

fn size_of(turn: &RememberedTurn) -> usize {
    let messages: usize = turn
        .messages
        .iter()
        .map(|m| match m {
            ChatMessage::User(text) => text.len(),
            ChatMessage::Assistant { text, tool_calls } => text.len() + tool_calls.len() * 64,
            ChatMessage::ToolResults(results) => results.iter().map(|r| r.content.len() + 32).sum(),
        })
        .sum();
    turn.question.len() + messages + 96
}

impl History {
    /// Rebuilds the history from stored turns (in seq order): replaced turns and
    /// turns still running are left out; failed ones count as the last question.
    pub fn from_records(records: &[TurnRecord]) -> Self {
        let replaced: Vec<&str> = records
            .iter()
            .filter_map(|r| r.replaces.as_deref())
            .collect();
        let mut history = Self::default();
        for record in records {
            if replaced.contains(&record.turn_id.as_str()) || record.question.is_empty() {
                continue;
            }
            let messages = if record.status == TurnStatus::Complete {
                match serde_json::from_str(&record.messages) {
                    Ok(messages) => messages,
                    Err(error) => {
                        tracing::warn!(%error, "a stored turn's history is unreadable; leaving it out");
                        Vec::new()
                    }
                }
            } else {
                Vec::new()
            };
            history.push(RememberedTurn {
                turn_id: record.turn_id.clone(),
                question: record.question.clone(),
                messages,
            });
        }
        history
    }

    /// Adds a turn that just ended; a turn it replaces leaves.
    pub fn push(&mut self, turn: RememberedTurn) {
        self.bytes += size_of(&turn);
        self.turns.push(turn);
        if self.turns.len() > MAX_TURNS_HELD {
            let oldest = self.turns.remove(0);
            self.bytes = self.bytes.saturating_sub(size_of(&oldest));
        }
    }

    /// Removes the turn `turn_id` (it was replaced).
    pub fn remove(&mut self, turn_id: &str) {
        if let Some(at) = self.turns.iter().position(|t| t.turn_id == turn_id) {
            let turn = self.turns.remove(at);
            self.bytes = self.bytes.saturating_sub(size_of(&turn));
        }
    }

    /// The last question asked, for `edit` and `regenerate`.
    pub fn last(&self) -> Option<&RememberedTurn> {
        self.turns.last()
    }

    /// What the model is given before a new question: the entries of the latest
    /// completed turns, leaving out `except` (the turn being answered again).
    pub fn for_model(&self, except: Option<&str>) -> Vec<ChatMessage> {
        let kept: Vec<&RememberedTurn> = self
            .turns
            .iter()
            .filter(|t| Some(t.turn_id.as_str()) != except && !t.messages.is_empty())
            .collect();
        let from = kept.len().saturating_sub(MAX_TURNS_FOR_MODEL);
        kept[from..]
            .iter()
            .flat_map(|t| t.messages.iter().cloned())
            .collect()
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn len(&self) -> usize {
        self.turns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.turns.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn record(id: &str, question: &str, status: TurnStatus, replaces: Option<&str>) -> TurnRecord {
        let messages = vec![
            ChatMessage::User(question.to_owned()),
            ChatMessage::Assistant {
                text: format!("answer to {question}"),
                tool_calls: vec![],
            },
        ];
        TurnRecord {
            conversation_id: "c".into(),
            turn_id: id.into(),
            question: question.into(),
            replaces: replaces.map(str::to_owned),
            status,
            first_seq: 1,
            started_ms: 0,
            ended_ms: Some(1),
            events: vec![Arc::from("{}")],
            messages: serde_json::to_string(&messages).unwrap(),
            usage: Default::default(),
        }
    }

    #[test]
    fn replaced_and_failed_turns() {
        let history = History::from_records(&[
            record("t1", "one", TurnStatus::Complete, None),
            record("t2", "two", TurnStatus::Complete, None),
            record("t3", "two again", TurnStatus::Complete, Some("t2")),
            record("t4", "four", TurnStatus::Failed, None),
        ]);
        let questions: Vec<_> = history.turns.iter().map(|t| t.question.as_str()).collect();
        assert_eq!(questions, ["one", "two again", "four"]);
        assert_eq!(history.last().unwrap().turn_id, "t4");
        // Failed turns give the model nothing; the replaced one is gone.
        let model = history.for_model(None);
        assert_eq!(model.len(), 4);
        assert_eq!(model[2], ChatMessage::User("two again".into()));
        assert_eq!(history.for_model(Some("t3")).len(), 2);
    }

    #[test]
    fn history_round_trips_through_json() {
        let mut image = crate::llm::ToolOutcome::text("c2", "tiny", "an image", false);
        image.images.push(crate::llm::ToolImage {
            mime_type: "image/png".into(),
            data: "iVBORw0KGgo=".into(),
        });
        let entries = vec![ChatMessage::ToolResults(vec![
            crate::llm::ToolOutcome::text("c1", "add", "15", false),
            image,
        ])];
        let text = serde_json::to_string(&entries).unwrap();
        assert_eq!(
            serde_json::from_str::<Vec<ChatMessage>>(&text).unwrap(),
            entries
        );
    }
}
