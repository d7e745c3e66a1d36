//! The bus seam: how a session's live events, its turn lease and control messages
//! (cancel, approvals, takeovers) reach every replica that serves it.
//!
//! [`local::LocalBus`] serves one process (the default); [`redis::RedisBus`] lets many
//! replicas share sessions through Redis: a stream per session for replay, pub/sub for
//! live delivery and control, and a lease with a heartbeat so that one turn at a time
//! runs per session, anywhere.

pub mod local;
pub mod redis;

use std::sync::{
    Arc, Mutex, MutexGuard,
    atomic::{AtomicBool, Ordering},
};

use async_trait::async_trait;
use tokio::sync::mpsc;

/// Frames a subscriber may have waiting before it counts as lagging and is dropped
/// (it then resumes from the store, losing nothing).
pub const SUBSCRIBER_CAPACITY: usize = 512;

/// One live event of a session.
#[derive(Debug, Clone)]
pub struct Live {
    pub seq: u64,
    /// The turn it belongs to.
    pub turn: Arc<str>,
    /// Whether it ends its turn (`complete`, `error`, `cancelled`).
    pub terminal: bool,
    /// The JSON frame, as sent to clients.
    pub frame: Arc<str>,
}

/// A message to whichever replica runs, or serves, a session (as JSON on Redis, tagged
/// by `kind`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Control {
    /// Stop the running turn and drop the queued ones.
    Cancel,
    /// Answer the pending approval `call_id`.
    Decide {
        call_id: String,
        approve: bool,
        reason: Option<String>,
    },
    /// Connection `connection` resumed the session: every other connection to it
    /// must let go (close 4000).
    Takeover { connection: String },
    /// The session's turn lease was released: a queued turn may start.
    Released,
    /// The conversation was deleted.
    Deleted,
}

/// Why the bus failed; users get `storage_unavailable`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the session bus is unavailable: {0}")]
pub struct BusError(pub String);

/// A subscription to one session's live events on this replica.
pub struct Subscription {
    pub rx: mpsc::Receiver<Live>,
    /// Set when the subscriber fell too far behind and was dropped.
    pub lagged: Arc<AtomicBool>,
}

impl Subscription {
    pub fn lagged(&self) -> bool {
        self.lagged.load(Ordering::Relaxed)
    }
}

/// Locks one of a bus's maps of subscribers, leases or channels, which every operation
/// leaves consistent (a panic cannot tear them).
fn guard<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A subscriber as a bus keeps it.
#[derive(Debug)]
pub struct Subscriber {
    pub tx: mpsc::Sender<Live>,
    pub lagged: Arc<AtomicBool>,
}

impl Subscriber {
    pub fn new() -> (Self, Subscription) {
        let (tx, rx) = mpsc::channel(SUBSCRIBER_CAPACITY);
        let lagged = Arc::new(AtomicBool::new(false));
        (
            Self {
                tx,
                lagged: lagged.clone(),
            },
            Subscription { rx, lagged },
        )
    }

    /// Delivers without waiting; false when the subscriber is gone or lagging (and
    /// must then be dropped).
    pub fn deliver(&self, live: &Live) -> bool {
        match self.tx.try_send(live.clone()) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.lagged.store(true, Ordering::Relaxed);
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

/// Live events, leases and control messages for sessions.
#[async_trait]
pub trait Bus: Send + Sync + 'static {
    /// `local` or `redis`, for logs and readiness.
    fn kind(&self) -> &'static str;

    /// Whether other replicas share the sessions: then a turn must be durable before
    /// its lease is released, and the bus keeps recent events for replay.
    fn shared(&self) -> bool;

    /// Delivers a turn event to the session's subscribers on every replica.
    async fn publish(&self, session: &str, live: Live) -> Result<(), BusError>;

    /// Delivers an event to this server's subscribers only (when the shared bus is
    /// unreachable).
    fn deliver_local(&self, session: &str, live: Live);

    /// Subscribes to a session's live events.
    async fn subscribe(&self, session: &str) -> Result<Subscription, BusError>;

    /// Drops this replica's subscribers of the session that are gone (called when the
    /// session leaves this replica's memory).
    async fn prune(&self, session: &str) -> Result<(), BusError>;

    /// Events after `after` the bus still holds (none for a local bus: the journal
    /// has them).
    async fn recent(&self, session: &str, after: u64) -> Result<Vec<Live>, BusError>;

    /// The session's latest event the bus holds (none for a local bus).
    async fn tail(&self, session: &str) -> Result<Option<Live>, BusError>;

    /// Takes the session's turn lease for `holder`, if free.
    async fn try_lease(&self, session: &str, holder: &str) -> Result<bool, BusError>;

    /// Extends `holder`'s lease; false when it was lost.
    async fn renew_lease(&self, session: &str, holder: &str) -> Result<bool, BusError>;

    /// Releases `holder`'s lease (if it still holds it).
    async fn release_lease(&self, session: &str, holder: &str) -> Result<(), BusError>;

    /// Whether anyone holds the session's lease.
    async fn leased(&self, session: &str) -> Result<bool, BusError>;

    /// Sends a control message to every replica, this one included.
    async fn control(&self, session: &str, control: Control) -> Result<(), BusError>;

    /// The control messages of every session, for this replica's hub. Only the first
    /// call gets them.
    fn take_controls(&self) -> Option<mpsc::UnboundedReceiver<(String, Control)>>;

    /// Marks sessions as watched by a client on this replica (for the grace period of
    /// their turns elsewhere).
    async fn touch_presence(&self, sessions: &[String]) -> Result<(), BusError>;

    /// Whether a client watches the session on any replica.
    async fn present(&self, session: &str) -> Result<bool, BusError>;

    /// Drops what the bus holds for a deleted session.
    async fn forget(&self, session: &str) -> Result<(), BusError>;

    /// Checks that the bus answers.
    async fn ping(&self) -> Result<(), BusError>;
}
