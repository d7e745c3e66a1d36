//! The streamed chat-completions answer: server-sent events split from the byte
//! stream, and the answer assembled from their `choices[0].delta`s.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::llm::{
    LlmError, LlmReply, ToolCall,
    tool_names::ToolNames,
    usage::{self, Usage},
};

/// The largest event the server may send (a chunk is a few hundred bytes); a longer
/// one, or a line that never ends, fails the call instead of growing without bound.
const MAX_EVENT_BYTES: usize = 1024 * 1024;
/// The most a whole streamed answer may carry (text, tool calls and all).
pub(super) const MAX_ANSWER_BYTES: usize = 8 * 1024 * 1024;
/// The most tool calls one answer may make.
const MAX_TOOL_CALLS: usize = 128;

/// Splits a byte stream into server-sent events' `data`, across chunk boundaries.
#[derive(Debug, Default)]
pub struct SseParser {
    /// Bytes of a line not ended yet.
    partial: Vec<u8>,
    /// `data` lines of the event being read.
    data: Vec<String>,
    /// Bytes in `data`.
    data_bytes: usize,
}

pub(super) fn too_large() -> LlmError {
    LlmError::Unavailable("its answer was larger than this server accepts".into())
}

impl SseParser {
    /// Takes the next chunk; returns the data of every event it completed.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<String>, LlmError> {
        let mut events = Vec::new();
        for &byte in chunk {
            if byte != b'\n' {
                if self.partial.len() + self.data_bytes >= MAX_EVENT_BYTES {
                    tracing::warn!("a chat-completions event exceeded {MAX_EVENT_BYTES} bytes");
                    return Err(too_large());
                }
                self.partial.push(byte);
                continue;
            }
            let line = String::from_utf8_lossy(&self.partial).into_owned();
            self.partial.clear();
            let line = line.strip_suffix('\r').unwrap_or(&line);
            if line.is_empty() {
                if !self.data.is_empty() {
                    events.push(self.data.join("\n"));
                    self.data.clear();
                    self.data_bytes = 0;
                }
            } else if let Some(data) = line.strip_prefix("data:") {
                let data = data.strip_prefix(' ').unwrap_or(data);
                self.data_bytes += data.len() + 1;
                self.data.push(data.to_owned());
            }
            // Comments (`: keep-alive`), `event:`, `id:` and `retry:` carry nothing
            // the answer needs.
        }
        Ok(events)
    }
}

/// One chunk of a streamed chat completion (the parts this server reads).
#[derive(Debug, Deserialize)]
pub struct Chunk {
    #[serde(default)]
    pub choices: Vec<Choice>,
    /// Some servers report a failure inside the stream.
    #[serde(default)]
    pub error: Option<serde_json::Value>,
    /// The call's token usage: in a last chunk (with no choices) when the request
    /// asked for `stream_options.include_usage`; `null` or absent in the others.
    #[serde(default)]
    pub usage: Option<TokenCounts>,
}

/// `usage` as chat completions report it.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct TokenCounts {
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub completion_tokens: u64,
}

impl From<TokenCounts> for Usage {
    fn from(counts: TokenCounts) -> Self {
        usage::tokens(counts.prompt_tokens, counts.completion_tokens)
    }
}

