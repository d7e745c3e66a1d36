//! Decodes server frames (and the conversations API's answers) in the browser, by
//! hand, into the protocol's own types.
//!
//! Why not serde's derive: `ServerEvent` is an internally tagged enum inside a frame
//! with flattened metadata, and serde decodes those by buffering every frame into
//! its generic `Content` tree first. That machinery was over 100 KB of the page's
//! WASM (about a sixth of it). Reading a `serde_json::Value` and picking the fields
//! costs a few KB. Native tests hold this decoder to serde's own on every kind of
//! event, with and without each optional field.

use protocol::{
    Args, ContentItem, ConversationSummary, LlmDescriptor, Node, ServerEvent, ServerFrame,
    ToolDescriptor,
};
use serde_json::Value;

use self::read::{Object, list, object, optional, string, take, take_string, u64_of};
pub(crate) use self::read::{error_code, usage};

pub(crate) mod read;

/// One text frame from the server, or `None` when it is not a frame this client
/// understands (a newer kind of event, or a malformed one).
pub fn decode(text: &str) -> Option<ServerFrame> {
    let Value::Object(mut object) = serde_json::from_str(text).ok()? else {
        return None;
    };
    let event = event(&mut object)?;
    Some(ServerFrame {
        event,
        turn_id: optional(&mut object, "turn_id", string)?,
        seq: optional(&mut object, "seq", u64_of)?,
        ts_ms: optional(&mut object, "ts_ms", u64_of)?,
    })
}

/// `GET /api/conversations`: the caller's conversations, newest first.
pub fn summaries(text: &str) -> Option<Vec<ConversationSummary>> {
    list(serde_json::from_str(text).ok()?, summary)
}

/// `GET /api/conversations/{id}`: each shown turn's id and question, oldest first.
pub fn questions(text: &str) -> Option<Vec<(String, String)>> {
    let mut detail = object(serde_json::from_str(text).ok()?)?;
    take(&mut detail, "turns", |turns| {
        list(turns, |turn| {
            let mut turn = object(turn)?;
            Some((
                take_string(&mut turn, "turn_id")?,
                take_string(&mut turn, "question")?,
            ))
        })
    })
}

fn event(o: &mut Object) -> Option<ServerEvent> {
    let kind = take_string(o, "type")?;
    Some(match kind.as_str() {
        "ready" => ServerEvent::Ready {
            protocol: u32::try_from(take(o, "protocol", u64_of)?).ok()?,
            session_id: take_string(o, "session_id")?,
            llm: take(o, "llm", llm)?,
            tools: take(o, "tools", |v| list(v, tool))?,
            conversation: optional(o, "conversation", summary)?,
        },
        "start" => ServerEvent::Start {
            message: take_string(o, "message")?,
            replaces: optional(o, "replaces", string)?,
        },
        "step" => ServerEvent::Step {
            node: take(o, "node", node)?,
            message: take_string(o, "message")?,
        },
        "tool_call" => ServerEvent::ToolCall {
            tool: take_string(o, "tool")?,
            args: take(o, "args", args)?,
            call_id: optional(o, "call_id", string)?,
            server: optional(o, "server", string)?,
        },
        "approval_required" => ServerEvent::ApprovalRequired {
            call_id: take_string(o, "call_id")?,
            tool: take_string(o, "tool")?,
            args: take(o, "args", args)?,
            server: take_string(o, "server")?,
        },
        "approval_resolved" => ServerEvent::ApprovalResolved {
            call_id: take_string(o, "call_id")?,
            approved: take(o, "approved", |v| v.as_bool())?,
            reason: optional(o, "reason", string)?,
        },
        "tool_progress" => ServerEvent::ToolProgress {
            call_id: take_string(o, "call_id")?,
            tool: take_string(o, "tool")?,
            progress: take(o, "progress", |v| v.as_f64())?,
            total: optional(o, "total", |v| v.as_f64())?,
            message: optional(o, "message", string)?,
        },
        "tool_result" => ServerEvent::ToolResult {
            tool: take_string(o, "tool")?,
            result: take_string(o, "result")?,
            is_error: optional(o, "is_error", |v| v.as_bool())?.unwrap_or(false),
            call_id: optional(o, "call_id", string)?,
            structured: optional(o, "structured", Some)?,
            content: optional(o, "content", |v| list(v, content_item))?.unwrap_or_default(),
        },
        "response_delta" => ServerEvent::ResponseDelta {
            content: take_string(o, "content")?,
        },
        "response" => ServerEvent::Response {
            content: take_string(o, "content")?,
        },
        "complete" => ServerEvent::Complete {
            steps: u32::try_from(take(o, "steps", u64_of)?).ok()?,
            usage: optional(o, "usage", usage)?,
            total_usage: optional(o, "total_usage", usage)?,
        },
        "cancelled" => ServerEvent::Cancelled {},
        "error" => ServerEvent::Error {
            message: take_string(o, "message")?,
            code: optional(o, "code", error_code)?,
        },
        "tools_changed" => ServerEvent::ToolsChanged {
            tools: take(o, "tools", |v| list(v, tool))?,
        },
        _ => return None,
    })
}

fn args(value: Value) -> Option<Args> {
    object(value)
}

fn node(value: Value) -> Option<Node> {
    match value.as_str()? {
        "llm" => Some(Node::Llm),
        "tools" => Some(Node::Tools),
        _ => None,
    }
}

fn llm(value: Value) -> Option<LlmDescriptor> {
    let mut o = object(value)?;
    Some(LlmDescriptor {
        provider: take_string(&mut o, "provider")?,
        model: take_string(&mut o, "model")?,
        label: take_string(&mut o, "label")?,
    })
}

fn tool(value: Value) -> Option<ToolDescriptor> {
    let mut o = object(value)?;
    Some(ToolDescriptor {
        name: take_string(&mut o, "name")?,
        description: take_string(&mut o, "description")?,
        parameters: o.remove("parameters")?,
        server: optional(&mut o, "server", string)?,
    })
}

fn summary(value: Value) -> Option<ConversationSummary> {
    let mut o = object(value)?;
    Some(ConversationSummary {
        id: take_string(&mut o, "id")?,
        title: take_string(&mut o, "title")?,
        created_ms: take(&mut o, "created_ms", u64_of)?,
        updated_ms: take(&mut o, "updated_ms", u64_of)?,
        turns: u32::try_from(take(&mut o, "turns", u64_of)?).ok()?,
        usage: optional(&mut o, "usage", usage)?,
    })
}

fn content_item(value: Value) -> Option<ContentItem> {
    let mut o = object(value)?;
    Some(match take_string(&mut o, "type")?.as_str() {
        "image" => ContentItem::Image {
            mime_type: take_string(&mut o, "mime_type")?,
            data: take_string(&mut o, "data")?,
        },
        "resource_link" => ContentItem::ResourceLink {
            uri: take_string(&mut o, "uri")?,
            name: optional(&mut o, "name", string)?,
            mime_type: optional(&mut o, "mime_type", string)?,
        },
        _ => ContentItem::Unknown,
    })
}

#[cfg(test)]
mod tests;
