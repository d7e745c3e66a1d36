//! Assembles a ConverseStream answer from its events: text deltas in order, tool-use
//! blocks from their start event and their input's JSON fragments, the stop reason
//! that says whether the answer is whole, and the token usage of the closing
//! `metadata` event.

use std::collections::BTreeMap;

use crate::llm::{
    LlmError, LlmReply, ToolCall,
    tool_names::ToolNames,
    usage::{self, Usage},
};
use aws_sdk_bedrockruntime::types::{
    ContentBlockDelta, ContentBlockStart, ConverseStreamOutput, StopReason, TokenUsage,
};

/// A tool-use block being received.
#[derive(Debug, Default)]
struct ToolBlock {
    id: String,
    name: String,
    /// The input's JSON text, concatenated from the deltas.
    input: String,
}

/// The answer so far.
#[derive(Debug, Default)]
pub struct Assembly {
    /// The answer text so far, every text delta in order.
    text: String,
    /// By content block index, so calls keep the model's order.
    tools: BTreeMap<i32, ToolBlock>,
    /// Set by `messageStop`; without it the answer is incomplete.
    stop: Option<StopReason>,
    /// From the `metadata` event that follows `messageStop`.
    usage: Option<Usage>,
}

/// Bedrock's token counts as a [`Usage`]. Tokens read from or written to a prompt
/// cache are tokens the model read, so they count as input.
pub fn usage_of(tokens: &TokenUsage) -> Usage {
    let cached = i64::from(tokens.cache_read_input_tokens.unwrap_or(0))
        + i64::from(tokens.cache_write_input_tokens.unwrap_or(0));
    usage::tokens(
        i64::from(tokens.input_tokens) + cached,
        tokens.output_tokens,
    )
}

impl Assembly {
    /// Takes one event; returns answer text to stream now, if the event carried some.
    pub fn push(&mut self, event: ConverseStreamOutput) -> Option<String> {
        match event {
            ConverseStreamOutput::ContentBlockStart(start) => {
                if let Some(ContentBlockStart::ToolUse(tool)) = start.start {
                    let block = self.tools.entry(start.content_block_index).or_default();
                    block.id = tool.tool_use_id;
                    block.name = tool.name;
                }
                None
            }
            ConverseStreamOutput::ContentBlockDelta(delta) => match delta.delta {
                Some(ContentBlockDelta::Text(text)) => {
                    self.text.push_str(&text);
                    Some(text)
                }
                Some(ContentBlockDelta::ToolUse(tool)) => {
                    self.tools
                        .entry(delta.content_block_index)
                        .or_default()
                        .input
                        .push_str(&tool.input);
                    None
                }
                // Reasoning, citations and the like are not part of the answer.
                _ => None,
            },
            ConverseStreamOutput::MessageStop(stop) => {
                self.stop = Some(stop.stop_reason);
                None
            }
            ConverseStreamOutput::Metadata(metadata) => {
                self.usage = metadata.usage.as_ref().map(usage_of);
                None
            }
            _ => None,
        }
    }

    /// Whether the stream said the message is complete.
    pub fn is_stopped(&self) -> bool {
        self.stop.is_some()
    }

    /// The whole reply, once the stream has ended. A stream that ended without
    /// `messageStop` was cut off.
    pub fn finish(self, names: &ToolNames) -> Result<LlmReply, LlmError> {
        let Some(stop) = self.stop else {
            return Err(LlmError::Unavailable("its answer was cut off".into()));
        };
        let tool_calls: Vec<ToolCall> = self
            .tools
            .into_values()
            .map(|block| ToolCall::parse(block.id, names.to_tool(&block.name), &block.input))
            .collect();
        if tool_calls.is_empty() && self.text.trim().is_empty() {
            return Err(empty_answer(&stop));
        }
        Ok(LlmReply {
            text: self.text,
            tool_calls,
            usage: self.usage,
        })
    }
}