/// One choice of a chunk; only choice 0 is read.
#[derive(Debug, Deserialize)]
pub struct Choice {
    #[serde(default)]
    pub index: u32,
    #[serde(default)]
    pub delta: Delta,
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// What a chunk adds to the answer: text, tool-call fragments, or both.
#[derive(Debug, Default, Deserialize)]
pub struct Delta {
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub tool_calls: Vec<ToolCallDelta>,
}

/// A fragment of one tool call; `index` says which, since calls interleave.
#[derive(Debug, Deserialize)]
pub struct ToolCallDelta {
    #[serde(default)]
    pub index: u32,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub function: Option<FunctionDelta>,
}

/// The name (sent once) and a piece of the JSON arguments text.
#[derive(Debug, Default, Deserialize)]
pub struct FunctionDelta {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub arguments: Option<String>,
}

/// A tool call being received.
#[derive(Debug, Default)]
pub(super) struct PartialCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

/// The answer so far.
#[derive(Debug, Default)]
pub struct Assembly {
    /// The answer text so far.
    text: String,
    /// By the server's index, so calls keep the model's order.
    calls: BTreeMap<u32, PartialCall>,
    /// `finish_reason` of choice 0, once sent.
    finish: Option<String>,
    /// `[DONE]` arrived.
    done: bool,
    /// Bytes of event data taken so far.
    received: usize,
    /// The last usage a chunk reported (some servers repeat a running total).
    usage: Option<Usage>,
}

impl Assembly {
    /// Takes one event's data; returns answer text to stream now, if any.
    pub fn push(&mut self, data: &str) -> Result<Option<String>, LlmError> {
        if data.trim() == "[DONE]" {
            self.done = true;
            return Ok(None);
        }
        self.received += data.len();
        if self.received > MAX_ANSWER_BYTES {
            tracing::warn!("a chat-completions answer exceeded {MAX_ANSWER_BYTES} bytes");
            return Err(too_large());
        }
        let chunk: Chunk = serde_json::from_str(data).map_err(|error| {
            tracing::warn!(%error, data, "unreadable chat-completions chunk");
            LlmError::Unavailable("its answer could not be read".into())
        })?;
        if let Some(error) = chunk.error {
            tracing::warn!(%error, "chat-completions stream reported an error");
            return Err(LlmError::Unavailable(
                "the model service failed to answer".into(),
            ));
        }
        if let Some(counts) = chunk.usage {
            self.usage = Some(counts.into());
        }
        let mut piece: Option<String> = None;
        // One answer is asked for; other choices (n > 1) are ignored.
        for choice in chunk.choices.into_iter().filter(|c| c.index == 0) {
            if let Some(content) = choice.delta.content.filter(|c| !c.is_empty()) {
                self.text.push_str(&content);
                piece.get_or_insert_with(String::new).push_str(&content);
            }
            for delta in choice.delta.tool_calls {
                if self.calls.len() >= MAX_TOOL_CALLS && !self.calls.contains_key(&delta.index) {
                    tracing::warn!(
                        "a chat-completions answer made over {MAX_TOOL_CALLS} tool calls"
                    );
                    return Err(too_large());
                }
                let call = self.calls.entry(delta.index).or_default();
                if let Some(id) = delta.id {
                    call.id = id;
                }
                if let Some(function) = delta.function {
                    if let Some(name) = function.name {
                        call.name.push_str(&name);
                    }
                    if let Some(arguments) = function.arguments {
                        call.arguments.push_str(&arguments);
                    }
                }
            }
            if choice.finish_reason.is_some() {
                self.finish = choice.finish_reason;
            }
        }
        Ok(piece)
    }

    /// Whether the server said the answer is complete (`finish_reason` or `[DONE]`).
    pub fn is_complete(&self) -> bool {
        self.done || self.finish.is_some()
    }

