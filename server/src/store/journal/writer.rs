//! The journal's writer task: collects every turn that changed into one batch, writes
//! it in one transaction, then lets finished turns leave memory once durable and trims
//! conversations past their cap. A failed write is retried whole, with backoff.

use std::{collections::HashMap, sync::Arc, sync::atomic::Ordering, time::Duration};

use protocol::Usage;
use tokio_util::sync::CancellationToken;

use super::{Batch, ConversationWrite, Journal, SlotRef, TurnStatus, lock};

impl Journal {
    /// The writer: commits changed turns in groups until `stop`, then once more.
    pub async fn run_writer(self, stop: CancellationToken) {
        let mut backoff = Duration::from_millis(50);
        loop {
            let stopping = stop.is_cancelled();
            let batch = self.collect();
            if !batch.batch.is_empty() {
                match self.inner.store.write(&batch.batch).await {
                    Ok(()) => {
                        self.inner.healthy.store(true, Ordering::Relaxed);
                        backoff = Duration::from_millis(50);
                        self.committed(batch).await;
                    }
                    Err(error) => {
                        if self.inner.healthy.swap(false, Ordering::Relaxed) {
                            tracing::error!(%error, "cannot write to the conversation store; retrying");
                        }
                        self.requeue(&batch);
                        if stopping {
                            tracing::error!("stopping with unwritten turns");
                            return;
                        }
                        tokio::select! {
                            () = tokio::time::sleep(backoff) => {}
                            () = stop.cancelled() => {}
                        }
                        backoff = (backoff * 2).min(Duration::from_secs(2));
                        continue;
                    }
                }
                continue; // more may have changed meanwhile
            }
            if stopping {
                return;
            }
            tokio::select! {
                () = self.inner.changed.notified() => {}
                () = tokio::time::sleep(self.inner.settings.flush_every) => self.mark_running_dirty(),
                () = stop.cancelled() => {}
            }
        }
    }

    /// Marks running turns with unwritten events dirty, so long turns are committed
    /// as they go.
    fn mark_running_dirty(&self) {
        for slots in self.slots().values() {
            for slot in slots {
                let mut slot = lock(slot);
                if !slot.finished && slot.bytes > 0 {
                    slot.dirty = true;
                }
            }
        }
    }

    /// Snapshots every dirty slot into one batch.
    fn collect(&self) -> Collected {
        let mut collected = Collected::default();
        let slots = self.slots();
        for slots in slots.values() {
            for slot_ref in slots {
                let mut slot = lock(slot_ref);
                if !slot.dirty {
                    continue;
                }
                slot.dirty = false;
                let record = slot.record.clone();
                let counts = !slot.counted && record.replaces.is_none();
                let usage = if slot.finished {
                    record.usage
                } else {
                    Usage::default()
                };
                let meta = &slot.meta;
                let last_seq = record.last_seq();
                let write = collected
                    .conversations
                    .entry(meta.id.clone())
                    .or_insert_with(|| ConversationWrite {
                        id: meta.id.clone(),
                        owner: meta.owner.clone(),
                        title: meta.title.clone(),
                        created_ms: meta.created_ms,
                        updated_ms: crate::clock::now_ms(),
                        last_seq,
                        add_turns: 0,
                        add_usage: Usage::default(),
                    });
                write.last_seq = write.last_seq.max(last_seq);
                write.add_turns += u32::from(counts);
                if slot.finished {
                    write.add_usage.add(&usage);
                }
                collected.snapshots.push(Snapshot {
                    slot: slot_ref.clone(),
                    events: record.events.len(),
                    finished: slot.finished,
                    counted_now: counts,
                });
                collected.batch.turns.push(record);
                if counts {
                    slot.counted = true;
                }
            }
        }
        collected.batch.conversations = collected.conversations.values().cloned().collect();
        collected
    }

    /// A failed batch: its slots are dirty again and will be written whole next time.
    fn requeue(&self, collected: &Collected) {
        for snapshot in &collected.snapshots {
            let mut slot = lock(&snapshot.slot);
            slot.dirty = true;
            if snapshot.counted_now {
                slot.counted = false;
            }
        }
    }

    /// After a commit: finished, unchanged slots are durable and leave memory.
    async fn committed(&self, collected: Collected) {
        // A conversation is trimmed each time its events cross a quarter of the cap.
        let quarter = (self.inner.settings.max_events_per_conversation / 4).max(1);
        let mut trims: Vec<String> = collected
            .batch
            .turns
            .iter()
            .filter(|t| t.status != TurnStatus::Running)
            .filter(|t| (t.first_seq.saturating_sub(1)) / quarter < t.last_seq() / quarter)
            .map(|t| t.conversation_id.clone())
            .collect();
        trims.dedup();
        {
            let mut slots = self.slots();
            for snapshot in collected.snapshots {
                let slot = lock(&snapshot.slot);
                slot.stored.send_replace(true);
                if !(snapshot.finished
                    && !slot.dirty
                    && slot.record.events.len() == snapshot.events)
                {
                    continue;
                }
                slot.durable.send_replace(true);
                self.inner
                    .pending_bytes
                    .fetch_sub(slot.bytes, Ordering::Relaxed);
                let id = slot.meta.id.clone();
                drop(slot);
                if let Some(list) = slots.get_mut(&id) {
                    list.retain(|s| !Arc::ptr_eq(s, &snapshot.slot));
                    if list.is_empty() {
                        slots.remove(&id);
                    }
                }
            }
        }
        let max = self.inner.settings.max_events_per_conversation;
        for id in trims {
            if let Err(error) = self.inner.store.trim(&id, max).await {
                tracing::warn!(%error, "cannot trim a conversation's old turns");
            }
        }
    }
}

#[derive(Default)]
struct Collected {
    batch: Batch,
    conversations: HashMap<String, ConversationWrite>,
    snapshots: Vec<Snapshot>,
}

struct Snapshot {
    slot: SlotRef,
    /// Events in the record written.
    events: usize,
    finished: bool,
    counted_now: bool,
}
