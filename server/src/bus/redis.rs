//! The bus of many servers, on Redis (`REDIS_URL`).
//!
//! Per session, under `toolstream:{id}:…`:
//! - `events`: a stream holding its recent events, entry id `<seq>-0`, fields `t`
//!   (turn), `e` (1 when terminal), `f` (the frame); trimmed to about
//!   [`STREAM_MAX_LEN`] entries and kept [`STREAM_TTL_SECS`] after a turn ends;
//! - `live`: a pub/sub channel carrying each event as `<seq> <e> <turn> <frame>`;
//! - `lease`: the turn lease, the holder's id with a time to live, renewed by the
//!   holder's heartbeat;
//! - `watched`: set while a client follows the session on some server.
//!
//! Control messages for every session go through one channel, `toolstream:control`.
//! Commands share one multiplexed connection; subscriptions use a second (RESP3
//! pushes), re-subscribed by the connection manager after a reconnect.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use async_trait::async_trait;
use redis::{AsyncTypedCommands, PushInfo, PushKind, Script, Value, aio::ConnectionManager};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::{Bus, BusError, Control, Live, Subscriber, Subscription};

/// Events kept per session stream (approximately: Redis trims in whole nodes).
const STREAM_MAX_LEN: usize = 4096;
/// How long a session's stream outlives its last finished turn.
const STREAM_TTL_SECS: i64 = 3600;
/// The channel of control messages.
const CONTROL: &str = "toolstream:control";
/// How long a command may take before Redis counts as unavailable.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(3);

fn key(session: &str, part: &str) -> String {
    format!("toolstream:{session}:{part}")
}

fn unavailable(error: impl std::fmt::Display) -> BusError {
    BusError(error.to_string())
}

/// A control message on the wire.
#[derive(Serialize, Deserialize)]
struct Envelope {
    session: String,
    control: Control,
}

/// This server's subscribers, by session.
type Subscribers = Arc<Mutex<HashMap<String, Vec<Subscriber>>>>;

fn guard<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every operation leaves the map consistent.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub struct RedisBus {
    commands: ConnectionManager,
    pubsub: ConnectionManager,
    subscribers: Subscribers,
    /// Sessions followed here whose channel could not be subscribed yet.
    unsubscribed: Arc<Mutex<HashSet<String>>>,
    receiver: Mutex<Option<mpsc::UnboundedReceiver<(String, Control)>>>,
    lease_ms: u64,
    presence_ms: u64,
    take_lease: Script,
    renew_lease: Script,
    drop_lease: Script,
}

impl RedisBus {
    /// Connects to Redis (retrying for a while: it may be starting too) and
    /// subscribes to the control channel.
    pub async fn connect(url: &str, lease: Duration, grace: Duration) -> Result<Self, BusError> {
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_connection_timeout(Some(Duration::from_secs(2)))
            // Fail fast while Redis is away (turns get `storage_unavailable`); the
            // next command reconnects.
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let client = redis::Client::open(url).map_err(unavailable)?;
        let separator = if url.contains('?') { '&' } else { '?' };
        let resp3 =
            redis::Client::open(format!("{url}{separator}protocol=resp3")).map_err(unavailable)?;
        let (push_tx, push_rx) = mpsc::unbounded_channel();
        let push_config = config
            .clone()
            .set_push_sender(push_tx)
            .set_automatic_resubscription();
        let mut attempt = 0;
        let (commands, mut pubsub) = loop {
            let connected = async {
                let commands = client
                    .get_connection_manager_with_config(config.clone())
                    .await?;
                let pubsub = resp3
                    .get_connection_manager_with_config(push_config.clone())
                    .await?;
                Ok::<_, redis::RedisError>((commands, pubsub))
            };
            match connected.await {
                Ok(connections) => break connections,
                Err(error) if attempt < 15 => {
                    attempt += 1;
                    tracing::warn!(%error, "cannot reach Redis yet; retrying");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
                Err(error) => return Err(unavailable(error)),
            }
        };
        pubsub.subscribe(CONTROL).await.map_err(unavailable)?;
        let subscribers: Subscribers = Arc::default();
        let (controls, receiver) = mpsc::unbounded_channel();
        tokio::spawn(dispatch(push_rx, subscribers.clone(), controls));
        let unsubscribed: Arc<Mutex<HashSet<String>>> = Arc::default();
        tokio::spawn(resubscribe(
            pubsub.clone(),
            unsubscribed.clone(),
            subscribers.clone(),
        ));
        let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1);
        Ok(Self {
            commands,
            pubsub,
            subscribers,
            unsubscribed,
            receiver: Mutex::new(Some(receiver)),
            lease_ms: millis(lease),
            presence_ms: millis(grace).max(1000),
            take_lease: Script::new(
                "local v = redis.call('GET', KEYS[1]) \
                 if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end \
                 if not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end \
                 return 0",
            ),
            renew_lease: Script::new(
                "if redis.call('GET', KEYS[1]) == ARGV[1] then \
                 return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end",
            ),
            drop_lease: Script::new(
                "if redis.call('GET', KEYS[1]) == ARGV[1] then \
                 return redis.call('DEL', KEYS[1]) else return 0 end",
            ),
        })
    }

