//! Chat sessions, one per conversation, whatever the transport (WebSocket, REST) and
//! whichever server a client reaches. The [`Hub`] holds the sessions in use on this
//! server; the conversation itself is in the store, and the bus carries its live
//! events, its turn lease and control messages between servers.
//!
//! ```text
//! client ─ message ─> LiveSession queue ─> worker: lease → agent → Publisher
//!                                                         ├─> journal ─> store
//! client <─ Follower <─ bus (subscription) <──────────────┘   (replay: journal + bus)
//! ```

mod follow;
mod history;
mod janitor;
mod live;
mod publisher;
mod recovery;
mod worker;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use tokio_util::{sync::CancellationToken, task::TaskTracker};

pub use follow::{FollowError, Follower};
pub use history::History;
pub use live::{LiveSession, QueueError, TurnKind, Watch};
pub use recovery::close_running_turns;
pub use worker::title_of;

use crate::{
    agent::Agent,
    bus::{Bus, Control},
    metrics::Metrics,
    owner::Owner,
    store::{
        ConversationRecord, StoreError,
        journal::{ConversationMeta, Journal},
    },
};

/// How many times a new session looks for room among idle ones before it is refused.
const MAKE_ROOM_ATTEMPTS: usize = 16;

/// Limits and timings of sessions.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    /// How long a session (and its turn) lives on with nobody following it.
    pub grace: Duration,
    /// Messages a session may queue behind its running turn.
    pub max_queued: usize,
    /// Sessions held in memory at once, those in their grace period included.
    pub max_sessions: usize,
    /// Bytes of histories and unwritten events this server may hold.
    pub memory_budget: usize,
    /// How long a turn lease lasts without a heartbeat.
    pub lease_ttl: Duration,
}

/// Why a session could not be opened.
#[derive(Debug, Clone, thiserror::Error)]
pub enum OpenError {
    #[error("no such conversation")]
    NotFound,
    #[error("the conversation belongs to someone else")]
    NotOwner,
    #[error("the conversation store is unavailable: {0}")]
    Unavailable(String),
    #[error("the server holds as many sessions as it may")]
    Full,
}

impl From<StoreError> for OpenError {
    fn from(error: StoreError) -> Self {
        Self::Unavailable(error.to_string())
    }
}

/// Why an approval was not delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecideError {
    #[error("no tool call with this call_id is waiting for approval")]
    NotPending,
    #[error("the decision could not be delivered; try again")]
    Unavailable,
}

/// A short random id for sessions and turns.
pub fn new_id() -> String {
    let mut id = uuid::Uuid::new_v4().simple().to_string();
    id.truncate(16);
    id
}

/// The sessions this server holds, and what they share.
pub struct Hub {
    sessions: Mutex<HashMap<String, Arc<LiveSession>>>,
    pub journal: Journal,
    pub bus: Arc<dyn Bus>,
    pub agent: Arc<Agent>,
    pub settings: SessionSettings,
    /// This server's identity on the bus (lease holder).
    pub replica: String,
    /// Every task sessions spawn: workers, heartbeats, recoveries.
    pub tasks: TaskTracker,
    /// Cancelled when shutdown begins: queued messages are cancelled, no new turns.
    pub shutdown: CancellationToken,
    /// Cancelled when the shutdown grace period is over: running turns stop.
    pub hard_stop: CancellationToken,
    metrics: Arc<Metrics>,
}

impl Hub {
    pub fn new(
        journal: Journal,
        bus: Arc<dyn Bus>,
        agent: Arc<Agent>,
        settings: SessionSettings,
        metrics: Arc<Metrics>,
        shutdown: CancellationToken,
        hard_stop: CancellationToken,
    ) -> Arc<Self> {
        Arc::new(Self {
            sessions: Mutex::new(HashMap::new()),
            journal,
            bus,
            agent,
            settings,
            replica: new_id(),
            tasks: TaskTracker::new(),
            shutdown,
            hard_stop,
            metrics,
        })
    }

    fn sessions(&self) -> MutexGuard<'_, HashMap<String, Arc<LiveSession>>> {
        // Only inserts and removals; a panic cannot tear the map.
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts the background work: control messages and the janitor.
    pub fn start(self: &Arc<Self>) {
        if let Some(mut controls) = self.bus.take_controls() {
            let hub = self.clone();
            self.tasks.spawn(async move {
                loop {
                    let next = tokio::select! {
                        next = controls.recv() => next,
                        () = hub.hard_stop.cancelled() => None,
                    };
                    let Some((id, control)) = next else { break };
                    hub.apply(&id, control);
                }
            });
        }
        self.tasks.spawn(janitor::run(self.clone()));
    }

