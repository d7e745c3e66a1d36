//! From the provider-neutral conversation to Bedrock's Converse types, and from
//! Bedrock's JSON documents back to plain JSON.

use aws_sdk_bedrockruntime::types::{
    ContentBlock, ConversationRole, ImageBlock, ImageFormat, ImageSource, Message, Tool,
    ToolConfiguration, ToolInputSchema, ToolResultBlock, ToolResultContentBlock, ToolResultStatus,
    ToolSpecification, ToolUseBlock,
};
use aws_smithy_types::{Blob, Document, Number as DocNumber, error::operation::BuildError};
use serde_json::{Map, Number, Value};

use crate::llm::{ChatMessage, LlmError, ToolImage, ToolSpec, tool_names::ToolNames};

/// The largest image Bedrock accepts in a message (3.75 MB).
const MAX_IMAGE_BYTES: usize = 3_750_000;

/// A tool's image as a Converse image block, when Bedrock can take it: PNG, JPEG,
/// GIF or WebP, valid base64, within the size limit. Others stay out (the result's
/// text already mentions them).
pub fn image_block(image: &ToolImage) -> Option<ImageBlock> {
    let format = match image.mime_type.as_str() {
        "image/png" => ImageFormat::Png,
        "image/jpeg" | "image/jpg" => ImageFormat::Jpeg,
        "image/gif" => ImageFormat::Gif,
        "image/webp" => ImageFormat::Webp,
        _ => return None,
    };
    let bytes = aws_smithy_types::base64::decode(&image.data).ok()?;
    if bytes.is_empty() || bytes.len() > MAX_IMAGE_BYTES {
        return None;
    }
    ImageBlock::builder()
        .format(format)
        .source(ImageSource::Bytes(Blob::new(bytes)))
        .build()
        .ok()
}

/// A request part the SDK refused to build: a bug here, never the user's doing.
pub fn build_failed(error: BuildError) -> LlmError {
    tracing::error!(error = %error, "could not build a Bedrock request");
    LlmError::Unavailable("the request to the model could not be built".into())
}

/// JSON to a Smithy document, numbers kept exact (integers stay integers).
pub fn to_document(value: &Value) -> Document {
    match value {
        Value::Null => Document::Null,
        Value::Bool(b) => Document::Bool(*b),
        Value::Number(n) => Document::Number(if let Some(u) = n.as_u64() {
            DocNumber::PosInt(u)
        } else if let Some(i) = n.as_i64() {
            DocNumber::NegInt(i)
        } else {
            DocNumber::Float(n.as_f64().unwrap_or_default())
        }),
        Value::String(s) => Document::String(s.clone()),
        Value::Array(items) => Document::Array(items.iter().map(to_document).collect()),
        Value::Object(map) => Document::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), to_document(v)))
                .collect(),
        ),
    }
}

/// A Smithy document back to JSON. Object keys come out sorted, since documents
/// hold them in a hash map and the order would otherwise change from run to run.
pub fn to_json(document: &Document) -> Value {
    match document {
        Document::Null => Value::Null,
        Document::Bool(b) => Value::Bool(*b),
        Document::Number(DocNumber::PosInt(u)) => Value::Number((*u).into()),
        Document::Number(DocNumber::NegInt(i)) => Value::Number((*i).into()),
        Document::Number(DocNumber::Float(f)) => {
            Number::from_f64(*f).map_or(Value::Null, Value::Number)
        }
        Document::String(s) => Value::String(s.clone()),
        Document::Array(items) => Value::Array(items.iter().map(to_json).collect()),
        Document::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), to_json(&map[k])))
                    .collect::<Map<_, _>>(),
            )
        }
    }
}

