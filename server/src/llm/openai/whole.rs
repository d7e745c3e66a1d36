//! A chat completion that came whole (`application/json`) although the request asked
//! for a stream: some OpenAI-compatible servers ignore `stream: true`. Its message
//! and usage make the same reply a stream would have.

use std::collections::BTreeMap;

use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde::Deserialize;

use super::sse::{self, FunctionDelta, PartialCall, TokenCounts};
use crate::llm::{LlmError, LlmReply, tool_names::ToolNames};

/// The parts of a `chat.completion` this server reads.
#[derive(Debug, Deserialize)]
struct Completion {
    #[serde(default)]
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<TokenCounts>,
}

#[derive(Debug, Deserialize)]
struct Choice {
    #[serde(default)]
    index: u32,
    #[serde(default)]
    message: Message,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Message {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    tool_calls: Vec<WholeCall>,
}

#[derive(Debug, Deserialize)]
struct WholeCall {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<FunctionDelta>,
}

/// Reads the whole body (at most the size a streamed answer may reach) and makes the
/// reply.
pub async fn read(body: Incoming, names: &ToolNames) -> Result<LlmReply, LlmError> {
    let bytes = match Limited::new(body, sse::MAX_ANSWER_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => {
            tracing::warn!(
                "a whole chat completion exceeded {} bytes",
                sse::MAX_ANSWER_BYTES
            );
            return Err(sse::too_large());
        }
        Err(error) => {
            tracing::warn!(%error, "chat-completions answer broke");
            return Err(LlmError::Unavailable("its answer was cut off".into()));
        }
    };
    parse(&bytes, names)
}

/// The reply in a `chat.completion` JSON document.
pub fn parse(bytes: &[u8], names: &ToolNames) -> Result<LlmReply, LlmError> {
    let completion: Completion = serde_json::from_slice(bytes).map_err(|error| {
        tracing::warn!(%error, "unreadable chat completion");
        LlmError::Unavailable("its answer could not be read".into())
    })?;
    let Some(choice) = completion.choices.into_iter().find(|c| c.index == 0) else {
        return Err(LlmError::Unavailable("it returned an empty answer".into()));
    };
    let calls: BTreeMap<u32, PartialCall> = choice
        .message
        .tool_calls
        .into_iter()
        .zip(0u32..)
        .map(|(call, index)| {
            let function = call.function.unwrap_or_default();
            let partial = PartialCall {
                id: call.id.unwrap_or_default(),
                name: function.name.unwrap_or_default(),
                arguments: function.arguments.unwrap_or_default(),
            };
            (index, partial)
        })
        .collect();
    sse::reply(
        choice.message.content.unwrap_or_default(),
        calls,
        choice.finish_reason.as_deref(),
        completion.usage.map(Into::into),
        names,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::usage;

    #[test]
    fn a_whole_completion_gives_its_text_calls_and_usage() {
        let body = br#"{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,
            "message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_7","type":"function",
            "function":{"name":"add","arguments":"{\"a\":10,\"b\":5}"}}]},"finish_reason":"tool_calls"}],
            "usage":{"prompt_tokens":1234,"completion_tokens":56,"total_tokens":1290}}"#;
        let reply = parse(body, &ToolNames::new(["add"])).unwrap();
        assert_eq!(reply.text, "");
        assert_eq!(reply.tool_calls[0].id, "call_7");
        assert_eq!(reply.tool_calls[0].name, "add");
        assert_eq!(reply.usage, Some(usage::tokens(1234u64, 56u64)));

        let body = br#"{"choices":[{"index":0,"message":{"content":"La suma es 15."},"finish_reason":"stop"}]}"#;
        let reply = parse(body, &ToolNames::default()).unwrap();
        assert_eq!(reply.text, "La suma es 15.");
        assert_eq!(reply.usage, None);
    }

    #[test]
    fn an_empty_or_unreadable_completion_fails() {
        assert!(parse(b"{\"choices\":[]}", &ToolNames::default()).is_err());
        assert!(parse(b"<html>", &ToolNames::default()).is_err());
    }
}
