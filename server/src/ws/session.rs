//! One WebSocket connection: a reader loop that decodes client messages, a worker that
//! runs their turns one at a time, and a writer task that owns the socket's sending
//! half. Events of two turns never interleave.

use std::{
    panic::AssertUnwindSafe,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{SystemTime, UNIX_EPOCH},
};

use async_trait::async_trait;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, close_code};
use futures::{FutureExt, Sink, SinkExt, Stream, StreamExt};
use protocol::{
    ClientMessage, ErrorCode, LlmDescriptor, PROTOCOL_VERSION, ServerEvent, ServerFrame,
    ToolDescriptor,
};
use serde_json::Value;
use tokio::sync::mpsc::{self, error::TrySendError};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{
    agent::{Agent, EventSink, SinkClosed},
    config::Settings,
    llm::ChatMessage,
    state::AppState,
};

/// Frames waiting for the writer; a slow reader slows its own turns, nobody else's.
const OUTBOUND_CAPACITY: usize = 256;
/// Conversation entries kept per connection for the model's context.
const MAX_HISTORY: usize = 64;

/// What the writer task sends.
#[derive(Debug)]
enum Outgoing {
    Text(Utf8Bytes),
    Close(u16, &'static str),
}

/// A cheap handle for sending frames to the writer task.
#[derive(Clone)]
struct Outbound {
    tx: mpsc::Sender<Outgoing>,
}

impl Outbound {
    /// Serialises the event once, stamped with the turn and the server time.
    async fn event(&self, event: ServerEvent, turn_id: Option<&str>) -> Result<(), SinkClosed> {
        let frame = ServerFrame {
            event,
            turn_id: turn_id.map(str::to_owned),
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
        self.event(ServerEvent::error_with_code(code, message), None)
            .await
    }

    async fn close(&self, code: u16, reason: &'static str) {
        let _ = self.tx.send(Outgoing::Close(code, reason)).await;
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A short random id for sessions and turns.
pub fn new_id() -> String {
    let mut id = uuid::Uuid::new_v4().simple().to_string();
    id.truncate(16);
    id
}

/// Runs a session on an upgraded socket until either side closes it.
pub async fn run(socket: WebSocket, state: AppState) {
    let (sink, stream) = socket.split();
    serve(sink, stream, state).await;
}

/// The session proper, generic over the socket halves.
pub async fn serve<W, R>(sink: W, stream: R, state: AppState)
where
    W: Sink<Message> + Send + Unpin + 'static,
    R: Stream<Item = Result<Message, axum::Error>> + Send + Unpin,
{
    let session_id = new_id();
    let span = tracing::info_span!("session", session_id = %session_id);
    async move {
        tracing::debug!("session opened");
        let (tx, rx) = mpsc::channel(OUTBOUND_CAPACITY);
        let writer = tokio::spawn(write_frames(sink, rx));
        let outbound = Outbound { tx };

        let _ = outbound
            .event(ready(&state.agent, &session_id).await, None)
            .await;

        // Cancelled when the client goes away: stops the turn in flight.
        let disconnected = CancellationToken::new();
        let (turns_tx, turns_rx) = mpsc::channel(state.settings.max_queued_turns.max(1));
        let control = Arc::new(TurnControl::default());
        let worker = tokio::spawn(
            run_turns(
                turns_rx,
                control.clone(),
                outbound.clone(),
                state.agent.clone(),
                disconnected.clone(),
                state.shutdown.clone(),
            )
            .in_current_span(),
        );

        let shutting_down = tokio::select! {
            () = read_loop(stream, &outbound, &turns_tx, &control, &state.settings) => false,
            () = state.shutdown.cancelled() => true,
        };
        drop(turns_tx);
        if shutting_down {
            // Let the turn in flight finish; the server bounds how long.
            let _ = worker.await;
            outbound
                .close(close_code::AWAY, "server shutting down")
                .await;
        } else {
            disconnected.cancel();
            let _ = worker.await;
            outbound.close(close_code::NORMAL, "").await;
        }
        drop(outbound);
        let _ = writer.await;
        tracing::debug!("session closed");
    }
    .instrument(span)
    .await;
}

/// The `ready` event: protocol version, session, model and tools.
async fn ready(agent: &Agent, session_id: &str) -> ServerEvent {
    let info = agent.llm().info();
    let tools = match agent.mcp().tools().await {
        Ok(tools) => tools
            .iter()
            .map(|tool| ToolDescriptor {
                name: tool.name.clone(),
                description: tool.description.clone(),
                parameters: Value::Object((*tool.input_schema).clone()),
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    ServerEvent::Ready {
        protocol: PROTOCOL_VERSION,
        session_id: session_id.to_owned(),
        llm: LlmDescriptor {
            provider: info.provider.clone(),
            model: info.model.clone(),
            label: info.label.clone(),
        },
        tools,
    }
}

/// Reads client frames until the client closes or the connection breaks.
async fn read_loop<R>(
    mut stream: R,
    outbound: &Outbound,
    turns: &mpsc::Sender<Queued>,
    control: &TurnControl,
    settings: &Settings,
) where
    R: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    while let Some(frame) = stream.next().await {
        let message = match frame {
            Ok(message) => message,
            Err(error) => {
                tracing::debug!(%error, "WebSocket read failed");
                return;
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
                    return;
                }
                continue;
            }
            Message::Close(_) => return,
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        match handle_text(&text, outbound, turns, control, settings).await {
            Ok(Flow::Continue) => {}
            Ok(Flow::Stop) | Err(SinkClosed) => return,
        }
    }
}

enum Flow {
    Continue,
    Stop,
}

/// Acts on one text frame: queue a turn, cancel, or explain what is wrong with it.
async fn handle_text(
    text: &str,
    outbound: &Outbound,
    turns: &mpsc::Sender<Queued>,
    control: &TurnControl,
    settings: &Settings,
) -> Result<Flow, SinkClosed> {
    let content = match ClientMessage::decode(text) {
        Err(error) => {
            outbound.error(error.code, error.message).await?;
            return Ok(Flow::Continue);
        }
        Ok(ClientMessage::Cancel {}) => {
            if !control.cancel() {
                // Nothing was running: acknowledge anyway.
                outbound.event(ServerEvent::Cancelled {}, None).await?;
            }
            return Ok(Flow::Continue);
        }
        Ok(ClientMessage::Message { content }) => content,
    };
    let content = match accept_content(&content, settings) {
        Ok(content) => content.to_owned(),
        Err((code, why)) => {
            outbound.error(code, why).await?;
            return Ok(Flow::Continue);
        }
    };
    let queued = Queued {
        epoch: control.epoch(),
        content,
    };
    match turns.try_send(queued) {
        Ok(()) => Ok(Flow::Continue),
        Err(TrySendError::Full(_)) => {
            outbound
                .error(
                    ErrorCode::Busy,
                    "too many messages are waiting for their turn; wait for the current answers",
                )
                .await?;
            Ok(Flow::Continue)
        }
        Err(TrySendError::Closed(_)) => Ok(Flow::Stop),
    }
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

/// A user message waiting for its turn.
struct Queued {
    /// The cancel epoch when it arrived: a later `cancel` drops it.
    epoch: u64,
    content: String,
}

/// What the reader needs to stop turns: the running turn's token and a counter that
/// every `cancel` bumps, so messages queued before it are dropped too.
#[derive(Default)]
struct TurnControl {
    running: std::sync::Mutex<Option<CancellationToken>>,
    epoch: AtomicU64,
}

impl TurnControl {
    fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Cancels the running turn and everything queued; says whether a turn was running.
    fn cancel(&self) -> bool {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        let running = self.lock().take();
        running.map(|token| token.cancel()).is_some()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<CancellationToken>> {
        // Holds a plain Option; a panic elsewhere cannot leave it inconsistent.
        self.running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Runs queued messages' turns one after another, keeping the conversation. Every
/// message gets exactly one terminal event: `complete`, `error` or `cancelled`.
async fn run_turns(
    mut queue: mpsc::Receiver<Queued>,
    control: Arc<TurnControl>,
    outbound: Outbound,
    agent: Arc<Agent>,
    disconnected: CancellationToken,
    shutdown: CancellationToken,
) {
    let mut history: Vec<ChatMessage> = Vec::new();
    while let Some(queued) = queue.recv().await {
        if disconnected.is_cancelled() || shutdown.is_cancelled() {
            break;
        }
        let turn_id = new_id();
        if queued.epoch != control.epoch() {
            let _ = outbound
                .event(ServerEvent::Cancelled {}, Some(&turn_id))
                .await;
            continue;
        }
        let cancel = disconnected.child_token();
        *control.lock() = Some(cancel.clone());
        let mut sink = TurnSink {
            outbound: &outbound,
            turn_id: &turn_id,
        };
        let turn = agent.run_turn(&turn_id, &queued.content, &history, &mut sink, &cancel);
        let outcome = AssertUnwindSafe(turn).catch_unwind().await;
        control.lock().take();
        match outcome {
            Ok(Ok(summary)) => {
                history.extend(summary.messages);
                if history.len() > MAX_HISTORY {
                    trim_history(&mut history);
                }
            }
            Ok(Err(_)) => {} // The agent has sent `error` or `cancelled`.
            Err(_) => {
                tracing::error!(turn_id = %turn_id, "a turn panicked");
                let _ = outbound
                    .event(
                        ServerEvent::error_with_code(
                            ErrorCode::Internal,
                            "an internal error stopped this turn; the connection is still open",
                        ),
                        Some(&turn_id),
                    )
                    .await;
            }
        }
    }
}

/// Drops the oldest turns, keeping whole turns (each starts with a user message).
fn trim_history(history: &mut Vec<ChatMessage>) {
    let excess = history.len() - MAX_HISTORY;
    let cut = history
        .iter()
        .enumerate()
        .skip(excess)
        .find(|(_, m)| matches!(m, ChatMessage::User(_)))
        .map_or(history.len(), |(at, _)| at);
    history.drain(..cut);
}

/// The agent's view of the connection for one turn.
struct TurnSink<'a> {
    outbound: &'a Outbound,
    turn_id: &'a str,
}

#[async_trait]
impl EventSink for TurnSink<'_> {
    async fn send(&mut self, event: ServerEvent) -> Result<(), SinkClosed> {
        self.outbound.event(event, Some(self.turn_id)).await
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
