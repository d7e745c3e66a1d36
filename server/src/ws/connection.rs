//! One WebSocket connection: reads client frames and acts on them through the session
//! hub, follows its session's events (from any server) and hands them to the writer
//! task, and pings a quiet peer. Turns run in sessions, never here.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use axum::extract::ws::{Message, WebSocket, close_code};
use futures::{Stream, StreamExt};
use protocol::{
    ClientMessage, ErrorCode, LlmDescriptor, PROTOCOL_VERSION, ServerEvent, ServerFrame,
    ToolDescriptor,
};
use tokio::sync::{OwnedSemaphorePermit, mpsc, watch};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::{
    rate::RateLimiter,
    tools::descriptors,
    writer::{Outgoing, write_frames},
};
use crate::{
    agent::SinkClosed,
    limits::ClientConnection,
    metrics::GaugeGuard,
    owner::Owner,
    session::{Follower, LiveSession, OpenError, QueueError, TurnKind, Watch, new_id},
    state::AppState,
    tools::ToolInfo,
};

/// How long `ready` waits for required MCP servers that are still connecting (just
/// after start-up), so that it lists their tools.
const READY_WAIT: Duration = Duration::from_secs(2);

/// Frames waiting for the writer.
const OUTBOUND_CAPACITY: usize = 256;
/// How long, after the last turn ended at shutdown, late events may still arrive.
const DRAIN_QUIET: Duration = Duration::from_millis(50);

/// Sends frames that belong to no turn (`ready`, errors about a frame): no `seq`.
#[derive(Clone)]
struct Outbound {
    tx: mpsc::Sender<Outgoing>,
}

impl Outbound {
    async fn event(&self, event: ServerEvent) -> Result<(), SinkClosed> {
        let frame = ServerFrame {
            event,
            turn_id: None,
            seq: None,
            ts_ms: Some(crate::clock::now_ms()),
        };
        let text = serde_json::to_string(&frame).map_err(|_| SinkClosed)?;
        self.text(text).await
    }

    async fn text(&self, text: impl Into<String>) -> Result<(), SinkClosed> {
        let text: String = text.into();
        self.tx
            .send(Outgoing::Text(text.into()))
            .await
            .map_err(|_| SinkClosed)
    }

    async fn error(&self, code: ErrorCode, message: impl Into<String>) -> Result<(), SinkClosed> {
        self.event(ServerEvent::error_with_code(code, message))
            .await
    }

    async fn close(&self, code: u16, reason: &'static str) {
        let _ = self.tx.send(Outgoing::Close(code, reason)).await;
    }
}

/// The session a connection is on, and how it follows it.
struct Current {
    session: Arc<LiveSession>,
    follower: Follower,
    taken_over: CancellationToken,
    _watch: Watch,
}

impl Current {
    async fn open(
        state: &AppState,
        session: Arc<LiveSession>,
        connection: &str,
        after: u64,
    ) -> Result<(Self, bool), crate::session::FollowError> {
        let watch = Watch::new(session.clone());
        let (follower, gap) = if after == 0 && session.summary().is_none() {
            // A new session: nothing stored to replay (and no store to wait for).
            (state.hub.follow_new(&session).await?, false)
        } else {
            state.hub.follow(&session, after).await?
        };
        if let Some(tail) = follower.tail() {
            session.note(tail);
        }
        let taken_over = state.hub.attach(&session, connection).await;
        Ok((
            Self {
                session,
                follower,
                taken_over,
                _watch: watch,
            },
            gap,
        ))
    }
}

/// How a connection ended.
enum End {
    /// The client closed, the socket broke, or the peer stopped answering pings.
    Gone,
    /// A frame was larger than the limit (close 1009).
    TooBig,
    /// Another connection resumed the session (close 4000).
    TakenOver,
    /// The server is shutting down (close 1001 once the turn in flight ends).
    Shutdown,
}

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

/// The `ready` event: protocol version, session, model, the tools available now and
/// the conversation.
fn ready(state: &AppState, session: &LiveSession, tools: Vec<ToolDescriptor>) -> ServerEvent {
    let info = state.hub.agent.llm().info();
    ServerEvent::Ready {
        protocol: PROTOCOL_VERSION,
        session_id: session.id.clone(),
        llm: LlmDescriptor {
            provider: info.provider.clone(),
            model: info.model.clone(),
            label: info.label.clone(),
        },
        tools,
        conversation: session.summary(),
    }
}

