//! The validator's rules, one test each: what Bedrock would refuse is repaired, a valid history is left alone.

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
