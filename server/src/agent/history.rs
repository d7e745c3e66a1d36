//! How much of a conversation the model is sent: the newest whole turns that fit a
//! size budget.
//!
//! The size of an entry is the bytes of text it carries (user text, the model's text,
//! each tool call's name and JSON arguments, each tool result). Entries go oldest
//! first, a whole turn at a time (a turn starts with a user message), so a tool call
//! is never separated from its result and the kept part always starts with the user,
//! as every provider expects.

use crate::llm::{ChatMessage, ToolCall, ToolOutcome};

/// The bytes of text `message` carries.
pub fn size_of(message: &ChatMessage) -> usize {
    match message {
        ChatMessage::User(text) => text.len(),
        ChatMessage::Assistant { text, tool_calls } => {
            text.len() + tool_calls.iter().map(call_size).sum::<usize>()
        }
        ChatMessage::ToolResults(outcomes) => outcomes.iter().map(outcome_size).sum(),
    }
}

fn call_size(call: &ToolCall) -> usize {
    let mut counter = Counter(0);
    // Writing into a counter cannot fail; the arguments are plain JSON values.
    let _ = serde_json::to_writer(&mut counter, &call.args);
    call.id.len() + call.name.len() + counter.0 + call.malformed.as_ref().map_or(0, String::len)
}

fn outcome_size(outcome: &ToolOutcome) -> usize {
    outcome.call_id.len() + outcome.name.len() + outcome.content.len()
}

/// Counts bytes written, keeping none.
struct Counter(usize);

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Where the part of `history` to send starts: the oldest user message from which
/// the rest totals at most `max_bytes`. `history.len()` when not even the newest turn
/// fits (or there is no user message to start from).
pub fn window_start(history: &[ChatMessage], max_bytes: usize) -> usize {
    let mut total = 0usize;
    let mut start = history.len();
    for (at, message) in history.iter().enumerate().rev() {
        total = total.saturating_add(size_of(message));
        if total > max_bytes {
            break;
        }
        if matches!(message, ChatMessage::User(_)) {
            start = at;
        }
    }
    start
}

/// Drops the oldest whole turns of `history` until it fits `max_bytes` (see
/// [`window_start`]).
pub fn trim(history: &mut Vec<ChatMessage>, max_bytes: usize) {
    let start = window_start(history, max_bytes);
    history.drain(..start);
}

#[cfg(test)]
mod tests {
    use protocol::Args;

    use super::*;

    fn user(text: &str) -> ChatMessage {
        ChatMessage::User(text.into())
    }

    fn calls(id: &str) -> ChatMessage {
        let mut args = Args::new();
        args.insert("a".into(), 1.into());
        ChatMessage::Assistant {
            text: String::new(),
            tool_calls: vec![ToolCall::new(id, "add", args)],
        }
    }

    fn results(id: &str, content: &str) -> ChatMessage {
        ChatMessage::ToolResults(vec![ToolOutcome::text(id, "add", content, false)])
    }

    fn answer(text: &str) -> ChatMessage {
        ChatMessage::Assistant {
            text: text.into(),
            tool_calls: Vec::new(),
        }
    }

    /// Three turns: a plain one, one with a tool call, a plain one.
    fn conversation() -> Vec<ChatMessage> {
        vec![
            user("hello"),             // 5
            answer("hi there"),        // 8
            user("suma 1"),            // 6
            calls("c1"),               // 2 + 3 + 7 = 12
            results("c1", "1"),        // 2 + 3 + 1 = 6
            answer("it is 1"),         // 7
            user("thanks"),            // 6
            answer("you are welcome"), // 15
        ]
    }

    #[test]
    fn sizes_count_text_arguments_and_results() {
        let history = conversation();
        let sizes: Vec<usize> = history.iter().map(size_of).collect();
        assert_eq!(sizes, [5, 8, 6, 12, 6, 7, 6, 15]);
    }

    #[test]
    fn everything_fits_a_large_budget() {
        assert_eq!(window_start(&conversation(), 1 << 20), 0);
        assert_eq!(window_start(&conversation(), 65), 0, "exactly the total");
    }

    #[test]
    fn the_oldest_whole_turns_go_first() {
        let history = conversation();
        assert_eq!(
            window_start(&history, 64),
            2,
            "the first turn (13 bytes) goes"
        );
        assert_eq!(window_start(&history, 52), 2);
        assert_eq!(window_start(&history, 51), 6, "the tool turn goes whole");
        assert_eq!(window_start(&history, 21), 6);
        assert_eq!(window_start(&history, 20), 8, "not even the last turn fits");
        assert_eq!(window_start(&history, 0), 8);
        assert_eq!(window_start(&[], 0), 0);
    }

    #[test]
    fn a_cut_never_separates_a_call_from_its_result() {
        let history = conversation();
        for budget in 0..=70 {
            let start = window_start(&history, budget);
            let kept = &history[start..];
            assert!(
                kept.is_empty() || matches!(kept[0], ChatMessage::User(_)),
                "budget {budget}: starts with {:?}",
                kept[0]
            );
            assert!(kept.iter().map(size_of).sum::<usize>() <= budget);
            for (at, message) in kept.iter().enumerate() {
                if let ChatMessage::ToolResults(_) = message {
                    assert!(
                        at > 0
                            && matches!(&kept[at - 1], ChatMessage::Assistant { tool_calls, .. } if !tool_calls.is_empty()),
                        "budget {budget}: a result without its call"
                    );
                }
            }
        }
    }

    #[test]
    fn a_history_that_starts_mid_turn_is_cut_at_a_user_message() {
        // As if an older, longer history had been cut without care.
        let history = vec![
            results("c0", "9"),
            answer("it is 9"),
            user("again"),
            answer("ok"),
        ];
        assert_eq!(window_start(&history, 1000), 2);
        let mut trimmed = history.clone();
        trim(&mut trimmed, 1000);
        assert_eq!(trimmed, history[2..]);
        let mut emptied = history;
        trim(&mut emptied, 3);
        assert!(emptied.is_empty());
    }

    #[test]
    fn multibyte_text_counts_bytes() {
        assert_eq!(size_of(&user("¿qué?")), 7);
    }
}
