//! The journal: how turns reach the store. Events are recorded in memory as they are
//! published (cheap, synchronous), and one writer task commits whatever has changed in
//! groups: one transaction for every turn that changed since the last one, so the
//! store's cost grows with commits, not with events. A turn is committed when it ends
//! (and, while it runs long, every [`JournalSettings::flush_every`]).
//!
//! Readers see committed and uncommitted events alike: [`Journal::events_after`]
//! merges the store with what is still in memory.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use protocol::Usage;
use tokio::sync::{Notify, watch};

mod writer;

use super::{Batch, ConversationWrite, Store, StoreError, TurnRecord, TurnStatus};

/// Limits of the journal.
#[derive(Debug, Clone)]
pub struct JournalSettings {
    /// How often a turn that is still running is committed.
    pub flush_every: Duration,
    /// Bytes of events that may wait for the store; past it new turns are refused
    /// (the store is down or too slow).
    pub max_pending_bytes: usize,
    /// Events kept per conversation; older turns are deleted.
    pub max_events_per_conversation: u64,
}

/// Who owns a conversation and how it is titled, for its first write.
#[derive(Debug, Clone)]
pub struct ConversationMeta {
    pub id: String,
    pub owner: String,
    pub title: String,
    pub created_ms: u64,
}

/// A turn being recorded.
struct Slot {
    meta: Arc<ConversationMeta>,
    record: TurnRecord,
    /// The record changed since it was last committed.
    dirty: bool,
    /// The turn ended (its record is final).
    finished: bool,
    /// The turn has been counted in its conversation's totals.
    counted: bool,
    /// Set once the final record is committed.
    durable: watch::Sender<bool>,
    /// Set once any version of the record is committed.
    stored: watch::Sender<bool>,
    bytes: usize,
}

type SlotRef = Arc<Mutex<Slot>>;

fn lock(slot: &SlotRef) -> MutexGuard<'_, Slot> {
    // A slot is plain data updated in small steps; a panic cannot tear it.
    slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

struct Inner {
    store: Arc<dyn Store>,
    settings: JournalSettings,
    /// Turns not yet durable, by conversation.
    slots: Mutex<HashMap<String, Vec<SlotRef>>>,
    /// Wakes the writer.
    changed: Notify,
    pending_bytes: AtomicUsize,
    healthy: AtomicBool,
}

/// The write side of the store, shared by every session. Cheap to clone.
#[derive(Clone)]
pub struct Journal {
    inner: Arc<Inner>,
}

/// Records one turn's events. Dropping it without [`TurnLog::finish`] leaves the turn
/// stored as running (a restart marks it interrupted).
pub struct TurnLog {
    slot: SlotRef,
    journal: Journal,
}

/// Resolves once a finished turn is durable.
pub struct Durable(watch::Receiver<bool>);

impl Durable {
    pub async fn wait(mut self) {
        let _ = self.0.wait_for(|durable| *durable).await;
    }
}

