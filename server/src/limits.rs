//! Per-client-address limits: open connections, and the rate of WebSocket frames and
//! REST turns, shared by all of one address's connections so that reconnecting does
//! not reset them.
//!
//! The address is the socket's peer, or, behind a reverse proxy, the last address in
//! the one header the operator trusts (`TRUSTED_PROXY_HEADER`). IPv6 clients count per
//! /64, the block one subscriber usually gets.
//!
//! The API is three calls: [`ClientLimits::accept`] for each HTTP connection (only
//! without a proxy: behind one, every peer is the proxy), [`ClientLimits::connect`]
//! at a WebSocket upgrade and [`ClientConnection::message`] per frame, and
//! [`ClientLimits::api_turn`] per REST turn.

use std::{
    collections::HashMap,
    net::{IpAddr, Ipv6Addr, SocketAddr},
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant},
};

use axum::http::{HeaderMap, HeaderName};

use crate::config::Settings;

/// The limits, from the settings (0 turns a limit off).
#[derive(Debug, Clone)]
pub struct LimitSettings {
    /// Open connections per client.
    pub max_connections: usize,
    /// Frames and REST turns per second per client, on average.
    pub per_sec: f64,
    /// Frames and REST turns a client may send at once.
    pub burst: u32,
    /// REST turns a client may run at once.
    pub max_api_turns: usize,
    /// Where the client's address comes from behind a proxy.
    pub trusted_header: Option<HeaderName>,
}

impl LimitSettings {
    pub fn from_settings(settings: &Settings) -> Self {
        Self {
            max_connections: settings.max_connections_per_client,
            per_sec: settings.client_rate_limit_per_sec,
            burst: settings.client_rate_limit_burst,
            max_api_turns: settings.max_api_turns_per_client,
            trusted_header: settings.trusted_proxy_header.clone(),
        }
    }
}

/// Why a client was refused, and when it may try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("too many connections from this address")]
    Connections,
    #[error("too many requests from this address")]
    Rate { retry_after: Duration },
    #[error("too many turns running for this address")]
    Turns,
}

impl Refused {
    /// A whole number of seconds for `Retry-After`, at least one.
    pub fn retry_after_secs(&self) -> u64 {
        match self {
            Self::Rate { retry_after } => retry_after.as_secs_f64().ceil().max(1.0) as u64,
            Self::Connections | Self::Turns => 1,
        }
    }
}

/// The accounting of every client address. Share it in an `Arc`.
pub struct ClientLimits {
    settings: LimitSettings,
    clients: Mutex<Clients>,
}

struct Clients {
    by_key: HashMap<IpAddr, Arc<Entry>>,
    /// Sweep idle entries when the map grows past this.
    sweep_at: usize,
}

/// One client's counters (changed under the map's lock) and its token bucket.
struct Entry {
    counts: Mutex<Counts>,
    bucket: Mutex<Bucket>,
}

#[derive(Default)]
struct Counts {
    http: usize,
    websockets: usize,
    api_turns: usize,
}

impl Counts {
    fn is_zero(&self) -> bool {
        self.http == 0 && self.websockets == 0 && self.api_turns == 0
    }
}

/// A token bucket: `burst` at once, refilled at `per_sec`.
struct Bucket {
    tokens: f64,
    refilled: Instant,
}

const MIN_SWEEP: usize = 1024;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Counters updated in small critical sections; a panic cannot tear them.
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// Which count a guard holds.
#[derive(Clone, Copy)]
enum Kind {
    Http,
    WebSocket,
    ApiTurn,
}

impl ClientLimits {
    pub fn new(settings: LimitSettings) -> Arc<Self> {
        Arc::new(Self {
            settings,
            clients: Mutex::new(Clients {
                by_key: HashMap::new(),
                sweep_at: MIN_SWEEP,
            }),
        })
    }

    /// Whether connections are counted at accept time: only when the peer is the
    /// client (no trusted proxy header).
    pub fn counts_peers(&self) -> bool {
        self.settings.trusted_header.is_none() && self.settings.max_connections > 0
    }

    /// The client's address: the last one in the trusted proxy header when it is
    /// configured and present, else the peer's.
    pub fn client_ip(&self, headers: &HeaderMap, peer: SocketAddr) -> IpAddr {
        self.settings
            .trusted_header
            .as_ref()
            .and_then(|name| last_address(headers, name))
            .unwrap_or_else(|| peer.ip())
    }

    /// Counts an HTTP connection from `peer` (see [`ClientLimits::counts_peers`]).
    pub fn accept(self: &Arc<Self>, peer: IpAddr) -> Result<ClientSlot, Refused> {
        self.enter(peer, Kind::Http)
    }

    /// Counts a WebSocket connection of `client`; its frames go through
    /// [`ClientConnection::message`].
    pub fn connect(self: &Arc<Self>, client: IpAddr) -> Result<ClientConnection, Refused> {
        let slot = self.enter(client, Kind::WebSocket)?;
        Ok(ClientConnection { slot })
    }

    /// Admits one REST turn of `client`: one token of its rate, one of its concurrent
    /// turns until the returned slot is dropped.
    pub fn api_turn(self: &Arc<Self>, client: IpAddr) -> Result<ClientSlot, Refused> {
        let slot = self.enter(client, Kind::ApiTurn)?;
        slot.take_token()?;
        Ok(slot)
    }

