//! The Redis bus's subscription side: routes pub/sub pushes to this server's
//! subscribers and the hub, and subscribes again what could not be subscribed while
//! Redis was away.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use redis::{PushInfo, PushKind, Value, aio::ConnectionManager};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::{CONTROL, key};
use crate::bus::{Control, Live, Subscriber, guard};

/// A control message on the wire.
#[derive(Serialize, Deserialize)]
pub(super) struct Envelope {
    pub session: String,
    pub control: Control,
}

/// This server's subscribers, by session.
pub(super) type Subscribers = Arc<Mutex<HashMap<String, Vec<Subscriber>>>>;

pub(super) fn deliver(subscribers: &Subscribers, session: &str, live: &Live) {
    let mut all = guard(subscribers);
    if let Some(list) = all.get_mut(session) {
        list.retain(|subscriber| subscriber.deliver(live));
    }
}

/// Routes pub/sub pushes: events to this server's subscribers, control messages to
/// the hub. Ends when the connection manager is dropped.
pub(super) async fn dispatch(
    mut pushes: mpsc::UnboundedReceiver<PushInfo>,
    subscribers: Subscribers,
    controls: mpsc::UnboundedSender<(String, Control)>,
) {
    while let Some(push) = pushes.recv().await {
        if push.kind != PushKind::Message {
            continue;
        }
        let mut data = push.data.into_iter();
        let (Some(channel), Some(payload)) = (data.next(), data.next()) else {
            continue;
        };
        let (Ok(channel), Ok(payload)) = (
            redis::from_redis_value::<String>(channel),
            redis::from_redis_value::<String>(payload),
        ) else {
            continue;
        };
        if channel == CONTROL {
            if let Ok(envelope) = serde_json::from_str::<Envelope>(&payload) {
                let _ = controls.send((envelope.session, envelope.control));
            }
            continue;
        }
        let Some(session) = channel
            .strip_prefix("toolstream:")
            .and_then(|rest| rest.strip_suffix(":live"))
        else {
            continue;
        };
        if let Some(live) = parse_live(&payload) {
            deliver(&subscribers, session, &live);
        }
    }
}

/// Keeps the subscription connection alive and subscribes, once a second, the
/// channels that could not be subscribed (Redis was away). Ends when the bus is
/// dropped.
pub(super) async fn resubscribe(
    pubsub: ConnectionManager,
    unsubscribed: Arc<Mutex<HashSet<String>>>,
    subscribers: Subscribers,
) {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if Arc::strong_count(&unsubscribed) == 1 {
            return;
        }
        // The subscription connection reconnects (and re-subscribes) only when used:
        // a ping a second brings it back soon after Redis does.
        let mut connection = pubsub.clone();
        if redis::cmd("PING")
            .query_async::<Value>(&mut connection)
            .await
            .is_err()
        {
            continue;
        }
        let pending: Vec<String> = guard(&unsubscribed).iter().cloned().collect();
        for session in pending {
            if !guard(&subscribers).contains_key(&session) {
                guard(&unsubscribed).remove(&session);
                continue;
            }
            let mut connection = pubsub.clone();
            if connection.subscribe(key(&session, "live")).await.is_ok() {
                guard(&unsubscribed).remove(&session);
            } else {
                break; // still away
            }
        }
    }
}

/// `<seq> <e> <turn> <frame>`.
pub(super) fn parse_live(payload: &str) -> Option<Live> {
    let mut parts = payload.splitn(4, ' ');
    let seq = parts.next()?.parse().ok()?;
    let terminal = parts.next()? == "1";
    let turn = Arc::from(parts.next()?);
    let frame = Arc::from(parts.next()?);
    Some(Live {
        seq,
        turn,
        terminal,
        frame,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_payloads_round_trip() {
        let live = parse_live(r#"12 1 t0a {"type":"complete","steps":5}"#).unwrap();
        assert_eq!(live.seq, 12);
        assert!(live.terminal);
        assert_eq!(&*live.turn, "t0a");
        assert_eq!(&*live.frame, r#"{"type":"complete","steps":5}"#);
        assert!(parse_live("x 1 t {}").is_none());
    }
}
