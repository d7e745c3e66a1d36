//! The chat page: header, tools, transcript and composer, wired to the WebSocket.

use leptos::prelude::*;

use crate::{
    components::{
        composer::Composer, header::Header, sidebar::Sidebar, tools_panel::ToolsPanel,
        transcript::Transcript, usage::UsageTotal,
    },
    i18n::{Lang, Text, t},
    state::ChatState,
    ui_lang,
};

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

    /// Replaces the last question with `text` and asks it.
    pub fn edit(self, text: String) {
        #[cfg(feature = "hydrate")]
        self.socket.edit(text);
        #[cfg(not(feature = "hydrate"))]
        let _ = text;
    }

    /// Asks the last question again.
    pub fn regenerate(self) {
        #[cfg(feature = "hydrate")]
        self.socket.regenerate();
    }

    /// Lets the tool call `call_id` run.
    pub fn approve(self, call_id: String) {
        #[cfg(feature = "hydrate")]
        self.socket.answer_approval(call_id, true);
        #[cfg(not(feature = "hydrate"))]
        let _ = call_id;
    }

    /// Refuses the tool call `call_id`.
    pub fn deny(self, call_id: String) {
        #[cfg(feature = "hydrate")]
        self.socket.answer_approval(call_id, false);
        #[cfg(not(feature = "hydrate"))]
        let _ = call_id;
    }

    pub fn open_conversation(self, id: String) {
        #[cfg(feature = "hydrate")]
        self.socket.open_conversation(id);
        #[cfg(not(feature = "hydrate"))]
        let _ = id;
    }

    pub fn rename_conversation(self, id: String, title: String) {
        #[cfg(feature = "hydrate")]
        self.socket.rename_conversation(id, title);
        #[cfg(not(feature = "hydrate"))]
        let _ = (id, title);
    }

    pub fn delete_conversation(self, id: String) {
        #[cfg(feature = "hydrate")]
        self.socket.delete_conversation(id);
        #[cfg(not(feature = "hydrate"))]
        let _ = id;
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
        <div class="layout">
        <Sidebar />
        <main class="chat">
            <Header />
            <ToolsPanel />
            <UsageTotal />
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
        </div>
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
