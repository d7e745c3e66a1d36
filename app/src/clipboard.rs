//! Copying text (browser only): the asynchronous Clipboard API where the page may
//! use it (https, localhost), else a hidden text area and the `copy` command.

use leptos::prelude::{document, window};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Copies `text`; says whether the browser took it.
pub async fn copy(text: &str) -> bool {
    let navigator = window().navigator();
    let has_api = js_sys::Reflect::get(&navigator, &JsValue::from_str("clipboard"))
        .is_ok_and(|clipboard| !clipboard.is_undefined());
    if has_api {
        let promise = navigator.clipboard().write_text(text);
        if JsFuture::from(promise).await.is_ok() {
            return true;
        }
    }
    fallback(text).unwrap_or(false)
}

fn fallback(text: &str) -> Option<bool> {
    let document = document();
    let area = document
        .create_element("textarea")
        .ok()?
        .dyn_into::<web_sys::HtmlTextAreaElement>()
        .ok()?;
    area.set_value(text);
    let _ = area.set_attribute("readonly", "");
    let _ = area.set_attribute("style", "position:fixed;top:0;left:0;opacity:0");
    let body = document.body()?;
    body.append_child(&area).ok()?;
    area.select();
    let copied = document
        .dyn_ref::<web_sys::HtmlDocument>()
        .and_then(|html| html.exec_command("copy").ok())
        .unwrap_or(false);
    area.remove();
    Some(copied)
}