/// The conversation as Bedrock messages, one per neutral entry (the validator merges
/// and repairs afterwards). Tool names go through `names`.
pub fn messages(history: &[ChatMessage], names: &ToolNames) -> Result<Vec<Message>, LlmError> {
    history
        .iter()
        .map(|entry| {
            // User text and tool results both speak as the user; the validator merges
            // neighbours that end up with the same role.
            let (role, content) = match entry {
                ChatMessage::User(text) => (
                    ConversationRole::User,
                    vec![ContentBlock::Text(text.clone())],
                ),
                ChatMessage::Assistant { text, tool_calls } => {
                    // An empty text block is dropped by the validator.
                    let mut content = vec![ContentBlock::Text(text.clone())];
                    for call in tool_calls {
                        let input = to_document(&Value::Object(call.args.clone()));
                        let block = ToolUseBlock::builder()
                            .tool_use_id(&call.id)
                            .name(names.to_model(&call.name))
                            .input(input)
                            .build()
                            .map_err(build_failed)?;
                        content.push(ContentBlock::ToolUse(block));
                    }
                    (ConversationRole::Assistant, content)
                }
                ChatMessage::ToolResults(outcomes) => {
                    let mut content = Vec::with_capacity(outcomes.len());
                    for outcome in outcomes {
                        let status = if outcome.is_error {
                            ToolResultStatus::Error
                        } else {
                            ToolResultStatus::Success
                        };
                        let mut block = ToolResultBlock::builder()
                            .tool_use_id(&outcome.call_id)
                            .content(ToolResultContentBlock::Text(outcome.content.clone()))
                            .status(status);
                        for image in outcome.images.iter().filter_map(image_block) {
                            block = block.content(ToolResultContentBlock::Image(image));
                        }
                        let block = block.build().map_err(build_failed)?;
                        content.push(ContentBlock::ToolResult(block));
                    }
                    (ConversationRole::User, content)
                }
            };
            Message::builder()
                .role(role)
                .set_content(Some(content))
                .build()
                .map_err(build_failed)
        })
        .collect()
}

/// One tool as Bedrock declares it: its model-facing name, description and JSON
/// Schema.
pub fn tool(spec: &ToolSpec, names: &ToolNames) -> Result<Tool, LlmError> {
    let schema = to_document(&Value::Object((*spec.input_schema).clone()));
    let mut builder = ToolSpecification::builder()
        .name(names.to_model(&spec.name))
        .input_schema(ToolInputSchema::Json(schema));
    // Bedrock rejects an empty description; leave it out instead.
    if !spec.description.trim().is_empty() {
        builder = builder.description(&spec.description);
    }
    Ok(Tool::ToolSpec(builder.build().map_err(build_failed)?))
}

/// The `toolConfig` for the toolbox's tools, or `None` when there are none.
pub fn tool_config(
    tools: &[ToolSpec],
    names: &ToolNames,
) -> Result<Option<ToolConfiguration>, LlmError> {
    if tools.is_empty() {
        return Ok(None);
    }
    let tools = tools
        .iter()
        .map(|spec| tool(spec, names))
        .collect::<Result<Vec<_>, _>>()?;
    ToolConfiguration::builder()
        .set_tools(Some(tools))
        .build()
        .map(Some)
        .map_err(build_failed)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn tool_images_become_image_blocks_in_the_tool_result() {
        // A 1x1 PNG, as MCP servers send images: base64 with a MIME type.
        let png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";
        let mut outcome = crate::llm::ToolOutcome::text("t1", "get-tiny-image", "an image", false);
        outcome.images = vec![
            ToolImage {
                mime_type: "image/png".into(),
                data: png.into(),
            },
            ToolImage {
                mime_type: "image/svg+xml".into(),
                data: "PHN2Zy8+".into(),
            },
            ToolImage {
                mime_type: "image/png".into(),
                data: "not base64!".into(),
            },
        ];
        let history = [ChatMessage::ToolResults(vec![outcome])];
        let messages = messages(&history, &ToolNames::default()).unwrap();
        let ContentBlock::ToolResult(result) = &messages[0].content[0] else {
            panic!("a tool result");
        };
        assert_eq!(result.content.len(), 2, "text and the one usable image");
        let ToolResultContentBlock::Image(image) = &result.content[1] else {
            panic!("an image block: {:?}", result.content[1]);
        };
        assert_eq!(image.format, ImageFormat::Png);
        assert!(
            matches!(&image.source, Some(ImageSource::Bytes(b)) if b.as_ref().starts_with(b"\x89PNG"))
        );
    }

    #[test]
    fn documents_round_trip_with_exact_numbers() {
        let value = json!({"a": 10, "b": -5, "c": 2.5, "d": [true, null, "x"], "e": {"f": 1}});
        let back = to_json(&to_document(&value));
        assert_eq!(back, value);
        assert_eq!(
            serde_json::to_string(&back["a"]).unwrap(),
            "10",
            "integers stay integers"
        );
    }
}
