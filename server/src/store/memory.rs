//! A store that keeps conversations in the process's memory (`DATABASE_URL=memory:`):
//! nothing survives a restart. For tests, benchmarks and throwaway demos; the same
//! semantics as the SQL store.

use std::{
    collections::HashMap,
    sync::{Mutex, MutexGuard},
};

use async_trait::async_trait;

use super::{Batch, ConversationRecord, Store, StoreError, TurnRecord, TurnStatus};

#[derive(Default)]
pub struct MemoryStore {
    conversations: Mutex<HashMap<String, Conversation>>,
}

struct Conversation {
    record: ConversationRecord,
    /// In `first_seq` order.
    turns: Vec<TurnRecord>,
}

impl MemoryStore {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Conversation>> {
        // Each operation leaves the map consistent before it can panic.
        self.conversations
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl Store for MemoryStore {
    fn kind(&self) -> &'static str {
        "memory"
    }

    async fn write(&self, batch: &Batch) -> Result<(), StoreError> {
        let mut all = self.lock();
        for write in &batch.conversations {
            let conversation = all.entry(write.id.clone()).or_insert_with(|| Conversation {
                record: ConversationRecord {
                    id: write.id.clone(),
                    owner: write.owner.clone(),
                    title: write.title.clone(),
                    created_ms: write.created_ms,
                    updated_ms: write.updated_ms,
                    turns: 0,
                    last_seq: 0,
                    usage: Default::default(),
                },
                turns: Vec::new(),
            });
            let record = &mut conversation.record;
            record.updated_ms = write.updated_ms;
            record.last_seq = write.last_seq;
            record.turns += write.add_turns;
            record.usage.add(&write.add_usage);
        }
        for turn in &batch.turns {
            let Some(conversation) = all.get_mut(&turn.conversation_id) else {
                return Err(StoreError::Corrupt(
                    "a turn of an unknown conversation".into(),
                ));
            };
            let turns = &mut conversation.turns;
            match turns.iter_mut().find(|t| t.turn_id == turn.turn_id) {
                Some(stored) => *stored = turn.clone(),
                None => {
                    turns.push(turn.clone());
                    turns.sort_by_key(|t| t.first_seq);
                }
            }
        }
        Ok(())
    }

    async fn conversation(&self, id: &str) -> Result<Option<ConversationRecord>, StoreError> {
        Ok(self.lock().get(id).map(|c| c.record.clone()))
    }

    async fn list(&self, owner: &str, limit: u32) -> Result<Vec<ConversationRecord>, StoreError> {
        let mut mine: Vec<_> = self
            .lock()
            .values()
            .filter(|c| c.record.owner == owner)
            .map(|c| c.record.clone())
            .collect();
        mine.sort_by(|a, b| b.updated_ms.cmp(&a.updated_ms).then(a.id.cmp(&b.id)));
        mine.truncate(limit as usize);
        Ok(mine)
    }

    async fn turns(&self, id: &str, after_seq: u64) -> Result<Vec<TurnRecord>, StoreError> {
        Ok(self
            .lock()
            .get(id)
            .map(|c| {
                c.turns
                    .iter()
                    .filter(|t| t.last_seq() > after_seq)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn rename(&self, id: &str, owner: &str, title: &str) -> Result<bool, StoreError> {
        Ok(match self.lock().get_mut(id) {
            Some(c) if c.record.owner == owner => {
                c.record.title = title.to_owned();
                true
            }
            _ => false,
        })
    }

    async fn delete(&self, id: &str, owner: &str) -> Result<bool, StoreError> {
        let mut all = self.lock();
        let mine = all.get(id).is_some_and(|c| c.record.owner == owner);
        if mine {
            all.remove(id);
        }
        Ok(mine)
    }

    async fn purge(&self, before_ms: u64) -> Result<u64, StoreError> {
        let mut all = self.lock();
        let before = all.len();
        all.retain(|_, c| c.record.updated_ms >= before_ms);
        Ok((before - all.len()) as u64)
    }

    async fn trim(&self, id: &str, max_events: u64) -> Result<u64, StoreError> {
        let mut all = self.lock();
        let Some(conversation) = all.get_mut(id) else {
            return Ok(0);
        };
        let turns = &mut conversation.turns;
        let mut kept = 0u64;
        let mut keep_from = turns.len();
        for (at, turn) in turns.iter().enumerate().rev() {
            kept += turn.events.len() as u64;
            if at + 1 < turns.len() && kept > max_events {
                break;
            }
            keep_from = at;
        }
        let removed = turns.drain(..keep_from).count();
        Ok(removed as u64)
    }

    async fn running_turns(&self) -> Result<Vec<TurnRecord>, StoreError> {
        Ok(self
            .lock()
            .values()
            .flat_map(|c| c.turns.iter())
            .filter(|t| t.status == TurnStatus::Running)
            .cloned()
            .collect())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
