//! Following a session: every event after a given seq, exactly once and in order,
//! whether it was stored long ago, is still in the journal, sits in the bus's recent
//! history, or is published while we follow. The subscription comes first, then the
//! replay, so nothing published in between is missed; seqs drop what arrives twice;
//! a gap in the live events (a lagging subscriber, a Redis hiccup) is filled from the
//! journal and the bus before going on.

use std::{collections::VecDeque, sync::Arc, time::Duration};

use crate::{
    bus::{Bus, BusError, Live, Subscription},
    store::{StoreError, TurnRecord, TurnStatus, journal::Journal},
};

/// Why following failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FollowError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Bus(#[from] BusError),
}

/// While a turn is open and nothing arrives for this long, the follower looks in the
/// journal and the bus for events the live stream may have lost (a Redis reconnect).
const RESYNC_AFTER: Duration = Duration::from_secs(2);

/// A session's events, from a seq on.
pub struct Follower {
    session: String,
    subscription: Subscription,
    backlog: VecDeque<Live>,
    /// The last seq handed out.
    last: u64,
    /// Whether the last event handed out left its turn open.
    open: bool,
    /// The session's latest event when following began.
    tail: Option<Live>,
}

/// The events of stored (or journaled) turns after `after`, as live events.
fn from_records(records: &[TurnRecord], after: u64) -> Vec<Live> {
    let mut events = Vec::new();
    for record in records {
        let turn: Arc<str> = Arc::from(record.turn_id.as_str());
        let last = record.last_seq();
        let ended = record.status != TurnStatus::Running;
        for (seq, frame) in record.events_after(after) {
            events.push(Live {
                seq,
                turn: turn.clone(),
                terminal: ended && seq == last,
                frame: frame.clone(),
            });
        }
    }
    events
}

/// Everything known after `after`, from the journal and the bus, in seq order.
async fn catch_up(
    journal: &Journal,
    bus: &dyn Bus,
    session: &str,
    after: u64,
) -> Result<Vec<Live>, FollowError> {
    let mut events = if bus.shared() {
        // The bus first: what it drops after this read is stored by then. Without
        // the bus (Redis away), the store still has every finished turn.
        bus.recent(session, after).await.unwrap_or_else(|error| {
            tracing::debug!(%error, "cannot read a session's recent events from the bus");
            Vec::new()
        })
    } else {
        Vec::new()
    };
    let records = journal.turns(session, after).await?;
    events.extend(from_records(&records, after));
    events.sort_by_key(|live| live.seq);
    events.dedup_by_key(|live| live.seq);
    Ok(events)
}

impl Follower {
    /// Follows `session` from after `after`. Also says whether events after `after`
    /// were lost (the store keeps a bounded number per conversation).
    pub async fn start(
        journal: &Journal,
        bus: &dyn Bus,
        session: &str,
        after: u64,
    ) -> Result<(Self, bool), FollowError> {
        let subscription = bus.subscribe(session).await?;
        let backlog = catch_up(journal, bus, session, after).await?;
        let gap = backlog.first().is_some_and(|first| first.seq > after + 1);
        let tail = match backlog.last() {
            Some(last) => Some(last.clone()),
            None if bus.shared() => bus.tail(session).await.unwrap_or_default(),
            None => None,
        };
        Ok((
            Self {
                session: session.to_owned(),
                subscription,
                backlog: backlog.into(),
                last: after,
                open: tail.as_ref().is_some_and(|t| !t.terminal),
                tail,
            },
            gap,
        ))
    }

    /// Follows a session with no events yet: nothing to replay.
    pub async fn start_new(bus: &dyn Bus, session: &str) -> Result<Self, FollowError> {
        Ok(Self {
            session: session.to_owned(),
            subscription: bus.subscribe(session).await?,
            backlog: VecDeque::new(),
            last: 0,
            open: false,
            tail: None,
        })
    }

    /// The client asked for a turn: until it ends, a quiet live stream is checked
    /// against the journal and the bus (events may have been lost on the way).
    pub fn expect_turn(&mut self) {
        self.open = true;
    }

    /// The session's latest event when following began (to tell a turn in progress).
    pub fn tail(&self) -> Option<&Live> {
        self.tail.as_ref()
    }

    /// The last seq handed out.
    pub fn last_seq(&self) -> u64 {
        self.last
    }

    /// The next event. `None` when the bus dropped the subscription for good.
    pub async fn next(&mut self, journal: &Journal, bus: &dyn Bus) -> Option<Live> {
        loop {
            if let Some(live) = self.backlog.pop_front() {
                if live.seq <= self.last {
                    continue;
                }
                return Some(self.hand_out(live));
            }
            let received = if self.open {
                match tokio::time::timeout(RESYNC_AFTER, self.subscription.rx.recv()).await {
                    Ok(received) => received,
                    Err(_) => {
                        if let Ok(missing) = catch_up(journal, bus, &self.session, self.last).await
                        {
                            self.backlog.extend(missing);
                        }
                        continue;
                    }
                }
            } else {
                self.subscription.rx.recv().await
            };
            let live = match received {
                // Unnumbered: about a turn that never started (not stored, not replayed).
                Some(live) if live.seq == 0 => return Some(live),
                Some(live) => live,
                None if self.subscription.lagged() => {
                    // Too slow for the live stream: start over from where we are.
                    match self.resubscribe(journal, bus).await {
                        Ok(()) => continue,
                        Err(error) => {
                            tracing::warn!(%error, "cannot catch up with a session");
                            return None;
                        }
                    }
                }
                None => return None,
            };
            if live.seq <= self.last {
                continue;
            }
            if live.seq > self.last + 1 {
                // Events went missing on the way: fetch them, then this one.
                match catch_up(journal, bus, &self.session, self.last).await {
                    Ok(missing) => self
                        .backlog
                        .extend(missing.into_iter().filter(|m| m.seq < live.seq)),
                    Err(error) => tracing::warn!(%error, "cannot fill a gap in a session's events"),
                }
                self.backlog.push_back(live);
                continue;
            }
            return Some(self.hand_out(live));
        }
    }

    fn hand_out(&mut self, live: Live) -> Live {
        self.last = live.seq;
        self.open = !live.terminal;
        live
    }

    async fn resubscribe(&mut self, journal: &Journal, bus: &dyn Bus) -> Result<(), FollowError> {
        self.subscription = bus.subscribe(&self.session).await?;
        let missing = catch_up(journal, bus, &self.session, self.last).await?;
        self.backlog.extend(missing);
        Ok(())
    }
}