    fn deliver(&self, session: &str, live: &Live) {
        deliver(&self.subscribers, session, live);
    }
}

fn deliver(subscribers: &Subscribers, session: &str, live: &Live) {
    let mut all = guard(subscribers);
    if let Some(list) = all.get_mut(session) {
        list.retain(|subscriber| subscriber.deliver(live));
    }
}

/// Routes pub/sub pushes: events to this server's subscribers, control messages to
/// the hub. Ends when the connection manager is dropped.
async fn dispatch(
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
async fn resubscribe(
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
fn parse_live(payload: &str) -> Option<Live> {
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

/// A stream entry (`id`, fields) as a live event.
fn entry_live(id: &str, fields: &HashMap<String, String>) -> Option<Live> {
    let seq = id.split('-').next()?.parse().ok()?;
    Some(Live {
        seq,
        turn: Arc::from(fields.get("t")?.as_str()),
        terminal: fields.get("e").is_some_and(|e| e == "1"),
        frame: Arc::from(fields.get("f")?.as_str()),
    })
}

type Entries = Vec<(String, HashMap<String, String>)>;

#[async_trait]
impl Bus for RedisBus {
    fn kind(&self) -> &'static str {
        "redis"
    }

    fn shared(&self) -> bool {
        true
    }

    async fn publish(&self, session: &str, live: Live) -> Result<(), BusError> {
        let events = key(session, "events");
        let terminal = if live.terminal { "1" } else { "0" };
        let mut pipe = redis::pipe();
        pipe.cmd("XADD")
            .arg(&events)
            .arg("MAXLEN")
            .arg("~")
            .arg(STREAM_MAX_LEN)
            .arg(format!("{}-0", live.seq))
            .arg("t")
            .arg(live.turn.as_ref())
            .arg("e")
            .arg(terminal)
            .arg("f")
            .arg(live.frame.as_ref())
            .ignore();
        let payload = format!("{} {terminal} {} {}", live.seq, live.turn, live.frame);
        pipe.cmd("PUBLISH")
            .arg(key(session, "live"))
            .arg(payload)
            .ignore();
        if live.terminal {
            pipe.cmd("EXPIRE")
                .arg(&events)
                .arg(STREAM_TTL_SECS)
                .ignore();
        }
        let mut connection = self.commands.clone();
        pipe.exec_async(&mut connection).await.map_err(unavailable)
    }

    fn deliver_local(&self, session: &str, live: Live) {
        self.deliver(session, &live);
    }

    async fn subscribe(&self, session: &str) -> Result<Subscription, BusError> {
        let (subscriber, subscription) = Subscriber::new();
        let first = {
            let mut all = guard(&self.subscribers);
            let list = all.entry(session.to_owned()).or_default();
            list.retain(|s| !s.tx.is_closed());
            list.push(subscriber);
            list.len() == 1
        };
        if first {
            let mut pubsub = self.pubsub.clone();
            if let Err(error) = pubsub.subscribe(key(session, "live")).await {
                // Followers catch up from the store and the stream; the channel is
                // subscribed again as soon as Redis answers.
                tracing::debug!(%error, "cannot subscribe to a session's events yet");
                guard(&self.unsubscribed).insert(session.to_owned());
            }
        }
        Ok(subscription)
    }

    async fn prune(&self, session: &str) -> Result<(), BusError> {
        let gone = {
            let mut all = guard(&self.subscribers);
            match all.get_mut(session) {
                Some(list) => {
                    list.retain(|s| !s.tx.is_closed());
                    let empty = list.is_empty();
                    if empty {
                        all.remove(session);
                    }
                    empty
                }
                None => false,
            }
        };
        if gone {
            let mut pubsub = self.pubsub.clone();
            pubsub
                .unsubscribe(key(session, "live"))
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }

    async fn recent(&self, session: &str, after: u64) -> Result<Vec<Live>, BusError> {
        let mut connection = self.commands.clone();
        let entries: Entries = redis::cmd("XRANGE")
            .arg(key(session, "events"))
            .arg(format!("({after}-0"))
            .arg("+")
            .query_async(&mut connection)
            .await
            .map_err(unavailable)?;
        Ok(entries
            .iter()
            .filter_map(|(id, fields)| entry_live(id, fields))
            .collect())
    }

    async fn tail(&self, session: &str) -> Result<Option<Live>, BusError> {
        let mut connection = self.commands.clone();
        let entries: Entries = redis::cmd("XREVRANGE")
            .arg(key(session, "events"))
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .query_async(&mut connection)
            .await
            .map_err(unavailable)?;
        Ok(entries
            .first()
            .and_then(|(id, fields)| entry_live(id, fields)))
    }

    async fn try_lease(&self, session: &str, holder: &str) -> Result<bool, BusError> {
        let mut connection = self.commands.clone();
        let taken: i64 = self
            .take_lease
            .key(key(session, "lease"))
            .arg(holder)
            .arg(self.lease_ms)
            .invoke_async(&mut connection)
            .await
            .map_err(unavailable)?;
        Ok(taken == 1)
    }

    async fn renew_lease(&self, session: &str, holder: &str) -> Result<bool, BusError> {
        let mut connection = self.commands.clone();
        let renewed: i64 = self
            .renew_lease
            .key(key(session, "lease"))
            .arg(holder)
            .arg(self.lease_ms)
            .invoke_async(&mut connection)
            .await
            .map_err(unavailable)?;
        Ok(renewed == 1)
    }

    async fn release_lease(&self, session: &str, holder: &str) -> Result<(), BusError> {
        let mut connection = self.commands.clone();
        let _: i64 = self
            .drop_lease
            .key(key(session, "lease"))
            .arg(holder)
            .invoke_async(&mut connection)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn leased(&self, session: &str) -> Result<bool, BusError> {
        let mut connection = self.commands.clone();
        connection
            .exists(key(session, "lease"))
            .await
            .map_err(unavailable)
    }

    async fn control(&self, session: &str, control: Control) -> Result<(), BusError> {
        let envelope = Envelope {
            session: session.to_owned(),
            control,
        };
        let payload = serde_json::to_string(&envelope).map_err(unavailable)?;
        let mut connection = self.commands.clone();
        connection
            .publish(CONTROL, payload)
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    fn take_controls(&self) -> Option<mpsc::UnboundedReceiver<(String, Control)>> {
        guard(&self.receiver).take()
    }

    async fn touch_presence(&self, sessions: &[String]) -> Result<(), BusError> {
        if sessions.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for session in sessions {
            pipe.cmd("SET")
                .arg(key(session, "watched"))
                .arg(1)
                .arg("PX")
                .arg(self.presence_ms)
                .ignore();
        }
        let mut connection = self.commands.clone();
        pipe.exec_async(&mut connection).await.map_err(unavailable)
    }

    async fn present(&self, session: &str) -> Result<bool, BusError> {
        let local = guard(&self.subscribers)
            .get(session)
            .is_some_and(|list| list.iter().any(|s| !s.tx.is_closed()));
        if local {
            return Ok(true);
        }
        let mut connection = self.commands.clone();
        connection
            .exists(key(session, "watched"))
            .await
            .map_err(unavailable)
    }

    async fn forget(&self, session: &str) -> Result<(), BusError> {
        let mut connection = self.commands.clone();
        let keys = ["events", "lease", "watched"].map(|part| key(session, part));
        let _: Value = redis::cmd("DEL")
            .arg(&keys)
            .query_async(&mut connection)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn ping(&self) -> Result<(), BusError> {
        let mut connection = self.commands.clone();
        let _: Value = redis::cmd("PING")
            .query_async(&mut connection)
            .await
            .map_err(unavailable)?;
        Ok(())
    }
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
