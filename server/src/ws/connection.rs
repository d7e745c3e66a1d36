//! One WebSocket connection: reads client frames and acts on them through the session
//! hub, follows its session's events (from any server) and hands them to the writer
//! task, and pings a quiet peer. Turns run in sessions, never here.

use std::time::{Duration, Instant};

use axum::extract::ws::{Message, WebSocket, close_code};
use futures::{Stream, StreamExt};
use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tracing::Instrument;

use super::{
    current::{Current, ready},
    outbound::Outbound,
    rate::RateLimiter,
    reader::{End, Reader},
    tools::descriptors,
    writer::write_frames,
};
use crate::{
    limits::ClientConnection, metrics::GaugeGuard, owner::Owner, session::new_id, state::AppState,
};

/// How long `ready` waits for required MCP servers that are still connecting (just
/// after start-up), so that it lists their tools.
const READY_WAIT: Duration = Duration::from_secs(2);

/// Frames waiting for the writer.
const OUTBOUND_CAPACITY: usize = 256;
/// How long, after the last turn ended at shutdown, late events may still arrive.
const DRAIN_QUIET: Duration = Duration::from_millis(50);

/// Runs a connection until either side closes it. `slot` is its share of the
/// connection limit and `client` its client address's (which also rates its frames),
/// released on return.
pub async fn run(
    socket: WebSocket,
    state: AppState,
    slot: OwnedSemaphorePermit,
    client: ClientConnection,
    authorized: bool,
    owner: Owner,
) {
    let connection = new_id();
    // The connection id is not a credential; session ids stay out of info logs.
    let span = tracing::info_span!("connection", connection = %connection);
    async move {
        let _slot = slot;
        let _open = GaugeGuard::new(&state.metrics.connections);
        let (sink, stream) = socket.split();
        let (tx, rx) = mpsc::channel(OUTBOUND_CAPACITY);
        let writer = tokio::spawn(write_frames(sink, rx));
        let outbound = Outbound { tx };
        if !authorized {
            state.metrics.reject("api_key");
            outbound.close(close_code::POLICY, "API key required").await;
        } else {
            serve(stream, &outbound, &connection, &state, &owner, &client).await;
        }
        drop(outbound);
        let _ = writer.await;
    }
    .instrument(span)
    .await;
}

async fn serve<R>(
    stream: R,
    outbound: &Outbound,
    connection: &str,
    state: &AppState,
    owner: &Owner,
    client: &ClientConnection,
) where
    R: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    let session = match state.hub.create(owner) {
        Ok(session) => session,
        Err(_) => {
            state.metrics.reject("sessions_full");
            outbound
                .close(1013, "too many sessions; try again later")
                .await;
            return;
        }
    };
    let mut current = match Current::open(state, session.clone(), connection, 0).await {
        Ok((current, _)) => current,
        Err(error) => {
            tracing::warn!(%error, "cannot follow a new session");
            state.hub.evict(&session);
            outbound.close(1011, "storage unavailable").await;
            return;
        }
    };
    // `ready` lists the tools of this moment; `tools_changed` follows changes.
    state.toolbox.settle(READY_WAIT).await;
    let mut tools = state.toolbox.watch();
    let listed = descriptors(&tools.borrow_and_update());
    if outbound
        .event(ready(state, &current.session, listed))
        .await
        .is_err()
    {
        return;
    }
    let end = Reader {
        stream,
        outbound,
        connection,
        state,
        owner,
        client,
        limiter: RateLimiter::new(&state.settings),
        last_seen: Instant::now(),
        tools,
    }
    .run(&mut current)
    .await;
    match end {
        End::Gone => {}
        End::TooBig => {
            state.metrics.reject("too_large");
            outbound.close(close_code::SIZE, "message too big").await;
        }
        End::TakenOver => {
            outbound
                .close(4000, "session resumed on another connection")
                .await;
        }
        End::Shutdown => {
            drain(state, outbound, &mut current).await;
            outbound
                .close(close_code::AWAY, "server shutting down")
                .await;
        }
    }
    current.session.detach(connection);
}

/// At shutdown: forwards the running turn's events until it ends (or the grace
/// period does), then whatever is still on its way.
async fn drain(state: &AppState, outbound: &Outbound, current: &mut Current) {
    let session = current.session.clone();
    loop {
        tokio::select! {
            live = state.hub.next(&mut current.follower) => match live {
                Some(live) => {
                    if outbound.text(live.frame.as_ref()).await.is_err() {
                        return;
                    }
                }
                None => return,
            },
            () = session.idle() => break,
            () = state.hard_stop.cancelled() => break,
        }
    }
    while let Ok(Some(live)) =
        tokio::time::timeout(DRAIN_QUIET, state.hub.next(&mut current.follower)).await
    {
        if outbound.text(live.frame.as_ref()).await.is_err() {
            return;
        }
    }
}
