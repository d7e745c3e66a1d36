//! The HTTP server loop: accepts TCP connections and serves each with hyper (HTTP/1.1,
//! upgrades for WebSockets), with what axum's `serve` lacks:
//!
//! - a request-head deadline: from the connection's start, or from the first byte of
//!   a later request, the head must be complete within `header_read_timeout`, or the
//!   connection is closed (slow-loris clients hold nothing for long);
//! - an idle deadline: a keep-alive connection with no request in flight is closed
//!   after `idle_timeout`;
//! - a body deadline: a request body that stops arriving for `header_read_timeout`
//!   fails;
//! - a cap on connections being served: at `max_connections`, new connections wait in
//!   the kernel's listen queue until one closes (upgraded WebSockets leave the count);
//! - per-client-address connection counting ([`ClientLimits`]) when there is no
//!   trusted proxy in front;
//! - a graceful stop: no more accepting, idle connections closed, requests in flight
//!   finished.
//!
//! Every request carries the peer address as [`ConnectInfo`].

use std::{
    convert::Infallible, future::Future, io, net::SocketAddr, pin::Pin, pin::pin, sync::Arc,
    time::Duration,
};

use axum::{Router, body::Body, extract::ConnectInfo};
use hyper::{
    body::{Body as HttpBody, Incoming},
    server::conn::http1,
};
use hyper_util::rt::TokioIo;
use tokio::{
    net::{TcpListener, TcpStream},
    sync::{OwnedSemaphorePermit, Semaphore},
    time::Instant,
};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tower::ServiceExt;

use crate::{
    limits::{ClientLimits, ClientSlot},
    metrics::Metrics,
};

mod activity;
mod body;

use activity::{Activity, Wait, Watched};
pub use body::{BodyStalled, Guarded};
use body::{InFlight, Paced};

/// How the server treats its HTTP connections.
#[derive(Debug, Clone)]
pub struct ServeSettings {
    /// The longest a request head (or a pause in a request body) may take.
    pub header_read_timeout: Duration,
    /// The longest a keep-alive connection may wait for its next request.
    pub idle_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// After `stop`, how long requests in flight get before the loop returns anyway.
    pub drain_timeout: Duration,
}

/// Serves `router` on `listener` until `stop` resolves, then stops accepting, closes
/// idle connections, and waits (up to `drain_timeout`) for requests in flight.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    settings: ServeSettings,
    limits: Arc<ClientLimits>,
    metrics: Arc<Metrics>,
    stop: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(settings.max_connections.max(1)));
    let connections = TaskTracker::new();
    let closing = CancellationToken::new();
    let settings = Arc::new(settings);
    let mut stop = pin!(stop);
    loop {
        let slot = tokio::select! {
            biased;
            () = &mut stop => break,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break, // never closed
            },
        };
        let (stream, peer) = tokio::select! {
            biased;
            () = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_failed(error).await;
                    continue;
                }
            },
        };
        let client = if limits.counts_peers() {
            match limits.accept(peer.ip()) {
                Ok(client) => Some(client),
                Err(refused) => {
                    metrics.reject("client_connections");
                    tracing::debug!(%peer, %refused, "connection refused");
                    continue; // dropping the stream closes it
                }
            }
        } else {
            None
        };
        // Small frames in both directions: Nagle's delay would dominate latency.
        let _ = stream.set_nodelay(true);
        let held = Held {
            _slot: slot,
            _client: client,
        };
        connections.spawn(serve_connection(
            stream,
            peer,
            router.clone(),
            Arc::clone(&settings),
            closing.clone(),
            held,
        ));
    }
    drop(listener);
    closing.cancel();
    connections.close();
    if tokio::time::timeout(settings.drain_timeout, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            open = connections.len(),
            "HTTP requests still in flight after the drain period; closing them"
        );
    }
}

/// What a connection holds while it is served.
struct Held {
    _slot: OwnedSemaphorePermit,
    _client: Option<ClientSlot>,
}

