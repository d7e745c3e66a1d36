//! The message input: Enter or the Send button sends.

use leptos::prelude::*;

/// The input row. `on_send` gets the trimmed, non-empty text.
#[component]
pub fn Composer(
    #[prop(into)] enabled: Signal<bool>,
    on_send: impl Fn(String) + 'static,
) -> impl IntoView {
    let (text, set_text) = signal(String::new());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let message = text.get_untracked().trim().to_owned();
        if !message.is_empty() && enabled.get_untracked() {
            on_send(message);
            set_text.set(String::new());
        }
    };
    view! {
        <form class="composer" on:submit=submit>
            <label class="visually-hidden" for="message">"Message"</label>
            <input
                id="message"
                type="text"
                autocomplete="off"
                placeholder="Escribe tu mensaje… (e.g. Suma 10 y 5)"
                prop:value=text
                on:input=move |ev| set_text.set(event_target_value(&ev))
            />
            <button type="submit" disabled=move || !enabled.get()>"Send"</button>
        </form>
    }
}
