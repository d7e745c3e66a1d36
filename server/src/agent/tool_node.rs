//! The `tools` node: runs the tool calls the model asked for through MCP.

use protocol::ServerEvent;

use super::{
    AgentError, ToolRecord,
    graph::{AgentState, NodeContext, Transition, after_tools},
};
use crate::{
    llm::{ChatMessage, ToolOutcome},
    mcp::{McpClient, ToolOutput},
    metrics::{Metrics, ToolLabels},
};

pub struct ToolNode<'a> {
    mcp: &'a McpClient,
    metrics: &'a Metrics,
}

impl<'a> ToolNode<'a> {
    pub fn new(mcp: &'a McpClient, metrics: &'a Metrics) -> Self {
        Self { mcp, metrics }
    }

    pub async fn run(
        &self,
        state: &mut AgentState,
        ctx: &mut NodeContext<'_, '_>,
    ) -> Result<Transition, AgentError> {
        let calls = std::mem::take(&mut state.pending);
        let mut outcomes = Vec::with_capacity(calls.len());
        for call in calls {
            ctx.emit(ServerEvent::tool_call(call.name.clone(), call.args.clone()))
                .await?;
            let started = std::time::Instant::now();
            let output = match &call.malformed {
                // The model wrote arguments that cannot be sent: it reads why instead.
                Some(why) => Ok(ToolOutput {
                    text: why.clone(),
                    is_error: true,
                }),
                None => self.mcp.call(&call.name, &call.args).await,
            };
            let elapsed = started.elapsed();
            let outcome = match &output {
                Ok(output) if output.is_error => "tool_error",
                Ok(_) => "ok",
                Err(_) => "failed",
            };
            let labels = ToolLabels {
                tool: call.name.clone(),
                outcome,
            };
            self.metrics
                .tool_calls
                .get_or_create(&labels)
                .observe(elapsed.as_secs_f64());
            tracing::debug!(tool = %call.name, outcome, elapsed_us = elapsed.as_micros() as u64, "tool call");
            let output = output?;
            ctx.emit(ServerEvent::tool_result(
                call.name.clone(),
                output.text.clone(),
                output.is_error,
            ))
            .await?;
            outcomes.push(ToolOutcome {
                call_id: call.id.clone(),
                name: call.name.clone(),
                content: output.text.clone(),
                is_error: output.is_error,
            });
            state.tool_log.push(ToolRecord {
                call,
                result: output.text,
                is_error: output.is_error,
            });
        }
        state.messages.push(ChatMessage::ToolResults(outcomes));
        Ok(after_tools(state))
    }
}
