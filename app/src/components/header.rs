//! The page header: name, connection status, active LLM, connection buttons.

use leptos::prelude::*;

use protocol::LlmDescriptor;

use crate::{
    components::sidebar::TOGGLE_ID,
    i18n::{Lang, Text, t},
    pages::chat::Actions,
    state::Status,
};

#[component]
pub fn Header() -> impl IntoView {
    let actions = expect_context::<Actions>();
    let state = actions.state();
    let lang = state.lang;
    let status = state.status;
    view! {
        <header class="chat-header">
            <button
                type="button"
                id=TOGGLE_ID
                class="drawer-toggle"
                aria-controls="conversations"
                aria-expanded=move || state.drawer.get().to_string()
                on:click=move |_| state.drawer.update(|open| *open = !*open)
            >
                <span aria-hidden="true">"☰"</span>
                {t(lang, Text::Conversations)}
            </button>
            <div class="brand">
                <h1>"toolstream"</h1>
                <p class="tagline">{t(lang, Text::Tagline)}</p>
            </div>
            <p class="status" data-status=move || status.get().as_str() role="status">
                <span class="status-dot" aria-hidden="true"></span>
                {move || status.get().label(lang)}
            </p>
            <p class="llm">
                {t(lang, Text::Llm)} ": "
                <span class="llm-label">{move || llm_label(lang, state.llm.get().as_ref())}</span>
            </p>
            <div class="connection-buttons">
                <button
                    type="button"
                    on:click=move |_| actions.connect()
                    disabled=move || matches!(status.get(), Status::Connected | Status::Connecting)
                >
                    {t(lang, Text::Connect)}
                </button>
                <button
                    type="button"
                    on:click=move |_| actions.disconnect()
                    disabled=move || status.get() == Status::Offline
                >
                    {t(lang, Text::Disconnect)}
                </button>
                <button type="button" on:click=move |_| actions.new_chat()>
                    {t(lang, Text::NewChat)}
                </button>
            </div>
        </header>
    }
}

/// The active LLM's name in the UI's language: the server names the local planner in
/// English, every other model by its own label.
fn llm_label(lang: Lang, llm: Option<&LlmDescriptor>) -> String {
    match llm {
        None => "—".into(),
        Some(llm) if llm.provider == "local" => t(lang, Text::LocalPlanner).into(),
        Some(llm) => llm.label.clone(),
    }
}
