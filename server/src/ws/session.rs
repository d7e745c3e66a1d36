//! A chat session: the conversation, the log of its events with sequence numbers, and
//! a worker that runs its turns one at a time. Events of two turns never interleave.
//!
//! Every turn event is numbered (`seq`), serialised once, kept in a bounded log and
//! sent to the attached connection, if any. A connection that resumes the session
//! gets the events it missed from the log, then the live ones.

use std::{
    collections::VecDeque,
    panic::AssertUnwindSafe,
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use async_trait::async_trait;
use axum::extract::ws::Utf8Bytes;
use futures::FutureExt;
use protocol::{ErrorCode, ServerEvent, ServerFrame};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{
    agent::{
        Agent, ApprovalInbox, ApprovalSender, Decision, EventSink, PendingApprovals, SinkClosed,
        approval::DecideError, approval_channel,
    },
    llm::ChatMessage,
};

/// Conversation entries kept for the model's context.
const MAX_HISTORY: usize = 64;
/// Events kept for resume, and their total size.
const LOG_MAX_EVENTS: usize = 512;
const LOG_MAX_BYTES: usize = 512 * 1024;

/// What a connection's writer task sends.
#[derive(Debug)]
pub enum Outgoing {
    Text(Utf8Bytes),
    Close(u16, &'static str),
}

/// The sending side of a connection, as a session sees it.
#[derive(Clone)]
pub struct Attachment {
    pub connection: u64,
    pub tx: mpsc::Sender<Outgoing>,
}

/// A user message waiting for its turn.
struct Queued {
    /// The cancel epoch when it arrived: a later `cancel` drops it.
    epoch: u64,
    content: String,
}

/// Why a message was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueError {
    /// The queue is full.
    Busy,
    /// The session has ended.
    Closed,
}

/// What a `resume` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resumed {
    /// Events the client missed and that were replayed.
    pub replayed: usize,
    /// Some missed events had already left the bounded log.
    pub gap: bool,
}

pub struct Session {
    id: String,
    state: Mutex<State>,
    queue: mpsc::Sender<Queued>,
    /// Bumped by every `cancel`, so messages queued before it are dropped too.
    epoch: AtomicU64,
    /// The running turn's token, for `cancel`.
    running: Mutex<Option<CancellationToken>>,
    /// Whether a turn is running; shutdown waits for it to turn false.
    busy: watch::Sender<bool>,
    /// Cancelled when the session ends: stops its turn and its worker.
    closed: CancellationToken,
    /// Answers the tool calls its turns wait to have approved.
    approvals: ApprovalSender,
}

struct State {
    next_seq: u64,
    log: VecDeque<(u64, Utf8Bytes)>,
    log_bytes: usize,
    attached: Option<Attachment>,
    detached_since: Option<Instant>,
}