/// The reading side of a connection and what it needs to act on frames.
struct Reader<'a, R> {
    stream: R,
    outbound: &'a Outbound,
    connection: &'a str,
    state: &'a AppState,
    owner: &'a Owner,
    /// Its client address's share: rates frames across all its connections.
    client: &'a ClientConnection,
    limiter: RateLimiter,
    /// When the peer last sent anything (a pong included).
    last_seen: Instant,
    /// The tool list, forwarded as `tools_changed` when it changes.
    tools: watch::Receiver<Arc<[ToolInfo]>>,
}

impl<R> Reader<'_, R>
where
    R: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    async fn run(mut self, current: &mut Current) -> End {
        let ping_every = self.state.settings.ws_ping;
        let mut ping =
            tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
        loop {
            tokio::select! {
                frame = self.stream.next() => {
                    self.last_seen = Instant::now();
                    match self.on_frame(frame, current).await {
                        Ok(None) => {}
                        Ok(Some(end)) => return end,
                        Err(SinkClosed) => return End::Gone,
                    }
                }
                live = self.state.hub.next(&mut current.follower) => {
                    let Some(live) = live else { return End::Gone };
                    current.session.note(&live);
                    if self.outbound.text(live.frame.as_ref()).await.is_err() {
                        return End::Gone;
                    }
                }
                () = current.taken_over.cancelled() => return End::TakenOver,
                Ok(()) = self.tools.changed() => {
                    let tools = descriptors(&self.tools.borrow_and_update());
                    if self.outbound.event(ServerEvent::ToolsChanged { tools }).await.is_err() {
                        return End::Gone;
                    }
                }
                _ = ping.tick() => {
                    // Two intervals without a word: the peer is gone.
                    if self.last_seen.elapsed() > ping_every * 2 {
                        tracing::debug!("the peer stopped answering pings");
                        return End::Gone;
                    }
                    if self.outbound.tx.send(Outgoing::Ping).await.is_err() {
                        return End::Gone;
                    }
                }
                () = self.state.shutdown.cancelled() => return End::Shutdown,
            }
        }
    }

    /// Acts on one frame from the client; `Some` ends the connection.
    async fn on_frame(
        &mut self,
        frame: Option<Result<Message, axum::Error>>,
        current: &mut Current,
    ) -> Result<Option<End>, SinkClosed> {
        let text = match frame {
            None | Some(Ok(Message::Close(_))) => return Ok(Some(End::Gone)),
            Some(Err(error)) => {
                tracing::debug!(%error, "WebSocket read failed");
                return Ok(Some(if is_too_big(&error) {
                    End::TooBig
                } else {
                    End::Gone
                }));
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => return Ok(None),
            Some(Ok(Message::Binary(_))) => {
                let why = "binary frames are not supported: send JSON text frames";
                self.outbound.error(ErrorCode::InvalidMessage, why).await?;
                return Ok(None);
            }
            Some(Ok(Message::Text(text))) => text,
        };
        if !(self.limiter.allow() && self.client.message().is_ok()) {
            self.state.metrics.reject("rate_limited");
            let why = "too many messages: slow down and try again in a moment";
            self.outbound.error(ErrorCode::RateLimited, why).await?;
            return Ok(None);
        }
        self.handle(&text, current).await?;
        Ok(None)
    }

    /// Acts on one text frame: queue a turn, cancel, resume, decide an approval, or
    /// explain what is wrong.
    async fn handle(&mut self, text: &str, current: &mut Current) -> Result<(), SinkClosed> {
        let message = match ClientMessage::decode(text) {
            Ok(message) => message,
            Err(error) => return self.outbound.error(error.code, error.message).await,
        };
        let hub = &self.state.hub;
        let kind = match message {
            ClientMessage::Cancel {} => {
                let running_elsewhere =
                    hub.bus.shared() && hub.bus.leased(&current.session.id).await.unwrap_or(false);
                if hub.cancel(&current.session).await
                    || current.session.is_busy()
                    || running_elsewhere
                {
                    return Ok(()); // the turn answers with its own `cancelled`
                }
                return self.outbound.event(ServerEvent::Cancelled {}).await;
            }
            ClientMessage::Resume {
                session_id,
                last_seq,
            } => return self.resume(current, &session_id, last_seq).await,
            ClientMessage::Approve { call_id } => {
                return self.decide(current, call_id, true, None).await;
            }
            ClientMessage::Deny { call_id, reason } => {
                return self.decide(current, call_id, false, reason).await;
            }
            ClientMessage::Message { content } => match self.question(&content).await? {
                Some(content) => TurnKind::Message(content),
                None => return Ok(()),
            },
            ClientMessage::Edit { content } => match self.question(&content).await? {
                Some(content) => TurnKind::Edit(content),
                None => return Ok(()),
            },
            ClientMessage::Regenerate {} => TurnKind::Regenerate,
        };
        match current.session.enqueue(kind) {
            Ok(_) => {
                current.follower.expect_turn();
                Ok(())
            }
            Err(QueueError::Busy) => {
                self.state.metrics.reject("busy");
                let why =
                    "too many messages are waiting for their turn; wait for the current answers";
                self.outbound.error(ErrorCode::Busy, why).await
            }
            Err(QueueError::Closed) => Err(SinkClosed),
        }
    }

    /// A question's content, checked; `None` (after telling the client why) when it
    /// is refused.
    async fn question(&self, content: &str) -> Result<Option<String>, SinkClosed> {
        let max = self.state.settings.max_content_chars;
        match crate::input::question(content, max) {
            Ok(content) => Ok(Some(content.to_owned())),
            Err((code, why)) => {
                self.outbound.error(code, why).await?;
                Ok(None)
            }
        }
    }

    /// Hands an `approve` / `deny` to the turn waiting for it, wherever it runs; a
    /// `call_id` nothing waits for gets an error.
    async fn decide(
        &mut self,
        current: &Current,
        call_id: String,
        approve: bool,
        reason: Option<String>,
    ) -> Result<(), SinkClosed> {
        let hub = &self.state.hub;
        match hub.decide(&current.session, call_id, approve, reason).await {
            Ok(()) => Ok(()),
            Err(error) => {
                let code = match error {
                    crate::session::DecideError::NotPending => ErrorCode::InvalidMessage,
                    crate::session::DecideError::Unavailable => ErrorCode::StorageUnavailable,
                };
                self.outbound.error(code, error.to_string()).await
            }
        }
    }

    /// Moves this connection to an earlier session of the same owner and replays
    /// what it missed. A refusal disturbs nobody.
    async fn resume(
        &mut self,
        current: &mut Current,
        session_id: &str,
        last_seq: u64,
    ) -> Result<(), SinkClosed> {
        if current.session.id == session_id {
            return Ok(());
        }
        let hub = &self.state.hub;
        let earlier = match hub.open(session_id, self.owner).await {
            Ok(session) => session,
            Err(error) => {
                let (code, why) = match error {
                    OpenError::NotFound => (
                        ErrorCode::SessionExpired,
                        "that session has expired; this connection continues in a new one",
                    ),
                    OpenError::NotOwner => (
                        ErrorCode::Unauthorized,
                        "that session is not yours; this connection continues in its own",
                    ),
                    OpenError::Unavailable(_) => (
                        ErrorCode::StorageUnavailable,
                        "conversations cannot be loaded right now; try again in a moment",
                    ),
                    OpenError::Full => (
                        ErrorCode::Busy,
                        "the server holds too many sessions; try again later",
                    ),
                };
                return self.outbound.error(code, why).await;
            }
        };
        let (next, gap) = match Current::open(self.state, earlier, self.connection, last_seq).await
        {
            Ok(opened) => opened,
            Err(error) => {
                tracing::warn!(%error, "cannot replay a session");
                let why = "conversations cannot be loaded right now; try again in a moment";
                return self
                    .outbound
                    .error(ErrorCode::StorageUnavailable, why)
                    .await;
            }
        };
        let previous = std::mem::replace(current, next);
        previous.session.detach(self.connection);
        if previous.session.summary().is_none() && !previous.session.is_busy() {
            hub.evict(&previous.session); // the fresh session made for this connection
        }
        drop(previous);
        tracing::debug!(last_seq, "session resumed");
        let tools = descriptors(&self.state.toolbox.tools());
        self.outbound
            .event(ready(self.state, &current.session, tools))
            .await?;
        if gap {
            let why = "some earlier events of this session are no longer available";
            self.outbound.error(ErrorCode::ResumeGap, why).await?;
        }
        Ok(())
    }
}

/// tungstenite reports frames over the size limit as a capacity error; axum wraps it.
fn is_too_big(error: &axum::Error) -> bool {
    let text = error.to_string().to_ascii_lowercase();
    text.contains("too long") || text.contains("too big") || text.contains("space limit")
}
