//! Publishing a turn's events: each is numbered (`seq`), serialised once, recorded in
//! the journal (so it will be stored and can be replayed), then sent on the bus to
//! every client following the session, on any server.

use std::sync::Arc;

use async_trait::async_trait;
use protocol::{ServerEvent, ServerFrame, Usage};

use super::live::LiveSession;
use crate::{
    agent::{EventSink, SinkClosed},
    bus::{Bus, Live},
    store::journal::TurnLog,
};

/// The agent's view of a session for one turn. Publishing never fails: with nobody
/// following, events wait in the journal for a `resume`.
pub struct Publisher<'a> {
    pub session: &'a LiveSession,
    pub bus: &'a dyn Bus,
    pub log: &'a TurnLog,
    pub turn_id: Arc<str>,
    /// The conversation's usage before this turn, for `complete.total_usage`.
    pub usage_before: Usage,
    /// This turn's usage, from its `complete`.
    pub usage: Option<Usage>,
    /// The turn this one answers again, announced in its `start`.
    pub replaces: Option<String>,
}

impl Publisher<'_> {
    /// Numbers, records and sends one event.
    pub async fn publish(&mut self, mut event: ServerEvent) {
        if let ServerEvent::Complete {
            usage: Some(usage),
            total_usage,
            ..
        } = &mut event
        {
            let mut total = self.usage_before;
            total.add(usage);
            *total_usage = Some(total);
            self.usage = Some(*usage);
        }
        if let ServerEvent::Start { replaces, .. } = &mut event {
            replaces.clone_from(&self.replaces);
        }
        let terminal = event.is_terminal();
        let seq = self.log.next_seq();
        let frame = ServerFrame {
            event,
            turn_id: Some(self.turn_id.to_string()),
            seq: Some(seq),
            ts_ms: Some(crate::clock::now_ms()),
        };
        let Ok(text) = serde_json::to_string(&frame) else {
            return; // These types always serialise.
        };
        let frame: Arc<str> = Arc::from(text);
        // Recorded before it is sent: a client that subscribes and then reads the
        // journal sees every event in one or the other.
        self.log.push(frame.clone());
        self.session.state().next_seq = seq + 1;
        let live = Live {
            seq,
            turn: self.turn_id.clone(),
            terminal,
            frame,
        };
        if let Err(error) = self.bus.publish(&self.session.id, live.clone()).await {
            // The event is in the journal; clients here still get it, others catch up
            // from the store when they resume.
            tracing::warn!(%error, "cannot publish a turn event on the bus");
            self.bus.deliver_local(&self.session.id, live);
        }
    }
}

#[async_trait]
impl EventSink for Publisher<'_> {
    async fn send(&mut self, event: ServerEvent) -> Result<(), SinkClosed> {
        self.publish(event).await;
        Ok(())
    }

    fn conversation_id(&self) -> Option<&str> {
        Some(&self.session.id)
    }

    fn record_usage(&mut self, usage: Usage) {
        self.usage = Some(usage);
    }
}
