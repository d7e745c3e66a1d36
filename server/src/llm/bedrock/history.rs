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
mod tests {
    use aws_sdk_bedrockruntime::types::ToolUseBlock;

    use super::*;

    fn message(role: ConversationRole, content: Vec<ContentBlock>) -> Message {
        Message::builder()
            .role(role)
            .set_content(Some(content))
            .build()
            .unwrap()
    }

    fn user(text: &str) -> Message {
        message(
            ConversationRole::User,
            vec![ContentBlock::Text(text.into())],
        )
    }

    fn text(text: &str) -> ContentBlock {
        ContentBlock::Text(text.into())
    }

    fn tool_use(id: &str, name: &str) -> ContentBlock {
        ContentBlock::ToolUse(
            ToolUseBlock::builder()
                .tool_use_id(id)
                .name(name)
                .input(Document::Object(Default::default()))
                .build()
                .unwrap(),
        )
    }

    fn result(id: &str, content: &str, status: ToolResultStatus) -> ContentBlock {
        ContentBlock::ToolResult(
            ToolResultBlock::builder()
                .tool_use_id(id)
                .content(ToolResultContentBlock::Text(content.into()))
                .status(status)
                .build()
                .unwrap(),
        )
    }

    fn config(names: &[&str]) -> Option<ToolConfiguration> {
        let tools = names
            .iter()
            .map(|n| {
                Tool::ToolSpec(
                    ToolSpecification::builder()
                        .name(*n)
                        .input_schema(ToolInputSchema::Json(Document::Null))
                        .build()
                        .unwrap(),
                )
            })
            .collect();
        Some(
            ToolConfiguration::builder()
                .set_tools(Some(tools))
                .build()
                .unwrap(),
        )
    }

    fn declared(config: &Option<ToolConfiguration>) -> Vec<String> {
        config
            .iter()
            .flat_map(|c| &c.tools)
            .filter_map(|t| match t {
                Tool::ToolSpec(s) => Some(s.name.clone()),
                _ => None,
            })
            .collect()
    }

    fn roles(messages: &[Message]) -> Vec<&str> {
        messages.iter().map(|m| m.role.as_str()).collect()
    }

    /// A well-formed tool exchange.
    fn exchange() -> Vec<Message> {
        vec![
            user("Suma 10 y 5"),
            message(ConversationRole::Assistant, vec![tool_use("t1", "add")]),
            message(
                ConversationRole::User,
                vec![result("t1", "15", ToolResultStatus::Success)],
            ),
        ]
    }

    #[test]
    fn a_valid_history_is_left_alone() {
        let mut messages = exchange();
        let mut tools = config(&["add"]);
        let fixes = validate(&mut messages, &mut tools).unwrap();
        assert_eq!(fixes, []);
        assert_eq!(messages, exchange());
        assert_eq!(declared(&tools), ["add"]);
    }

    #[test]
    fn tool_config_is_present_whenever_the_history_has_tool_blocks() {
        // No tools offered now, but the history used `add`.
        let mut messages = exchange();
        let mut tools = None;
        let fixes = validate(&mut messages, &mut tools).unwrap();
        assert_eq!(fixes, [Fix::DeclaredTool("add".into())]);
        assert_eq!(declared(&tools), ["add"]);

        // Offered tools are kept and a tool that left the toolbox is added.
        let mut tools = config(&["multiply"]);
        validate(&mut exchange(), &mut tools).unwrap();
        assert_eq!(declared(&tools), ["multiply", "add"]);

        // No tool blocks and no tools: no toolConfig at all.
        let mut tools = None;
        validate(&mut vec![user("hola")], &mut tools).unwrap();
        assert!(tools.is_none());
    }