    /// The whole reply; an answer that never said it was complete was cut off.
    pub fn finish(self, names: &ToolNames) -> Result<LlmReply, LlmError> {
        if !self.is_complete() {
            return Err(LlmError::Unavailable("its answer was cut off".into()));
        }
        reply(
            self.text,
            self.calls,
            self.finish.as_deref(),
            self.usage,
            names,
        )
    }
}

/// The reply from an answer's text and tool calls (by the server's index), whether
/// it came streamed or whole. An answer with neither was refused or empty.
pub(super) fn reply(
    text: String,
    calls: BTreeMap<u32, PartialCall>,
    finish: Option<&str>,
    usage: Option<Usage>,
    names: &ToolNames,
) -> Result<LlmReply, LlmError> {
    let tool_calls: Vec<_> = calls
        .into_iter()
        .map(|(index, call)| {
            // Some servers leave ids out; the pairing only needs them unique.
            let id = if call.id.is_empty() {
                format!("call_{index}")
            } else {
                call.id
            };
            ToolCall::parse(id, names.to_tool(&call.name), &call.arguments)
        })
        .collect();
    if tool_calls.is_empty() && text.trim().is_empty() {
        return Err(match finish {
            Some("content_filter") => {
                LlmError::Refused("its content filter blocked the answer".into())
            }
            _ => LlmError::Unavailable("it returned an empty answer".into()),
        });
    }
    Ok(LlmReply {
        text,
        tool_calls,
        usage,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_across_chunks_and_lines() {
        let mut parser = SseParser::default();
        let stream = b": keep-alive\n\ndata: {\"a\":1}\r\n\r\ndata: [DO";
        let mut events = parser.push(&stream[..10]).unwrap();
        events.extend(parser.push(&stream[10..]).unwrap());
        assert_eq!(events, [r#"{"a":1}"#]);
        assert_eq!(parser.push(b"NE]\n\n").unwrap(), ["[DONE]"]);
    }

    #[test]
    fn an_endless_line_or_event_fails_instead_of_growing() {
        let mut parser = SseParser::default();
        let chunk = vec![b'x'; 64 * 1024];
        let mut outcome = Ok(Vec::new());
        for _ in 0..32 {
            outcome = parser.push(&chunk);
            if outcome.is_err() {
                break;
            }
        }
        assert!(outcome.is_err(), "a line of 2 MiB was accepted");
        // Many data lines of one event count together.
        let mut parser = SseParser::default();
        let line = format!("data: {}\n", "y".repeat(1000));
        let refused = (0..2000).any(|_| parser.push(line.as_bytes()).is_err());
        assert!(refused, "an event of 2 MB was accepted");
    }

    #[test]
    fn too_many_tool_calls_fail_the_answer() {
        let mut assembly = Assembly::default();
        let refused = (0..200).any(|index| {
            let chunk = format!(
                r#"{{"choices":[{{"index":0,"delta":{{"tool_calls":[{{"index":{index},"id":"c{index}","function":{{"name":"add","arguments":"{{}}"}}}}]}}}}]}}"#
            );
            assembly.push(&chunk).is_err()
        });
        assert!(refused);
    }

    #[test]
    fn multibyte_text_split_inside_a_character_survives() {
        let mut parser = SseParser::default();
        let bytes = "data: {\"x\":\"ñandú\"}\n\n".as_bytes();
        let mut events = Vec::new();
        for byte in bytes {
            events.extend(parser.push(std::slice::from_ref(byte)).unwrap());
        }
        assert_eq!(events, ["{\"x\":\"ñandú\"}"]);
    }

    #[test]
    fn text_and_tool_call_fragments_assemble() {
        let mut assembly = Assembly::default();
        let chunks = [
            r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":"Voy "}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"a sumar."}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_9","type":"function","function":{"name":"add","arguments":""}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"a\": 10"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":", \"b\": 5}"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
            "[DONE]",
        ];
        let mut streamed = Vec::new();
        for chunk in chunks {
            streamed.extend(assembly.push(chunk).unwrap());
        }
        assert_eq!(streamed, ["Voy ", "a sumar."]);
        let reply = assembly.finish(&ToolNames::new(["add"])).unwrap();
        assert_eq!(reply.text, "Voy a sumar.");
        assert_eq!(reply.tool_calls[0].id, "call_9");
        assert_eq!(reply.tool_calls[0].name, "add");
        assert_eq!(
            serde_json::to_string(&reply.tool_calls[0].args).unwrap(),
            r#"{"a":10,"b":5}"#
        );
    }

    #[test]
    fn the_last_chunk_reports_the_usage() {
        let mut assembly = Assembly::default();
        for chunk in [
            r#"{"choices":[{"index":0,"delta":{"content":"15"}}],"usage":null}"#,
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":1234,"completion_tokens":56,"total_tokens":1290}}"#,
            "[DONE]",
        ] {
            assembly.push(chunk).unwrap();
        }
        let reply = assembly.finish(&ToolNames::default()).unwrap();
        assert_eq!(reply.usage, Some(usage::tokens(1234u64, 56u64)));

        let mut silent = Assembly::default();
        silent
            .push(r#"{"choices":[{"index":0,"delta":{"content":"15"},"finish_reason":"stop"}]}"#)
            .unwrap();
        assert_eq!(silent.finish(&ToolNames::default()).unwrap().usage, None);
    }

    #[test]
    fn an_answer_without_finish_or_done_was_cut_off() {
        let mut assembly = Assembly::default();
        assembly
            .push(r#"{"choices":[{"index":0,"delta":{"content":"La"}}]}"#)
            .unwrap();
        let error = assembly.finish(&ToolNames::default()).unwrap_err();
        assert!(error.to_string().contains("cut off"), "{error}");
    }

    #[test]
    fn an_error_in_the_stream_fails_the_call() {
        let mut assembly = Assembly::default();
        assert!(
            assembly
                .push(r#"{"error":{"message":"overloaded"}}"#)
                .is_err()
        );
    }
}
