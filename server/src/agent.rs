//! The agent: runs one turn of the workflow graph and streams its events.
//!
//! A turn is `start`, then the graph (`llm` → `tools` → `llm` … → end), then `complete`
//! with the number of events sent; or `error` when it fails.

pub mod approval;
mod clock;
mod graph;
mod llm_node;
mod tool_node;

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use protocol::{ErrorCode, ServerEvent};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{
    lang::{Lang, detect},
    llm::{ChatMessage, Llm, LlmError, ToolCall},
    metrics::{GaugeGuard, Metrics, OutcomeLabels, ReasonLabels},
    tools::{ToolError, Toolbox},
};

pub use approval::{ApprovalInbox, ApprovalSender, Decision, PendingApprovals, approval_channel};
pub use graph::{AgentState, Graph, NodeId, Transition};

/// Where a turn's events go: a WebSocket, an SSE stream, a REST response.
#[async_trait]
pub trait EventSink: Send {
    /// Delivers one event. An error means nobody is listening any more.
    async fn send(&mut self, event: ServerEvent) -> Result<(), SinkClosed>;
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
    /// How long a tool call waits for the user's approval before it is denied.
    pub approval_timeout: Duration,
    /// Tool results longer than this (in characters) are cut, with a note, for the
    /// model and in events.
    pub max_tool_result_chars: usize,
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
        }
    }

    /// A clear message for the user, in their language, that leaks no internals.
    pub fn user_message(&self, lang: Lang) -> String {
        match (lang, self) {
            (Lang::Es, Self::Toolbox(ToolError::Unavailable { server, .. })) => format!(
                "El toolbox de herramientas ({server}) no está disponible ahora mismo. Inténtalo de nuevo en unos segundos."
            ),
            (Lang::Es, Self::Toolbox(ToolError::Timeout { tool, timeout })) => format!(
                "La herramienta {tool} no respondió en {} s. Inténtalo de nuevo.",
                timeout.as_secs_f32()
            ),
            (Lang::Es, Self::Llm(LlmError::Timeout)) => {
                "El modelo de lenguaje no respondió a tiempo. Inténtalo de nuevo.".into()
            }
            (Lang::Es, Self::Llm(LlmError::Unavailable(_))) => {
                "El modelo de lenguaje no está disponible ahora mismo. Inténtalo de nuevo más tarde.".into()
            }
            (Lang::Es, Self::Llm(LlmError::Refused(why))) => {
                format!("El modelo de lenguaje rechazó la petición: {why}")
            }
            (Lang::Es, Self::Llm(LlmError::AccessDenied)) => {
                "El servidor no tiene permiso para usar el modelo de lenguaje (revisa sus credenciales y su acceso al modelo).".into()
            }
            (Lang::Es, Self::Llm(LlmError::ModelNotFound(model))) => {
                format!("El modelo de lenguaje configurado ({model}) no existe o no está disponible.")
            }
            (Lang::Es, Self::Llm(LlmError::Throttled)) => {
                "El modelo de lenguaje está recibiendo demasiadas peticiones. Inténtalo de nuevo en unos segundos.".into()
            }
            (Lang::Es, Self::IterationLimit(n)) => format!(
                "El agente se detuvo tras {n} iteraciones sin llegar a una respuesta. Prueba a dividir la petición en partes."
            ),
            (Lang::Es, Self::Timeout(limit)) => format!(
                "La respuesta tardó más de {} s y se canceló. Inténtalo de nuevo.",
                limit.as_secs_f32()
            ),
            (Lang::Es, Self::Cancelled | Self::ClientGone(_) | Self::Toolbox(ToolError::Cancelled)) => {
                "Turno cancelado.".into()
            }
            (Lang::En, Self::Toolbox(ToolError::Unavailable { server, .. })) => format!(
                "The toolbox ({server}) is unavailable right now. Please try again in a few seconds."
            ),
            (Lang::En, Self::Cancelled | Self::ClientGone(_) | Self::Toolbox(ToolError::Cancelled)) => {
                "Turn cancelled.".into()
            }
            // Retrying does not help with these two: say what to fix instead.
            (Lang::En, Self::Llm(LlmError::AccessDenied)) => {
                "The server is not allowed to use the language model (check its credentials and its access to the model).".into()
            }
            (Lang::En, Self::Llm(LlmError::ModelNotFound(model))) => {
                format!("The configured language model ({model}) does not exist or is not available.")
            }
            (Lang::En, Self::IterationLimit(n)) => format!(
                "The agent stopped after {n} iterations without reaching an answer. Try splitting the request into parts."
            ),
            (Lang::En, other) => format!("{other}. Please try again."),
        }
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
}

/// The agent: a workflow graph over an LLM and the tools.
pub struct Agent {
    llm: Arc<dyn Llm>,
    toolbox: Arc<dyn Toolbox>,
    settings: AgentSettings,
    metrics: Arc<Metrics>,
}

impl Agent {
    pub fn new(
        llm: Arc<dyn Llm>,
        toolbox: Arc<dyn Toolbox>,
        settings: AgentSettings,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            llm,
            toolbox,
            settings,
            metrics,
        }
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

    /// Runs one turn for `input`, after `history`, sending every event to `sink`.
    /// Ends with `complete` or `error` unless the sink is gone. `cancel` stops the
    /// turn: the LLM call and the tool call in flight are dropped (the MCP server is
    /// told). Tool calls that need approval wait in `approvals`.
    pub async fn run_turn(
        &self,
        turn_id: &str,
        input: &str,
        history: &[ChatMessage],
        sink: &mut dyn EventSink,
        approvals: &ApprovalInbox,
        cancel: &CancellationToken,
    ) -> Result<TurnSummary, AgentError> {
        let span = tracing::info_span!("turn", turn_id = %turn_id);
        self.run_turn_inner(input, history, sink, approvals, cancel)
            .instrument(span)
            .await
    }

    async fn run_turn_inner(
        &self,
        input: &str,
        history: &[ChatMessage],
        sink: &mut dyn EventSink,
        approvals: &ApprovalInbox,
        cancel: &CancellationToken,
    ) -> Result<TurnSummary, AgentError> {
        let started = std::time::Instant::now();
        let _running = GaugeGuard::new(&self.metrics.turns_running);
        let lang = detect(input);
        let mut emitter = Emitter { sink, sent: 0 };
        let outcome = self
            .drive(input, history, lang, &mut emitter, approvals, cancel)
            .await;
        self.metrics
            .turn_duration
            .observe(started.elapsed().as_secs_f64());
        self.record_outcome(match &outcome {
            Ok(_) => "complete",
            Err(AgentError::Cancelled | AgentError::ClientGone(_)) => "cancelled",
            Err(_) => "error",
        });
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
                emitter.emit(ServerEvent::complete(emitter.sent)).await?;
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

    async fn drive(
        &self,
        input: &str,
        history: &[ChatMessage],
        lang: Lang,
        emitter: &mut Emitter<'_>,
        approvals: &ApprovalInbox,
        cancel: &CancellationToken,
    ) -> Result<TurnSummary, AgentError> {
        let start = match lang {
            Lang::Es => "Procesando tu solicitud...",
            Lang::En => "Processing your request...",
        };
        emitter.emit(ServerEvent::start(start)).await?;
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
        tokio::select! {
            biased;
            () = cancel.cancelled() => return Err(AgentError::Cancelled),
            () = clock.expired() => return Err(AgentError::Timeout(timeout)),
            outcome = graph.run(&mut state, emitter, turn) => outcome?,
        }
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
