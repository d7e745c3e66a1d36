//! A tool call's card: tool and server, arguments, Approve / Deny while the host
//! waits for the user, a progress bar while it runs, then the result with its images
//! (as thumbnails) and resource links.

use leptos::{
    either::{Either, EitherOf3},
    prelude::*,
};

use crate::{
    chat::{Approval, Attachment, ToolCall},
    format,
    i18n::{Text, t},
    markdown::live_href,
    pages::chat::Actions,
    state::Status,
};

#[component]
pub fn ToolCard(call: ToolCall, offset: String) -> impl IntoView {
    let actions = expect_context::<Actions>();
    let state = actions.state();
    let lang = state.lang;
    let took = call
        .returned_ms
        .map(|done| format::duration(done.saturating_sub(call.called_ms)));
    let pending = call.result.is_none();
    let waiting = call.approval == Some(Approval::Pending);
    let approval = call.approval.clone().map(|approval| match approval {
        Approval::Pending => {
            let id = call.call_id.clone().unwrap_or_default();
            let deny_id = id.clone();
            let connected = move || state.status.get() == Status::Connected;
            let args = pretty(&call.args);
            let view = view! {
                <div class="approval" role="group" aria-label=t(lang, Text::ApprovalNeeded) data-kind="approval">
                    <p class="approval-question">{t(lang, Text::ApprovalNeeded)}</p>
                    <pre class="approval-args">{args}</pre>
                    <div class="approval-buttons">
                        <button type="button" class="approve" disabled=move || !connected() on:click=move |_| actions.approve(id.clone())>
                            {t(lang, Text::Approve)}
                        </button>
                        <button type="button" class="deny" disabled=move || !connected() on:click=move |_| actions.deny(deny_id.clone())>
                            {t(lang, Text::Deny)}
                        </button>
                    </div>
                </div>
            };
            EitherOf3::A(view)
        }
        Approval::Approved => EitherOf3::B(view! {
            <p class="approval-result" data-kind="approval">{t(lang, Text::Approved)}</p>
        }),
        Approval::Denied { reason } => {
            let text = match reason {
                Some(reason) => format!("{}: {reason}", t(lang, Text::Denied)),
                None => t(lang, Text::Denied).to_owned(),
            };
            EitherOf3::C(view! { <p class="approval-result denied" data-kind="approval">{text}</p> })
        }
    });
    let progress = call.progress.clone().filter(|_| pending).map(|p| {
        let label = p.message.clone().unwrap_or_default();
        let (value, max) = match p.fraction() {
            Some(fraction) => (
                Some(format!("{}", (fraction * 100.0).round() as u32)),
                "100",
            ),
            None => (None, "100"),
        };
        view! {
            <div class="tool-progress" data-kind="tool_progress">
                <progress max=max value=value aria-label=t(lang, Text::Progress)></progress>
                <span class="progress-text">{label}</span>
            </div>
        }
    });
    let attachments = (!call.attachments.is_empty()).then(|| {
        view! {
            <div class="tool-attachments">
                {call.attachments.iter().map(|a| attachment(lang, &call.tool, a)).collect_view()}
            </div>
        }
    });
    let server = call
        .server
        .clone()
        .map(|s| view! { <span class="tool-server">{s}</span> });
    view! {
        <li class="tool-card" class:failed=call.is_error class:waiting=waiting data-kind="tool_call" data-tool=call.tool.clone()>
            <div class="tool-head">
                <span class="tool-icon" aria-hidden="true"></span>
                <code class="tool-name">{call.tool.clone()}</code>
                {server}
                <span class="step-time">{took.unwrap_or(offset)}</span>
            </div>
            <code class="tool-args">{call.args.clone()}</code>
            {approval}
            {progress}
            <div class="tool-result" data-kind="tool_result" aria-busy=pending.to_string()>
                <span class="tool-arrow" aria-hidden="true">"→ "</span>
                <code>{call.result.clone().unwrap_or_else(|| "…".into())}</code>
            </div>
            {attachments}
        </li>
    }
}

/// An image thumbnail (opening the full image in a new tab) or a resource link.
fn attachment(
    lang: crate::i18n::Lang,
    tool: &str,
    attachment: &Attachment,
) -> impl IntoView + use<> {
    match attachment {
        Attachment::Image { mime_type, data } if safe_image(mime_type, data) => {
            let src = format!("data:{mime_type};base64,{data}");
            let alt = format!("{} {tool}", t(lang, Text::ImageFrom));
            Either::Left(view! { <img class="thumbnail" src=src alt=alt /> })
        }
        Attachment::Image { .. } => Either::Right(Either::Left(view! {
            <span class="muted">{t(lang, Text::ImageNotKept)}</span>
        })),
        Attachment::Link { uri, name } => {
            let text = name.clone().unwrap_or_else(|| uri.clone());
            let href = live_href(uri).then(|| uri.clone());
            Either::Right(Either::Right(view! {
                <a class="resource-link" href=href target="_blank" rel="noopener noreferrer">{text}</a>
            }))
        }
    }
}

/// An image the card may show: an `image/…` type and base64 data.
fn safe_image(mime_type: &str, data: &str) -> bool {
    let kind_ok = mime_type.strip_prefix("image/").is_some_and(|sub| {
        !sub.is_empty()
            && sub
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-'))
    });
    let data_ok = !data.is_empty()
        && data
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
    kind_ok && data_ok
}

/// The arguments laid out one per line, for the approval question: each top-level
/// argument on its own line, its value in full.
fn pretty(args: &str) -> String {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(args) else {
        return args.to_owned();
    };
    if map.is_empty() {
        return "{}".to_owned();
    }
    let lines: Vec<String> = map
        .iter()
        .map(|(key, value)| {
            let key = serde_json::to_string(key).unwrap_or_default();
            let value = serde_json::to_string(value).unwrap_or_default();
            format!("  {key}: {value}")
        })
        .collect();
    format!("{{\n{}\n}}", lines.join(",\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_one_per_line_in_full() {
        assert_eq!(pretty(r#"{"steps":4}"#), "{\n  \"steps\": 4\n}");
        assert_eq!(
            pretty(r#"{"p":{"deep":[1,2]}}"#),
            "{\n  \"p\": {\"deep\":[1,2]}\n}"
        );
        assert_eq!(pretty("{}"), "{}");
        assert_eq!(pretty("not json"), "not json");
    }

    #[test]
    fn only_base64_images_are_shown() {
        assert!(safe_image("image/png", "iVBORw0KGgo="));
        assert!(safe_image("image/svg+xml", "PHN2Zz4="));
        assert!(!safe_image("text/html", "PGI+"));
        assert!(!safe_image("image/png\" onerror=\"x", "AAAA"));
        assert!(!safe_image("image/png", "AA AA"));
        assert!(!safe_image("image/", "AAAA"));
        assert!(!safe_image("image/png", ""));
    }
}
