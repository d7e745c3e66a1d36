//! A session as this server holds it while it is in use: its queue of messages, its
//! running turn, who watches it, and what the model remembers. The conversation itself
//! lives in the store; this is the working copy.

use std::{
    collections::HashSet,
    sync::{
        Arc, Mutex, MutexGuard, OnceLock,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Instant,
};

use protocol::Usage;
use tokio::sync::{Notify, mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::history::History;
use crate::agent::ApprovalSender;
use crate::{owner::Owner, store::journal::ConversationMeta};

/// What a queued message asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum TurnKind {
    Message(String),
    /// Replace the last question with this one.
    Edit(String),
    /// Answer the last question again.
    Regenerate,
}

/// A message waiting for its turn.
#[derive(Debug)]
pub struct Queued {
    /// The cancel epoch when it arrived: a later `cancel` drops it.
    pub epoch: u64,
    pub turn_id: String,
    pub kind: TurnKind,
    /// Whether its client can answer approvals (`POST /api/chat` cannot: tool calls
    /// that need one are denied at once).
    pub attended: bool,
}

/// Why a message was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueError {
    /// The queue is full.
    Busy,
    /// The session has ended.
    Closed,
}

/// The turn running here, for `cancel` and approvals.
pub struct Running {
    pub turn_id: String,
    pub cancel: CancellationToken,
    /// Delivers `approve` / `deny` to the tool calls it waits on.
    pub approvals: ApprovalSender,
}

/// The connection that holds the session (the latest to open or resume it).
pub struct Attachment {
    pub connection: String,
    /// Cancelled when another connection takes the session over.
    pub taken_over: CancellationToken,
}

pub(super) struct State {
    pub attachment: Option<Attachment>,
    /// Local clients following the session's events (connections, REST requests).
    pub watchers: usize,
    /// Since when nobody here watches it.
    pub unwatched_since: Option<Instant>,
    /// What the model remembers; `None` until loaded.
    pub history: Option<History>,
    /// The seq the next event gets.
    pub next_seq: u64,
    /// Token usage over all its turns.
    pub usage: Usage,
    /// Turns that count (replaced ones do not).
    pub turns: u32,
    /// When its latest turn ended (Unix ms).
    pub updated_ms: u64,
    /// Created on its first turn: title and creation time.
    pub meta: Option<Arc<ConversationMeta>>,
    /// A turn whose events clients here follow and that has not ended, with when its
    /// latest event came (to notice a server that stopped mid-turn).
    pub open_turn: Option<(Arc<str>, Instant)>,
    /// Queued turns whose client left before they started: they are cancelled.
    pub dropped: HashSet<String>,
}

/// A session held in memory. See the module documentation.
pub struct LiveSession {
    pub id: String,
    owner: Owner,
    pub(super) state: Mutex<State>,
    /// Messages waiting for the worker. Both are made with the first message: most
    /// sessions of idle connections never get one, and need neither.
    queue: OnceLock<mpsc::Sender<Queued>>,
    /// How many messages may wait in the queue.
    max_queued: usize,
    /// Bumped by every `cancel`, so messages queued before it are dropped too.
    pub(super) epoch: AtomicU64,
    pub(super) running: Mutex<Option<Running>>,
    /// Whether a turn is running or waiting for the lease; shutdown waits for false.
    pub(super) busy: watch::Sender<bool>,
    /// Woken when the turn lease is released anywhere.
    pub(super) lease_freed: Notify,
    /// Cancelled when the session leaves memory: its worker stops.
    pub(super) closed: CancellationToken,
    /// A check for a stopped server's turn is under way.
    pub(super) recovering: AtomicBool,
}

impl LiveSession {
    pub(super) fn new(
        id: String,
        owner: Owner,
        max_queued: usize,
        next_seq: u64,
        usage: Usage,
        turns: u32,
        meta: Option<Arc<ConversationMeta>>,
    ) -> Arc<Self> {
        Arc::new(Self {
            id,
            owner,
            state: Mutex::new(State {
                attachment: None,
                watchers: 0,
                unwatched_since: Some(Instant::now()),
                history: None,
                next_seq,
                usage,
                turns,
                updated_ms: crate::clock::now_ms(),
                meta,
                open_turn: None,
                dropped: HashSet::new(),
            }),
            queue: OnceLock::new(),
            max_queued: max_queued.max(1),
            epoch: AtomicU64::new(0),
            running: Mutex::new(None),
            busy: watch::Sender::new(false),
            lease_freed: Notify::new(),
            closed: CancellationToken::new(),
            recovering: AtomicBool::new(false),
        })
    }

    pub(super) fn state(&self) -> MutexGuard<'_, State> {
        // Plain data updated in small critical sections; a panic cannot tear it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn running(&self) -> MutexGuard<'_, Option<Running>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `owner` owns this session (constant time).
    pub fn owned_by(&self, owner: &Owner) -> bool {
        owner.owns(self.owner.hash())
    }

    pub fn owner(&self) -> &Owner {
        &self.owner
    }

    /// The highest seq sent so far (0: none).
    pub fn last_seq(&self) -> u64 {
        self.state().next_seq.saturating_sub(1)
    }

    /// The conversation's summary, once it has a turn.
    pub fn summary(&self) -> Option<protocol::ConversationSummary> {
        let state = self.state();
        let meta = state.meta.as_ref()?;
        Some(protocol::ConversationSummary {
            id: self.id.clone(),
            title: meta.title.clone(),
            created_ms: meta.created_ms,
            updated_ms: state.updated_ms,
            turns: state.turns,
            usage: (!state.usage.is_empty()).then_some(state.usage),
        })
    }

