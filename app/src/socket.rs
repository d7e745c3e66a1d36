//! The browser's WebSocket client (hydrate only).
//!
//! It connects on load, reconnects after a drop with exponential backoff and jitter,
//! and resumes the stored session so that no event of a running turn is lost or
//! shown twice. The conversation is saved to local storage when a turn ends, on the
//! user's actions and when the page is hidden: never per streamed piece.

use std::time::Duration;

mod connection;
mod conversations;

use leptos::{ev, prelude::*};
use protocol::{
    ClientMessage, ConversationSummary, ErrorCode, LlmDescriptor, ServerEvent, ToolDescriptor,
};

use self::connection::{Connection, Event};
use crate::{
    chat::{Applied, Conversation, TurnCell, TurnError},
    i18n::Text,
    perf,
    state::{ChatState, Status},
    storage,
};

/// The first reconnection delay; it doubles per attempt up to `MAX_BACKOFF_MS`, and
/// each delay is randomised between half and all of it so that clients dropped
/// together do not return together.
const FIRST_BACKOFF_MS: f64 = 500.0;
const MAX_BACKOFF_MS: f64 = 15_000.0;

/// Close codes the server uses on purpose.
const CLOSE_POLICY: u16 = 1008;
const CLOSE_TAKEN_OVER: u16 = 4000;

/// A handle on the page's one connection. `Copy`: every field is a stored handle.
#[derive(Clone, Copy)]
pub struct Socket {
    state: ChatState,
    /// The current connection; `None` when there is none.
    outbox: StoredValue<Option<Connection>, LocalStorage>,
    /// Bumped whenever a connection is replaced, so a stale one changes nothing.
    generation: StoredValue<u64>,
    /// Failed attempts since the last good connection, for the backoff.
    attempts: StoredValue<u32>,
    /// The user chose to stay offline, or the server needs something from them.
    manual: StoredValue<bool>,
    /// The stored session this connection asked to resume, until the server answers.
    resuming: StoredValue<Option<String>>,
    /// The session the server opened for this connection, used if resuming fails.
    fresh: StoredValue<Option<String>>,
}

impl Socket {
    pub fn new(state: ChatState) -> Self {
        Self {
            state,
            outbox: StoredValue::new_local(None),
            generation: StoredValue::new(0),
            attempts: StoredValue::new(0),
            manual: StoredValue::new(false),
            resuming: StoredValue::new(None),
            fresh: StoredValue::new(None),
        }
    }

    /// Restores the saved conversation and connects (once, after hydration).
    pub fn start(self) {
        if let Some(saved) = storage::load_conversation() {
            self.state.reset(saved);
        }
        // Back online: try at once instead of waiting for the backoff.
        let _ = window_event_listener(ev::online, move |_| {
            if self.state.status.get_untracked() == Status::Reconnecting {
                self.open();
            }
        });
        // What streamed since the last turn ended is kept when the page goes away.
        let _ = window_event_listener(ev::pagehide, move |_| self.save());
        self.refresh_conversations();
        self.open();
    }

    /// The Connect button: connect now, resuming the stored session.
    pub fn connect_now(self) {
        self.manual.set_value(false);
        self.attempts.set_value(0);
        self.state.notice.set(None);
        self.open();
    }

    /// The Disconnect button. The server keeps the session for a while, so Connect
    /// resumes it, running turn included.
    pub fn disconnect(self) {
        self.manual.set_value(true);
        self.drop_connection();
        self.state.status.set(Status::Offline);
    }

    /// The New chat button: stop what runs, forget the conversation, start a session.
    pub fn new_chat(self) {
        if self
            .state
            .conversation
            .with_untracked(Conversation::is_busy)
        {
            self.stop();
        }
        self.drop_connection();
        self.state.reset(Conversation::default());
        self.state.announcement.set(String::new());
        storage::clear_conversation();
        self.connect_now();
    }

    /// Sends a user message.
    pub fn send(self, content: String) {
        self.state.change(|c| c.ask(content.clone()));
        self.submit(&ClientMessage::Message { content });
    }

    /// Replaces the last question with `content`; the server answers it afresh.
    pub fn edit(self, content: String) {
        if let Some(Some(_)) = self.state.change(|c| c.edit(content.clone())) {
            self.submit(&ClientMessage::Edit { content });
        }
    }

    /// Asks for a new answer to the last question.
    pub fn regenerate(self) {
        if let Some(Some(_)) = self.state.change(|c| c.regenerate()) {
            self.submit(&ClientMessage::Regenerate {});
        }
    }

