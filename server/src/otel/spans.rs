//! The trace spans of a turn, after the OpenTelemetry GenAI semantic conventions:
//!
//! ```text
//! invoke_agent toolstream          (root: one trace per turn)
//! ├── chat {model}                 (one per model call; kind client)
//! ├── execute_tool {tool}          (one per tool call; its context goes to the MCP server)
//! └── chat {model} …
//! ```
//!
//! Their target is [`TRACE_TARGET`]: only the OpenTelemetry layer records them, and
//! with traces off they are disabled where they are created (no cost). Attributes
//! hold names, ids, token counts and outcomes, never message text, tool arguments or
//! tool results.

use protocol::{ErrorCode, Usage};
use tracing::{Span, field::Empty};

use super::TRACE_TARGET;
use crate::llm::LlmInfo;

/// `gen_ai.provider.name` of an LLM provider, in the conventions' vocabulary.
pub fn provider_name(provider: &str) -> &'static str {
    match provider {
        "bedrock" => "aws.bedrock",
        "openai" => "openai",
        _ => "toolstream.local",
    }
}

/// The span of one turn, a new trace's root. `conversation_id` is the session id.
pub fn invoke_agent(turn_id: &str, llm: &LlmInfo, conversation_id: Option<&str>) -> Span {
    let provider = provider_name(&llm.provider);
    tracing::info_span!(
        target: TRACE_TARGET,
        parent: None,
        "invoke_agent",
        "otel.name" = "invoke_agent toolstream",
        "otel.status_code" = Empty,
        "otel.status_description" = Empty,
        "gen_ai.operation.name" = "invoke_agent",
        "gen_ai.agent.name" = "toolstream",
        "gen_ai.provider.name" = provider,
        "gen_ai.system" = provider,
        "gen_ai.request.model" = llm.model.as_str(),
        "gen_ai.conversation.id" = conversation_id,
        "gen_ai.usage.input_tokens" = Empty,
        "gen_ai.usage.output_tokens" = Empty,
        "toolstream.usage.cost_usd" = Empty,
        "toolstream.turn.id" = turn_id,
        "toolstream.turn.outcome" = Empty,
        "error.type" = Empty,
    )
}

/// The span of one model call.
pub fn chat(llm: &LlmInfo) -> Span {
    let provider = provider_name(&llm.provider);
    tracing::info_span!(
        target: TRACE_TARGET,
        "chat",
        "otel.name" = format!("chat {}", llm.model),
        "otel.kind" = "client",
        "otel.status_code" = Empty,
        "gen_ai.operation.name" = "chat",
        "gen_ai.provider.name" = provider,
        "gen_ai.system" = provider,
        "gen_ai.request.model" = llm.model.as_str(),
        "gen_ai.usage.input_tokens" = Empty,
        "gen_ai.usage.output_tokens" = Empty,
        "toolstream.usage.cost_usd" = Empty,
        "error.type" = Empty,
    )
}

/// The span of one tool call: `call_id` is the model's id for it; `server` the MCP
/// server that offers the tool, if any does.
pub fn execute_tool(tool: &str, call_id: &str, server: Option<&str>) -> Span {
    tracing::info_span!(
        target: TRACE_TARGET,
        "execute_tool",
        "otel.name" = format!("execute_tool {tool}"),
        "otel.status_code" = Empty,
        "gen_ai.operation.name" = "execute_tool",
        "gen_ai.tool.name" = tool,
        "gen_ai.tool.call.id" = call_id,
        "gen_ai.tool.type" = "function",
        "mcp.method.name" = "tools/call",
        "toolstream.mcp.server" = server,
        "toolstream.tool.outcome" = Empty,
        "error.type" = Empty,
    )
}

/// Records token counts (and the cost, when priced) on a `chat` or `invoke_agent`
/// span.
pub fn record_usage(span: &Span, usage: &Usage) {
    // As i64: tracing-opentelemetry turns a recorded u64 into a string attribute,
    // and the conventions want ints.
    span.record("gen_ai.usage.input_tokens", as_int(usage.input_tokens));
    span.record("gen_ai.usage.output_tokens", as_int(usage.output_tokens));
    if let Some(cost) = usage.cost_usd {
        span.record("toolstream.usage.cost_usd", cost);
    }
}

fn as_int(tokens: u64) -> i64 {
    i64::try_from(tokens).unwrap_or(i64::MAX)
}

/// Records how a turn ended (`complete`, `cancelled`, `error` with its code) and
/// what its model calls used.
pub fn record_turn(span: &Span, outcome: &str, failure: Option<ErrorCode>, usage: Option<&Usage>) {
    span.record("toolstream.turn.outcome", outcome);
    if let Some(code) = failure {
        record_error(span, &error_type(code));
    }
    if let Some(usage) = usage {
        record_usage(span, usage);
    }
}

/// Marks the span failed, `error_type` saying how (a stable, low-cardinality word).
pub fn record_error(span: &Span, error_type: &str) {
    span.record("otel.status_code", "error");
    span.record("error.type", error_type);
}

/// The wire name of an error code (`timeout`, `llm_unavailable`, …).
pub fn error_type(code: ErrorCode) -> String {
    match serde_json::to_value(code) {
        Ok(serde_json::Value::String(name)) => name,
        _ => "internal".into(),
    }
}
