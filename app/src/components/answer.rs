//! An answer: markdown rendered as it streams, at most once per frame, with Copy
//! buttons for the answer and for each code block.
//!
//! The markdown renderer is loaded the first time an answer needs it (a split-off
//! WASM module; see `markdown::dom`); until then the answer shows as plain text.

use leptos::{html, prelude::*};

use crate::{
    i18n::{Text, t},
    state::{ChatState, TurnSignal},
};

/// The answer's text, rendered.
#[component]
pub fn AnswerText(turn: TurnSignal) -> impl IntoView {
    let state = expect_context::<crate::pages::chat::Actions>().state();
    let host = NodeRef::<html::Div>::new();
    #[cfg(feature = "hydrate")]
    live::follow(turn, host, state.lang);
    #[cfg(not(feature = "hydrate"))]
    let _ = (turn, state);
    view! { <div class="markdown" node_ref=host on:click=move |ev| copy_code(state, &ev)></div> }
}

/// A Copy button for `text()`, saying for a moment whether it worked.
#[component]
pub fn CopyButton(
    text: Callback<(), String>,
    #[prop(into)] label: String,
    #[prop(optional)] class: &'static str,
) -> impl IntoView {
    let state = expect_context::<crate::pages::chat::Actions>().state();
    let lang = state.lang;
    let (done, set_done) = signal(None::<bool>);
    let click = move |_| {
        let text = text.run(());
        copy(
            text,
            move |ok| set_done.set(Some(ok)),
            move || set_done.set(None),
        );
    };
    view! {
        <button type="button" class=format!("copy {class}") on:click=click>
            {move || match done.get() {
                None => label.clone(),
                Some(true) => t(lang, Text::Copied).to_owned(),
                Some(false) => t(lang, Text::CopyFailed).to_owned(),
            }}
        </button>
    }
}

/// Copies, reports whether it worked, then clears the report after a moment.
fn copy(text: String, report: impl Fn(bool) + 'static, clear: impl Fn() + 'static) {
    #[cfg(feature = "hydrate")]
    leptos::task::spawn_local(async move {
        report(crate::clipboard::copy(&text).await);
        set_timeout(clear, std::time::Duration::from_millis(1500));
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = (text, report, clear);
}

/// A click on a code block's Copy button (buttons built by the renderer, so the
/// answer listens for all of them).
fn copy_code(state: ChatState, ev: &leptos::ev::MouseEvent) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let Some(button) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|el| el.closest("button.copy-code").ok().flatten())
        else {
            return;
        };
        let code = button
            .closest(".code-block")
            .ok()
            .flatten()
            .and_then(|block| block.query_selector("pre code").ok().flatten())
            .and_then(|code| code.text_content())
            .unwrap_or_default();
        let lang = state.lang;
        let shown = button.clone();
        copy(
            code,
            move |ok| {
                let text = if ok { Text::Copied } else { Text::CopyFailed };
                shown.set_text_content(Some(t(lang, text)));
            },
            move || button.set_text_content(Some(t(lang, Text::CopyCode))),
        );
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (state, ev);
}

#[cfg(feature = "hydrate")]
mod live {
    //! Keeps the rendered markdown in step with the streaming answer.

    use std::{cell::Cell, rc::Rc};

    use leptos::{html, prelude::*, task::spawn_local};
    use protocol::Lang;

    use crate::{perf, state::TurnSignal};

    /// Re-renders `host` from the turn's answer: once per animation frame at most,
    /// one render at a time, and not at all when the text did not change.
    pub fn follow(turn: TurnSignal, host: NodeRef<html::Div>, lang: Lang) {
        let state = Rc::new(Renderer {
            rendered: Default::default(),
            pending: Cell::new(false),
            busy: Cell::new(false),
        });
        let source = turn.clone();
        Effect::new(move |_| {
            source.track();
            schedule(state.clone(), turn.clone(), host, lang);
        });
    }

    struct Renderer {
        rendered: std::cell::RefCell<String>,
        /// A frame is requested.
        pending: Cell<bool>,
        /// A render is under way (the renderer may still be loading).
        busy: Cell<bool>,
    }

    fn schedule(state: Rc<Renderer>, turn: TurnSignal, host: NodeRef<html::Div>, lang: Lang) {
        if state.pending.replace(true) {
            return;
        }
        request_animation_frame(move || {
            state.pending.set(false);
            render(state, turn, host, lang);
        });
    }

    fn render(state: Rc<Renderer>, turn: TurnSignal, host: NodeRef<html::Div>, lang: Lang) {
        if state.busy.get() {
            // The render under way schedules another when it is done.
            return;
        }
        let Some(element) = host.get_untracked() else {
            return;
        };
        let text = turn.with_untracked(|t| t.answer.clone());
        if *state.rendered.borrow() == text {
            return;
        }
        if !super::markdown_loaded() {
            // Plain text while the renderer loads.
            element.set_text_content(Some(&text));
        }
        state.busy.set(true);
        let element: web_sys::Element = element.into();
        spawn_local(async move {
            let span = perf::Span::start(perf::RENDER);
            super::render_markdown(text.clone(), element, lang).await;
            drop(span);
            *state.rendered.borrow_mut() = text;
            state.busy.set(false);
            let changed = turn.with_untracked(|t| *state.rendered.borrow() != t.answer);
            if changed {
                schedule(state, turn, host, lang);
            }
        });
    }
}

#[cfg(feature = "hydrate")]
thread_local! {
    static MARKDOWN_LOADED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

#[cfg(feature = "hydrate")]
fn markdown_loaded() -> bool {
    MARKDOWN_LOADED.with(std::cell::Cell::get)
}

/// Renders markdown into `host`; the first call loads the renderer.
#[cfg(feature = "hydrate")]
async fn render_markdown(text: String, host: web_sys::Element, lang: protocol::Lang) {
    markdown_module(text, host, lang).await;
    MARKDOWN_LOADED.with(|loaded| loaded.set(true));
}

/// The split point: with the `split` feature (and `cargo leptos build --split`),
/// this function and everything only it reaches (pulldown-cmark, the DOM builder)
/// go into their own WASM module, fetched on the first call.
#[cfg(all(feature = "hydrate", feature = "split"))]
#[leptos::lazy]
fn markdown_module(text: String, host: web_sys::Element, lang: protocol::Lang) {
    let _ = crate::markdown::dom::render(&text, &host, lang);
}

/// Without the `split` feature the renderer is part of the main module (a build
/// without `--split`, such as `cargo leptos watch`).
#[cfg(all(feature = "hydrate", not(feature = "split")))]
async fn markdown_module(text: String, host: web_sys::Element, lang: protocol::Lang) {
    let _ = crate::markdown::dom::render(&text, &host, lang);
}