/// Why an answer with nothing in it came back.
pub fn empty_answer(stop: &StopReason) -> LlmError {
    match stop {
        StopReason::GuardrailIntervened | StopReason::ContentFiltered => {
            LlmError::Refused("its content filter blocked the answer".into())
        }
        StopReason::ModelContextWindowExceeded => {
            LlmError::Refused("the conversation is too long for the model".into())
        }
        _ => LlmError::Unavailable("it returned an empty answer".into()),
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_bedrockruntime::types::{
        ContentBlockDeltaEvent, ContentBlockStartEvent, MessageStopEvent, ToolUseBlockDelta,
        ToolUseBlockStart,
    };

    use super::*;

    fn start_tool(index: i32, id: &str, name: &str) -> ConverseStreamOutput {
        ConverseStreamOutput::ContentBlockStart(
            ContentBlockStartEvent::builder()
                .content_block_index(index)
                .start(ContentBlockStart::ToolUse(
                    ToolUseBlockStart::builder()
                        .tool_use_id(id)
                        .name(name)
                        .build()
                        .unwrap(),
                ))
                .build()
                .unwrap(),
        )
    }

    fn delta(index: i32, delta: ContentBlockDelta) -> ConverseStreamOutput {
        ConverseStreamOutput::ContentBlockDelta(
            ContentBlockDeltaEvent::builder()
                .content_block_index(index)
                .delta(delta)
                .build()
                .unwrap(),
        )
    }

    fn input(index: i32, fragment: &str) -> ConverseStreamOutput {
        delta(
            index,
            ContentBlockDelta::ToolUse(
                ToolUseBlockDelta::builder()
                    .input(fragment)
                    .build()
                    .unwrap(),
            ),
        )
    }

    fn stop(reason: StopReason) -> ConverseStreamOutput {
        ConverseStreamOutput::MessageStop(
            MessageStopEvent::builder()
                .stop_reason(reason)
                .build()
                .unwrap(),
        )
    }

    #[test]
    fn text_and_split_tool_input_assemble() {
        let mut assembly = Assembly::default();
        let mut streamed = Vec::new();
        let events = [
            delta(0, ContentBlockDelta::Text("Voy ".into())),
            delta(0, ContentBlockDelta::Text("a sumar.".into())),
            start_tool(1, "t1", "add"),
            input(1, "{\"a\""),
            input(1, ": 10, \"b\""),
            input(1, ": 5}"),
            stop(StopReason::ToolUse),
        ];
        for event in events {
            streamed.extend(assembly.push(event));
        }
        assert_eq!(streamed, ["Voy ", "a sumar."]);
        let reply = assembly.finish(&ToolNames::new(["add"])).unwrap();
        assert_eq!(reply.text, "Voy a sumar.");
        assert_eq!(reply.tool_calls.len(), 1);
        assert_eq!(
            serde_json::to_string(&reply.tool_calls[0].args).unwrap(),
            r#"{"a":10,"b":5}"#
        );
        assert_eq!(reply.tool_calls[0].id, "t1");
        assert!(reply.tool_calls[0].malformed.is_none());
    }

    #[test]
    fn the_metadata_event_carries_the_usage() {
        use aws_sdk_bedrockruntime::types::ConverseStreamMetadataEvent;
        let mut assembly = Assembly::default();
        assembly.push(delta(0, ContentBlockDelta::Text("15".into())));
        assembly.push(stop(StopReason::EndTurn));
        let tokens = TokenUsage::builder()
            .input_tokens(1200)
            .output_tokens(56)
            .total_tokens(1290)
            .cache_read_input_tokens(34)
            .build()
            .unwrap();
        assembly.push(ConverseStreamOutput::Metadata(
            ConverseStreamMetadataEvent::builder().usage(tokens).build(),
        ));
        let reply = assembly.finish(&ToolNames::default()).unwrap();
        assert_eq!(reply.usage, Some(usage::tokens(1234u64, 56u64)));
    }

    #[test]
    fn tool_names_map_back() {
        let names = ToolNames::new(["math.add"]);
        let mapped = names.to_model("math.add");
        let mut assembly = Assembly::default();
        assembly.push(start_tool(0, "t1", &mapped));
        assembly.push(input(0, "{}"));
        assembly.push(stop(StopReason::ToolUse));
        let reply = assembly.finish(&names).unwrap();
        assert_eq!(reply.tool_calls[0].name, "math.add");
    }

    #[test]
    fn invalid_tool_input_becomes_a_malformed_call() {
        let call = ToolCall::parse("t1", "add", "{\"a\": 10, \"b\"");
        assert!(call.args.is_empty());
        let why = call.malformed.unwrap();
        assert!(why.contains("not valid JSON"), "{why}");

        let call = ToolCall::parse("t1", "add", "[1, 2]");
        assert!(call.malformed.unwrap().contains("JSON object"));

        let call = ToolCall::parse("t1", "now", "");
        assert!(call.malformed.is_none());
    }

    #[test]
    fn a_stream_without_message_stop_was_cut_off() {
        let mut assembly = Assembly::default();
        assembly.push(delta(0, ContentBlockDelta::Text("La suma".into())));
        let error = assembly.finish(&ToolNames::default()).unwrap_err();
        assert!(error.to_string().contains("cut off"), "{error}");
    }

    #[test]
    fn an_empty_filtered_answer_is_refused() {
        let mut assembly = Assembly::default();
        assembly.push(stop(StopReason::GuardrailIntervened));
        let error = assembly.finish(&ToolNames::default()).unwrap_err();
        assert!(matches!(error, LlmError::Refused(_)), "{error:?}");
    }
}
