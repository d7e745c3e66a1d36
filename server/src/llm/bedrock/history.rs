//! The history validator: runs before every Bedrock call and repairs what Bedrock
//! would reject with a `ValidationException`, so one odd conversation (a turn cut
//! short between a tool call and its result, a tool that answered nothing) does not
//! break every later turn of the session.
//!
//! The rules, each with a test below:
//! - `toolConfig` is present whenever the history has tool blocks, and declares every
//!   tool the history uses;
//! - tool results are never empty (error results least of all: the model must see why);
//! - no orphan `toolUse` without its `toolResult` in the next message, and no
//!   `toolResult` without its `toolUse` in the previous one;
//! - roles alternate, starting with the user; text blocks are never blank.

use std::collections::HashSet;

use aws_sdk_bedrockruntime::types::{
    ContentBlock, ConversationRole, Message, Tool, ToolConfiguration, ToolInputSchema,
    ToolResultBlock, ToolResultContentBlock, ToolResultStatus, ToolSpecification,
};
use aws_smithy_types::Document;

use super::convert::build_failed;
use crate::llm::LlmError;

/// What the validator repaired, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fix {
    /// A tool used in the history was missing from `toolConfig` (or there was none).
    DeclaredTool(String),
    /// A tool result had no text; it now says so.
    FilledEmptyResult(String),
    /// A blank text block was dropped.
    DroppedBlankText,
    /// A `toolUse` had no result; an error result now says the call did not complete.
    AddedMissingResult(String),
    /// A `toolResult` answered no `toolUse` of the previous message and was dropped.
    DroppedOrphanResult(String),
    /// Two messages in a row had the same role and were merged.
    MergedSameRole,
    /// The conversation started with the assistant; those messages were dropped.
    DroppedLeadingAssistant,
}

/// The result text for a call whose result never came (the turn stopped first).
const MISSING_RESULT: &str = "This tool call did not complete, so it has no result.";
/// The result text for an error without a message.
const EMPTY_ERROR: &str = "The tool failed without an error message.";
/// The result text for a successful call that returned no text.
const EMPTY_RESULT: &str = "(the tool returned no text)";

/// Repairs `messages` and `tool_config` in place; returns what it changed.
pub fn validate(
    messages: &mut Vec<Message>,
    tool_config: &mut Option<ToolConfiguration>,
) -> Result<Vec<Fix>, LlmError> {
    let mut fixes = Vec::new();
    fill_empty_blocks(messages, &mut fixes);
    // Dropping one thing can expose another (an emptied message makes two of the same
    // role adjacent, or leaves the assistant first), so run to a fixed point. Every
    // pass but the first only removes or merges, so this ends quickly.
    for _ in 0..=messages.len() {
        let before = fixes.len();
        drop_empty_messages(messages);
        drop_leading_assistant(messages, &mut fixes);
        merge_same_role(messages, &mut fixes);
        pair_tool_blocks(messages, &mut fixes)?;
        if fixes.len() == before {
            break;
        }
    }
    declare_used_tools(messages, tool_config, &mut fixes)?;
    Ok(fixes)
}

/// Blank text blocks go (Bedrock rejects them); empty tool results get a text that
/// says they were empty, so the model is never left guessing why.
fn fill_empty_blocks(messages: &mut [Message], fixes: &mut Vec<Fix>) {
    for message in messages {
        let blank_texts = message
            .content
            .iter()
            .filter(|b| matches!(b, ContentBlock::Text(t) if t.trim().is_empty()))
            .count();
        if blank_texts > 0 {
            message
                .content
                .retain(|b| !matches!(b, ContentBlock::Text(t) if t.trim().is_empty()));
            fixes.extend(std::iter::repeat_n(Fix::DroppedBlankText, blank_texts));
        }
        for block in &mut message.content {
            let ContentBlock::ToolResult(result) = block else {
                continue;
            };
            let has_text = result.content.iter().any(|c| match c {
                ToolResultContentBlock::Text(t) => !t.trim().is_empty(),
                _ => true,
            });
            if !has_text {
                let is_error = result.status == Some(ToolResultStatus::Error);
                let text = if is_error { EMPTY_ERROR } else { EMPTY_RESULT };
                result.content = vec![ToolResultContentBlock::Text(text.into())];
                fixes.push(Fix::FilledEmptyResult(result.tool_use_id.clone()));
            }
        }
    }
}

/// Messages left without content (all their blocks dropped) go.
fn drop_empty_messages(messages: &mut Vec<Message>) {
    messages.retain(|m| !m.content.is_empty());
}

/// The conversation must open with the user: anything the assistant said before
/// the first user message goes.
fn drop_leading_assistant(messages: &mut Vec<Message>, fixes: &mut Vec<Fix>) {
    let leading = messages
        .iter()
        .take_while(|m| m.role != ConversationRole::User)
        .count();
    if leading > 0 {
        messages.drain(..leading);
        fixes.push(Fix::DroppedLeadingAssistant);
    }
}

