//! Reading a conversation back from browser storage, by hand from a JSON value, in
//! the shape serde's derive writes it (`Serialize` on the types of this module's
//! parent). A derived `Deserialize` for these nested enums cost about 30 KB of the
//! page's compressed WASM; tests hold this reader to what the writer writes.

use serde_json::Value;

use super::{
    Approval, Attachment, Conversation, Progress, Step, ToolCall, Turn, TurnCell, TurnError,
    TurnStatus,
};
use crate::wire::read::{
    Object, error_code, list, object, optional, string, take, take_string, u64_of, usage,
};

/// A conversation saved by [`Conversation`]'s `Serialize`, or `None` if the text
/// is not one.
pub fn decode<C: TurnCell>(text: &str) -> Option<Conversation<C>> {
    let mut o = object(serde_json::from_str(text).ok()?)?;
    Some(Conversation {
        turns: take(&mut o, "turns", |v| list(v, |t| turn(t).map(C::wrap)))?,
        session_id: optional(&mut o, "session_id", string)?,
        last_seq: take(&mut o, "last_seq", u64_of)?,
        next_local_id: take(&mut o, "next_local_id", u64_of)?,
        usage: optional(&mut o, "usage", usage)?,
        questions: Vec::new(),
    })
}

fn turn(value: Value) -> Option<Turn> {
    let mut o = object(value)?;
    Some(Turn {
        local_id: take(&mut o, "local_id", u64_of)?,
        turn_id: optional(&mut o, "turn_id", string)?,
        question: take_string(&mut o, "question")?,
        status: take(&mut o, "status", status)?,
        steps: take(&mut o, "steps", |v| list(v, step))?,
        answer: take_string(&mut o, "answer")?,
        error: optional(&mut o, "error", |v| {
            let mut e = object(v)?;
            Some(TurnError {
                code: optional(&mut e, "code", error_code)?,
                message: take_string(&mut e, "message")?,
            })
        })?,
        started_ms: optional(&mut o, "started_ms", u64_of)?,
        ended_ms: optional(&mut o, "ended_ms", u64_of)?,
        event_count: optional(&mut o, "event_count", u32_of)?,
        usage: optional(&mut o, "usage", usage)?,
    })
}

fn u32_of(value: Value) -> Option<u32> {
    u32::try_from(value.as_u64()?).ok()
}

fn status(value: Value) -> Option<TurnStatus> {
    Some(match value.as_str()? {
        "Waiting" => TurnStatus::Waiting,
        "Running" => TurnStatus::Running,
        "Done" => TurnStatus::Done,
        "Failed" => TurnStatus::Failed,
        "Stopped" => TurnStatus::Stopped,
        "Interrupted" => TurnStatus::Interrupted,
        _ => return None,
    })
}

/// An externally tagged enum value: `{"Variant": {…}}` (or `"Variant"` for a unit).
fn variant(value: Value) -> Option<(String, Value)> {
    match value {
        Value::String(name) => Some((name, Value::Null)),
        Value::Object(o) if o.len() == 1 => o.into_iter().next(),
        _ => None,
    }
}

fn step(value: Value) -> Option<Step> {
    let (kind, body) = variant(value)?;
    let mut o: Object = object(body)?;
    Some(match kind.as_str() {
        "Started" => Step::Started {
            message: take_string(&mut o, "message")?,
            at_ms: take(&mut o, "at_ms", u64_of)?,
        },
        "Node" => Step::Node {
            node: take_string(&mut o, "node")?,
            message: take_string(&mut o, "message")?,
            at_ms: take(&mut o, "at_ms", u64_of)?,
        },
        "Thought" => Step::Thought {
            text: take_string(&mut o, "text")?,
            at_ms: take(&mut o, "at_ms", u64_of)?,
        },
        "Tool" => Step::Tool(tool_call(o)?),
        _ => return None,
    })
}

fn tool_call(mut o: Object) -> Option<ToolCall> {
    Some(ToolCall {
        tool: take_string(&mut o, "tool")?,
        args: take_string(&mut o, "args")?,
        result: optional(&mut o, "result", string)?,
        is_error: take(&mut o, "is_error", |v| v.as_bool())?,
        called_ms: take(&mut o, "called_ms", u64_of)?,
        returned_ms: optional(&mut o, "returned_ms", u64_of)?,
        call_id: optional(&mut o, "call_id", string)?,
        server: optional(&mut o, "server", string)?,
        approval: optional(&mut o, "approval", approval)?,
        progress: optional(&mut o, "progress", |v| {
            let mut p = object(v)?;
            Some(Progress {
                progress: take(&mut p, "progress", |v| v.as_f64())?,
                total: optional(&mut p, "total", |v| v.as_f64())?,
                message: optional(&mut p, "message", string)?,
            })
        })?,
        attachments: optional(&mut o, "attachments", |v| list(v, attachment))?.unwrap_or_default(),
    })
}

fn approval(value: Value) -> Option<Approval> {
    let (kind, body) = variant(value)?;
    Some(match kind.as_str() {
        "Pending" => Approval::Pending,
        "Approved" => Approval::Approved,
        "Denied" => Approval::Denied {
            reason: optional(&mut object(body)?, "reason", string)?,
        },
        _ => return None,
    })
}

fn attachment(value: Value) -> Option<Attachment> {
    let (kind, body) = variant(value)?;
    let mut o = object(body)?;
    Some(match kind.as_str() {
        "Image" => Attachment::Image {
            mime_type: take_string(&mut o, "mime_type")?,
            data: take_string(&mut o, "data")?,
        },
        "Link" => Attachment::Link {
            uri: take_string(&mut o, "uri")?,
            name: optional(&mut o, "name", string)?,
        },
        _ => return None,
    })
}