    /// Saves the turn just recorded and sends its message, or fails the turn when
    /// there is no connection.
    fn submit(self, message: &ClientMessage) {
        if !self.transmit(message) {
            self.refuse(TurnError {
                code: None,
                message: "not connected".into(),
            });
        }
        self.save();
    }

    fn refuse(self, error: TurnError) {
        if let Some(Some(local_id)) = self.state.change(|c| c.refuse_latest(error)) {
            self.state.notify_turn(local_id);
        }
    }

    /// Approve or Deny on a tool card.
    pub fn answer_approval(self, call_id: String, approved: bool) {
        self.transmit(&if approved {
            ClientMessage::Approve { call_id }
        } else {
            ClientMessage::Deny {
                call_id,
                reason: None,
            }
        });
    }

    /// The Stop button: cancels the running turn and the queued ones.
    pub fn stop(self) {
        self.transmit(&ClientMessage::Cancel {});
    }

    /// The API key form: remember the key and connect with it.
    pub fn use_api_key(self, key: String) {
        storage::set_api_key(&key);
        self.state.needs_key.set(false);
        self.connect_now();
    }

    fn transmit(self, message: &ClientMessage) -> bool {
        let Ok(text) = serde_json::to_string(message) else {
            return false;
        };
        self.outbox
            .with_value(|outbox| outbox.as_ref().is_some_and(|c| c.send(text)))
    }

    fn save(self) {
        self.state
            .conversation
            .with_untracked(storage::save_conversation);
    }

    /// Forgets the current connection, which closes it.
    fn drop_connection(self) {
        self.generation.update_value(|g| *g += 1);
        self.outbox.set_value(None);
        self.resuming.set_value(None);
        self.fresh.set_value(None);
    }

    /// Opens a connection, unless one is open.
    fn open(self) {
        if self.outbox.with_value(Option::is_some) {
            return;
        }
        let mut protocols = vec!["toolstream".to_owned()];
        if let Some(key) = storage::api_key() {
            protocols.push(format!("bearer.{key}"));
        }
        self.generation.update_value(|g| *g += 1);
        let generation = self.generation.get_value();
        let current = move || self.generation.get_value() == generation;
        let opened = Connection::open(&endpoint(), &protocols, move |event| {
            if !current() {
                return; // A replaced connection changes nothing.
            }
            match event {
                Event::Text(text) => self.receive(&text),
                Event::Closed(code) => self.closed(code),
            }
        });
        let Some(connection) = opened else {
            // The browser refuses a key that cannot be a subprotocol (spaces, `/`,
            // `=`): retrying cannot help, so ask for the key again.
            if protocols.len() > 1 {
                self.manual.set_value(true);
                self.state.needs_key.set(true);
                return self.state.status.set(Status::Offline);
            }
            return self.schedule_reconnect();
        };
        self.state.status.set(if self.attempts.get_value() == 0 {
            Status::Connecting
        } else {
            Status::Reconnecting
        });
        self.outbox.set_value(Some(connection));
    }

    /// The connection ended without the user asking.
    fn closed(self, code: Option<u16>) {
        self.outbox.set_value(None);
        self.resuming.set_value(None);
        self.fresh.set_value(None);
        match code {
            Some(CLOSE_POLICY) => {
                self.manual.set_value(true);
                self.state.needs_key.set(true);
                self.state.status.set(Status::Offline);
            }
            Some(CLOSE_TAKEN_OVER) => {
                self.manual.set_value(true);
                self.state
                    .notice
                    .set(Some(crate::i18n::t(self.state.lang, Text::TakenOver)));
                self.state.status.set(Status::Offline);
            }
            _ if self.manual.get_value() => self.state.status.set(Status::Offline),
            _ => self.schedule_reconnect(),
        }
    }

    fn schedule_reconnect(self) {
        let attempt = self.attempts.get_value();
        self.attempts.set_value(attempt + 1);
        let base = (FIRST_BACKOFF_MS * 2f64.powi(attempt.min(8) as i32)).min(MAX_BACKOFF_MS);
        let delay = base * (0.5 + js_sys::Math::random() * 0.5);
        self.state.status.set(Status::Reconnecting);
        let generation = self.generation.get_value();
        set_timeout(
            move || {
                let still_wanted = self.generation.get_value() == generation
                    && !self.manual.get_value()
                    && self.outbox.with_value(Option::is_none);
                if still_wanted {
                    self.open();
                }
            },
            Duration::from_millis(delay as u64),
        );
    }

