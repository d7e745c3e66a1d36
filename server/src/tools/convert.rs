//! From what an MCP server returns to what the agent, the model and the UI see.
//!
//! - Text blocks, joined by newlines, are the result's text (`"15"`), as the seed
//!   contract promises. A result with no text but `structuredContent` gets that
//!   content's JSON as its text, so the model always reads something.
//! - `structuredContent` is kept as is.
//! - Images become image items, resource links and binary embedded resources become
//!   link items; embedded text resources add their text. Audio is noted, not kept.
//! - [`cut`] shortens a text over the size limit, saying so in the text itself.

use protocol::ContentItem;
use rmcp::model::{CallToolResult, ContentBlock, ResourceContents};

use super::ToolOutput;

/// Images larger than this (base64 characters) are replaced by a note: they would
/// crowd the session log and the model's context.
pub const MAX_IMAGE_CHARS: usize = 2 * 1024 * 1024;

/// Converts a tool's result.
pub fn tool_output(result: CallToolResult) -> ToolOutput {
    let mut texts: Vec<String> = Vec::new();
    let mut content = Vec::new();
    for block in result.content {
        match block {
            ContentBlock::Text(text) => texts.push(text.text),
            ContentBlock::Image(image) if image.data.len() <= MAX_IMAGE_CHARS => {
                content.push(ContentItem::Image {
                    mime_type: image.mime_type,
                    data: image.data,
                });
            }
            ContentBlock::Image(image) => texts.push(format!(
                "[an image ({}) of {} KiB was left out: too large]",
                image.mime_type,
                image.data.len() * 3 / 4 / 1024
            )),
            ContentBlock::Audio(audio) => {
                texts.push(format!("[audio ({}) left out]", audio.mime_type));
            }
            ContentBlock::ResourceLink(link) => content.push(ContentItem::ResourceLink {
                uri: link.uri,
                name: Some(link.name),
                mime_type: link.mime_type,
            }),
            ContentBlock::Resource(embedded) => match embedded.resource {
                ResourceContents::TextResourceContents { text, .. } => texts.push(text),
                ResourceContents::BlobResourceContents { uri, mime_type, .. } => {
                    content.push(ContentItem::ResourceLink {
                        uri,
                        name: None,
                        mime_type,
                    });
                }
                _ => texts.push("[an embedded resource of a kind toolstream does not know]".into()),
            },
            _ => texts.push("[content of a kind toolstream does not know]".into()),
        }
    }
    let mut text = texts.join("\n");
    if text.is_empty()
        && let Some(structured) = &result.structured_content
    {
        text = structured.to_string();
    }
    ToolOutput {
        text,
        is_error: result.is_error == Some(true),
        structured: result.structured_content,
        content,
    }
}

/// `text` cut to `max_chars` characters, with a note saying how much was left out;
/// `text` itself when it fits.
pub fn cut(text: &str, max_chars: usize) -> String {
    let total = text.chars().count();
    if total <= max_chars {
        return text.to_owned();
    }
    let end = text
        .char_indices()
        .nth(max_chars)
        .map_or(text.len(), |(at, _)| at);
    format!(
        "{}\n[result cut: the first {max_chars} of {total} characters are shown; the rest was left out]",
        &text[..end]
    )
}

#[cfg(test)]
mod tests {
    use rmcp::model::Resource;
    use serde_json::json;

    use super::*;

    #[test]
    fn text_structured_images_and_links_are_kept_apart() {
        let mut result = CallToolResult::success(vec![
            ContentBlock::text("15"),
            ContentBlock::image("aGk=", "image/png"),
            ContentBlock::resource_link(Resource::new("file:///a.txt", "a.txt")),
        ]);
        result.structured_content = Some(json!({"result": 15}));
        let output = tool_output(result);
        assert_eq!(output.text, "15");
        assert!(!output.is_error);
        assert_eq!(output.structured, Some(json!({"result": 15})));
        assert_eq!(
            output.content,
            [
                ContentItem::Image {
                    mime_type: "image/png".into(),
                    data: "aGk=".into()
                },
                ContentItem::ResourceLink {
                    uri: "file:///a.txt".into(),
                    name: Some("a.txt".into()),
                    mime_type: None
                }
            ]
        );
    }

    #[test]
    fn structured_content_alone_becomes_the_text() {
        let mut result = CallToolResult::success(vec![]);
        result.structured_content = Some(json!({"t": 1}));
        assert_eq!(tool_output(result).text, r#"{"t":1}"#);
        let failed = CallToolResult::error(vec![ContentBlock::text("bad")]);
        let output = tool_output(failed);
        assert!(output.is_error);
        assert_eq!(output.text, "bad");
    }

    #[test]
    fn long_results_are_cut_with_a_note() {
        assert_eq!(cut("short", 10), "short");
        let cut = cut(&"é".repeat(30), 10);
        assert!(cut.starts_with(&"é".repeat(10)));
        assert!(cut.contains("first 10 of 30 characters"), "{cut}");
    }
}
