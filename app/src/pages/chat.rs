//! The chat page: status bar, transcript and composer, wired to the WebSocket.

use leptos::prelude::*;

use crate::{
    chat::{Entry, EntryKind, Status},
    components::{composer::Composer, transcript::Transcript},
};

/// Everything the page's parts share.
#[derive(Clone, Copy)]
pub struct ChatState {
    pub entries: ReadSignal<Vec<Entry>>,
    pub set_entries: WriteSignal<Vec<Entry>>,
    pub status: RwSignal<Status>,
    /// The active LLM's label, from the server's `ready` event.
    pub llm: RwSignal<Option<String>>,
    next_id: StoredValue<u64>,
}

impl ChatState {
    fn new() -> Self {
        let (entries, set_entries) = signal(Vec::new());
        Self {
            entries,
            set_entries,
            status: RwSignal::new(Status::Connecting),
            llm: RwSignal::new(None),
            next_id: StoredValue::new(0),
        }
    }

    /// A fresh entry id.
    pub fn next_id(&self) -> u64 {
        self.next_id.update_value(|id| *id += 1);
        self.next_id.get_value()
    }

    pub fn push(&self, entry: Entry) {
        self.set_entries.update(|entries| entries.push(entry));
    }

    pub fn notice(&self, text: impl Into<String>) {
        let id = self.next_id();
        self.push(Entry {
            id,
            kind: EntryKind::Notice,
            label: None,
            text: text.into(),
            failed: false,
        });
    }
}

#[component]
pub fn ChatPage() -> impl IntoView {
    let state = ChatState::new();
    #[cfg(feature = "hydrate")]
    let socket = crate::socket::Socket::new(state);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| socket.connect());

    let connect = move |_| {
        #[cfg(feature = "hydrate")]
        socket.connect();
    };
    let disconnect = move |_| {
        #[cfg(feature = "hydrate")]
        socket.disconnect();
    };
    let send = move |text: String| {
        let id = state.next_id();
        state.push(Entry {
            id,
            kind: EntryKind::User,
            label: None,
            text: text.clone(),
            failed: false,
        });
        #[cfg(feature = "hydrate")]
        socket.send(text);
        #[cfg(not(feature = "hydrate"))]
        let _ = text;
    };

    let status = state.status;
    let connected = Signal::derive(move || status.get() == Status::Connected);
    view! {
        <main class="chat">
            <header class="chat-header">
                <h1>"toolstream"</h1>
                <p class="status" data-status=move || status.get().as_str() role="status">
                    <span class="status-dot" aria-hidden="true"></span>
                    {move || status.get().label()}
                </p>
                <p class="llm">
                    "LLM: "
                    <span class="llm-label">{move || state.llm.get().unwrap_or_else(|| "—".into())}</span>
                </p>
                <div class="connection-buttons">
                    <button type="button" on:click=connect disabled=move || status.get() != Status::Disconnected>
                        "Connect"
                    </button>
                    <button type="button" on:click=disconnect disabled=move || status.get() == Status::Disconnected>
                        "Disconnect"
                    </button>
                </div>
            </header>
            <Transcript entries=state.entries />
            <Composer enabled=connected on_send=send />
        </main>
    }
}
