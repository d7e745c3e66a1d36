//! The browser's WebSocket client (hydrate only): connects to `/ws`, sends user
//! messages, and turns server events into transcript entries.

use futures::{SinkExt, StreamExt, channel::mpsc};
use gloo_net::websocket::{Message, futures::WebSocket};
use leptos::{prelude::*, task::spawn_local};
use protocol::{ClientMessage, ServerEvent, ServerFrame};

use crate::{
    chat::{Status, entry_for},
    pages::chat::ChatState,
};

/// A handle on the page's one connection.
#[derive(Clone, Copy)]
pub struct Socket {
    state: ChatState,
    /// Sends to the current connection's writer; `None` when disconnected.
    outbox: StoredValue<Option<mpsc::UnboundedSender<String>>, LocalStorage>,
    /// Bumped on every connect, so a stale connection's reader cannot touch the state.
    generation: StoredValue<u64>,
}

impl Socket {
    pub fn new(state: ChatState) -> Self {
        Self {
            state,
            outbox: StoredValue::new_local(None),
            generation: StoredValue::new(0),
        }
    }

    /// Opens a connection, unless one is open.
    pub fn connect(self) {
        if self.outbox.with_value(Option::is_some) {
            return;
        }
        let state = self.state;
        let socket = match WebSocket::open(&endpoint()) {
            Ok(socket) => socket,
            Err(error) => {
                state.status.set(Status::Disconnected);
                state.notice(format!("Cannot connect: {error}"));
                return;
            }
        };
        state.status.set(Status::Connecting);
        self.generation.update_value(|g| *g += 1);
        let generation = self.generation.get_value();
        let current = move || self.generation.get_value() == generation;
        let (outbox, mut pending) = mpsc::unbounded::<String>();
        self.outbox.set_value(Some(outbox));

        // One task owns the socket: dropping it (when the outbox closes on Disconnect,
        // or the server goes away) is what closes the connection.
        spawn_local(async move {
            let mut socket = socket.fuse();
            loop {
                futures::select! {
                    outgoing = pending.next() => match outgoing {
                        Some(text) => {
                            if socket.send(Message::Text(text)).await.is_err() {
                                break;
                            }
                        }
                        None => break,
                    },
                    incoming = socket.next() => match incoming {
                        Some(Ok(Message::Text(text))) if current() => receive(state, &text),
                        Some(Ok(_)) => {}
                        Some(Err(_)) | None => break,
                    },
                }
            }
            drop(socket);
            if current() {
                self.outbox.set_value(None);
                state.status.set(Status::Disconnected);
                state.notice("Disconnected");
            }
        });
    }

    /// Closes the connection, if one is open.
    pub fn disconnect(self) {
        if self.outbox.with_value(Option::is_none) {
            return;
        }
        // The old connection's task sees it is stale and drops the socket.
        self.generation.update_value(|g| *g += 1);
        self.outbox.set_value(None);
        self.state.status.set(Status::Disconnected);
        self.state.notice("Disconnected");
    }

    /// Sends a user message on the open connection.
    pub fn send(self, content: String) {
        let frame = ClientMessage::Message { content };
        let Ok(text) = serde_json::to_string(&frame) else {
            return;
        };
        let sent = self.outbox.with_value(|outbox| {
            outbox
                .as_ref()
                .is_some_and(|tx| tx.unbounded_send(text).is_ok())
        });
        if !sent {
            self.state.notice("Not connected: press Connect first");
        }
    }
}

/// Applies one server frame to the page.
fn receive(state: ChatState, text: &str) {
    let Ok(frame) = serde_json::from_str::<ServerFrame>(text) else {
        return; // An event type this client does not know yet.
    };
    if let ServerEvent::Ready { llm, .. } = &frame.event {
        state.status.set(Status::Connected);
        state.llm.set(Some(llm.label.clone()));
        state.notice("Connected to the agent");
    }
    if let Some(entry) = entry_for(state.next_id(), &frame) {
        state.push(entry);
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
