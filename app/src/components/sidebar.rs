//! The conversation list: a sidebar on wide screens, a drawer on narrow ones. Open,
//! rename and delete, all from the keyboard; the open conversation is marked.

use leptos::{either::Either, prelude::*};
use protocol::ConversationSummary;

use crate::{
    i18n::{Lang, Text, t},
    pages::chat::Actions,
};

/// The header's button that opens the drawer (narrow screens), focused again when
/// the drawer closes.
pub const TOGGLE_ID: &str = "conversations-toggle";

#[component]
pub fn Sidebar() -> impl IntoView {
    let actions = expect_context::<Actions>();
    let state = actions.state();
    let lang = state.lang;
    let drawer = state.drawer;
    let current = Memo::new(move |_| state.session_id());
    // The conversation whose title is being edited.
    let renaming = RwSignal::new(None::<String>);
    let close = move || {
        if drawer.get_untracked() {
            drawer.set(false);
            focus(&format!("#{TOGGLE_ID}"));
        }
    };
    Effect::new(move |_| {
        if drawer.get() {
            focus("#conversations button");
        }
    });
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Escape" && renaming.get_untracked().is_none() {
            close();
        }
    };
    let items = move || {
        state
            .conversations
            .get()
            .into_iter()
            .map(|c| (c.id.clone(), c))
            .collect::<Vec<_>>()
    };

    view! {
        <nav
            id="conversations"
            class="sidebar"
            class:open=move || drawer.get()
            aria-label=t(lang, Text::Conversations)
            on:keydown=on_key
        >
            <div class="sidebar-head">
                <h2>{t(lang, Text::Conversations)}</h2>
                <button type="button" class="close-drawer" on:click=move |_| close()>
                    {t(lang, Text::Close)}
                </button>
            </div>
            {move || {
                if state.conversations.with(Vec::is_empty) {
                    Either::Left(view! { <p class="muted empty-list">{t(lang, Text::NoConversations)}</p> })
                } else {
                    Either::Right(view! {
                        <ul class="conversation-list">
                            <For
                                each=items
                                key=|(id, c)| (id.clone(), c.title.clone(), c.turns)
                                let:((_, conversation))
                            >
                                <Item conversation current renaming on_open=Callback::new(move |()| close()) />
                            </For>
                        </ul>
                    })
                }
            }}
        </nav>
        <div class="drawer-backdrop" class:open=move || drawer.get() on:click=move |_| close()></div>
    }
}

#[component]
fn Item(
    conversation: ConversationSummary,
    current: Memo<Option<String>>,
    renaming: RwSignal<Option<String>>,
    on_open: Callback<()>,
) -> impl IntoView {
    let actions = expect_context::<Actions>();
    let lang = actions.state().lang;
    let id = conversation.id.clone();
    let title = title(lang, &conversation);
    let is_current = {
        let id = id.clone();
        move || current.with(|c| c.as_deref() == Some(id.as_str()))
    };
    let editing = {
        let id = id.clone();
        move || renaming.with(|r| r.as_deref() == Some(id.as_str()))
    };
    let turns = match (lang, conversation.turns) {
        (Lang::En, 1) => "1 turn".to_owned(),
        (Lang::En, n) => format!("{n} turns"),
        (Lang::Es, 1) => "1 turno".to_owned(),
        (Lang::Es, n) => format!("{n} turnos"),
    };
    let open = {
        let id = id.clone();
        move |_| {
            actions.open_conversation(id.clone());
            on_open.run(());
        }
    };
    let start_rename = {
        let id = id.clone();
        move |_| {
            renaming.set(Some(id.clone()));
            focus(".conversation input");
        }
    };
    let delete = {
        let id = id.clone();
        move |_| {
            if confirm(t(lang, Text::ConfirmDelete)) {
                actions.delete_conversation(id.clone());
            }
        }
    };
    let rename_label = format!("{} “{title}”", t(lang, Text::Rename));
    let delete_label = format!("{} “{title}”", t(lang, Text::Delete));
    let shown = title.clone();
    let marked = is_current.clone();
    let data_id = id.clone();
    view! {
        <li class="conversation" class:current=marked data-id=data_id>
            {move || {
                if editing() {
                    Either::Left(view! { <RenameForm id=id.clone() title=title.clone() renaming /> })
                } else {
                    Either::Right(view! {
                        <button
                            type="button"
                            class="open-conversation"
                            aria-current={
                                let is_current = is_current.clone();
                                move || is_current().then_some("true")
                            }
                            on:click=open.clone()
                        >
                            <span class="conversation-title">{shown.clone()}</span>
                            <span class="conversation-meta">{turns.clone()}</span>
                        </button>
                        <button type="button" class="rename" aria-label=rename_label.clone() title=rename_label.clone() on:click=start_rename.clone()>
                            "✎"
                        </button>
                        <button type="button" class="delete" aria-label=delete_label.clone() title=delete_label.clone() on:click=delete.clone()>
                            "×"
                        </button>
                    })
                }
            }}
        </li>
    }
}

/// The title as a text box: Enter saves, Escape gives up.
#[component]
fn RenameForm(id: String, title: String, renaming: RwSignal<Option<String>>) -> impl IntoView {
    let actions = expect_context::<Actions>();
    let lang = actions.state().lang;
    let draft = RwSignal::new(title);
    let save = move || {
        let title = draft.get_untracked().trim().to_owned();
        if !title.is_empty() {
            actions.rename_conversation(id.clone(), title);
        }
        renaming.set(None);
    };
    let on_key = move |ev: leptos::ev::KeyboardEvent| match ev.key().as_str() {
        "Enter" => {
            ev.prevent_default();
            save();
        }
        "Escape" => {
            ev.stop_propagation();
            renaming.set(None);
        }
        _ => {}
    };
    view! {
        <input
            type="text"
            class="rename-input"
            aria-label=t(lang, Text::RenameLabel)
            maxlength="200"
            prop:value=draft
            on:input=move |ev| draft.set(event_target_value(&ev))
            on:keydown=on_key
        />
    }
}

/// A conversation's title, or a placeholder while it has none.
fn title(lang: Lang, conversation: &ConversationSummary) -> String {
    if conversation.title.trim().is_empty() {
        t(lang, Text::Untitled).to_owned()
    } else {
        conversation.title.clone()
    }
}

/// Focuses the first element matching `selector`, once it is on the page.
fn focus(selector: &str) {
    #[cfg(feature = "hydrate")]
    {
        let selector = selector.to_owned();
        request_animation_frame(move || {
            use wasm_bindgen::JsCast;
            if let Some(el) = document()
                .query_selector(&selector)
                .ok()
                .flatten()
                .and_then(|el| el.dyn_into::<web_sys::HtmlElement>().ok())
            {
                let _ = el.focus();
            }
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = selector;
}

/// Asks the browser's own confirmation dialog.
fn confirm(question: &str) -> bool {
    #[cfg(feature = "hydrate")]
    {
        window().confirm_with_message(question).unwrap_or(false)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = question;
        false
    }
}
