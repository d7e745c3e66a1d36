//! One WebSocket connection: a reader loop that decodes client messages and a writer
//! task that owns the socket's sending half. The connection drives a [`Session`];
//! turns run in the session, not here.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use axum::extract::ws::{CloseFrame, Message, WebSocket, close_code};
use futures::{Sink, SinkExt, Stream, StreamExt};
use protocol::{
    ClientMessage, ErrorCode, LlmDescriptor, PROTOCOL_VERSION, ServerEvent, ServerFrame,
    ToolDescriptor,
};
use tokio::sync::{OwnedSemaphorePermit, mpsc, watch};
use tracing::Instrument;

use super::{
    session::{Attachment, Outgoing, QueueError, Session, now_ms},
    tools::{decide, descriptors},
};
use crate::{
    agent::{Decision, SinkClosed},
    config::Settings,
    metrics::GaugeGuard,
    state::AppState,
    tools::ToolInfo,
};

/// How long `ready` waits for required MCP servers that are still connecting (just
/// after start-up), so that it lists their tools.
const READY_WAIT: Duration = Duration::from_secs(2);

/// Frames waiting for the writer. Larger than the session log, so a resume's replay
/// always fits.
const OUTBOUND_CAPACITY: usize = 1024;

/// A short random id for sessions and turns.
pub fn new_id() -> String {
    let mut id = uuid::Uuid::new_v4().simple().to_string();
    id.truncate(16);
    id
}

fn next_connection_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Sends connection-level frames (`ready`, errors about a frame, closes): these are
/// not part of any turn, so they carry no `seq` and are not replayed.
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
            ts_ms: Some(now_ms()),
        };
        let text = serde_json::to_string(&frame).map_err(|_| SinkClosed)?;
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

/// How a connection ended.
enum End {
    /// The client closed or the socket broke.
    Gone,
    /// A frame was larger than the limit (close 1009).
    TooBig,
    /// The server is shutting down (close 1001 once the turn in flight ends).
    Shutdown,
}

/// Runs a connection until either side closes it. `slot` is its share of the
/// connection limit, released on return.
pub async fn run(socket: WebSocket, state: AppState, slot: OwnedSemaphorePermit, authorized: bool) {
    let connection = next_connection_id();
    let span = tracing::info_span!("connection", connection);
    async move {
        let _slot = slot;
        let _open = GaugeGuard::new(&state.metrics.connections);
        let (sink, stream) = socket.split();
        let (tx, rx) = mpsc::channel(OUTBOUND_CAPACITY);
        let writer = tokio::spawn(write_frames(sink, rx));
        let outbound = Outbound { tx: tx.clone() };

        if !authorized {
            state.metrics.reject("api_key");
            outbound.close(close_code::POLICY, "API key required").await;
        } else {
            let mut session = new_session(&state);
            session.attach(Attachment { connection, tx }, None);
            // `ready` lists the tools of this moment; `tools_changed` follows changes.
            state.toolbox.settle(READY_WAIT).await;
            let mut tools = state.toolbox.watch();
            let listed = descriptors(&tools.borrow_and_update());
            let _ = outbound.event(ready(&state, session.id(), listed)).await;

            let end = tokio::select! {
                end = read_loop(stream, &outbound, connection, &mut session, &state, tools) => end,
                () = state.shutdown.cancelled() => End::Shutdown,
            };
            match end {
                End::Gone => {}
                End::TooBig => {
                    state.metrics.reject("too_large");
                    outbound.close(close_code::SIZE, "message too big").await;
                }
                End::Shutdown => {
                    // Let the turn in flight finish; the server bounds how long.
                    tokio::select! {
                        () = session.idle() => {}
                        () = state.hard_stop.cancelled() => {}
                    }
                    outbound
                        .close(close_code::AWAY, "server shutting down")
                        .await;
                }
            }
            session.detach(connection);
            state.sessions.release(session);
        }
        drop(outbound);
        let _ = writer.await;
    }
    .instrument(span)
    .await;
}

fn new_session(state: &AppState) -> Arc<Session> {
    let session = Session::start(
        new_id(),
        state.agent.clone(),
        state.settings.max_queued_turns,
        state.shutdown.clone(),
        state.approvals.clone(),
    );
    state.sessions.insert(session.clone());
    session
}

