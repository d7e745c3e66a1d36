//! The conversation: one entry per turn, kept scrolled to the newest unless the user
//! scrolled up to read.

use leptos::prelude::*;

use crate::{
    components::turn::TurnView,
    i18n::{Text, t},
    pages::chat::Actions,
};

/// Within this many pixels of the bottom counts as "at the bottom".
const STICK_PX: i32 = 48;

#[component]
pub fn Transcript() -> impl IntoView {
    let state = expect_context::<Actions>().state();
    let lang = state.lang;
    let conversation = state.conversation;
    let list = NodeRef::<leptos::html::Div>::new();
    // Follow new content only while the reader is at the bottom.
    let (stick, set_stick) = signal(true);

    let on_scroll = move |_| {
        if let Some(el) = list.get() {
            let gap = el.scroll_height() - el.scroll_top() - el.client_height();
            set_stick.set(gap <= STICK_PX);
        }
    };
    let to_bottom = move || {
        if let Some(el) = list.get() {
            el.set_scroll_top(el.scroll_height());
        }
    };
    Effect::new(move |_| {
        conversation.track();
        if stick.get_untracked() {
            request_animation_frame(to_bottom);
        }
    });

    let ids = move || conversation.with(|c| c.turns.iter().map(|t| t.local_id).collect::<Vec<_>>());
    view! {
        <div class="transcript" node_ref=list on:scroll=on_scroll tabindex="-1">
            <Show when=move || conversation.with(|c| c.turns.is_empty())>
                <p class="empty muted">{t(lang, Text::Empty)}</p>
            </Show>
            <ol class="turns" aria-label=t(lang, Text::Conversation)>
                <For each=ids key=|id| *id let:id>
                    <TurnView local_id=id />
                </For>
            </ol>
        </div>
        <Show when=move || !stick.get()>
            <button
                type="button"
                class="jump"
                on:click=move |_| {
                    to_bottom();
                    set_stick.set(true);
                }
            >
                {t(lang, Text::Jump)} " ↓"
            </button>
        </Show>
    }
}