    fn apply(&self, id: &str, control: Control) {
        let Some(session) = self.get(id) else { return };
        match control {
            Control::Cancel => {
                session.cancel_here();
            }
            Control::Decide {
                call_id,
                approve,
                reason,
            } => {
                // Only the server running the turn holds it; others ignore this.
                let _ = session.decide_here(&call_id, approve, reason);
            }
            Control::Takeover { connection } => session.taken_over_elsewhere(&connection),
            Control::Released => {
                session.lease_freed.notify_one();
            }
            Control::Deleted => {
                session.cancel_here();
                self.evict(&session);
            }
        }
    }

    /// How many sessions this server holds.
    pub fn len(&self) -> usize {
        self.sessions().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether no session runs or waits for a turn here.
    pub fn all_idle(&self) -> bool {
        self.sessions().values().all(|s| !s.is_busy())
    }

    pub fn get(&self, id: &str) -> Option<Arc<LiveSession>> {
        self.sessions().get(id).cloned()
    }

    /// Bytes held by sessions' histories and by events not yet stored.
    pub fn memory_bytes(&self) -> usize {
        let histories: usize = self
            .sessions()
            .values()
            .map(|s| s.state().history.as_ref().map_or(0, History::bytes))
            .sum();
        histories + self.journal.pending_bytes()
    }

    /// A new, empty session for `owner` (stored with its first turn).
    pub fn create(self: &Arc<Self>, owner: &Owner) -> Result<Arc<LiveSession>, OpenError> {
        self.make_room()?;
        let session = LiveSession::new(
            new_id(),
            owner.clone(),
            self.settings.max_queued,
            1,
            Default::default(),
            0,
            None,
        );
        session.state().history = Some(History::default());
        self.sessions().insert(session.id.clone(), session.clone());
        self.metrics.sessions.inc();
        Ok(session)
    }

    /// The session of conversation `id`, from memory or the store, if `owner` owns it.
    pub async fn open(
        self: &Arc<Self>,
        id: &str,
        owner: &Owner,
    ) -> Result<Arc<LiveSession>, OpenError> {
        if let Some(session) = self.get(id) {
            return if session.owned_by(owner) {
                Ok(session)
            } else {
                Err(OpenError::NotOwner)
            };
        }
        let record = self
            .journal
            .store()
            .conversation(id)
            .await?
            .ok_or(OpenError::NotFound)?;
        if !owner.owns(&record.owner) {
            return Err(OpenError::NotOwner);
        }
        self.make_room()?;
        Ok(self.hold(&record))
    }

    /// Holds a stored conversation in memory (no owner check).
    pub(crate) fn hold(self: &Arc<Self>, record: &ConversationRecord) -> Arc<LiveSession> {
        if let Some(session) = self.get(&record.id) {
            return session;
        }
        let meta = Arc::new(ConversationMeta {
            id: record.id.clone(),
            owner: record.owner.clone(),
            title: record.title.clone(),
            created_ms: record.created_ms,
        });
        let session = LiveSession::new(
            record.id.clone(),
            Owner::from_hash(record.owner.clone()),
            self.settings.max_queued,
            record.last_seq + 1,
            record.usage,
            record.turns,
            Some(meta),
        );
        session.state().updated_ms = record.updated_ms;
        let mut sessions = self.sessions();
        if let Some(existing) = sessions.get(&record.id) {
            return existing.clone(); // opened concurrently
        }
        sessions.insert(session.id.clone(), session.clone());
        drop(sessions);
        self.metrics.sessions.inc();
        session
    }

    /// Queues a message for its turn in `session`; returns the id its turn will have.
    /// `attended: false` is for clients that cannot answer approvals (`POST
    /// /api/chat`): tool calls that need one are denied at once. The session's worker
    /// starts with its first message.
    pub fn enqueue(
        self: &Arc<Self>,
        session: &Arc<LiveSession>,
        kind: TurnKind,
        attended: bool,
    ) -> Result<String, QueueError> {
        session.enqueue(kind, attended, |queue| {
            self.tasks
                .spawn(worker::work(self.clone(), session.clone(), queue));
        })
    }

    /// Whether one more session fits under `MAX_SESSIONS` and the memory budget.
    pub(crate) fn has_room(&self) -> bool {
        self.len() < self.settings.max_sessions && self.memory_bytes() < self.settings.memory_budget
    }

    /// Refuses a new session when the server holds too many or too much, after
    /// letting idle ones go. Sessions created at the same moment take the room made
    /// here too, so it tries again while idle sessions remain to let go.
    fn make_room(&self) -> Result<(), OpenError> {
        for _ in 0..MAKE_ROOM_ATTEMPTS {
            if self.has_room() {
                return Ok(());
            }
            if janitor::evict_idle(self, true) == 0 {
                break;
            }
        }
        if self.has_room() {
            Ok(())
        } else {
            Err(OpenError::Full)
        }
    }

    /// Takes a session out of memory (its conversation stays stored).
    pub(crate) fn evict(&self, session: &LiveSession) {
        if self.sessions().remove(&session.id).is_some() {
            self.metrics.sessions.dec();
        }
        session.closed.cancel();
    }

    /// Follows the session's events after `after`.
    pub async fn follow(
        &self,
        session: &LiveSession,
        after: u64,
    ) -> Result<(Follower, bool), FollowError> {
        Follower::start(&self.journal, self.bus.as_ref(), &session.id, after).await
    }

    /// Follows a session that has no events yet.
    pub async fn follow_new(&self, session: &LiveSession) -> Result<Follower, FollowError> {
        Follower::start_new(self.bus.as_ref(), &session.id).await
    }

    /// The next event of a follower.
    pub async fn next(&self, follower: &mut Follower) -> Option<crate::bus::Live> {
        follower.next(&self.journal, self.bus.as_ref()).await
    }

    /// Stops the session's running turn and drops its queued messages, wherever
    /// they are.
    pub async fn cancel(&self, session: &LiveSession) -> bool {
        let here = session.cancel_here();
        if self.bus.shared() {
            let _ = self.bus.control(&session.id, Control::Cancel).await;
        }
        here
    }

    /// Answers the tool call `call_id` waits on, wherever its turn runs.
    pub async fn decide(
        &self,
        session: &LiveSession,
        call_id: String,
        approve: bool,
        reason: Option<String>,
    ) -> Result<(), DecideError> {
        if session.running_turn().is_some() {
            return session.decide_here(&call_id, approve, reason);
        }
        if !self.bus.shared() {
            return Err(DecideError::NotPending);
        }
        let control = Control::Decide {
            call_id,
            approve,
            reason,
        };
        self.bus
            .control(&session.id, control)
            .await
            .map_err(|_| DecideError::Unavailable)
    }

    /// Makes `connection` the session's one connection, here and on other servers.
    pub async fn attach(&self, session: &LiveSession, connection: &str) -> CancellationToken {
        let taken_over = session.attach(connection);
        if self.bus.shared() {
            let control = Control::Takeover {
                connection: connection.to_owned(),
            };
            let _ = self.bus.control(&session.id, control).await;
        }
        taken_over
    }

    /// Deletes conversation `id` of `owner` everywhere: its running turn stops, its
    /// stored turns and the bus's copy go. False when `owner` has no such conversation.
    pub async fn delete(&self, id: &str, owner: &Owner) -> Result<bool, StoreError> {
        if let Some(session) = self.get(id) {
            if !session.owned_by(owner) {
                return Ok(false);
            }
            session.cancel_here();
        }
        let deleted = self.journal.store().delete(id, owner.hash()).await?;
        let memory_only = self.get(id).is_some_and(|s| s.state().meta.is_none());
        if deleted || memory_only {
            self.journal.forget(id);
            let _ = self.bus.control(id, Control::Deleted).await;
            let _ = self.bus.forget(id).await;
            if let Some(session) = self.get(id) {
                self.evict(&session);
            }
        }
        Ok(deleted || memory_only)
    }

    /// Shutdown, first phase: no new turns; queued messages are cancelled.
    pub fn begin_shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Shutdown, last phase: running turns stop, sessions leave, background work ends.
    pub async fn stop(&self) {
        self.hard_stop.cancel();
        let sessions: Vec<_> = self.sessions().drain().map(|(_, s)| s).collect();
        for session in sessions {
            self.metrics.sessions.dec();
            session.closed.cancel();
        }
        self.tasks.close();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.tasks.wait()).await;
    }
}
