//! The values that events carry: descriptors of the model and the tools, token usage,
//! rich tool content, conversation summaries, error codes and languages.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The model behind the agent, as announced in `ready`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LlmDescriptor {
    /// `local`, `bedrock` or `openai`.
    pub provider: String,
    /// The model id (`planner` for the local planner).
    pub model: String,
    /// A short human-readable name.
    pub label: String,
}

/// A tool the agent may call, as announced in `ready` and `tools_changed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolDescriptor {
    /// The name the model and the events use (`<server>__<tool>` when two servers
    /// offer the same name).
    pub name: String,
    pub description: String,
    /// The tool's input JSON Schema.
    pub parameters: Value,
    /// The MCP server that offers it, as named in the server's configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
}

/// The nodes of the agent workflow, as named in `step` events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Node {
    /// The language model (or the local planner) decides what to do next.
    Llm,
    /// The requested tools run.
    Tools,
}

/// Tokens a turn (or a whole conversation) used, and what they cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens the model read (prompt), summed over the model calls.
    pub input_tokens: u64,
    /// Tokens the model wrote (completion).
    pub output_tokens: u64,
    /// The price in US dollars, when the server has a price table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
}

impl Usage {
    /// Adds `other` to this total (costs add when both are known).
    pub fn add(&mut self, other: &Usage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cost_usd = match (self.cost_usd, other.cost_usd) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
    }

    pub fn is_empty(&self) -> bool {
        self.input_tokens == 0 && self.output_tokens == 0
    }
}

/// A piece of a tool result that is not plain text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentItem {
    /// An image, base64-encoded.
    Image { mime_type: String, data: String },
    /// A link to a resource the tool pointed at.
    ResourceLink {
        uri: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mime_type: Option<String>,
    },
    /// A kind this client does not know yet (sent by a newer server).
    #[serde(other)]
    Unknown,
}

/// A conversation as listed: in `ready` and by `GET /api/conversations`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationSummary {
    /// The conversation's id: the `session_id` of `ready`.
    pub id: String,
    /// Its title: the first question, unless renamed.
    pub title: String,
    /// Unix milliseconds.
    pub created_ms: u64,
    pub updated_ms: u64,
    /// Turns it holds.
    pub turns: u32,
    /// Tokens used over all its turns (absent for the local planner).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

/// Stable, machine-readable reasons carried by `error` events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame was not valid JSON.
    InvalidJson,
    /// The frame was JSON but not a valid client message.
    InvalidMessage,
    /// The message or one of its fields is over the size limit.
    TooLarge,
    /// The client sends faster than its rate limit allows.
    RateLimited,
    /// A turn is already running and the queue is full, or the server runs as many
    /// turns as it may.
    Busy,
    /// The MCP toolbox cannot be reached.
    ToolboxUnavailable,
    /// The language model cannot be reached or refused the request.
    LlmUnavailable,
    /// A tool, model or turn ran out of time.
    Timeout,
    /// The turn was cancelled.
    Cancelled,
    /// The agent hit its iteration cap without an answer.
    IterationLimit,
    /// `resume` named a session the server does not have (expired, deleted, never
    /// used).
    SessionExpired,
    /// `resume` succeeded, but some missed events had left the server's log.
    ResumeGap,
    /// An API key is required, or the one given is wrong; or the session belongs to
    /// someone else.
    Unauthorized,
    /// The server running the turn stopped before the turn ended.
    Interrupted,
    /// The conversation store (database or Redis) cannot be reached.
    StorageUnavailable,
    /// An unexpected server fault; details are in the server log.
    Internal,
    /// A code this client does not know yet (sent by a newer server).
    #[serde(other)]
    Unknown,
}

/// A language the UI and the server speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    Es,
    En,
}

impl Lang {
    /// The BCP 47 code: `es`, `en`.
    pub fn code(self) -> &'static str {
        match self {
            Self::Es => "es",
            Self::En => "en",
        }
    }

    /// The first supported language of an `Accept-Language` header or a `lang` tag.
    pub fn from_header(header: &str) -> Option<Self> {
        header.split(',').find_map(|part| {
            let tag = part.split(';').next().unwrap_or_default().trim();
            let primary = tag.split('-').next().unwrap_or_default();
            if primary.eq_ignore_ascii_case("es") {
                Some(Self::Es)
            } else if primary.eq_ignore_ascii_case("en") {
                Some(Self::En)
            } else {
                None
            }
        })
    }
}
