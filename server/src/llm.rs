//! The language-model seam of the agent: one trait, with the provider-neutral
//! conversation types it speaks, and its implementations.

pub mod planner;

use std::sync::Arc;

use self::planner::LocalPlanner;

use async_trait::async_trait;
use protocol::Args;
use rmcp::model::JsonObject;
use serde::Serialize;

use crate::lang::Lang;

/// A tool the model may call, as listed by the toolbox.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    /// The tool's input JSON Schema, as the toolbox published it.
    pub input_schema: Arc<JsonObject>,
}

/// A tool call the model asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    /// Pairs the call with its result in the conversation.
    pub id: String,
    pub name: String,
    pub args: Args,
}

/// What a tool call produced, as the model will read it.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutcome {
    pub call_id: String,
    pub name: String,
    pub content: String,
    /// The tool reported an error; `content` says which.
    pub is_error: bool,
}

/// One entry of the conversation the model sees.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatMessage {
    User(String),
    Assistant {
        text: String,
        tool_calls: Vec<ToolCall>,
    },
    /// The results of the previous assistant message's tool calls, in call order.
    ToolResults(Vec<ToolOutcome>),
}

/// One call to the model.
#[derive(Debug, Clone, Copy)]
pub struct LlmRequest<'a> {
    pub messages: &'a [ChatMessage],
    pub tools: &'a [ToolSpec],
}

/// The model's reply: text, tool calls, or both. No tool calls means it is done.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LlmReply {
    pub text: String,
    pub tool_calls: Vec<ToolCall>,
}

impl LlmReply {
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            tool_calls: Vec::new(),
        }
    }
}

/// Which model answers, for logs and for the UI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LlmInfo {
    /// `local`, `bedrock`, `openai`.
    pub provider: String,
    /// The model id, or `planner` for the local planner.
    pub model: String,
    /// A short human-readable name.
    pub label: String,
}

/// Why a model call failed. Messages are safe to show to users.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LlmError {
    #[error("the language model is unavailable: {0}")]
    Unavailable(String),
    #[error("the language model did not answer in time")]
    Timeout,
    #[error("the language model refused the request: {0}")]
    Refused(String),
}

/// Receives the answer text as it streams, before the whole reply is known.
#[async_trait]
pub trait TextSink: Send {
    async fn text(&mut self, piece: &str);
}

/// A language model (or a stand-in for one) that drives the agent loop.
#[async_trait]
pub trait Llm: Send + Sync + 'static {
    fn info(&self) -> &LlmInfo;

    /// The `step` message shown while this model is consulted.
    fn consulting(&self, lang: Lang) -> String {
        match lang {
            Lang::Es => format!("Consultando a {}...", self.info().label),
            Lang::En => format!("Consulting {}...", self.info().label),
        }
    }

    /// Asks the model for its next move. Streaming implementations push answer text
    /// to `stream` as it arrives; the reply still carries the whole text.
    async fn complete(
        &self,
        request: LlmRequest<'_>,
        stream: &mut dyn TextSink,
    ) -> Result<LlmReply, LlmError>;
}

/// Which model drives the agent, and how to reach it.
#[derive(Debug, Clone, clap::Args)]
pub struct LlmSettings {
    /// The LLM provider: `local` (the deterministic planner, no network).
    #[arg(long = "llm-provider", env = "LLM_PROVIDER", value_enum)]
    pub provider: Option<Provider>,
}

/// The LLM providers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Provider {
    /// The local planner.
    Local,
}

impl LlmSettings {
    /// The provider to use: the one set, or the default.
    pub fn resolved_provider(&self) -> Provider {
        self.provider.unwrap_or(Provider::Local)
    }
}

/// Builds the configured LLM.
pub async fn from_settings(settings: &LlmSettings) -> anyhow::Result<Arc<dyn Llm>> {
    Ok(match settings.resolved_provider() {
        Provider::Local => Arc::new(LocalPlanner::default()),
    })
}
