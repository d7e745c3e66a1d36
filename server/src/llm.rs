//! The language-model seam of the agent: one trait, with the provider-neutral
//! conversation types it speaks, its settings, and its implementations: the local
//! planner, AWS Bedrock and any OpenAI-compatible chat-completions API.

pub mod bedrock;
pub mod openai;
pub mod planner;
mod settings;
pub mod tool_names;
pub mod usage;

use std::sync::Arc;

use self::planner::LocalPlanner;

use async_trait::async_trait;
use protocol::Args;
use rmcp::model::JsonObject;
use serde::{Deserialize, Serialize};

use crate::lang::Lang;

pub use settings::{LlmSettings, Provider};

/// What the agent is told before the conversation, unless `LLM_SYSTEM_PROMPT` says
/// otherwise. The local planner ignores it.
pub const DEFAULT_SYSTEM_PROMPT: &str = "You are toolstream's assistant. Use the provided \
tools for every calculation instead of computing in your head, one step at a time when a \
step needs an earlier result. When a tool reports an error, explain it plainly. Answer \
briefly, in the language of the user's last message.";

/// A tool the model may call, as listed by the toolbox.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    /// The tool's input JSON Schema, as the toolbox published it.
    pub input_schema: Arc<JsonObject>,
    /// The MCP server that offers it.
    pub server: String,
}

impl From<&crate::tools::ToolInfo> for ToolSpec {
    fn from(tool: &crate::tools::ToolInfo) -> Self {
        Self {
            name: tool.name.clone(),
            description: tool.description.clone(),
            input_schema: tool.input_schema.clone(),
            server: tool.server.clone(),
        }
    }
}

/// A tool call the model asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// Pairs the call with its result in the conversation.
    pub id: String,
    pub name: String,
    pub args: Args,
    /// Why the call cannot run as the model wrote it (say, its input was not a JSON
    /// object). The tool is then not called: the tools node hands this text back to
    /// the model as the call's error result, so the model can correct itself.
    pub malformed: Option<String>,
}

impl ToolCall {
    /// A well-formed call.
    pub fn new(id: impl Into<String>, name: impl Into<String>, args: Args) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            args,
            malformed: None,
        }
    }

    /// A call from the JSON text of its arguments, as models stream it. Text that is
    /// not a JSON object makes a malformed call: the model is told, and may retry.
    pub fn parse(id: impl Into<String>, name: impl Into<String>, input: &str) -> Self {
        let (id, name) = (id.into(), name.into());
        // Tools without parameters may get no input text at all.
        let input = if input.trim().is_empty() { "{}" } else { input };
        let why = match serde_json::from_str::<serde_json::Value>(input) {
            Ok(serde_json::Value::Object(args)) => return Self::new(id, name, args),
            Ok(other) => format!(
                "The tool input must be a JSON object, not {other}. Call the tool again with an object of arguments."
            ),
            Err(error) => format!(
                "The tool input was not valid JSON ({error}). Call the tool again with a valid JSON object of arguments."
            ),
        };
        tracing::info!(tool = %name, reason = %why, "the model sent malformed tool input");
        Self {
            malformed: Some(why),
            ..Self::new(id, name, Args::new())
        }
    }
}

/// What a tool call produced, as the model will read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolOutcome {
    pub call_id: String,
    pub name: String,
    pub content: String,
    /// The tool reported an error; `content` says which.
    pub is_error: bool,
    /// Images the tool returned, for models that can look at them (Bedrock); the
    /// others read only `content`, which mentions them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<ToolImage>,
    /// The user (or the approval timeout) refused the call: it did not run.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub denied: bool,
}

impl ToolOutcome {
    /// A text outcome.
    pub fn text(
        call_id: impl Into<String>,
        name: impl Into<String>,
        content: impl Into<String>,
        is_error: bool,
    ) -> Self {
        Self {
            call_id: call_id.into(),
            name: name.into(),
            content: content.into(),
            is_error,
            images: Vec::new(),
            denied: false,
        }
    }
}

/// An image a tool returned, base64-encoded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolImage {
    pub mime_type: String,
    pub data: String,
}

/// One entry of the conversation the model sees.
/// Stored with each turn (as JSON) so that a restarted or another server can rebuild
/// what the model has seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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
    /// The tokens this call used, as the provider reported them (no cost yet: the
    /// agent prices them). `None` when the provider reports none (the local planner,
    /// servers that do not send usage).
    pub usage: Option<usage::Usage>,
}

impl LlmReply {
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            ..Self::default()
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

/// Why a model call failed. Messages are safe to show to users: providers log the
/// service's own error text (which may name accounts or resources) and put only a
/// fixed explanation here.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LlmError {
    #[error("the language model is unavailable: {0}")]
    Unavailable(String),
    #[error("the language model did not answer in time")]
    Timeout,
    #[error("the language model refused the request: {0}")]
    Refused(String),
    /// The service refused the server's credentials or its access to the model.
    #[error(
        "the server is not allowed to use the language model (check its credentials and its access to the model)"
    )]
    AccessDenied,
    /// The configured model does not exist where the server looks for it.
    #[error("the configured language model {0} was not found")]
    ModelNotFound(String),
    /// The service kept throttling after every retry.
    #[error("the language model is receiving too many requests")]
    Throttled,
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
        crate::texts::say(lang, crate::texts::Msg::Consulting(&self.info().label)).into_owned()
    }

    /// Asks the model for its next move. Streaming implementations push answer text
    /// to `stream` as it arrives; the reply still carries the whole text.
    async fn complete(
        &self,
        request: LlmRequest<'_>,
        stream: &mut dyn TextSink,
    ) -> Result<LlmReply, LlmError>;
}

/// Builds the configured LLM.
pub async fn from_settings(settings: &LlmSettings) -> anyhow::Result<Arc<dyn Llm>> {
    Ok(match settings.resolved_provider() {
        Provider::Local => Arc::new(LocalPlanner::default()),
        Provider::Bedrock => Arc::new(bedrock::Bedrock::from_settings(settings).await?),
        Provider::Openai => Arc::new(openai::OpenAi::from_settings(settings)?),
    })
}
