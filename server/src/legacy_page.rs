//! `GET /test-websocket.html`: the original design's test page, served byte for byte
//! as it was written (its WebSocket URL included: `ws://localhost:8002/ws`, the
//! Compose port), from the same origin as `/ws`.
//!
//! The page has an inline script, inline event handlers and inline styles, which the
//! UI's nonce policy would block. It gets its own Content-Security-Policy that allows
//! exactly those pieces by their SHA-256 hashes, and nothing else inline.

use std::sync::LazyLock;

use axum::{
    extract::Request,
    http::{
        HeaderValue,
        header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, HOST},
    },
    response::{IntoResponse, Response},
};
use base64::Engine;

/// The page, unchanged (`end2end/fixtures/legacy-test-websocket.html` is the same file).
pub const PAGE: &str = include_str!("../assets/test-websocket.html");

/// The hashes of the page's inline code, computed once.
static HASHES: LazyLock<InlineHashes> = LazyLock::new(|| InlineHashes::of(PAGE));

/// `'sha256-…'` sources for each kind of inline code in a page.
#[derive(Debug, Default)]
struct InlineHashes {
    /// `<script>` element contents.
    scripts: Vec<String>,
    /// `on…="…"` attribute values.
    handlers: Vec<String>,
    /// `<style>` element contents.
    styles: Vec<String>,
    /// `style="…"` attribute values.
    style_attributes: Vec<String>,
}

impl InlineHashes {
    fn of(page: &str) -> Self {
        let mut hashes = Self {
            scripts: elements(page, "script").into_iter().map(hash).collect(),
            styles: elements(page, "style").into_iter().map(hash).collect(),
            ..Self::default()
        };
        for (name, value) in attributes(page) {
            if name == "style" {
                hashes.style_attributes.push(hash(value));
            } else if name.starts_with("on") {
                hashes.handlers.push(hash(value));
            }
        }
        hashes
    }
}

fn hash(text: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
    )
}

/// The contents of each `<tag>…</tag>` (tags written without attributes).
fn elements<'a>(page: &'a str, tag: &str) -> Vec<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    page.match_indices(&open)
        .filter_map(|(at, _)| {
            let start = at + open.len();
            let end = page[start..].find(&close)?;
            Some(&page[start..start + end])
        })
        .collect()
}

/// Every `name="value"` attribute inside a tag, outside `<script>` and `<style>`.
fn attributes(page: &str) -> Vec<(&str, &str)> {
    let mut found = Vec::new();
    let mut rest = page;
    while let Some(open) = rest.find('<') {
        let tag_start = &rest[open..];
        // Skip the bodies of script and style elements: `<` there is code.
        let raw_end = ["<script>", "<style>"]
            .iter()
            .find(|t| tag_start.starts_with(**t))
            .and_then(|t| tag_start.find(&t.replace('<', "</")));
        let Some(close) = tag_start.find('>') else {
            break;
        };
        let mut tag = &tag_start[..close];
        while let Some(eq) = tag.find("=\"") {
            let name = tag[..eq]
                .rsplit(|c: char| c.is_whitespace())
                .next()
                .unwrap_or("");
            let value_start = eq + 2;
            let Some(len) = tag[value_start..].find('"') else {
                break;
            };
            found.push((name, &tag[value_start..value_start + len]));
            tag = &tag[value_start + len + 1..];
        }
        rest = &tag_start[raw_end.unwrap_or(close)..];
        if let Some(next) = rest.get(1..) {
            rest = next;
        } else {
            break;
        }
    }
    found
}

/// The page's policy: its own inline code by hash, WebSockets back to this host only.
fn content_security_policy(host: &str) -> String {
    let hashes = &*HASHES;
    let join = |list: &[String]| list.join(" ");
    format!(
        "default-src 'none'; script-src {} 'unsafe-hashes' {}; style-src {} 'unsafe-hashes' {}; \
         connect-src 'self' ws://{host} wss://{host}; img-src 'self'; base-uri 'none'; \
         form-action 'none'; frame-ancestors 'none'",
        join(&hashes.scripts),
        join(&hashes.handlers),
        join(&hashes.styles),
        join(&hashes.style_attributes),
    )
}

/// Serves the page with its policy.
pub async fn serve(request: Request) -> Response {
    let host = request
        .headers()
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let csp = HeaderValue::from_str(&content_security_policy(host))
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"));
    (
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (CONTENT_SECURITY_POLICY, csp),
            (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        PAGE,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_is_the_original_byte_for_byte() {
        let fixture = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../end2end/fixtures/legacy-test-websocket.html"
        );
        let original = std::fs::read_to_string(fixture).unwrap();
        assert_eq!(PAGE, original);
    }

    #[test]
    fn every_inline_piece_of_the_page_is_hashed() {
        let hashes = InlineHashes::of(PAGE);
        assert_eq!(hashes.scripts.len(), 1);
        assert_eq!(hashes.styles.len(), 1);
        assert_eq!(hashes.handlers.len(), 3, "three onclick handlers");
        assert_eq!(hashes.style_attributes.len(), 1, "the input's style");
        // Known values, computed apart (`sha256sum | base64`); the script's hash also
        // pins the page's content.
        assert_eq!(
            hash("sendMessage()"),
            "'sha256-EOPWvc/cgFzQC85gXxLfaFVJT1jjcNPeN23DiNU6r+4='"
        );
        assert_eq!(
            hashes.scripts[0],
            "'sha256-QnstWRzTNYkeHetvGLnWE+ZziqRtReabIVdiqP9NYO0='"
        );
    }

    #[test]
    fn attributes_are_read_from_tags_only() {
        let page =
            r#"<p class="a" onclick="go()"><script>if (a<b) x="y";</script><i style="c: d;">"#;
        assert_eq!(
            attributes(page),
            [("class", "a"), ("onclick", "go()"), ("style", "c: d;")]
        );
        assert_eq!(elements(page, "script"), ["if (a<b) x=\"y\";"]);
    }
}
