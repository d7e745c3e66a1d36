//! The agent: runs one turn of the workflow graph and streams its events.
//!
//! A turn is `start`, then the graph (`llm` → `tools` → `llm` … → end), then `complete`
//! with the number of events sent (and the tokens its model calls used, when the
//! provider reports them); or `error` when it fails. Each turn is a trace of its own
//! when traces are on ([`crate::otel::spans`]).

pub mod approval;
mod clock;
mod graph;
pub mod history;
mod llm_node;
mod tool_node;

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use protocol::{ErrorCode, ServerEvent, Usage};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{
    lang::{Lang, detect},
    llm::{ChatMessage, Llm, LlmError, ToolCall, usage::Prices},
    metrics::{GaugeGuard, Metrics, OutcomeLabels, ReasonLabels},
    otel::spans,
    texts::{Msg, say},
    tools::{ToolError, Toolbox},
};

pub use approval::{ApprovalInbox, ApprovalSender, Decision, approval_channel};
pub use graph::{AgentState, Graph, NodeId, Transition};

/// Where a turn's events go: a WebSocket, an SSE stream, a REST response.
#[async_trait]
pub trait EventSink: Send {
    /// Delivers one event. An error means nobody is listening any more.
    async fn send(&mut self, event: ServerEvent) -> Result<(), SinkClosed>;

    /// The conversation (session) these events belong to, for traces.
    fn conversation_id(&self) -> Option<&str> {
        None
    }

    /// The tokens of a turn that ends without `complete` (failed or cancelled after
    /// some model calls), so that what they cost is still recorded. A completed
    /// turn's usage travels in its `complete` event instead.
    fn record_usage(&mut self, _usage: Usage) {}
}

/// The receiver of a turn's events is gone.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the event receiver is gone")]
pub struct SinkClosed;

/// Limits of the agent loop.
#[derive(Debug, Clone)]
pub struct AgentSettings {
    /// The most LLM calls one turn may make.
    pub max_iterations: u32,
    /// The longest a whole turn may run.
    pub turn_timeout: Duration,
    /// The longest one LLM call may take.
    pub llm_timeout: Duration,
    /// The most history sent to the model, in bytes of text ([`history`]).
    pub max_history_bytes: usize,
    /// The longest answer one model call may give, in characters.
    pub max_answer_chars: usize,
    /// Turns running at once, on every transport.
    pub max_concurrent_turns: usize,
    /// How long a tool call waits for the user's approval before it is denied.
    pub approval_timeout: Duration,
    /// Tool results longer than this (in characters) are cut, with a note, for the
    /// model and in events.
    pub max_tool_result_chars: usize,
    /// The price table for usage (`LLM_PRICE_*_PER_MTOK`), if any.
    pub prices: Option<Prices>,
}

/// Why a turn failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Toolbox(#[from] ToolError),
    #[error(transparent)]
    Llm(#[from] LlmError),
    #[error("the agent reached its limit of {0} iterations without an answer")]
    IterationLimit(u32),
    #[error("the turn took longer than {} s", .0.as_secs_f32())]
    Timeout(Duration),
    #[error("the turn was cancelled")]
    Cancelled,
    /// `MAX_CONCURRENT_TURNS` turns are running already.
    #[error("the server is running as many turns as it may")]
    Busy,
    #[error(transparent)]
    ClientGone(#[from] SinkClosed),
}

impl AgentError {
    /// The stable code sent with the `error` event.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Toolbox(ToolError::Unavailable { .. }) => ErrorCode::ToolboxUnavailable,
            Self::Toolbox(ToolError::Timeout { .. }) | Self::Timeout(_) => ErrorCode::Timeout,
            Self::Toolbox(ToolError::Cancelled) => ErrorCode::Cancelled,
            Self::Llm(LlmError::Timeout) => ErrorCode::Timeout,
            Self::Llm(_) => ErrorCode::LlmUnavailable,
            Self::IterationLimit(_) => ErrorCode::IterationLimit,
            Self::Cancelled | Self::ClientGone(_) => ErrorCode::Cancelled,
            Self::Busy => ErrorCode::Busy,
        }
    }

    /// A clear message for the user, in their language, that leaks no internals.
    pub fn user_message(&self, lang: Lang) -> String {
        let msg = match self {
            Self::Toolbox(ToolError::Unavailable { server, .. }) => Msg::ToolboxUnavailable(server),
            Self::Toolbox(ToolError::Timeout { tool, timeout }) => Msg::ToolTimeout {
                tool,
                secs: timeout.as_secs_f32(),
            },
            Self::Llm(LlmError::Timeout) => Msg::LlmTimeout,
            Self::Llm(LlmError::Unavailable(why)) => Msg::LlmUnavailable(why),
            Self::Llm(LlmError::Refused(why)) => Msg::LlmRefused(why),
            Self::Llm(LlmError::AccessDenied) => Msg::LlmAccessDenied,
            Self::Llm(LlmError::ModelNotFound(model)) => Msg::LlmModelNotFound(model),
            Self::Llm(LlmError::Throttled) => Msg::LlmThrottled,
            Self::IterationLimit(n) => Msg::IterationLimit(*n),
            Self::Timeout(limit) => Msg::TurnTimeout {
                secs: limit.as_secs_f32(),
            },
            Self::Cancelled | Self::ClientGone(_) | Self::Toolbox(ToolError::Cancelled) => {
                Msg::TurnCancelled
            }
            Self::Busy => Msg::ServerBusy,
        };
        say(lang, msg).into_owned()
    }
}