impl Session {
    /// Creates a session and starts its worker.
    pub fn start(
        id: String,
        agent: Arc<Agent>,
        max_queued: usize,
        shutdown: CancellationToken,
        pending: Arc<PendingApprovals>,
    ) -> Arc<Self> {
        let (queue, queue_rx) = mpsc::channel(max_queued.max(1));
        let (approvals, inbox) = approval_channel();
        let inbox = inbox.indexed(pending);
        let session = Arc::new(Self {
            id,
            state: Mutex::new(State {
                next_seq: 1,
                log: VecDeque::new(),
                log_bytes: 0,
                attached: None,
                detached_since: Some(Instant::now()),
            }),
            queue,
            epoch: AtomicU64::new(0),
            running: Mutex::new(None),
            busy: watch::Sender::new(false),
            closed: CancellationToken::new(),
            approvals,
        });
        let span = tracing::info_span!("session", session_id = %session.id);
        tokio::spawn(
            Arc::clone(&session)
                .work(queue_rx, agent, inbox, shutdown)
                .instrument(span),
        );
        session
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Plain data updated in small critical sections; a panic cannot tear it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn running(&self) -> MutexGuard<'_, Option<CancellationToken>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a user message for its turn.
    pub fn enqueue(&self, content: String) -> Result<(), QueueError> {
        let queued = Queued {
            epoch: self.epoch.load(Ordering::Acquire),
            content,
        };
        self.queue.try_send(queued).map_err(|error| match error {
            mpsc::error::TrySendError::Full(_) => QueueError::Busy,
            mpsc::error::TrySendError::Closed(_) => QueueError::Closed,
        })
    }

    /// Answers a tool call of this session's running turn waiting for approval.
    pub fn decide(&self, call_id: &str, decision: Decision) -> Result<(), DecideError> {
        self.approvals.decide(call_id, decision)
    }

    /// Cancels the running turn and everything queued; says whether a turn was running.
    pub fn cancel(&self) -> bool {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        let running = self.running().take();
        running.map(|token| token.cancel()).is_some()
    }

    /// Attaches a connection, replaying the events after `last_seq` first (for
    /// `resume`). A connection the session was attached to before is told to close.
    pub fn attach(&self, attachment: Attachment, last_seq: Option<u64>) -> Resumed {
        let mut state = self.state();
        let mut resumed = Resumed {
            replayed: 0,
            gap: false,
        };
        if let Some(last_seq) = last_seq {
            let oldest = state.log.front().map_or(state.next_seq, |(seq, _)| *seq);
            resumed.gap = last_seq.saturating_add(1) < oldest;
            for (_, frame) in state.log.iter().filter(|(seq, _)| *seq > last_seq) {
                // The connection's queue is larger than the log and still empty of
                // turn events, so this cannot fill it; a failure means it is gone.
                if attachment
                    .tx
                    .try_send(Outgoing::Text(frame.clone()))
                    .is_err()
                {
                    break;
                }
                resumed.replayed += 1;
            }
        }
        if let Some(previous) = state.attached.replace(attachment)
            && let Some(current) = &state.attached
            && previous.connection != current.connection
        {
            let _ = previous.tx.try_send(Outgoing::Close(
                4000,
                "session resumed on another connection",
            ));
        }
        state.detached_since = None;
        resumed
    }

    /// Detaches `connection`, if it is the attached one.
    pub fn detach(&self, connection: u64) {
        let mut state = self.state();
        if state
            .attached
            .as_ref()
            .is_some_and(|a| a.connection == connection)
        {
            state.attached = None;
            state.detached_since = Some(Instant::now());
        }
    }

    pub fn is_detached(&self) -> bool {
        self.state().attached.is_none()
    }

    /// How long no connection has held the session, if none does.
    pub fn detached_for(&self) -> Option<Duration> {
        self.state().detached_since.map(|since| since.elapsed())
    }

    /// Ends the session: cancels its turn and stops its worker.
    pub fn close(&self) {
        self.closed.cancel();
    }

    /// Resolves once no turn is running.
    pub async fn idle(&self) {
        let mut busy = self.busy.subscribe();
        let _ = busy.wait_for(|busy| !busy).await;
    }

    /// Numbers, serialises, logs and delivers one turn event.
    async fn publish(&self, event: ServerEvent, turn_id: &str) {
        let (frame, target) = {
            let mut state = self.state();
            let seq = state.next_seq;
            state.next_seq += 1;
            let frame = ServerFrame {
                event,
                turn_id: Some(turn_id.to_owned()),
                seq: Some(seq),
                ts_ms: Some(now_ms()),
            };
            let Ok(text) = serde_json::to_string(&frame) else {
                return; // These types always serialise.
            };
            let text = Utf8Bytes::from(text);
            state.log_bytes += text.len();
            state.log.push_back((seq, text.clone()));
            while state.log.len() > LOG_MAX_EVENTS || state.log_bytes > LOG_MAX_BYTES {
                let Some((_, dropped)) = state.log.pop_front() else {
                    break;
                };
                state.log_bytes -= dropped.len();
            }
            (text, state.attached.clone())
        };
        // Sent outside the lock: a slow client slows its own turns, nobody else's.
        if let Some(attachment) = target
            && attachment.tx.send(Outgoing::Text(frame)).await.is_err()
        {
            self.detach(attachment.connection);
        }
    }

    /// Runs queued messages' turns one after another, keeping the conversation. Every
    /// message gets exactly one terminal event: `complete`, `error` or `cancelled`.
    async fn work(
        self: Arc<Self>,
        mut queue: mpsc::Receiver<Queued>,
        agent: Arc<Agent>,
        approvals: ApprovalInbox,
        shutdown: CancellationToken,
    ) {
        let mut history: Vec<ChatMessage> = Vec::new();
        loop {
            let queued = tokio::select! {
                queued = queue.recv() => match queued {
                    Some(queued) => queued,
                    None => break,
                },
                () = self.closed.cancelled() => break,
            };
            // No new turns once shutdown began; the connection is closing.
            if shutdown.is_cancelled() {
                break;
            }
            let turn_id = super::connection::new_id();
            if queued.epoch != self.epoch.load(Ordering::Acquire) {
                self.publish(ServerEvent::Cancelled {}, &turn_id).await;
                continue;
            }
            let cancel = self.closed.child_token();
            *self.running() = Some(cancel.clone());
            self.busy.send_replace(true);
            let mut sink = SessionSink {
                session: &self,
                turn_id: &turn_id,
            };
            // Boxed, so an idle session's task stays small: the turn's state machine
            // is allocated only while a turn runs.
            let turn = Box::pin(agent.run_turn(
                &turn_id,
                &queued.content,
                &history,
                &mut sink,
                &approvals,
                &cancel,
            ));
            let outcome = AssertUnwindSafe(turn).catch_unwind().await;
            self.running().take();
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
                    agent.record_panic();
                    let event = ServerEvent::error_with_code(
                        ErrorCode::Internal,
                        "an internal error stopped this turn; the connection is still open",
                    );
                    self.publish(event, &turn_id).await;
                }
            }
            self.busy.send_replace(false);
        }
        self.busy.send_replace(false);
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

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The agent's view of the session for one turn. Publishing never fails: with no
/// connection attached, events wait in the log for a `resume`.
struct SessionSink<'a> {
    session: &'a Session,
    turn_id: &'a str,
}

#[async_trait]
impl EventSink for SessionSink<'_> {
    async fn send(&mut self, event: ServerEvent) -> Result<(), SinkClosed> {
        self.session.publish(event, self.turn_id).await;
        Ok(())
    }
}
