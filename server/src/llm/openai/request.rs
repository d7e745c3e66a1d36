//! The chat-completions request body: the conversation as `messages`, the tools as
//! `function`s, streaming with usage reported in the last chunk.

use serde_json::{Value, json};

use crate::llm::{ChatMessage, LlmRequest, ToolSpec, tool_names::ToolNames};

/// What the body asks for besides the conversation.
pub struct BodyOptions<'a> {
    pub model: &'a str,
    pub system_prompt: &'a str,
    pub max_tokens: Option<u32>,
    /// Ask for the token usage in a last chunk (`stream_options.include_usage`).
    /// Servers that refuse the option get requests without it.
    pub include_usage: bool,
}

/// The request body for the conversation.
pub fn body(options: &BodyOptions<'_>, request: LlmRequest<'_>, names: &ToolNames) -> Value {
    let mut body = json!({
        "model": options.model,
        "stream": true,
        "messages": messages(options.system_prompt, request.messages, names),
    });
    if options.include_usage {
        body["stream_options"] = json!({ "include_usage": true });
    }
    if !request.tools.is_empty() {
        body["tools"] = request
            .tools
            .iter()
            .map(|tool| function(tool, names))
            .collect();
    }
    if let Some(max) = options.max_tokens {
        body["max_tokens"] = max.into();
    }
    body
}

/// A tool as a chat-completions `function`.
fn function(tool: &ToolSpec, names: &ToolNames) -> Value {
    json!({
        "type": "function",
        "function": {
            "name": names.to_model(&tool.name),
            "description": tool.description,
            "parameters": Value::Object((*tool.input_schema).clone()),
        }
    })
}

/// The conversation as chat-completions messages. Every tool call gets exactly one
/// `tool` message right after its assistant message (a missing one says the call did
/// not complete; strays are dropped), as the API requires.
fn messages(system: &str, history: &[ChatMessage], names: &ToolNames) -> Vec<Value> {
    let mut out = vec![json!({ "role": "system", "content": system })];
    let mut open_calls: Vec<String> = Vec::new();
    let close = |out: &mut Vec<Value>, open: &mut Vec<String>| {
        for id in open.drain(..) {
            out.push(json!({
                "role": "tool",
                "tool_call_id": id,
                "content": "Error: this tool call did not complete, so it has no result.",
            }));
        }
    };
    for entry in history {
        match entry {
            ChatMessage::User(text) => {
                close(&mut out, &mut open_calls);
                out.push(json!({ "role": "user", "content": text }));
            }
            ChatMessage::Assistant { text, tool_calls } => {
                close(&mut out, &mut open_calls);
                let mut message = json!({ "role": "assistant", "content": text });
                if !tool_calls.is_empty() {
                    message["tool_calls"] = tool_calls
                        .iter()
                        .map(|call| {
                            json!({
                                "id": call.id,
                                "type": "function",
                                "function": {
                                    "name": names.to_model(&call.name),
                                    // A string of JSON, as the API defines it; a
                                    // malformed call is sent as `{}`.
                                    "arguments": Value::Object(call.args.clone()).to_string(),
                                },
                            })
                        })
                        .collect();
                    open_calls = tool_calls.iter().map(|c| c.id.clone()).collect();
                }
                out.push(message);
            }
            ChatMessage::ToolResults(outcomes) => {
                for outcome in outcomes {
                    let Some(at) = open_calls.iter().position(|id| *id == outcome.call_id) else {
                        tracing::debug!(call_id = %outcome.call_id, "dropped a tool result without its call");
                        continue;
                    };
                    open_calls.remove(at);
                    // The API has no error flag for tool messages: say it in the text.
                    let content = match (outcome.is_error, outcome.content.trim().is_empty()) {
                        (true, true) => {
                            "Error: the tool failed without an error message.".to_owned()
                        }
                        (true, false) => format!("Error: {}", outcome.content),
                        (false, true) => "(the tool returned no text)".to_owned(),
                        (false, false) => outcome.content.clone(),
                    };
                    out.push(json!({
                        "role": "tool",
                        "tool_call_id": outcome.call_id,
                        "content": content,
                    }));
                }
            }
        }
    }
    close(&mut out, &mut open_calls);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::{ToolCall, ToolOutcome};

    fn outcome(id: &str, content: &str, is_error: bool) -> ToolOutcome {
        ToolOutcome::text(id, "add", content, is_error)
    }

    #[test]
    fn tool_calls_and_results_pair_up() {
        let history = [
            ChatMessage::User("Suma 10 y 5".into()),
            ChatMessage::Assistant {
                text: String::new(),
                tool_calls: vec![
                    ToolCall::parse("c1", "add", r#"{"a":10,"b":5}"#),
                    ToolCall::parse("c2", "add", r#"{"a":1,"b":2}"#),
                ],
            },
            ChatMessage::ToolResults(vec![outcome("c1", "", true), outcome("stray", "1", false)]),
            ChatMessage::User("¿Y ahora?".into()),
        ];
        let out = messages("sys", &history, &ToolNames::new(["add"]));
        let roles: Vec<&str> = out.iter().map(|m| m["role"].as_str().unwrap()).collect();
        assert_eq!(
            roles,
            ["system", "user", "assistant", "tool", "tool", "user"]
        );
        assert_eq!(
            out[2]["tool_calls"][0]["function"]["arguments"],
            r#"{"a":10,"b":5}"#
        );
        assert_eq!(out[3]["tool_call_id"], "c1");
        assert_eq!(
            out[3]["content"],
            "Error: the tool failed without an error message."
        );
        assert_eq!(out[4]["tool_call_id"], "c2");
        assert!(
            out[4]["content"]
                .as_str()
                .unwrap()
                .contains("did not complete")
        );
    }

    #[test]
    fn usage_is_asked_for_unless_the_server_refused_it() {
        let history = [ChatMessage::User("hola".into())];
        let request = LlmRequest {
            messages: &history,
            tools: &[],
        };
        let mut options = BodyOptions {
            model: "m",
            system_prompt: "sys",
            max_tokens: Some(64),
            include_usage: true,
        };
        let with = body(&options, request, &ToolNames::default());
        assert_eq!(with["stream"], true);
        assert_eq!(with["stream_options"], json!({ "include_usage": true }));
        assert_eq!(with["max_tokens"], 64);
        assert!(with.get("tools").is_none());
        options.include_usage = false;
        let without = body(&options, request, &ToolNames::default());
        assert!(without.get("stream_options").is_none());
    }
}
