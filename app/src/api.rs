//! The conversations API from the browser (`/api/conversations`): list, read the
//! questions of one, rename, delete. The owner cookie goes along by itself; the API
//! key, when the server needs one, as a bearer token.

use leptos::prelude::window;
use protocol::ConversationSummary;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, RequestInit, Response};

use crate::{storage, wire};

/// Why a call failed; the page only tells "not found" from the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiError {
    NotFound,
    Failed,
}

/// The caller's conversations, newest first.
pub async fn list() -> Result<Vec<ConversationSummary>, ApiError> {
    let text = call("GET", "/api/conversations", None).await?;
    wire::summaries(&text).ok_or(ApiError::Failed)
}

/// The id and question of each turn of conversation `id`.
pub async fn questions(id: &str) -> Result<Vec<(String, String)>, ApiError> {
    let text = call("GET", &path(id), None).await?;
    wire::questions(&text).ok_or(ApiError::Failed)
}

pub async fn rename(id: &str, title: &str) -> Result<(), ApiError> {
    let title = serde_json::to_string(title).map_err(|_| ApiError::Failed)?;
    let body = format!("{{\"title\":{title}}}");
    call("PATCH", &path(id), Some(body)).await.map(drop)
}

pub async fn delete(id: &str) -> Result<(), ApiError> {
    call("DELETE", &path(id), None).await.map(drop)
}

fn path(id: &str) -> String {
    let id: String = js_sys::encode_uri_component(id).into();
    format!("/api/conversations/{id}")
}

async fn call(method: &str, url: &str, body: Option<String>) -> Result<String, ApiError> {
    let failed = |_: JsValue| ApiError::Failed;
    let init = RequestInit::new();
    init.set_method(method);
    let headers = Headers::new().map_err(failed)?;
    if let Some(body) = body {
        headers
            .set("content-type", "application/json")
            .map_err(failed)?;
        init.set_body(&JsValue::from_str(&body));
    }
    if let Some(key) = storage::api_key() {
        headers
            .set("authorization", &format!("Bearer {key}"))
            .map_err(failed)?;
    }
    init.set_headers(&headers);
    let response: Response = JsFuture::from(window().fetch_with_str_and_init(url, &init))
        .await
        .map_err(failed)?
        .dyn_into()
        .map_err(failed)?;
    match response.status() {
        404 => return Err(ApiError::NotFound),
        status if !(200..300).contains(&status) => return Err(ApiError::Failed),
        _ => {}
    }
    let text = JsFuture::from(response.text().map_err(failed)?)
        .await
        .map_err(failed)?;
    Ok(text.as_string().unwrap_or_default())
}
