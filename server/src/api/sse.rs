//! The Server-Sent Events of `/api/chat/stream`: each turn event as the WebSocket
//! sends it, cut to fit `MAX_SSE_EVENT_BYTES`.

use protocol::ServerFrame;
use serde_json::Value;

/// The frame as JSON of at most `max` bytes. A longer one has its largest fields cut
/// (texts keep their start and end with a note; objects become a note) until it fits.
pub(super) fn fit_event(frame: &ServerFrame, max: usize) -> Result<String, serde_json::Error> {
    let text = serde_json::to_string(frame)?;
    if text.len() <= max {
        return Ok(text);
    }
    let Value::Object(mut fields) = serde_json::to_value(frame)? else {
        return Ok(text); // Frames are always objects.
    };
    let mut size = text.len();
    // Each round shrinks the largest field; a few rounds always suffice for frames.
    for _ in 0..8 {
        let largest = fields
            .iter()
            .filter(|(name, _)| *name != "type")
            .map(|(name, value)| (name.clone(), value.to_string().len()))
            .max_by_key(|(_, len)| *len);
        let Some((name, len)) = largest else { break };
        let excess = size - max;
        let cut = match &fields[&name] {
            Value::String(text) if len > excess + 64 => {
                let keep = text.len().saturating_sub(excess + 64);
                let mut at = keep;
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                format!("{} … [cut: {} more bytes]", &text[..at], text.len() - at)
            }
            _ => format!("[cut: {len} bytes, too large to send]"),
        };
        fields.insert(name, Value::String(cut));
        let text = serde_json::to_string(&fields)?;
        if text.len() <= max {
            return Ok(text);
        }
        size = text.len();
    }
    // Unreachable for real frames; still never send more than `max`.
    let kind = fields.get("type").cloned().unwrap_or(Value::Null);
    Ok(serde_json::json!({ "type": kind, "note": "event too large to send" }).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::ServerEvent;

    fn frame(event: ServerEvent) -> ServerFrame {
        ServerFrame {
            event,
            turn_id: Some("t1".into()),
            seq: None,
            ts_ms: Some(1),
        }
    }

    #[test]
    fn small_events_go_as_they_are() {
        let frame = frame(ServerEvent::Response {
            content: "hola".into(),
        });
        assert_eq!(
            fit_event(&frame, 1024).unwrap(),
            serde_json::to_string(&frame).unwrap()
        );
    }

    #[test]
    fn large_texts_are_cut_to_fit_with_a_note() {
        for text in [
            "x".repeat(10_000),
            "é\"".repeat(3_000),
            "\u{1}".repeat(5_000),
        ] {
            let frame = frame(ServerEvent::tool_result("add", text.clone(), false));
            let data = fit_event(&frame, 2048).unwrap();
            assert!(data.len() <= 2048, "{} bytes", data.len());
            let parsed: ServerFrame = serde_json::from_str(&data).unwrap();
            let ServerEvent::ToolResult { result, tool, .. } = parsed.event else {
                panic!("{data}");
            };
            assert_eq!(tool, "add");
            assert!(result.contains("[cut: "), "{result}");
            assert!(text.starts_with(result.split(" … [cut").next().unwrap()));
            assert_eq!(parsed.turn_id.as_deref(), Some("t1"));
        }
    }

    #[test]
    fn large_objects_become_a_note() {
        let mut args = protocol::Args::new();
        for n in 0..2_000 {
            args.insert(format!("k{n}"), n.into());
        }
        let frame = frame(ServerEvent::tool_call("add", args));
        let data = fit_event(&frame, 1024).unwrap();
        assert!(data.len() <= 1024);
        assert!(data.contains("too large to send"), "{data}");
    }
}
