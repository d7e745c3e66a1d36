//! The conversation store seam: conversations, their turns (the model's history and
//! the event log) and who owns them, durable across restarts and shared by replicas.
//!
//! [`Store`] is the seam; [`sql::SqlStore`] implements it once for SQLite (the default,
//! embedded) and PostgreSQL, and [`memory::MemoryStore`] keeps everything in the
//! process (`DATABASE_URL=memory:`). Writes reach a store in groups through the
//! [`journal::Journal`], never one transaction per event.

pub mod journal;
pub mod memory;
pub mod sql;

use std::sync::Arc;

use async_trait::async_trait;
use protocol::Usage;

/// A conversation as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationRecord {
    pub id: String,
    /// Hex SHA-256 of the owner's secret (see `owner.rs`): never the secret itself.
    pub owner: String,
    pub title: String,
    pub created_ms: u64,
    pub updated_ms: u64,
    /// Turns that count (replaced ones do not).
    pub turns: u32,
    /// The highest event sequence number stored.
    pub last_seq: u64,
    pub usage: Usage,
}

impl ConversationRecord {
    pub fn summary(&self) -> protocol::ConversationSummary {
        protocol::ConversationSummary {
            id: self.id.clone(),
            title: self.title.clone(),
            created_ms: self.created_ms,
            updated_ms: self.updated_ms,
            turns: self.turns,
            usage: (!self.usage.is_empty()).then_some(self.usage),
        }
    }
}

/// How a stored turn stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnStatus {
    /// Still running (or its server stopped before it ended: see `interrupted`).
    Running,
    Complete,
    Failed,
    Cancelled,
    /// The server running it stopped before it ended.
    Interrupted,
}

impl TurnStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Complete => "complete",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Interrupted => "interrupted",
        }
    }

    pub fn parse(text: &str) -> Self {
        match text {
            "running" => Self::Running,
            "complete" => Self::Complete,
            "cancelled" => Self::Cancelled,
            "interrupted" => Self::Interrupted,
            _ => Self::Failed,
        }
    }
}

/// One turn as stored: its events (numbered `first_seq..=last_seq`, one JSON frame
/// each) and the conversation entries it added to the model's history.
#[derive(Debug, Clone, PartialEq)]
pub struct TurnRecord {
    pub conversation_id: String,
    pub turn_id: String,
    pub question: String,
    /// The turn this one answers again (`edit`, `regenerate`).
    pub replaces: Option<String>,
    pub status: TurnStatus,
    pub first_seq: u64,
    pub started_ms: u64,
    pub ended_ms: Option<u64>,
    /// The frames, in order: the one at index `i` has seq `first_seq + i`.
    pub events: Vec<Arc<str>>,
    /// The model's history entries of this turn, as JSON (`[]` until it completes).
    pub messages: String,
    pub usage: Usage,
}

impl TurnRecord {
    /// The seq of the last event, or `first_seq - 1` when there is none yet.
    pub fn last_seq(&self) -> u64 {
        (self.first_seq + self.events.len() as u64).saturating_sub(1)
    }

    /// The frames with a seq above `after`, with their seqs.
    pub fn events_after(&self, after: u64) -> impl Iterator<Item = (u64, &Arc<str>)> {
        let first = self.first_seq;
        self.events
            .iter()
            .enumerate()
            .map(move |(i, frame)| (first + i as u64, frame))
            .filter(move |(seq, _)| *seq > after)
    }
}

/// What a group commit writes for one conversation: created on its first turn,
/// updated on every later one.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationWrite {
    pub id: String,
    pub owner: String,
    /// Only used when the conversation is created.
    pub title: String,
    pub created_ms: u64,
    pub updated_ms: u64,
    pub last_seq: u64,
    /// Turns to add to its count.
    pub add_turns: u32,
    /// Usage to add to its totals.
    pub add_usage: Usage,
}

/// One group commit: conversations first, then turns (inserted or replaced whole).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    pub conversations: Vec<ConversationWrite>,
    pub turns: Vec<TurnRecord>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.conversations.is_empty() && self.turns.is_empty()
    }
}

/// Why the store failed. The text is for logs; users get `storage_unavailable`.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("the conversation store is unavailable: {0}")]
    Unavailable(String),
    #[error("the stored data is invalid: {0}")]
    Corrupt(String),
}

/// Where conversations live.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `sqlite`, `postgres` or `memory`, for logs and readiness.
    fn kind(&self) -> &'static str;

    /// Writes a group of changes in one transaction.
    async fn write(&self, batch: &Batch) -> Result<(), StoreError>;

    async fn conversation(&self, id: &str) -> Result<Option<ConversationRecord>, StoreError>;

    /// The owner's conversations, most recently updated first.
    async fn list(&self, owner: &str, limit: u32) -> Result<Vec<ConversationRecord>, StoreError>;

    /// The conversation's turns holding events after `after_seq`, in order.
    async fn turns(&self, id: &str, after_seq: u64) -> Result<Vec<TurnRecord>, StoreError>;

    /// Renames a conversation of `owner`; false when it has no such conversation.
    async fn rename(&self, id: &str, owner: &str, title: &str) -> Result<bool, StoreError>;

    /// Deletes a conversation of `owner` and its turns; false when there was none.
    async fn delete(&self, id: &str, owner: &str) -> Result<bool, StoreError>;

    /// Deletes conversations not updated since `before_ms`; returns how many.
    async fn purge(&self, before_ms: u64) -> Result<u64, StoreError>;

    /// Deletes a conversation's oldest turns while it holds more than `max_events`
    /// events (always keeping its newest turn); returns how many turns went.
    async fn trim(&self, id: &str, max_events: u64) -> Result<u64, StoreError>;

    /// Turns stored as running, which a restarted single server must close.
    async fn running_turns(&self) -> Result<Vec<TurnRecord>, StoreError>;

    /// Checks that the store answers.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Opens the store `url` names: `sqlite://path` (created with its folder when
/// missing), `postgres://…`, or `memory:`. Runs migrations.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url == "memory:" || url == "memory://" {
        return Ok(Arc::new(memory::MemoryStore::default()));
    }
    if url.starts_with("sqlite:") {
        return Ok(Arc::new(sql::SqlStore::open_sqlite(url).await?));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Arc::new(sql::SqlStore::open_postgres(url).await?));
    }
    Err(StoreError::Unavailable(
        "DATABASE_URL must start with sqlite:, postgres:// or be memory:".into(),
    ))
}