/// The `ready` event: protocol version, session, model and the tools available now.
fn ready(state: &AppState, session_id: &str, tools: Vec<ToolDescriptor>) -> ServerEvent {
    let info = state.agent.llm().info();
    ServerEvent::Ready {
        protocol: PROTOCOL_VERSION,
        session_id: session_id.to_owned(),
        llm: LlmDescriptor {
            provider: info.provider.clone(),
            model: info.model.clone(),
            label: info.label.clone(),
        },
        tools,
        conversation: None,
    }
}

/// Reads client frames until the client closes, the connection breaks, or a frame
/// is too large to read.
async fn read_loop<R>(
    mut stream: R,
    outbound: &Outbound,
    connection: u64,
    session: &mut Arc<Session>,
    state: &AppState,
    mut tools: watch::Receiver<Arc<[ToolInfo]>>,
) -> End
where
    R: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    let mut limiter = RateLimiter::new(&state.settings);
    // Tool list changes reach every connected client as `tools_changed`.
    loop {
        let frame = tokio::select! {
            frame = stream.next() => frame,
            Ok(()) = tools.changed() => {
                let list = descriptors(&tools.borrow_and_update());
                if outbound.event(ServerEvent::ToolsChanged { tools: list }).await.is_err() {
                    return End::Gone;
                }
                continue;
            }
        };
        let Some(frame) = frame else {
            break;
        };
        let message = match frame {
            Ok(message) => message,
            Err(error) => {
                tracing::debug!(%error, "WebSocket read failed");
                return if is_too_big(&error) {
                    End::TooBig
                } else {
                    End::Gone
                };
            }
        };
        let text = match message {
            Message::Text(text) => text,
            Message::Binary(_) => {
                let refused = outbound
                    .error(
                        ErrorCode::InvalidMessage,
                        "binary frames are not supported: send JSON text frames",
                    )
                    .await;
                if refused.is_err() {
                    return End::Gone;
                }
                continue;
            }
            Message::Close(_) => return End::Gone,
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        let handled = if limiter.allow() {
            handle_text(&text, outbound, connection, session, state).await
        } else {
            state.metrics.reject("rate_limited");
            outbound
                .error(
                    ErrorCode::RateLimited,
                    "too many messages: slow down and try again in a moment",
                )
                .await
        };
        if handled.is_err() {
            return End::Gone;
        }
    }
    End::Gone
}

/// tungstenite reports frames over the size limit as a capacity error; axum wraps it.
fn is_too_big(error: &axum::Error) -> bool {
    let text = error.to_string().to_ascii_lowercase();
    text.contains("too long") || text.contains("too big") || text.contains("space limit")
}

/// Acts on one text frame: queue a turn, cancel, resume, or explain what is wrong.
async fn handle_text(
    text: &str,
    outbound: &Outbound,
    connection: u64,
    session: &mut Arc<Session>,
    state: &AppState,
) -> Result<(), SinkClosed> {
    let content = match ClientMessage::decode(text) {
        Err(error) => return outbound.error(error.code, error.message).await,
        Ok(ClientMessage::Cancel {}) => {
            if session.cancel() {
                return Ok(()); // The turn answers with its own `cancelled`.
            }
            // Nothing was running: acknowledge anyway.
            return outbound.event(ServerEvent::Cancelled {}).await;
        }
        Ok(ClientMessage::Resume {
            session_id,
            last_seq,
        }) => return resume(outbound, connection, session, state, &session_id, last_seq).await,
        Ok(ClientMessage::Message { content }) => content,
        Ok(ClientMessage::Approve { call_id }) => {
            let decision = Decision {
                approved: true,
                reason: None,
            };
            return answer(outbound, session, &call_id, decision).await;
        }
        Ok(ClientMessage::Deny { call_id, reason }) => {
            let decision = Decision {
                approved: false,
                reason,
            };
            return answer(outbound, session, &call_id, decision).await;
        }
        Ok(ClientMessage::Edit { .. } | ClientMessage::Regenerate {}) => {
            return outbound
                .error(
                    ErrorCode::InvalidMessage,
                    "this message type is not supported yet",
                )
                .await;
        }
    };
    let content = match accept_content(&content, &state.settings) {
        Ok(content) => content.to_owned(),
        Err((code, why)) => return outbound.error(code, why).await,
    };
    match session.enqueue(content) {
        Ok(()) => Ok(()),
        Err(QueueError::Busy) => {
            state.metrics.reject("busy");
            outbound
                .error(
                    ErrorCode::Busy,
                    "too many messages are waiting for their turn; wait for the current answers",
                )
                .await
        }
        Err(QueueError::Closed) => Err(SinkClosed),
    }
}

