//! The live chat sessions, by id, and their expiry once no connection holds them.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use super::session::Session;
use crate::metrics::Metrics;

/// Sessions by id. Cheap to share: wrap in an `Arc`.
pub struct Registry {
    sessions: Mutex<HashMap<String, Arc<Session>>>,
    grace: Duration,
    metrics: Arc<Metrics>,
}

impl Registry {
    pub fn new(grace: Duration, metrics: Arc<Metrics>) -> Self {
        Self {
            sessions: Mutex::new(HashMap::new()),
            grace,
            metrics,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Arc<Session>>> {
        // The map is only ever inserted into or removed from; a panic cannot tear it.
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn insert(&self, session: Arc<Session>) {
        self.lock().insert(session.id().to_owned(), session);
        self.metrics.sessions.inc();
    }

    pub fn get(&self, id: &str) -> Option<Arc<Session>> {
        self.lock().get(id).cloned()
    }

    /// How many sessions are alive.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Ends a session now: its turn is cancelled and it can no longer be resumed.
    pub fn remove(&self, session: &Session) {
        if self.lock().remove(session.id()).is_some() {
            self.metrics.sessions.dec();
        }
        session.close();
    }

    /// Called when a connection lets go of `session`: unless another connection
    /// resumes it within the grace period, it ends.
    pub fn release(self: &Arc<Self>, session: Arc<Session>) {
        if self.grace.is_zero() {
            if session.is_detached() {
                self.remove(&session);
            }
            return;
        }
        let registry = Arc::clone(self);
        tokio::spawn(async move {
            tokio::time::sleep(registry.grace).await;
            if session.detached_for() >= Some(registry.grace) {
                tracing::debug!(session_id = %session.id(), "session expired");
                registry.remove(&session);
            }
        });
    }

    /// Ends every session (server shutdown).
    pub fn close_all(&self) {
        let sessions: Vec<_> = self.lock().drain().map(|(_, s)| s).collect();
        for session in sessions {
            self.metrics.sessions.dec();
            session.close();
        }
    }
}