/// A tool call made during a turn, with what it returned.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolRecord {
    pub call: ToolCall,
    pub result: String,
    pub is_error: bool,
}

/// What a successful turn produced.
#[derive(Debug, Clone)]
pub struct TurnSummary {
    pub response: String,
    pub tool_calls: Vec<ToolRecord>,
    /// Events sent before `complete`.
    pub steps: u32,
    /// This turn's conversation entries (user message, model replies, tool results),
    /// to append to the history.
    pub messages: Vec<ChatMessage>,
    /// The tokens its model calls used (priced when there is a price table); `None`
    /// when the provider reports none.
    pub usage: Option<Usage>,
}

/// A place among the turns allowed to run at once, held for a turn's whole run.
pub struct TurnPermit(#[allow(dead_code)] OwnedSemaphorePermit);

/// The agent: a workflow graph over an LLM and the MCP toolbox.
pub struct Agent {
    llm: Arc<dyn Llm>,
    toolbox: Arc<dyn Toolbox>,
    settings: AgentSettings,
    metrics: Arc<Metrics>,
    /// One permit per turn allowed to run at once (`MAX_CONCURRENT_TURNS`).
    turns: Arc<Semaphore>,
}

impl Agent {
    pub fn new(
        llm: Arc<dyn Llm>,
        toolbox: Arc<dyn Toolbox>,
        settings: AgentSettings,
        metrics: Arc<Metrics>,
    ) -> Self {
        let turns = Arc::new(Semaphore::new(settings.max_concurrent_turns.max(1)));
        Self {
            llm,
            toolbox,
            settings,
            metrics,
            turns,
        }
    }

    /// Reserves a place for one turn, or says the server is busy.
    fn admit(&self) -> Result<TurnPermit, AgentError> {
        match Arc::clone(&self.turns).try_acquire_owned() {
            Ok(permit) => Ok(TurnPermit(permit)),
            Err(_) => {
                self.record_outcome("busy");
                Err(AgentError::Busy)
            }
        }
    }

    /// Says the server is busy, without reserving anything, when every place for a
    /// turn is taken (for callers that answer before queueing, such as REST).
    pub fn refuse_if_full(&self) -> Result<(), AgentError> {
        if self.turns.available_permits() == 0 {
            self.record_outcome("busy");
            return Err(AgentError::Busy);
        }
        Ok(())
    }

    /// Counts a turn that panicked (and was reported as an internal error).
    pub fn record_panic(&self) {
        self.record_outcome("internal");
    }

    fn record_outcome(&self, outcome: &'static str) {
        self.metrics
            .turns
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    pub fn llm(&self) -> &dyn Llm {
        self.llm.as_ref()
    }

    /// The tools the agent calls.
    pub fn toolbox(&self) -> &Arc<dyn Toolbox> {
        &self.toolbox
    }

    /// Runs one turn for `input`, after `history`, sending every event to `sink`.
    /// Ends with `complete` or `error` unless the sink is gone; when too many turns
    /// run already, the only event is an `error` with code `busy`. `cancel` stops the
    /// turn: the LLM call and the tool call in flight are dropped. Only the newest
    /// turns of `history` that fit `max_history_bytes` reach the model.
    pub async fn run_turn(
        &self,
        turn_id: &str,
        input: &str,
        history: &[ChatMessage],
        sink: &mut dyn EventSink,
        approvals: &ApprovalInbox,
        cancel: &CancellationToken,
    ) -> Result<TurnSummary, AgentError> {
        let _permit = match self.admit() {
            Ok(permit) => permit,
            Err(error) => {
                tracing::info!(turn_id = %turn_id, "turn refused: the server is busy");
                let event =
                    ServerEvent::error_with_code(error.code(), error.user_message(detect(input)));
                let _ = sink.send(event).await;
                return Err(error);
            }
        };
        let span = tracing::info_span!("turn", turn_id = %turn_id);
        let trace = spans::invoke_agent(turn_id, self.llm.info(), sink.conversation_id());
        let history = &history[history::window_start(history, self.settings.max_history_bytes)..];
        self.run_turn_inner(input, history, sink, approvals, cancel, trace.clone())
            .instrument(span)
            .instrument(trace)
            .await
    }

    async fn run_turn_inner(
        &self,
        input: &str,
        history: &[ChatMessage],
        sink: &mut dyn EventSink,
        approvals: &ApprovalInbox,
        cancel: &CancellationToken,
        trace: tracing::Span,
    ) -> Result<TurnSummary, AgentError> {
        let started = std::time::Instant::now();
        let _running = GaugeGuard::new(&self.metrics.turns_running);
        let lang = detect(input);
        let mut emitter = Emitter { sink, sent: 0 };
        let mut spent = None;
        let outcome = self
            .drive(
                input,
                history,
                lang,
                &mut emitter,
                approvals,
                cancel,
                &mut spent,
            )
            .await;
        let (label, failure) = match &outcome {
            Ok(_) => ("complete", None),
            Err(AgentError::Cancelled | AgentError::ClientGone(_)) => ("cancelled", None),
            Err(error) => ("error", Some(error.code())),
        };
        spans::record_turn(&trace, label, failure, spent.as_ref());
        // A turn that ends without `complete` still spent its tokens.
        if let (Err(_), Some(usage)) = (&outcome, spent) {
            emitter.sink.record_usage(usage);
        }
        self.metrics
            .turn_duration
            .observe(started.elapsed().as_secs_f64());
        self.record_outcome(label);
        if let Err(AgentError::Toolbox(error)) = &outcome {
            let reason = match error {
                ToolError::Unavailable { .. } => "unavailable",
                ToolError::Timeout { .. } => "timeout",
                ToolError::Cancelled => "cancelled",
            };
            self.metrics
                .mcp_errors
                .get_or_create(&ReasonLabels { reason })
                .inc();
        }
        match outcome {
            Ok(mut summary) => {
                summary.steps = emitter.sent;
                emitter
                    .emit(ServerEvent::Complete {
                        steps: emitter.sent,
                        usage: summary.usage,
                        total_usage: None,
                    })
                    .await?;
                tracing::info!(
                    steps = summary.steps,
                    tool_calls = summary.tool_calls.len(),
                    elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
                    "turn complete"
                );
                Ok(summary)
            }
            Err(AgentError::ClientGone(gone)) => {
                tracing::info!("client went away during the turn");
                Err(AgentError::ClientGone(gone))
            }
            Err(AgentError::Cancelled) => {
                tracing::info!("turn cancelled");
                let _ = emitter.emit(ServerEvent::Cancelled {}).await;
                Err(AgentError::Cancelled)
            }
            Err(error) => {
                tracing::warn!(error = %error, error.detail = ?error, "turn failed");
                // The sink may be gone too; the error is returned either way.
                let _ = emitter
                    .emit(ServerEvent::error_with_code(
                        error.code(),
                        error.user_message(lang),
                    ))
                    .await;
                Err(error)
            }
        }
    }

    /// Runs the graph; `spent` gets the tokens of the model calls made, whatever the
    /// outcome.
    #[allow(clippy::too_many_arguments)]
    async fn drive(
        &self,
        input: &str,
        history: &[ChatMessage],
        lang: Lang,
        emitter: &mut Emitter<'_>,
        approvals: &ApprovalInbox,
        cancel: &CancellationToken,
        spent: &mut Option<Usage>,
    ) -> Result<TurnSummary, AgentError> {
        emitter
            .emit(ServerEvent::start(say(lang, Msg::Processing)))
            .await?;
        let mut state = AgentState::new(history, input);
        let graph = Graph::new(
            self.llm.as_ref(),
            self.toolbox.as_ref(),
            &self.settings,
            &self.metrics,
        );
        // The budget stands still while a tool call waits for approval.
        let timeout = self.settings.turn_timeout;
        let clock = clock::TurnClock::new(timeout);
        let turn = graph::Turn {
            lang,
            approvals,
            clock: &clock,
            cancel,
        };
        let outcome = tokio::select! {
            biased;
            () = cancel.cancelled() => Err(AgentError::Cancelled),
            () = clock.expired() => Err(AgentError::Timeout(timeout)),
            outcome = graph.run(&mut state, emitter, turn) => outcome,
        };
        // Priced once for the whole turn: the calls' costs summed in one step.
        state.usage = state
            .usage
            .map(|usage| self.settings.prices.map_or(usage, |p| p.price(usage)));
        *spent = state.usage;
        outcome?;
        Ok(state.into_summary(history.len()))
    }
}

/// Counts the events of a turn on their way to the sink.
pub struct Emitter<'a> {
    sink: &'a mut dyn EventSink,
    sent: u32,
}

impl Emitter<'_> {
    pub async fn emit(&mut self, event: ServerEvent) -> Result<(), SinkClosed> {
        self.sink.send(event).await?;
        self.sent += 1;
        Ok(())
    }
}