impl Journal {
    pub fn new(store: Arc<dyn Store>, settings: JournalSettings) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                settings,
                slots: Mutex::new(HashMap::new()),
                changed: Notify::new(),
                pending_bytes: AtomicUsize::new(0),
                healthy: AtomicBool::new(true),
            }),
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// Whether the last commit succeeded.
    pub fn healthy(&self) -> bool {
        self.inner.healthy.load(Ordering::Relaxed)
    }

    /// Bytes of events not yet durable.
    pub fn pending_bytes(&self) -> usize {
        self.inner.pending_bytes.load(Ordering::Relaxed)
    }

    fn slots(&self) -> MutexGuard<'_, HashMap<String, Vec<SlotRef>>> {
        self.inner
            .slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts recording a turn whose first event will have seq `first_seq`. Refused
    /// while the store cannot keep up. With `store_now`, the running turn is written at
    /// once (servers that share sessions need its question stored should this one die);
    /// otherwise it is written when it ends or has run for a while.
    #[allow(clippy::too_many_arguments)]
    pub fn begin(
        &self,
        meta: Arc<ConversationMeta>,
        turn_id: &str,
        question: &str,
        replaces: Option<String>,
        first_seq: u64,
        started_ms: u64,
        store_now: bool,
    ) -> Result<TurnLog, StoreError> {
        let record = TurnRecord {
            conversation_id: meta.id.clone(),
            turn_id: turn_id.to_owned(),
            question: question.to_owned(),
            replaces,
            status: TurnStatus::Running,
            first_seq,
            started_ms,
            ended_ms: None,
            events: Vec::new(),
            messages: "[]".to_owned(),
            usage: Usage::default(),
        };
        self.adopt(meta, record, false, store_now)
    }

    /// Continues recording a turn that was begun elsewhere (by a server that
    /// stopped), from `record`. `stored` says whether it is already in the store (and
    /// counted in its conversation).
    pub fn adopt(
        &self,
        meta: Arc<ConversationMeta>,
        record: TurnRecord,
        stored: bool,
        store_now: bool,
    ) -> Result<TurnLog, StoreError> {
        if self.pending_bytes() > self.inner.settings.max_pending_bytes {
            return Err(StoreError::Unavailable(
                "too many events are waiting for the store".into(),
            ));
        }
        let bytes: usize = record.events.iter().map(|e| e.len()).sum();
        self.inner.pending_bytes.fetch_add(bytes, Ordering::Relaxed);
        let slot = Arc::new(Mutex::new(Slot {
            meta: meta.clone(),
            record,
            dirty: store_now,
            finished: false,
            counted: stored,
            durable: watch::Sender::new(false),
            stored: watch::Sender::new(stored),
            bytes,
        }));
        self.slots()
            .entry(meta.id.clone())
            .or_default()
            .push(slot.clone());
        if store_now {
            self.inner.changed.notify_one();
        }
        Ok(TurnLog {
            slot,
            journal: self.clone(),
        })
    }

    /// Every event of conversation `id` after `after_seq`, committed or not, in order.
    pub async fn events_after(
        &self,
        id: &str,
        after_seq: u64,
    ) -> Result<Vec<(u64, Arc<str>)>, StoreError> {
        let turns = self.turns(id, after_seq).await?;
        Ok(turns
            .iter()
            .flat_map(|t| t.events_after(after_seq).map(|(seq, f)| (seq, f.clone())))
            .collect())
    }

    /// The turns of conversation `id` holding events after `after_seq`, committed or
    /// not, in order.
    pub async fn turns(&self, id: &str, after_seq: u64) -> Result<Vec<TurnRecord>, StoreError> {
        // Memory first: a turn committed (and dropped from memory) after this read is
        // in the store by the time the store is read.
        let live: Vec<TurnRecord> = self
            .slots()
            .get(id)
            .map(|slots| slots.iter().map(|s| lock(s).record.clone()).collect())
            .unwrap_or_default();
        let mut turns = self.inner.store.turns(id, after_seq).await?;
        for record in live {
            match turns.iter_mut().find(|t| t.turn_id == record.turn_id) {
                Some(stored) => *stored = record,
                None if record.last_seq() > after_seq || record.events.is_empty() => {
                    turns.push(record)
                }
                None => {}
            }
        }
        turns.retain(|t| t.last_seq() > after_seq);
        turns.sort_by_key(|t| t.first_seq);
        Ok(turns)
    }

    /// The conversations with turns not yet durable.
    pub fn pending_metas(&self) -> Vec<Arc<ConversationMeta>> {
        self.slots()
            .values()
            .filter_map(|slots| slots.first().map(|s| lock(s).meta.clone()))
            .collect()
    }

    /// Whether conversation `id` has turns not yet durable.
    pub fn has_pending(&self, id: &str) -> bool {
        self.slots().get(id).is_some_and(|s| !s.is_empty())
    }

    /// Drops the turns of conversation `id` not yet durable (it was deleted).
    pub fn forget(&self, id: &str) {
        let removed = self.slots().remove(id);
        for slot in removed.into_iter().flatten() {
            let slot = lock(&slot);
            self.inner
                .pending_bytes
                .fetch_sub(slot.bytes, Ordering::Relaxed);
            slot.durable.send_replace(true);
        }
    }
}

impl TurnLog {
    /// Records one event (its seq is the next one of the turn).
    pub fn push(&self, frame: Arc<str>) {
        let mut slot = lock(&self.slot);
        slot.bytes += frame.len();
        self.journal
            .inner
            .pending_bytes
            .fetch_add(frame.len(), Ordering::Relaxed);
        slot.record.events.push(frame);
    }

    /// Resolves once the turn (as it was begun, at least) is in the store.
    pub async fn stored(&self) {
        let mut stored = lock(&self.slot).stored.subscribe();
        let _ = stored.wait_for(|stored| *stored).await;
    }

    /// The seq the next event gets.
    pub fn next_seq(&self) -> u64 {
        let slot = lock(&self.slot);
        slot.record.first_seq + slot.record.events.len() as u64
    }

    /// Ends the turn and queues it for commit; the result resolves once it is durable.
    pub fn finish(self, status: TurnStatus, messages: String, usage: Usage) -> Durable {
        let durable = {
            let mut slot = lock(&self.slot);
            slot.record.status = status;
            slot.record.ended_ms = Some(crate::clock::now_ms());
            slot.record.messages = messages;
            slot.record.usage = usage;
            slot.finished = true;
            slot.dirty = true;
            slot.durable.subscribe()
        };
        self.journal.inner.changed.notify_one();
        Durable(durable)
    }
}