    fn enter(self: &Arc<Self>, ip: IpAddr, kind: Kind) -> Result<ClientSlot, Refused> {
        let max = match kind {
            Kind::Http | Kind::WebSocket => self.settings.max_connections,
            Kind::ApiTurn => self.settings.max_api_turns,
        };
        // Nothing to count and no rate to share: nothing to remember either.
        let rated = self.settings.per_sec > 0.0 && !matches!(kind, Kind::Http);
        if max == 0 && !rated {
            return Ok(ClientSlot {
                limits: Arc::clone(self),
                held: None,
            });
        }
        let key = client_key(ip);
        let mut clients = lock(&self.clients);
        if clients.by_key.len() >= clients.sweep_at {
            self.sweep(&mut clients);
        }
        let entry = clients
            .by_key
            .entry(key)
            .or_insert_with(|| {
                Arc::new(Entry {
                    counts: Mutex::new(Counts::default()),
                    bucket: Mutex::new(Bucket {
                        tokens: f64::from(self.settings.burst.max(1)),
                        refilled: Instant::now(),
                    }),
                })
            })
            .clone();
        let mut counts = lock(&entry.counts);
        let count = match kind {
            Kind::Http => &mut counts.http,
            Kind::WebSocket => &mut counts.websockets,
            Kind::ApiTurn => &mut counts.api_turns,
        };
        if max > 0 && *count >= max {
            return Err(match kind {
                Kind::ApiTurn => Refused::Turns,
                Kind::Http | Kind::WebSocket => Refused::Connections,
            });
        }
        *count += 1;
        drop(counts);
        Ok(ClientSlot {
            limits: Arc::clone(self),
            held: Some(Held { key, entry, kind }),
        })
    }

    /// Drops entries no connection holds and whose bucket is full again: forgetting
    /// them changes nothing.
    fn sweep(&self, clients: &mut Clients) {
        let now = Instant::now();
        clients.by_key.retain(|_, entry| {
            !lock(&entry.counts).is_zero() || !self.refilled(&lock(&entry.bucket), now)
        });
        clients.sweep_at = (clients.by_key.len() * 2).max(MIN_SWEEP);
    }

    fn refilled(&self, bucket: &Bucket, now: Instant) -> bool {
        let burst = f64::from(self.settings.burst.max(1));
        self.settings.per_sec <= 0.0
            || bucket.tokens
                + now.duration_since(bucket.refilled).as_secs_f64() * self.settings.per_sec
                >= burst
    }

    /// Releases one count; forgets the client once nothing is left to remember.
    fn leave(&self, slot: &Held) {
        let mut clients = lock(&self.clients);
        let empty = {
            let mut counts = lock(&slot.entry.counts);
            let count = match slot.kind {
                Kind::Http => &mut counts.http,
                Kind::WebSocket => &mut counts.websockets,
                Kind::ApiTurn => &mut counts.api_turns,
            };
            *count = count.saturating_sub(1);
            counts.is_zero()
        };
        if empty && self.refilled(&lock(&slot.entry.bucket), Instant::now()) {
            clients.by_key.remove(&slot.key);
        }
    }

    /// How many client addresses are remembered (for tests and metrics).
    pub fn tracked(&self) -> usize {
        lock(&self.clients).by_key.len()
    }
}

/// One count held for a client; released on drop.
pub struct ClientSlot {
    limits: Arc<ClientLimits>,
    /// `None` when nothing is counted for this kind (its limits are off).
    held: Option<Held>,
}

struct Held {
    key: IpAddr,
    entry: Arc<Entry>,
    kind: Kind,
}

impl ClientSlot {
    /// Takes one token from the client's bucket.
    fn take_token(&self) -> Result<(), Refused> {
        let settings = &self.limits.settings;
        let Some(held) = self.held.as_ref().filter(|_| settings.per_sec > 0.0) else {
            return Ok(());
        };
        let burst = f64::from(settings.burst.max(1));
        let mut bucket = lock(&held.entry.bucket);
        let now = Instant::now();
        let earned = now.duration_since(bucket.refilled).as_secs_f64() * settings.per_sec;
        bucket.tokens = (bucket.tokens + earned).min(burst);
        bucket.refilled = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - bucket.tokens) / settings.per_sec;
            Err(Refused::Rate {
                retry_after: Duration::try_from_secs_f64(wait).unwrap_or(Duration::MAX),
            })
        }
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        if let Some(held) = &self.held {
            self.limits.leave(held);
        }
    }
}

/// A client's open WebSocket connection, counted until dropped.
pub struct ClientConnection {
    slot: ClientSlot,
}

impl ClientConnection {
    /// Admits one frame against the client's shared rate.
    pub fn message(&self) -> Result<(), Refused> {
        self.slot.take_token()
    }
}

/// The last address in a header such as `X-Forwarded-For: client, proxy1, proxy2`:
/// the one the trusted proxy itself added (the earlier ones came from the client).
fn last_address(headers: &HeaderMap, name: &HeaderName) -> Option<IpAddr> {
    let value = headers.get_all(name).iter().next_back()?.to_str().ok()?;
    let last = value.rsplit(',').next()?.trim();
    // `1.2.3.4`, `1.2.3.4:5678`, `[::1]:5678` or `::1`.
    last.parse::<IpAddr>()
        .ok()
        .or_else(|| last.parse::<SocketAddr>().ok().map(|a| a.ip()))
}

/// IPv4 addresses as they are (IPv4-mapped IPv6 too); IPv6 addresses by their /64.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let [a, b, c, d, ..] = v6.segments();
                IpAddr::V6(Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
            }
        },
    }
}

#[cfg(test)]
mod tests;
