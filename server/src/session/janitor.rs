//! The hub's housekeeping, a few times a second: sessions nobody has followed for
//! the grace period have their turn cancelled and leave memory; over the memory
//! budget, idle sessions leave sooner; clients watching sessions are announced to
//! the other servers; a turn whose server stopped is found and closed.

use std::{
    sync::{Arc, atomic::Ordering},
    time::{Duration, Instant},
};

use super::{Hub, LiveSession};

/// How often the janitor looks, at most and at least.
const MAX_TICK: Duration = Duration::from_millis(250);
const MIN_TICK: Duration = Duration::from_millis(10);

pub(super) async fn run(hub: Arc<Hub>) {
    let tick = (hub.settings.grace / 4).clamp(MIN_TICK, MAX_TICK);
    let presence_every = (hub.settings.grace / 3).max(MIN_TICK);
    // Watched sessions are announced at the first tick, then every third of the grace.
    let mut presence_at = Instant::now()
        .checked_sub(presence_every)
        .unwrap_or_else(Instant::now);
    loop {
        tokio::select! {
            () = tokio::time::sleep(tick) => {}
            () = hub.hard_stop.cancelled() => return,
        }
        expire(&hub).await;
        if hub.memory_bytes() > hub.settings.memory_budget {
            evict_idle(&hub, true);
        }
        if hub.bus.shared() && presence_at.elapsed() >= presence_every {
            presence_at = Instant::now();
            let watched: Vec<String> = snapshot(&hub)
                .iter()
                .filter(|s| s.state().watchers > 0)
                .map(|s| s.id.clone())
                .collect();
            if let Err(error) = hub.bus.touch_presence(&watched).await {
                tracing::debug!(%error, "cannot announce watched sessions");
            }
        }
        if hub.bus.shared() {
            watch_for_stopped_servers(&hub);
        }
    }
}

fn snapshot(hub: &Hub) -> Vec<Arc<LiveSession>> {
    hub.sessions().values().cloned().collect()
}

/// Sessions unwatched for the grace period: their turn stops (unless a client
/// follows them on another server) and, once idle, they leave memory.
async fn expire(hub: &Arc<Hub>) {
    let grace = hub.settings.grace;
    for session in snapshot(hub) {
        let unwatched_for = {
            let state = session.state();
            if state.watchers > 0 {
                continue;
            }
            state.unwatched_since.map(|since| since.elapsed())
        };
        if unwatched_for.is_none_or(|d| d < grace) {
            continue;
        }
        if session.is_busy() {
            let elsewhere = hub.bus.shared() && hub.bus.present(&session.id).await.unwrap_or(true);
            if !elsewhere && session.cancel_here() {
                tracing::debug!("nobody follows a session any more; its turn is cancelled");
            }
            continue;
        }
        if evictable(hub, &session) {
            hub.evict(&session);
            let _ = hub.bus.prune(&session.id).await;
        }
    }
}

/// Whether a session can leave memory without losing anything.
fn evictable(hub: &Hub, session: &LiveSession) -> bool {
    let state = session.state();
    state.watchers == 0
        && !session.is_busy()
        && session.queue_is_empty()
        && !hub.journal.has_pending(&session.id)
}

/// Lets unwatched, idle sessions go, oldest first, until the server is back under
/// its caps; `all` ignores the grace period (the server is over its budget). Their
/// conversations stay stored. Returns how many were idle (whether or not they had to
/// go): none means no room can be made now.
pub(super) fn evict_idle(hub: &Hub, all: bool) -> usize {
    let mut idle: Vec<(Instant, Arc<LiveSession>)> = hub
        .sessions()
        .values()
        .filter_map(|s| {
            let since = s.state().unwatched_since?;
            (all || since.elapsed() >= hub.settings.grace).then(|| (since, s.clone()))
        })
        .collect();
    idle.sort_by_key(|(since, _)| *since);
    let found = idle.len();
    for (_, session) in idle {
        if hub.has_room() {
            break;
        }
        if evictable(hub, &session) {
            hub.evict(&session);
        }
    }
    found
}

/// A turn running on another server shows as events this server's clients follow;
/// if they stop with no terminal event and its lease is gone, that server stopped:
/// close the turn for everyone.
fn watch_for_stopped_servers(hub: &Arc<Hub>) {
    for session in snapshot(hub) {
        let stale = {
            let state = session.state();
            state.watchers > 0
                && state
                    .open_turn
                    .as_ref()
                    .is_some_and(|(_, at)| at.elapsed() > hub.settings.lease_ttl)
        };
        if !stale || session.is_busy() || session.recovering.swap(true, Ordering::AcqRel) {
            continue;
        }
        let (hub, session) = (hub.clone(), session.clone());
        hub.tasks.clone().spawn(async move {
            let free = !hub.bus.leased(&session.id).await.unwrap_or(true);
            if free
                && hub
                    .bus
                    .try_lease(&session.id, &hub.replica)
                    .await
                    .unwrap_or(false)
            {
                if let Err(error) = super::recovery::catch_up(&hub, &session).await {
                    tracing::warn!(%error, "cannot close a turn whose server stopped");
                }
                let _ = hub.bus.release_lease(&session.id, &hub.replica).await;
                let _ = hub
                    .bus
                    .control(&session.id, crate::bus::Control::Released)
                    .await;
            }
            session.state().open_turn = None;
            session.recovering.store(false, Ordering::Release);
        });
    }
}
