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
        let (mut writer, mut reader) = socket.split();
        let (outbox, mut pending) = mpsc::unbounded::<String>();
        self.outbox.set_value(Some(outbox));

        spawn_local(async move {
            while let Some(text) = pending.next().await {
                if writer.send(Message::Text(text)).await.is_err() {
                    break;
                }
            }
            let _ = writer.close().await;
        });

        spawn_local(async move {
            while let Some(message) = reader.next().await {
                let Ok(Message::Text(text)) = message else {
                    if message.is_err() {
                        break;
                    }
                    continue;
                };
                let Ok(frame) = serde_json::from_str::<ServerFrame>(&text) else {
                    continue; // An event type this client does not know yet.
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
            if self.generation.get_value() == generation {
                self.outbox.set_value(None);
                state.status.set(Status::Disconnected);
                state.notice("Disconnected");
            }
        });
    }

    /// Closes the connection, if one is open.
    pub fn disconnect(self) {
        // Dropping the sender ends the writer, which closes the socket.
        self.outbox.set_value(None);
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
