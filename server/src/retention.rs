//! Retention: conversations not used for `CONVERSATION_TTL_DAYS` are deleted, at
//! start-up and then every hour.

use std::time::Duration;

use crate::state::AppState;

/// How often expired conversations are looked for.
const EVERY: Duration = Duration::from_secs(3600);

/// Starts the purge loop (tracked with the sessions' tasks).
pub fn spawn(state: &AppState) {
    let hub = state.hub.clone();
    let ttl_ms = u64::from(state.settings.conversation_ttl_days) * 24 * 3600 * 1000;
    hub.tasks.clone().spawn(async move {
        loop {
            purge(&hub, ttl_ms).await;
            tokio::select! {
                () = tokio::time::sleep(EVERY) => {}
                () = hub.hard_stop.cancelled() => return,
            }
        }
    });
}

/// Deletes conversations last updated more than `ttl_ms` ago.
pub async fn purge(hub: &crate::session::Hub, ttl_ms: u64) -> u64 {
    let before = crate::clock::now_ms().saturating_sub(ttl_ms);
    match hub.journal.store().purge(before).await {
        Ok(0) => 0,
        Ok(count) => {
            tracing::info!(conversations = count, "expired conversations deleted");
            count
        }
        Err(error) => {
            tracing::warn!(%error, "cannot delete expired conversations");
            0
        }
    }
}