    /// Renames the conversation (the store is renamed by the caller).
    pub fn rename(&self, title: &str) {
        let mut state = self.state();
        if let Some(meta) = state.meta.as_mut() {
            *meta = Arc::new(ConversationMeta {
                title: title.to_owned(),
                ..(**meta).clone()
            });
        }
    }

    /// Queues a message for its turn; returns the id its turn will have. The first
    /// message makes the queue and hands its receiving end to `start_worker`.
    pub(super) fn enqueue(
        &self,
        kind: TurnKind,
        attended: bool,
        start_worker: impl FnOnce(mpsc::Receiver<Queued>),
    ) -> Result<String, QueueError> {
        if self.closed.is_cancelled() {
            return Err(QueueError::Closed);
        }
        let queue = self.queue.get_or_init(|| {
            let (queue, receiver) = mpsc::channel(self.max_queued);
            start_worker(receiver);
            queue
        });
        let turn_id = super::new_id();
        let queued = Queued {
            epoch: self.epoch.load(Ordering::Acquire),
            turn_id: turn_id.clone(),
            kind,
            attended,
        };
        queue.try_send(queued).map_err(|error| match error {
            mpsc::error::TrySendError::Full(_) => QueueError::Busy,
            mpsc::error::TrySendError::Closed(_) => QueueError::Closed,
        })?;
        Ok(turn_id)
    }

    /// Whether no message waits in the queue.
    pub(super) fn queue_is_empty(&self) -> bool {
        self.queue
            .get()
            .is_none_or(|queue| queue.capacity() == queue.max_capacity())
    }

    /// Cancels the turn running here and everything queued here; says whether a turn
    /// was running.
    pub(super) fn cancel_here(&self) -> bool {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        let running = self.running().take();
        running.map(|r| r.cancel.cancel()).is_some()
    }

    /// Notes an event a client here received, to tell turns in progress.
    pub fn note(&self, live: &crate::bus::Live) {
        let mut state = self.state();
        state.open_turn = (!live.terminal).then(|| (live.turn.clone(), Instant::now()));
    }

    /// Answers a tool call the turn running here waits on.
    pub(super) fn decide_here(
        &self,
        call_id: &str,
        approve: bool,
        reason: Option<String>,
    ) -> Result<(), super::DecideError> {
        let running = self.running();
        let running = running.as_ref().ok_or(super::DecideError::NotPending)?;
        let decision = crate::agent::Decision {
            approved: approve,
            reason,
        };
        running
            .approvals
            .decide(call_id, decision)
            .map_err(|_| super::DecideError::NotPending)
    }

    /// Cancels one turn: the running one if it is, else when its turn comes (its
    /// client left before it started).
    pub fn cancel_turn(&self, turn_id: &str) {
        if let Some(running) = self.running().as_ref()
            && running.turn_id == turn_id
        {
            running.cancel.cancel();
            return;
        }
        self.state().dropped.insert(turn_id.to_owned());
    }

    /// The id of the turn running here, if any.
    pub fn running_turn(&self) -> Option<String> {
        self.running().as_ref().map(|r| r.turn_id.clone())
    }

    /// Makes `connection` the session's connection; the previous one is told to let
    /// go. Returns the token cancelled when this one is taken over in turn.
    pub fn attach(&self, connection: &str) -> CancellationToken {
        let taken_over = CancellationToken::new();
        let previous = self.state().attachment.replace(Attachment {
            connection: connection.to_owned(),
            taken_over: taken_over.clone(),
        });
        if let Some(previous) = previous
            && previous.connection != connection
        {
            previous.taken_over.cancel();
        }
        taken_over
    }

    /// Lets go of the session if `connection` still holds it.
    pub fn detach(&self, connection: &str) {
        let mut state = self.state();
        if state
            .attachment
            .as_ref()
            .is_some_and(|a| a.connection == connection)
        {
            state.attachment = None;
        }
    }

    /// Another server's connection took the session over: ours lets go.
    pub(super) fn taken_over_elsewhere(&self, connection: &str) {
        let previous = {
            let mut state = self.state();
            match &state.attachment {
                Some(a) if a.connection != connection => state.attachment.take(),
                _ => None,
            }
        };
        if let Some(previous) = previous {
            previous.taken_over.cancel();
        }
    }

    /// Whether `connection` holds the session.
    pub fn is_attached(&self, connection: &str) -> bool {
        self.state()
            .attachment
            .as_ref()
            .is_some_and(|a| a.connection == connection)
    }

    /// Resolves once no turn runs or waits here.
    pub async fn idle(&self) {
        let mut busy = self.busy.subscribe();
        let _ = busy.wait_for(|busy| !busy).await;
    }

    pub fn is_busy(&self) -> bool {
        *self.busy.borrow()
    }
}

/// Counts a local watcher of a session while it lives.
pub struct Watch {
    session: Arc<LiveSession>,
}

impl Watch {
    pub fn new(session: Arc<LiveSession>) -> Self {
        {
            let mut state = session.state();
            state.watchers += 1;
            state.unwatched_since = None;
        }
        Self { session }
    }

    pub fn session(&self) -> &Arc<LiveSession> {
        &self.session
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let mut state = self.session.state();
        state.watchers = state.watchers.saturating_sub(1);
        if state.watchers == 0 {
            state.unwatched_since = Some(Instant::now());
        }
    }
}