/// Roles must alternate: two messages in a row from the same role become one.
fn merge_same_role(messages: &mut Vec<Message>, fixes: &mut Vec<Fix>) {
    let mut merged: Vec<Message> = Vec::with_capacity(messages.len());
    for message in messages.drain(..) {
        match merged.last_mut() {
            Some(last) if last.role == message.role => {
                // Tool results first: Bedrock wants them right after the tool uses.
                let mut content = std::mem::take(&mut last.content);
                content.extend(message.content);
                content.sort_by_key(|b| !matches!(b, ContentBlock::ToolResult(_)));
                last.content = content;
                fixes.push(Fix::MergedSameRole);
            }
            _ => merged.push(message),
        }
    }
    *messages = merged;
}

/// The ids of a message's tool uses, in order.
fn tool_use_ids(message: &Message) -> Vec<String> {
    message
        .content
        .iter()
        .filter_map(|b| match b {
            ContentBlock::ToolUse(u) => Some(u.tool_use_id.clone()),
            _ => None,
        })
        .collect()
}

/// Every tool use is answered in the next message and every result answers a tool
/// use of the previous one: missing results are added as errors, strays dropped.
fn pair_tool_blocks(messages: &mut Vec<Message>, fixes: &mut Vec<Fix>) -> Result<(), LlmError> {
    let mut at = 0;
    while at < messages.len() {
        // Results must answer the tool uses of the message just before.
        let asked: HashSet<String> = match at.checked_sub(1).map(|prev| &messages[prev]) {
            Some(prev) if prev.role == ConversationRole::Assistant => {
                tool_use_ids(prev).into_iter().collect()
            }
            _ => HashSet::new(),
        };
        if messages[at].role == ConversationRole::User {
            messages[at].content.retain(|b| match b {
                ContentBlock::ToolResult(r) if !asked.contains(&r.tool_use_id) => {
                    fixes.push(Fix::DroppedOrphanResult(r.tool_use_id.clone()));
                    false
                }
                _ => true,
            });
        }
        // Tool uses must be answered by the message just after.
        if messages[at].role == ConversationRole::Assistant {
            let ids = tool_use_ids(&messages[at]);
            if !ids.is_empty() {
                if messages
                    .get(at + 1)
                    .is_none_or(|next| next.role != ConversationRole::User)
                {
                    let empty = Message::builder()
                        .role(ConversationRole::User)
                        .set_content(Some(Vec::new()))
                        .build()
                        .map_err(build_failed)?;
                    messages.insert(at + 1, empty);
                }
                let next = &mut messages[at + 1];
                let answered: HashSet<String> = next
                    .content
                    .iter()
                    .filter_map(|b| match b {
                        ContentBlock::ToolResult(r) => Some(r.tool_use_id.clone()),
                        _ => None,
                    })
                    .collect();
                let mut missing = Vec::new();
                for id in ids.iter().filter(|id| !answered.contains(*id)) {
                    let result = ToolResultBlock::builder()
                        .tool_use_id(id)
                        .content(ToolResultContentBlock::Text(MISSING_RESULT.into()))
                        .status(ToolResultStatus::Error)
                        .build()
                        .map_err(build_failed)?;
                    missing.push(ContentBlock::ToolResult(result));
                    fixes.push(Fix::AddedMissingResult(id.clone()));
                }
                if !missing.is_empty() {
                    missing.append(&mut next.content);
                    next.content = missing;
                }
            }
        }
        at += 1;
    }
    Ok(())
}

/// When the conversation has tool blocks, `toolConfig` must exist and declare every
/// tool it uses, including tools the toolbox no longer offers.
fn declare_used_tools(
    messages: &[Message],
    tool_config: &mut Option<ToolConfiguration>,
    fixes: &mut Vec<Fix>,
) -> Result<(), LlmError> {
    let mut has_tool_blocks = false;
    let mut used: Vec<String> = Vec::new();
    for block in messages.iter().flat_map(|m| &m.content) {
        match block {
            ContentBlock::ToolUse(u) => {
                has_tool_blocks = true;
                if !used.contains(&u.name) {
                    used.push(u.name.clone());
                }
            }
            ContentBlock::ToolResult(_) => has_tool_blocks = true,
            _ => {}
        }
    }
    if !has_tool_blocks {
        return Ok(());
    }
    let declared: HashSet<String> = tool_config
        .iter()
        .flat_map(|c| &c.tools)
        .filter_map(|t| match t {
            Tool::ToolSpec(spec) => Some(spec.name.clone()),
            _ => None,
        })
        .collect();
    let mut tools = tool_config.take().map(|c| c.tools).unwrap_or_default();
    for name in used.into_iter().filter(|n| !declared.contains(n)) {
        // A tool the toolbox no longer offers: declared so the history stays valid,
        // described so the model does not call it again.
        let spec = ToolSpecification::builder()
            .name(&name)
            .description("No longer available; do not call.")
            .input_schema(ToolInputSchema::Json(Document::Object(
                [("type".to_owned(), Document::String("object".into()))].into(),
            )))
            .build()
            .map_err(build_failed)?;
        tools.push(Tool::ToolSpec(spec));
        fixes.push(Fix::DeclaredTool(name));
    }
    *tool_config = Some(
        ToolConfiguration::builder()
            .set_tools(Some(tools))
            .build()
            .map_err(build_failed)?,
    );
    Ok(())
}

#[cfg(test)]
mod tests;
