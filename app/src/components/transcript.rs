//! The conversation: one entry per turn, kept scrolled to the newest unless the user
//! scrolled up to read.

use leptos::prelude::*;

use crate::{
    chat::TurnCell,
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
    // New turns, and new content in the newest one (the only one that streams).
    let newest = Memo::new(move |_| conversation.with(|c| c.cells().last().cloned()));
    Effect::new(move |_| {
        if let Some(turn) = newest.get() {
            turn.track();
        }
        if stick.get_untracked() {
            request_animation_frame(to_bottom);
        }
    });

    let revisable = Memo::new(move |_| conversation.with(|c| c.revisable()));
    let turns = move || {
        conversation.with(|c| {
            c.cells()
                .iter()
                .map(|cell| (cell.read_turn(|t| t.local_id), cell.clone()))
                .collect::<Vec<_>>()
        })
    };
    view! {
        <div class="transcript" node_ref=list on:scroll=on_scroll tabindex="-1">
            <Show when=move || conversation.with(|c| c.is_empty())>
                <p class="empty muted">{t(lang, Text::Empty)}</p>
            </Show>
            <ol class="turns" aria-label=t(lang, Text::Conversation)>
                <For each=turns key=|(id, _)| *id let:((id, turn))>
                    <TurnView turn revisable=Signal::derive(move || revisable.get() == Some(id)) />
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
