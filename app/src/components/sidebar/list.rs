//! The conversation list's rows, built into the DOM (browser only): each row an open
//! button (title, turn count), Rename and Delete; or, while renaming, a text box.
//! Buttons carry `data-action`, rows `data-id`, for the list's one click listener.
//! Focus stays on the same control across a rebuild.

use protocol::{ConversationSummary, Lang};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Document, Element, HtmlElement, HtmlInputElement};

use crate::i18n::{Text, t};

type Result<T = ()> = std::result::Result<T, JsValue>;

/// Rebuilds the rows of `ul`.
pub fn render(
    ul: &Element,
    items: &[ConversationSummary],
    current: Option<&str>,
    renaming: Option<&str>,
    lang: Lang,
) {
    let Some(document) = ul.owner_document() else {
        return;
    };
    let focused = focused_control(&document, ul);
    ul.set_text_content(None);
    let _ = fill(&document, ul, items, current, renaming, lang);
    restore_focus(ul, focused, renaming);
}

fn fill(
    document: &Document,
    ul: &Element,
    items: &[ConversationSummary],
    current: Option<&str>,
    renaming: Option<&str>,
    lang: Lang,
) -> Result {
    if items.is_empty() {
        let li = element(document, "li", "empty-list muted")?;
        li.set_text_content(Some(t(lang, Text::NoConversations)));
        ul.append_child(&li)?;
    }
    for item in items {
        let title = if item.title.trim().is_empty() {
            t(lang, Text::Untitled).to_owned()
        } else {
            item.title.clone()
        };
        let is_current = current == Some(item.id.as_str());
        let li = element(
            document,
            "li",
            if is_current {
                "conversation current"
            } else {
                "conversation"
            },
        )?;
        li.set_attribute("data-id", &item.id)?;
        if renaming == Some(item.id.as_str()) {
            let input: HtmlInputElement =
                element(document, "input", "rename-input")?.unchecked_into();
            input.set_type("text");
            input.set_value(&item.title);
            input.set_max_length(200);
            input.set_attribute("aria-label", t(lang, Text::RenameLabel))?;
            li.append_child(&input)?;
        } else {
            let open = button(document, "open-conversation", "open", None)?;
            if is_current {
                open.set_attribute("aria-current", "true")?;
            }
            let name = element(document, "span", "conversation-title")?;
            name.set_text_content(Some(&title));
            let meta = element(document, "span", "conversation-meta")?;
            meta.set_text_content(Some(&turns(lang, item.turns)));
            open.append_child(&name)?;
            open.append_child(&meta)?;
            li.append_child(&open)?;
            let rename = format!("{} “{title}”", t(lang, Text::Rename));
            let rename = button(document, "rename", "rename", Some((&rename, "✎")))?;
            li.append_child(&rename)?;
            let delete = format!("{} “{title}”", t(lang, Text::Delete));
            let delete = button(document, "delete", "delete", Some((&delete, "×")))?;
            li.append_child(&delete)?;
        }
        ul.append_child(&li)?;
    }
    Ok(())
}

fn element(document: &Document, tag: &str, class: &str) -> Result<Element> {
    let element = document.create_element(tag)?;
    element.set_class_name(class);
    Ok(element)
}

/// A button; `labelled` gives an icon its accessible name.
fn button(
    document: &Document,
    class: &str,
    action: &str,
    labelled: Option<(&str, &str)>,
) -> Result<Element> {
    let button = element(document, "button", class)?;
    button.set_attribute("type", "button")?;
    button.set_attribute("data-action", action)?;
    if let Some((label, icon)) = labelled {
        button.set_attribute("aria-label", label)?;
        button.set_attribute("title", label)?;
        button.set_text_content(Some(icon));
    }
    Ok(button)
}

fn turns(lang: Lang, n: u32) -> String {
    match (lang, n) {
        (Lang::En, 1) => "1 turn".to_owned(),
        (Lang::En, n) => format!("{n} turns"),
        (Lang::Es, 1) => "1 turno".to_owned(),
        (Lang::Es, n) => format!("{n} turnos"),
    }
}

/// The row and action of the focused control inside `ul`, if any.
fn focused_control(document: &Document, ul: &Element) -> Option<(String, String)> {
    let active = document.active_element()?;
    if !ul.contains(Some(&active)) {
        return None;
    }
    let id = active.closest("li").ok()??.get_attribute("data-id")?;
    let action = active
        .get_attribute("data-action")
        .unwrap_or_else(|| "open".to_owned());
    Some((id, action))
}

/// Puts focus back where it was: on the text box while renaming, else on the same
/// button of the same row (the row's open button after a rename ends).
fn restore_focus(ul: &Element, focused: Option<(String, String)>, renaming: Option<&str>) {
    let target = if renaming.is_some() {
        ul.query_selector(".rename-input").ok().flatten()
    } else {
        focused.and_then(|(id, action)| {
            let row = format!("li[data-id=\"{}\"]", css_escape(&id));
            ul.query_selector(&format!("{row} [data-action=\"{action}\"]"))
                .ok()
                .flatten()
                .or_else(|| ul.query_selector(&format!("{row} button")).ok().flatten())
                // The row went away (deleted): the list's first row.
                .or_else(|| ul.query_selector("button").ok().flatten())
        })
    };
    if let Some(element) = target.and_then(|el| el.dyn_into::<HtmlElement>().ok()) {
        let _ = element.focus();
    }
}

/// Ids are the server's (hex), but quotes and backslashes are escaped anyway.
fn css_escape(id: &str) -> String {
    id.chars()
        .flat_map(|c| match c {
            '"' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect()
}

/// The action and conversation of a click on a row's button.
pub fn target(ev: &web_sys::MouseEvent) -> Option<(String, String)> {
    let clicked: Element = ev.target()?.dyn_into().ok()?;
    let button = clicked.closest("[data-action]").ok()??;
    let id = button.closest("li").ok()??.get_attribute("data-id")?;
    Some((button.get_attribute("data-action")?, id))
}

/// The conversation and text of a key pressed in a rename box.
pub fn rename_input(ev: &web_sys::KeyboardEvent) -> Option<(String, String)> {
    let input: HtmlInputElement = ev.target()?.dyn_into().ok()?;
    if input.class_name() != "rename-input" {
        return None;
    }
    let id = input.closest("li").ok()??.get_attribute("data-id")?;
    Some((id, input.value()))
}
