//! The toolstream chat UI: rendered on the server, hydrated in the browser.

#[cfg(feature = "hydrate")]
mod api;
pub mod chat;
#[cfg(feature = "hydrate")]
mod clipboard;
pub mod components;
pub mod format;
pub mod i18n;
pub mod markdown;
pub mod pages;
#[cfg(feature = "hydrate")]
mod perf;
#[cfg(feature = "hydrate")]
mod socket;
pub mod state;
#[cfg(feature = "hydrate")]
mod storage;
pub mod wire;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};

use crate::{
    i18n::{Lang, UiLang},
    pages::chat::ChatPage,
};

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let lang = ui_lang();
    view! {
        <!DOCTYPE html>
        <html lang=lang.code()>
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <meta name="description" content="Chat with an AI agent that uses tools, and watch every step." />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The UI language: the server's choice while rendering, the page's `lang` in the
/// browser (which the server wrote), English otherwise.
pub fn ui_lang() -> Lang {
    if let Some(UiLang(lang)) = use_context::<UiLang>() {
        return lang;
    }
    #[cfg(feature = "hydrate")]
    {
        let tag = document()
            .document_element()
            .and_then(|root| root.get_attribute("lang"))
            .unwrap_or_default();
        return UiLang::from_header(&tag).0;
    }
    #[allow(unreachable_code)]
    Lang::En
}

/// The root component.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/toolstream.css" />
        <Title text="toolstream" />
        <ChatPage />
    }
}