/// Delivers an `approve` / `deny`; a `call_id` nothing waits for gets an error.
async fn answer(
    outbound: &Outbound,
    session: &Session,
    call_id: &str,
    decision: Decision,
) -> Result<(), SinkClosed> {
    match decide(session, call_id, decision) {
        Ok(()) => Ok(()),
        Err(why) => outbound.error(ErrorCode::InvalidMessage, why).await,
    }
}

/// Moves this connection to an earlier session and replays what it missed.
async fn resume(
    outbound: &Outbound,
    connection: u64,
    session: &mut Arc<Session>,
    state: &AppState,
    session_id: &str,
    last_seq: u64,
) -> Result<(), SinkClosed> {
    if session.id() == session_id {
        return Ok(());
    }
    let Some(earlier) = state.sessions.get(session_id) else {
        return outbound
            .error(
                ErrorCode::SessionExpired,
                "that session has expired; this connection continues in a new one",
            )
            .await;
    };
    // The fresh session made for this connection has done nothing: end it.
    session.detach(connection);
    state.sessions.remove(session);
    *session = earlier;
    let tools = descriptors(&state.toolbox.tools());
    outbound.event(ready(state, session.id(), tools)).await?;
    let resumed = session.attach(
        Attachment {
            connection,
            tx: outbound.tx.clone(),
        },
        Some(last_seq),
    );
    tracing::debug!(
        session_id,
        last_seq,
        replayed = resumed.replayed,
        "session resumed"
    );
    if resumed.gap {
        outbound
            .error(
                ErrorCode::ResumeGap,
                "some earlier events of this session are no longer available",
            )
            .await?;
    }
    Ok(())
}

/// Checks a user message's content, returning it trimmed.
fn accept_content<'a>(
    content: &'a str,
    settings: &Settings,
) -> Result<&'a str, (ErrorCode, String)> {
    let content = content.trim();
    if content.is_empty() {
        return Err((ErrorCode::InvalidMessage, "the message is empty".into()));
    }
    if content.chars().count() > settings.max_content_chars {
        return Err((
            ErrorCode::TooLarge,
            format!(
                "the message is longer than {} characters",
                settings.max_content_chars
            ),
        ));
    }
    Ok(content)
}

/// A token bucket: `burst` frames at once, refilled at `per_sec`.
struct RateLimiter {
    per_sec: f64,
    burst: f64,
    tokens: f64,
    refilled: Instant,
}

impl RateLimiter {
    fn new(settings: &Settings) -> Self {
        let burst = f64::from(settings.rate_limit_burst.max(1));
        Self {
            per_sec: settings.rate_limit_per_sec,
            burst,
            tokens: burst,
            refilled: Instant::now(),
        }
    }

    fn allow(&mut self) -> bool {
        if self.per_sec <= 0.0 {
            return true;
        }
        let now = Instant::now();
        let earned = now.duration_since(self.refilled).as_secs_f64() * self.per_sec;
        self.tokens = (self.tokens + earned).min(self.burst);
        self.refilled = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Owns the socket's sending half: writes frames as they come, flushing once per burst.
async fn write_frames<W>(mut sink: W, mut rx: mpsc::Receiver<Outgoing>)
where
    W: Sink<Message> + Unpin,
{
    'outer: while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(outgoing) = next.take() {
            match outgoing {
                Outgoing::Text(text) => {
                    if sink.feed(Message::Text(text)).await.is_err() {
                        break 'outer;
                    }
                }
                Outgoing::Close(code, reason) => {
                    let frame = CloseFrame {
                        code,
                        reason: reason.into(),
                    };
                    let _ = sink.send(Message::Close(Some(frame))).await;
                    break 'outer;
                }
            }
            next = rx.try_recv().ok();
        }
        if sink.flush().await.is_err() {
            break;
        }
    }
    let _ = sink.close().await;
}