    #[test]
    fn error_tool_results_are_never_empty() {
        let mut messages = exchange();
        messages[2] = message(
            ConversationRole::User,
            vec![result("t1", " ", ToolResultStatus::Error)],
        );
        let fixes = validate(&mut messages, &mut config(&["add"])).unwrap();
        assert_eq!(fixes, [Fix::FilledEmptyResult("t1".into())]);
        assert_eq!(
            messages[2].content,
            [result("t1", EMPTY_ERROR, ToolResultStatus::Error)]
        );

        let mut messages = exchange();
        messages[2] = message(
            ConversationRole::User,
            vec![result("t1", "", ToolResultStatus::Success)],
        );
        validate(&mut messages, &mut config(&["add"])).unwrap();
        assert_eq!(
            messages[2].content,
            [result("t1", EMPTY_RESULT, ToolResultStatus::Success)]
        );
    }

    #[test]
    fn no_tool_use_is_left_without_its_result() {
        // The turn stopped after the model asked for a tool; the user wrote again.
        let mut messages = vec![
            user("Suma 10 y 5"),
            message(
                ConversationRole::Assistant,
                vec![
                    text("Voy a sumar."),
                    tool_use("t1", "add"),
                    tool_use("t2", "add"),
                ],
            ),
            message(
                ConversationRole::User,
                vec![result("t2", "15", ToolResultStatus::Success)],
            ),
            user("¿Y ahora?"),
        ];
        let fixes = validate(&mut messages, &mut config(&["add"])).unwrap();
        assert!(
            fixes.contains(&Fix::AddedMissingResult("t1".into())),
            "{fixes:?}"
        );
        assert_eq!(roles(&messages), ["user", "assistant", "user"]);
        assert_eq!(
            messages[2].content,
            [
                result("t1", MISSING_RESULT, ToolResultStatus::Error),
                result("t2", "15", ToolResultStatus::Success),
                text("¿Y ahora?"),
            ]
        );

        // A tool use at the very end gets a user message with its result.
        let mut messages = exchange();
        messages.truncate(2);
        validate(&mut messages, &mut config(&["add"])).unwrap();
        assert_eq!(roles(&messages), ["user", "assistant", "user"]);
        assert_eq!(
            messages[2].content,
            [result("t1", MISSING_RESULT, ToolResultStatus::Error)]
        );
    }

    #[test]
    fn results_without_their_tool_use_are_dropped() {
        let mut messages = vec![
            user("hola"),
            message(ConversationRole::Assistant, vec![text("¡Hola!")]),
            message(
                ConversationRole::User,
                vec![
                    result("ghost", "1", ToolResultStatus::Success),
                    text("Suma 1 y 2"),
                ],
            ),
        ];
        let fixes = validate(&mut messages, &mut None).unwrap();
        assert_eq!(fixes, [Fix::DroppedOrphanResult("ghost".into())]);
        assert_eq!(messages[2].content, [text("Suma 1 y 2")]);
    }

    #[test]
    fn roles_alternate_starting_with_the_user() {
        let mut messages = vec![
            message(
                ConversationRole::Assistant,
                vec![text("Hi, I'm the agent.")],
            ),
            user("Suma 10 y 5"),
            user("Perdón: suma 10 y 6"),
            message(ConversationRole::Assistant, vec![text("")]),
            message(ConversationRole::Assistant, vec![text("16")]),
        ];
        let fixes = validate(&mut messages, &mut None).unwrap();
        assert!(fixes.contains(&Fix::DroppedLeadingAssistant), "{fixes:?}");
        assert!(fixes.contains(&Fix::MergedSameRole), "{fixes:?}");
        assert!(fixes.contains(&Fix::DroppedBlankText), "{fixes:?}");
        assert_eq!(roles(&messages), ["user", "assistant"]);
        assert_eq!(
            messages[0].content,
            [text("Suma 10 y 5"), text("Perdón: suma 10 y 6")]
        );
        assert_eq!(messages[1].content, [text("16")]);
    }

    #[test]
    fn a_history_of_only_orphans_collapses_to_the_user_message() {
        let mut messages = vec![
            message(
                ConversationRole::User,
                vec![result("ghost", "1", ToolResultStatus::Success)],
            ),
            message(ConversationRole::Assistant, vec![text("ok")]),
            user("Suma 1 y 2"),
        ];
        validate(&mut messages, &mut None).unwrap();
        assert_eq!(roles(&messages), ["user"]);
        assert_eq!(messages[0].content, [text("Suma 1 y 2")]);
    }
}
