//! The message input: Enter or Send sends; Stop (or Escape) stops the running turn.

use leptos::prelude::*;

use crate::{
    i18n::{Text, t},
    pages::chat::Actions,
    state::Status,
};

#[component]
pub fn Composer() -> impl IntoView {
    let actions = expect_context::<Actions>();
    let state = actions.state();
    let lang = state.lang;
    let (text, set_text) = signal(String::new());
    let connected = move || state.status.get() == Status::Connected;
    let busy = move || state.conversation.with(|c| c.is_busy());

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let message = text.get_untracked().trim().to_owned();
        if !message.is_empty() && state.status.get_untracked() == Status::Connected {
            actions.send(message);
            set_text.set(String::new());
        }
    };
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Escape" && state.conversation.with_untracked(|c| c.is_busy()) {
            actions.stop();
        }
    };
    view! {
        <form class="composer" on:submit=submit>
            <label class="visually-hidden" for="message">{t(lang, Text::Message)}</label>
            <input
                id="message"
                type="text"
                autocomplete="off"
                enterkeyhint="send"
                placeholder=t(lang, Text::Placeholder)
                prop:value=text
                on:input=move |ev| set_text.set(event_target_value(&ev))
                on:keydown=on_key
            />
            <Show when=busy>
                <button type="button" class="stop" on:click=move |_| actions.stop()>
                    {t(lang, Text::Stop)}
                </button>
            </Show>
            <button type="submit" disabled=move || !connected()>{t(lang, Text::Send)}</button>
        </form>
    }
}
