//! The reading side of a connection: frames from the client (questions, cancel,
//! resume, approvals), the session's events on their way out, tool list changes, and
//! pings, until one of them ends the connection.

use std::{sync::Arc, time::Instant};

use axum::extract::ws::Message;
use futures::{Stream, StreamExt};
use protocol::{ClientMessage, ErrorCode, ServerEvent};
use tokio::sync::watch;

use super::{
    current::{Current, ready},
    outbound::Outbound,
    rate::RateLimiter,
    tools::descriptors,
    writer::Outgoing,
};
use crate::{
    agent::SinkClosed,
    limits::ClientConnection,
    owner::Owner,
    session::{OpenError, QueueError, TurnKind},
    state::AppState,
    tools::ToolInfo,
};

/// How a connection ended.
pub(super) enum End {
    /// The client closed, the socket broke, or the peer stopped answering pings.
    Gone,
    /// A frame was larger than the limit (close 1009).
    TooBig,
    /// Another connection resumed the session (close 4000).
    TakenOver,
    /// The server is shutting down (close 1001 once the turn in flight ends).
    Shutdown,
}

/// The reading side of a connection and what it needs to act on frames.
pub(super) struct Reader<'a, R> {
    pub(super) stream: R,
    pub(super) outbound: &'a Outbound,
    pub(super) connection: &'a str,
    pub(super) state: &'a AppState,
    pub(super) owner: &'a Owner,
    /// Its client address's share: rates frames across all its connections.
    pub(super) client: &'a ClientConnection,
    pub(super) limiter: RateLimiter,
    /// When the peer last sent anything (a pong included).
    pub(super) last_seen: Instant,
    /// The tool list, forwarded as `tools_changed` when it changes.
    pub(super) tools: watch::Receiver<Arc<[ToolInfo]>>,
}

impl<R> Reader<'_, R>
where
    R: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    pub(super) async fn run(mut self, current: &mut Current) -> End {
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
        match self.state.hub.enqueue(&current.session, kind, true) {
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
