//! What the page keeps in the browser's local storage: the conversation (so the
//! transcript and the session survive a reload) and the API key, if one is needed.

use leptos::prelude::window;

use crate::state::LiveConversation;

const CONVERSATION: &str = "toolstream.conversation.v1";
const API_KEY: &str = "toolstream.api_key";

fn storage() -> Option<web_sys::Storage> {
    window().local_storage().ok().flatten()
}

pub fn load_conversation() -> Option<LiveConversation> {
    let text = storage()?.get_item(CONVERSATION).ok()??;
    LiveConversation::restore(&text)
}

pub fn save_conversation(conversation: &LiveConversation) {
    if let (Some(storage), Ok(text)) = (storage(), serde_json::to_string(conversation)) {
        // Full storage is not worth failing over: the page works without it.
        let _ = storage.set_item(CONVERSATION, &text);
    }
}

pub fn clear_conversation() {
    if let Some(storage) = storage() {
        let _ = storage.remove_item(CONVERSATION);
    }
}

pub fn api_key() -> Option<String> {
    storage()?
        .get_item(API_KEY)
        .ok()
        .flatten()
        .filter(|k| !k.is_empty())
}

pub fn set_api_key(key: &str) {
    if let Some(storage) = storage() {
        let _ = storage.set_item(API_KEY, key);
    }
}
