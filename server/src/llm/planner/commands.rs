//! The planner's commands, which reach any tool with no language model:
//!
//! - `/tools` lists the tools on offer with their servers;
//! - `/call <tool> <JSON arguments>` calls one tool through the normal agent path
//!   (`tool_call`, approval if its policy asks, `tool_result`, `response`), then
//!   answers with what the tool returned, or that the user declined it.

use protocol::Args;
use serde_json::Value;

use crate::{
    lang::Lang,
    llm::{ChatMessage, LlmReply, ToolCall, ToolOutcome, ToolSpec},
};

/// The id of the call a `/call` makes.
const CALL_ID: &str = "command_call";

/// The reply to a command, or `None` when `text` is not one. `after` is what
/// happened since the user's message (the model's turns and tool results).
pub fn plan(text: &str, after: &[ChatMessage], tools: &[ToolSpec], lang: Lang) -> Option<LlmReply> {
    let text = text.trim();
    if text == "/tools" {
        return Some(LlmReply::text(list(tools, lang)));
    }
    let rest = text.strip_prefix("/call")?;
    if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
        return None;
    }
    if let Some(outcome) = after.iter().rev().find_map(|m| match m {
        ChatMessage::ToolResults(outcomes) => outcomes.iter().find(|o| o.call_id == CALL_ID),
        _ => None,
    }) {
        return Some(LlmReply::text(answer(outcome, lang)));
    }
    let rest = rest.trim();
    let (tool, args) = match rest.split_once(char::is_whitespace) {
        Some((tool, args)) => (tool, args.trim()),
        None => (rest, ""),
    };
    if tool.is_empty() {
        return Some(LlmReply::text(usage(lang)));
    }
    if !tools.iter().any(|t| t.name == tool) {
        return Some(LlmReply::text(match lang {
            Lang::Es => format!("No hay ninguna herramienta «{tool}». /tools lista las que hay."),
            Lang::En => format!("There is no “{tool}” tool. /tools lists the tools there are."),
        }));
    }
    let args = match parse_args(args) {
        Ok(args) => args,
        Err(why) => {
            return Some(LlmReply::text(match lang {
                Lang::Es => format!(
                    "Los argumentos deben ser un objeto JSON ({why}). {}",
                    usage(lang)
                ),
                Lang::En => format!(
                    "The arguments must be a JSON object ({why}). {}",
                    usage(lang)
                ),
            }));
        }
    };
    Some(LlmReply {
        text: String::new(),
        tool_calls: vec![ToolCall::new(CALL_ID, tool, args)],
        usage: None,
    })
}

fn parse_args(text: &str) -> Result<Args, String> {
    if text.is_empty() {
        return Ok(Args::new());
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(args)) => Ok(args),
        Ok(other) => Err(format!("got {other}")),
        Err(error) => Err(error.to_string()),
    }
}

fn usage(lang: Lang) -> String {
    match lang {
        Lang::Es => "Uso: /call <herramienta> {\"argumento\": valor}".into(),
        Lang::En => "Usage: /call <tool> {\"argument\": value}".into(),
    }
}

fn list(tools: &[ToolSpec], lang: Lang) -> String {
    if tools.is_empty() {
        return match lang {
            Lang::Es => "No hay herramientas disponibles ahora mismo.".into(),
            Lang::En => "No tools are available right now.".into(),
        };
    }
    let mut text = match lang {
        Lang::Es => format!("Herramientas disponibles ({}):", tools.len()),
        Lang::En => format!("Available tools ({}):", tools.len()),
    };
    for tool in tools {
        let description = tool.description.lines().next().unwrap_or_default();
        text.push_str(&format!(
            "\n- {} ({}): {description}",
            tool.name, tool.server
        ));
    }
    text.push_str(match lang {
        Lang::Es => "\nLlama a una con /call <herramienta> {\"argumento\": valor}.",
        Lang::En => "\nCall one with /call <tool> {\"argument\": value}.",
    });
    text
}

fn answer(outcome: &ToolOutcome, lang: Lang) -> String {
    let tool = &outcome.name;
    let result = &outcome.content;
    match (lang, outcome.denied, outcome.is_error) {
        (Lang::Es, true, _) => format!("Rechazaste la llamada a {tool}, así que no se ejecutó."),
        (Lang::En, true, _) => format!("You declined the call to {tool}, so it was not run."),
        (Lang::Es, false, true) => format!("La herramienta {tool} falló: {result}"),
        (Lang::En, false, true) => format!("The {tool} tool failed: {result}"),
        (Lang::Es, false, false) => format!("{tool} devolvió: {result}"),
        (Lang::En, false, false) => format!("{tool} returned: {result}"),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;

    fn tools() -> Vec<ToolSpec> {
        vec![ToolSpec {
            name: "get-sum".into(),
            description: "Returns the sum of two numbers\nmore".into(),
            input_schema: Arc::new(Default::default()),
            server: "everything".into(),
        }]
    }

    #[test]
    fn tools_are_listed_with_their_servers() {
        let reply = plan("/tools", &[], &tools(), Lang::En).unwrap();
        assert!(
            reply
                .text
                .contains("- get-sum (everything): Returns the sum of two numbers\n"),
            "{}",
            reply.text
        );
        assert!(plan("/toolsx", &[], &tools(), Lang::En).is_none());
        assert!(plan("Suma 1 y 2", &[], &tools(), Lang::En).is_none());
    }

    #[test]
    fn call_asks_for_the_tool_then_answers_with_its_result() {
        let reply = plan(r#"/call get-sum {"a": 2, "b": 3}"#, &[], &tools(), Lang::En).unwrap();
        let call = &reply.tool_calls[0];
        assert_eq!(call.name, "get-sum");
        assert_eq!(Value::Object(call.args.clone()), json!({"a": 2, "b": 3}));
        let after = [ChatMessage::ToolResults(vec![ToolOutcome::text(
            CALL_ID, "get-sum", "5", false,
        )])];
        let reply = plan("/call get-sum {}", &after, &tools(), Lang::En).unwrap();
        assert_eq!(reply.text, "get-sum returned: 5");
        let mut denied = ToolOutcome::text(CALL_ID, "get-sum", "declined", true);
        denied.denied = true;
        let after = [ChatMessage::ToolResults(vec![denied])];
        let reply = plan("/call get-sum {}", &after, &tools(), Lang::En).unwrap();
        assert!(reply.text.contains("declined"), "{}", reply.text);
    }

    #[test]
    fn bad_calls_are_explained() {
        let reply = plan("/call nope {}", &[], &tools(), Lang::En).unwrap();
        assert!(reply.text.contains("no “nope” tool"), "{}", reply.text);
        let reply = plan("/call get-sum [1]", &[], &tools(), Lang::En).unwrap();
        assert!(
            reply.text.contains("must be a JSON object"),
            "{}",
            reply.text
        );
        let reply = plan("/call", &[], &tools(), Lang::En).unwrap();
        assert!(reply.text.starts_with("Usage"), "{}", reply.text);
    }
}
