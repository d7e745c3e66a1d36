//! The chat page: header, tools, transcript and composer, wired to the WebSocket.

use leptos::prelude::*;
use protocol::{LlmDescriptor, ToolDescriptor};

use crate::{
    chat::Conversation,
    components::{
        composer::Composer, header::Header, tools_panel::ToolsPanel, transcript::Transcript,
    },
    i18n::{Lang, Text, t},
    ui_lang,
};

/// The connection as the UI shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Connecting,
    Connected,
    Reconnecting,
    /// Not connected and not trying (the user disconnected, or a key is needed).
    Offline,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Connected => "connected",
            Self::Reconnecting => "reconnecting",
            Self::Offline => "offline",
        }
    }

    pub fn label(self, lang: Lang) -> &'static str {
        t(
            lang,
            match self {
                Self::Connecting => Text::Connecting,
                Self::Connected => Text::Connected,
                Self::Reconnecting => Text::Reconnecting,
                Self::Offline => Text::Offline,
            },
        )
    }
}

/// Everything the page's parts share. `Copy`: every field is a signal handle.
#[derive(Clone, Copy)]
pub struct ChatState {
    pub lang: Lang,
    pub conversation: RwSignal<Conversation>,
    pub status: RwSignal<Status>,
    /// The active LLM, from `ready`.
    pub llm: RwSignal<Option<LlmDescriptor>>,
    /// The toolbox's tools, from `ready`.
    pub tools: RwSignal<Vec<ToolDescriptor>>,
    /// The latest finished answer, for the screen-reader live region.
    pub announcement: RwSignal<String>,
    /// A message about the connection, shown above the composer.
    pub notice: RwSignal<Option<&'static str>>,
    /// The server closed with 1008: ask for an API key.
    pub needs_key: RwSignal<bool>,
}

impl ChatState {
    fn new(lang: Lang) -> Self {
        Self {
            lang,
            conversation: RwSignal::new(Conversation::default()),
            status: RwSignal::new(Status::Connecting),
            llm: RwSignal::new(None),
            tools: RwSignal::new(Vec::new()),
            announcement: RwSignal::new(String::new()),
            notice: RwSignal::new(None),
            needs_key: RwSignal::new(false),
        }
    }
}

/// What the page's controls do. In the browser they drive the WebSocket; while
/// rendering on the server they are never called.
#[derive(Clone, Copy)]
pub struct Actions {
    #[cfg(feature = "hydrate")]
    socket: crate::socket::Socket,
    state: ChatState,
}

impl Actions {
    pub fn connect(self) {
        #[cfg(feature = "hydrate")]
        self.socket.connect_now();
    }

    pub fn disconnect(self) {
        #[cfg(feature = "hydrate")]
        self.socket.disconnect();
    }

    pub fn new_chat(self) {
        #[cfg(feature = "hydrate")]
        self.socket.new_chat();
    }

    pub fn send(self, text: String) {
        #[cfg(feature = "hydrate")]
        self.socket.send(text);
        #[cfg(not(feature = "hydrate"))]
        let _ = (text, self.state);
    }

    pub fn stop(self) {
        #[cfg(feature = "hydrate")]
        self.socket.stop();
    }

    pub fn use_api_key(self, key: String) {
        #[cfg(feature = "hydrate")]
        self.socket.use_api_key(key);
        #[cfg(not(feature = "hydrate"))]
        let _ = key;
    }

    pub fn state(self) -> ChatState {
        self.state
    }
}

#[component]
pub fn ChatPage() -> impl IntoView {
    let state = ChatState::new(ui_lang());
    let actions = Actions {
        #[cfg(feature = "hydrate")]
        socket: crate::socket::Socket::new(state),
        state,
    };
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| actions.socket.start());
    provide_context(actions);

    let lang = state.lang;
    view! {
        <main class="chat">
            <Header />
            <ToolsPanel />
            <Transcript />
            <div class="visually-hidden" aria-live="polite" aria-atomic="true">
                {move || state.announcement.get()}
            </div>
            {move || {
                state
                    .notice
                    .get()
                    .map(|text| view! { <p class="notice" role="status">{text}</p> })
            }}
            <Show when=move || state.needs_key.get()>
                <ApiKeyForm lang />
            </Show>
            <Composer />
        </main>
    }
}

/// Asks for the API key when the server requires one.
#[component]
fn ApiKeyForm(lang: Lang) -> impl IntoView {
    let actions = expect_context::<Actions>();
    let (key, set_key) = signal(String::new());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let key = key.get_untracked().trim().to_owned();
        if !key.is_empty() {
            actions.use_api_key(key);
        }
    };
    view! {
        <form class="api-key" on:submit=submit>
            <p>{t(lang, Text::ApiKeyNeeded)}</p>
            <label for="api-key">{t(lang, Text::ApiKeyLabel)}</label>
            <input
                id="api-key"
                type="password"
                autocomplete="off"
                prop:value=key
                on:input=move |ev| set_key.set(event_target_value(&ev))
            />
            <button type="submit">{t(lang, Text::ApiKeySave)}</button>
        </form>
    }
}