/// Accept errors: a connection that died in the queue is nothing; anything else (out
/// of file descriptors) is logged, and accepting pauses so the loop does not spin.
async fn accept_failed(error: io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        error.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(%error, "accepting a connection failed; pausing for a second");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Serves one connection until it closes, a deadline passes, or the server stops.
async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    settings: Arc<ServeSettings>,
    closing: CancellationToken,
    held: Held,
) {
    let activity = Arc::new(Activity::new(Instant::now()));
    let io = TokioIo::new(Watched {
        inner: stream,
        activity: Arc::clone(&activity),
    });
    let service = ConnectionService {
        router,
        peer,
        activity: Arc::clone(&activity),
        body_timeout: settings.header_read_timeout,
    };
    let mut builder = http1::Builder::new();
    // Our own deadlines below replace hyper's (which has no idle deadline of its own).
    builder.header_read_timeout(None);
    let mut conn = pin!(builder.serve_connection(io, service).with_upgrades());
    // Once closing: `Some(None)` waits for requests in flight (a half-sent head still
    // gets only its deadline), `Some(Some(t))` gives up at `t`.
    let mut closing_by: Option<Option<Instant>> = None;
    loop {
        let changed = activity.changed.notified();
        let deadline = match closing_by {
            None | Some(None) => activity.deadline(&settings),
            Some(by) => by,
        };
        tokio::select! {
            biased;
            result = conn.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%peer, %error, "HTTP connection ended with an error");
                }
                break;
            }
            () = changed => {}
            () = sleep_until(deadline) => {
                if matches!(closing_by, Some(Some(_))) {
                    break; // closing took too long
                }
                match activity.expired(&settings, Instant::now()) {
                    Some(Wait::Head) => {
                        tracing::debug!(%peer, "no complete request head in time; closing");
                        break;
                    }
                    // Idle while the server stops: hyper should have closed it already.
                    Some(Wait::Idle) if closing_by.is_some() => break,
                    Some(Wait::Idle) => {
                        conn.as_mut().graceful_shutdown();
                        closing_by = Some(Some(Instant::now() + settings.header_read_timeout));
                    }
                    None => {}
                }
            }
            () = closing.cancelled(), if closing_by.is_none() => {
                conn.as_mut().graceful_shutdown();
                closing_by = Some(None);
            }
        }
    }
    drop(held);
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Hands each request to the router, with the peer address, a body deadline, and a
/// response body that tells [`Activity`] when it is done.
#[derive(Clone)]
struct ConnectionService {
    router: Router,
    peer: SocketAddr,
    activity: Arc<Activity>,
    body_timeout: Duration,
}

impl hyper::service::Service<hyper::Request<Incoming>> for ConnectionService {
    type Response = hyper::Response<Guarded<InFlight>>;
    type Error = Infallible;
    type Future =
        Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send + 'static>>;

    fn call(&self, request: hyper::Request<Incoming>) -> Self::Future {
        self.activity.request_started();
        let in_flight = InFlight(Arc::clone(&self.activity));
        let (mut parts, body) = request.into_parts();
        parts.extensions.insert(ConnectInfo(self.peer));
        let body = if HttpBody::is_end_stream(&body) {
            Body::new(body)
        } else {
            Body::new(Paced::new(body, self.body_timeout))
        };
        let request = axum::extract::Request::from_parts(parts, body);
        let router = self.router.clone();
        Box::pin(async move {
            let response = match router.oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            Ok(response.map(|body| Guarded::new(body, in_flight)))
        })
    }
}

/// The peer address of the request's connection, when it came through [`serve`].
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub Option<SocketAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Peer {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|info| info.0),
        ))
    }
}

impl Peer {
    /// The address, or the unspecified one when unknown.
    pub fn or_unspecified(self) -> SocketAddr {
        self.0
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)))
    }
}
