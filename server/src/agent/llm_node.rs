//! The `llm` node: asks the model for its next move.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use protocol::{Node, ServerEvent};

use super::{
    AgentError,
    graph::{AgentState, NodeContext, Transition, after_llm},
};
use crate::{
    llm::{ChatMessage, Llm, LlmError, LlmRequest, TextSink},
    metrics::{Metrics, ProviderLabels},
};

pub struct LlmNode<'a> {
    llm: &'a dyn Llm,
    max_iterations: u32,
    /// The longest one model call may take.
    timeout: Duration,
    metrics: &'a Metrics,
}

impl<'a> LlmNode<'a> {
    pub fn new(
        llm: &'a dyn Llm,
        max_iterations: u32,
        timeout: Duration,
        metrics: &'a Metrics,
    ) -> Self {
        Self {
            llm,
            max_iterations,
            timeout,
            metrics,
        }
    }

    pub async fn run(
        &self,
        state: &mut AgentState,
        ctx: &mut NodeContext<'_, '_>,
    ) -> Result<Transition, AgentError> {
        if state.iterations >= self.max_iterations {
            return Err(AgentError::IterationLimit(self.max_iterations));
        }
        // One `step` per turn for the model: the tool events that follow show the loop.
        if state.iterations == 0 {
            ctx.emit(ServerEvent::Step {
                node: Node::Llm,
                message: self.llm.consulting(ctx.lang),
            })
            .await?;
        }
        state.iterations += 1;
        let request = LlmRequest {
            messages: &state.messages,
            tools: ctx.tools,
        };
        let mut deltas = Deltas {
            ctx: &mut *ctx,
            gone: None,
        };
        let started = Instant::now();
        let reply = tokio::time::timeout(self.timeout, self.llm.complete(request, &mut deltas))
            .await
            .unwrap_or(Err(LlmError::Timeout));
        let provider = ProviderLabels {
            provider: self.llm.info().provider.clone(),
        };
        self.metrics
            .llm_calls
            .get_or_create(&provider)
            .observe(started.elapsed().as_secs_f64());
        if let Some(gone) = deltas.gone {
            return Err(gone);
        }
        let reply = reply?;
        state.messages.push(ChatMessage::Assistant {
            text: reply.text.clone(),
            tool_calls: reply.tool_calls.clone(),
        });
        state.pending = reply.tool_calls;
        if state.pending.is_empty() {
            ctx.emit(ServerEvent::Response {
                content: reply.text.clone(),
            })
            .await?;
            state.answer = Some(reply.text);
        }
        Ok(after_llm(state))
    }
}

/// Forwards the model's streamed text to the client as `response_delta` events.
struct Deltas<'c, 'e, 'a> {
    ctx: &'c mut NodeContext<'e, 'a>,
    /// Set when the client went away; the node then stops.
    gone: Option<AgentError>,
}

#[async_trait]
impl TextSink for Deltas<'_, '_, '_> {
    async fn text(&mut self, piece: &str) {
        if self.gone.is_some() || piece.is_empty() {
            return;
        }
        let delta = ServerEvent::ResponseDelta {
            content: piece.to_owned(),
        };
        if let Err(gone) = self.ctx.emit(delta).await {
            self.gone = Some(gone);
        }
    }
}
