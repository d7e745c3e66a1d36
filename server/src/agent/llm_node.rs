//! The `llm` node: asks the model for its next move.

use async_trait::async_trait;
use protocol::{Node, ServerEvent};

use super::{
    AgentError,
    graph::{AgentState, NodeContext, Transition, after_llm},
};
use crate::llm::{ChatMessage, Llm, LlmRequest, TextSink};

pub struct LlmNode<'a> {
    llm: &'a dyn Llm,
    max_iterations: u32,
}

impl<'a> LlmNode<'a> {
    pub fn new(llm: &'a dyn Llm, max_iterations: u32) -> Self {
        Self {
            llm,
            max_iterations,
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
        let reply = self.llm.complete(request, &mut Discard).await?;
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

/// Drops streamed text: the whole answer is sent as `response`.
struct Discard;

#[async_trait]
impl TextSink for Discard {
    async fn text(&mut self, _piece: &str) {}
}
