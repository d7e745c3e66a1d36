//! The conversation list: a sidebar on wide screens, a drawer on narrow ones. Open,
//! rename and delete, all from the keyboard; the open conversation is marked.
//!
//! The list's rows are built straight into the DOM (`sidebar/list.rs`) and answer
//! through one delegated listener: as Leptos views they cost about 24 KB of the
//! page's compressed WASM, over a tenth of the budget.

#[cfg(feature = "hydrate")]
mod list;

use leptos::{html, prelude::*};

use crate::{
    i18n::{Text, t},
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
    let rows = NodeRef::<html::Ul>::new();
    // The conversation whose title is being edited.
    let renaming = RwSignal::new(None::<String>);
    #[cfg(not(feature = "hydrate"))]
    let _ = renaming;
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
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let current = state.session_id();
        let editing = renaming.get();
        state.conversations.with(|items| {
            if let Some(ul) = rows.get() {
                list::render(&ul, items, current.as_deref(), editing.as_deref(), lang);
            }
        });
    });
    let on_click = move |ev: leptos::ev::MouseEvent| {
        #[cfg(feature = "hydrate")]
        if let Some((action, id)) = list::target(&ev) {
            match action.as_str() {
                "open" => {
                    actions.open_conversation(id);
                    close();
                }
                "rename" => renaming.set(Some(id)),
                "delete" if confirm(t(lang, Text::ConfirmDelete)) => {
                    actions.delete_conversation(id)
                }
                _ => {}
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = ev;
    };
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        #[cfg(feature = "hydrate")]
        if let Some((id, title)) = list::rename_input(&ev) {
            match ev.key().as_str() {
                "Enter" => {
                    ev.prevent_default();
                    let title = title.trim().to_owned();
                    if !title.is_empty() {
                        actions.rename_conversation(id, title);
                    }
                    renaming.set(None);
                }
                "Escape" => renaming.set(None),
                _ => {}
            }
            return;
        }
        if ev.key() == "Escape" {
            close();
        }
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
            <ul class="conversation-list" node_ref=rows on:click=on_click></ul>
        </nav>
        <div class="drawer-backdrop" class:open=move || drawer.get() on:click=move |_| close()></div>
    }
}

/// Focuses the first element matching `selector`, once it is on the page.
pub fn focus(selector: &str) {
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
#[cfg(feature = "hydrate")]
fn confirm(question: &str) -> bool {
    window().confirm_with_message(question).unwrap_or(false)
}