    /// Applies one server frame.
    fn receive(self, text: &str) {
        let _timing = perf::Span::start(perf::FRAME);
        let Some(frame) = crate::wire::decode(text) else {
            return; // A type this client does not know yet.
        };
        match &frame.event {
            ServerEvent::Ready {
                session_id,
                llm,
                tools,
                conversation,
                ..
            } => return self.ready(session_id, llm, tools, conversation.as_ref()),
            ServerEvent::Error { code, message } if frame.turn_id.is_none() => {
                return self.connection_error(*code, message);
            }
            ServerEvent::ToolsChanged { tools } => return self.state.tools.set(tools.clone()),
            _ => {}
        }
        let applied = self.state.apply(&frame);
        // Saved when a turn ends: the saved `last_seq` then predates what streams
        // in between, and a resume after a reload sends it again.
        if let Applied::Turn {
            local_id,
            finished: true,
            ..
        } = applied
        {
            self.announce(local_id);
            self.save();
        }
        // The list shows a new conversation (titled by its first question) as its
        // first turn starts, and each turn's count and time.
        if matches!(
            frame.event,
            ServerEvent::Start { .. } | ServerEvent::Complete { .. }
        ) && applied != Applied::Nothing
        {
            self.refresh_conversations();
        }
    }

    fn ready(
        self,
        session_id: &str,
        llm: &LlmDescriptor,
        tools: &[ToolDescriptor],
        summary: Option<&ConversationSummary>,
    ) {
        self.state.llm.set(Some(llm.clone()));
        self.state.tools.set(tools.to_vec());
        let stored = self
            .state
            .conversation
            .with_untracked(|c| c.session_id.clone());
        let resumed = self
            .resuming
            .with_value(|r| r.as_deref() == Some(session_id));
        match stored {
            _ if resumed => self.resuming.set_value(None),
            // A new connection and an earlier session to continue: ask for it.
            Some(stored) if stored != session_id && self.fresh.with_value(Option::is_none) => {
                self.fresh.set_value(Some(session_id.to_owned()));
                self.resuming.set_value(Some(stored.clone()));
                let last_seq = self.state.conversation.with_untracked(|c| c.last_seq);
                self.transmit(&ClientMessage::Resume {
                    session_id: stored,
                    last_seq,
                });
                return; // Connected once the server answers.
            }
            _ => self.switch_session(session_id.to_owned()),
        }
        if let Some(usage) = summary.and_then(|s| s.usage) {
            self.state.change(|c| c.usage = Some(usage));
        }
        self.connected();
    }

    fn switch_session(self, session_id: String) {
        let interrupted = self.state.change(|c| c.switch_session(session_id));
        for local_id in interrupted.unwrap_or_default() {
            self.state.notify_turn(local_id);
        }
        self.save();
    }

    fn connected(self) {
        self.attempts.set_value(0);
        self.state.status.set(Status::Connected);
        self.state.notice.set(None);
    }

    /// An error not tied to a turn: about resuming, or about the last message sent.
    fn connection_error(self, code: Option<ErrorCode>, message: &str) {
        match code {
            Some(ErrorCode::SessionExpired) => {
                // The server no longer has the session: continue in the fresh one.
                let fresh = self.fresh.with_value(Clone::clone);
                if let Some(fresh) = fresh {
                    self.switch_session(fresh);
                }
                self.resuming.set_value(None);
                self.connected();
            }
            Some(ErrorCode::ResumeGap) => {}
            _ => {
                self.refuse(TurnError {
                    code,
                    message: message.to_owned(),
                });
                self.save();
            }
        }
    }

    /// Tells screen readers how a turn ended.
    fn announce(self, local_id: u64) {
        let text = self.state.conversation.with_untracked(|c| {
            c.cell(local_id).map(|cell| {
                cell.read_turn(|turn| match &turn.error {
                    Some(error) => error.message.clone(),
                    None => turn.answer.clone(),
                })
            })
        });
        if let Some(text) = text.filter(|t| !t.is_empty()) {
            self.state.announcement.set(text);
        }
    }
}

/// `ws://` or `wss://` plus this page's host, `/ws`.
fn endpoint() -> String {
    let location = window().location();
    let scheme = match location.protocol().as_deref() {
        Ok("https:") => "wss",
        _ => "ws",
    };
    let host = location.host().unwrap_or_default();
    format!("{scheme}://{host}/ws")
}
