//! The workflow graph: its state, its two nodes and the edges between them.
//!
//! ```text
//! entry → llm ──(tool calls?)──yes──→ tools ──→ llm …
//!                    └──no──→ end
//! ```

use protocol::{ServerEvent, Usage};
use tokio_util::sync::CancellationToken;

use super::{
    AgentError, AgentSettings, ApprovalInbox, Emitter, ToolRecord, TurnSummary, clock::TurnClock,
    llm_node::LlmNode, tool_node::ToolNode,
};
use crate::{
    lang::Lang,
    llm::{ChatMessage, Llm, ToolCall, ToolSpec},
    metrics::Metrics,
    tools::{ToolInfo, Toolbox},
};

/// Everything a turn knows, passed from node to node.
#[derive(Debug, Clone)]
pub struct AgentState {
    /// The conversation: earlier turns, then this turn's entries.
    pub messages: Vec<ChatMessage>,
    /// LLM calls made so far in this turn.
    pub iterations: u32,
    /// Tool calls the LLM asked for that have not run yet.
    pub pending: Vec<ToolCall>,
    /// The tool calls this turn made.
    pub tool_log: Vec<ToolRecord>,
    /// The final answer, once the LLM gave one.
    pub answer: Option<String>,
    /// The tokens of this turn's model calls, summed; `None` until a call reports any.
    pub usage: Option<Usage>,
}

impl AgentState {
    pub fn new(history: &[ChatMessage], input: &str) -> Self {
        let mut messages = Vec::with_capacity(history.len() + 5);
        messages.extend_from_slice(history);
        messages.push(ChatMessage::User(input.to_owned()));
        Self {
            messages,
            iterations: 0,
            pending: Vec::new(),
            tool_log: Vec::new(),
            answer: None,
            usage: None,
        }
    }

    pub(super) fn into_summary(mut self, history_len: usize) -> TurnSummary {
        TurnSummary {
            response: self.answer.take().unwrap_or_default(),
            tool_calls: self.tool_log,
            steps: 0,
            messages: self
                .messages
                .split_off(history_len.min(self.messages.len())),
            usage: self.usage,
        }
    }
}

/// The nodes of the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeId {
    Llm,
    Tools,
}

/// Where the graph goes after a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Next(NodeId),
    End,
}

/// What a turn brings to the graph besides its state.
pub struct Turn<'t> {
    pub lang: Lang,
    /// Where calls that need approval wait.
    pub approvals: &'t ApprovalInbox,
    /// The turn's time budget, paused while waiting for approval.
    pub clock: &'t TurnClock,
    pub cancel: &'t CancellationToken,
}

/// What a node gets besides the state.
pub struct NodeContext<'e, 'a> {
    pub emitter: &'e mut Emitter<'a>,
    pub lang: Lang,
    /// The tools as the model sees them.
    pub tools: &'e [ToolSpec],
    /// The same tools as the toolbox knows them (server, approval policy).
    pub catalog: &'e [ToolInfo],
    pub approvals: &'e ApprovalInbox,
    pub clock: &'e TurnClock,
    pub cancel: &'e CancellationToken,
}

impl NodeContext<'_, '_> {
    pub async fn emit(&mut self, event: ServerEvent) -> Result<(), AgentError> {
        Ok(self.emitter.emit(event).await?)
    }
}

/// The conditional edge out of the `llm` node: run the tools it asked for, or stop.
pub fn after_llm(state: &AgentState) -> Transition {
    if state.pending.is_empty() {
        Transition::End
    } else {
        Transition::Next(NodeId::Tools)
    }
}

/// The edge out of the `tools` node: always back to the model with the results.
pub fn after_tools(_state: &AgentState) -> Transition {
    Transition::Next(NodeId::Llm)
}

/// The compiled workflow for one turn.
pub struct Graph<'a> {
    llm: LlmNode<'a>,
    tools: ToolNode<'a>,
    toolbox: &'a dyn Toolbox,
}

impl<'a> Graph<'a> {
    pub fn new(
        llm: &'a dyn Llm,
        toolbox: &'a dyn Toolbox,
        settings: &'a AgentSettings,
        metrics: &'a Metrics,
    ) -> Self {
        Self {
            llm: LlmNode::new(llm, settings, metrics),
            tools: ToolNode::new(toolbox, settings, metrics),
            toolbox,
        }
    }

    /// Runs from the entry node until an edge says `End`.
    pub async fn run(
        &self,
        state: &mut AgentState,
        emitter: &mut Emitter<'_>,
        turn: Turn<'_>,
    ) -> Result<(), AgentError> {
        let catalog = self.toolbox.tools_for_turn().await?;
        let tools: Vec<ToolSpec> = catalog.iter().map(ToolSpec::from).collect();
        let mut ctx = NodeContext {
            emitter,
            lang: turn.lang,
            tools: &tools,
            catalog: &catalog,
            approvals: turn.approvals,
            clock: turn.clock,
            cancel: turn.cancel,
        };
        let mut node = NodeId::Llm;
        loop {
            let transition = match node {
                NodeId::Llm => self.llm.run(state, &mut ctx).await?,
                NodeId::Tools => self.tools.run(state, &mut ctx).await?,
            };
            match transition {
                Transition::Next(next) => node = next,
                Transition::End => return Ok(()),
            }
        }
    }
}
