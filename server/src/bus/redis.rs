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

mod leases;
mod pubsub;

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;
use redis::{AsyncTypedCommands, Value, aio::ConnectionManager};
use tokio::sync::mpsc;

use self::{
    leases::Leases,
    pubsub::{Envelope, Subscribers, deliver, dispatch, resubscribe},
};
use super::{Bus, BusError, Control, Live, Subscriber, Subscription, guard};

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

pub struct RedisBus {
    commands: ConnectionManager,
    pubsub: ConnectionManager,
    subscribers: Subscribers,
    /// Sessions followed here whose channel could not be subscribed yet.
    unsubscribed: Arc<Mutex<HashSet<String>>>,
    receiver: Mutex<Option<mpsc::UnboundedReceiver<(String, Control)>>>,
    leases: Leases,
    presence_ms: u64,
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
            leases: Leases::new(millis(lease)),
            presence_ms: millis(grace).max(1000),
        })
    }

    fn deliver(&self, session: &str, live: &Live) {
        deliver(&self.subscribers, session, live);
    }
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
        self.leases.take(&self.commands, session, holder).await
    }

    async fn renew_lease(&self, session: &str, holder: &str) -> Result<bool, BusError> {
        self.leases.renew(&self.commands, session, holder).await
    }

    async fn release_lease(&self, session: &str, holder: &str) -> Result<(), BusError> {
        self.leases.release(&self.commands, session, holder).await
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
