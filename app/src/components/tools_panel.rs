//! The toolbox's tools, as announced by the server.

use leptos::{either::Either, prelude::*};
use protocol::ToolDescriptor;

use crate::{
    i18n::{Text, t},
    pages::chat::Actions,
};

/// `a: number, b: number` from a tool's JSON Schema.
fn parameters(tool: &ToolDescriptor) -> String {
    let Some(properties) = tool
        .parameters
        .get("properties")
        .and_then(|p| p.as_object())
    else {
        return String::new();
    };
    properties
        .iter()
        .map(|(name, schema)| {
            let kind = schema.get("type").and_then(|t| t.as_str()).unwrap_or("any");
            format!("{name}: {kind}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[component]
pub fn ToolsPanel() -> impl IntoView {
    let state = expect_context::<Actions>().state();
    let lang = state.lang;
    let tools = state.tools;
    view! {
        <details class="tools-panel">
            <summary>
                {t(lang, Text::Tools)}
                " (" <span class="tool-count">{move || tools.with(Vec::len)}</span> ")"
            </summary>
            {move || {
                if tools.with(Vec::is_empty) {
                    Either::Left(view! { <p class="muted">{t(lang, Text::NoTools)}</p> })
                } else {
                    Either::Right(view! {
                        <ul class="tool-list">
                            {tools
                                .get()
                                .into_iter()
                                .map(|tool| {
                                    let params = parameters(&tool);
                                    let server = tool
                                        .server
                                        .clone()
                                        .map(|s| view! { <span class="tool-server">{s}</span> });
                                    view! {
                                        <li class="tool" data-tool=tool.name.clone()>
                                            <code class="tool-name">{tool.name.clone()} "(" {params} ")"</code>
                                            {server}
                                            <span class="tool-description">{tool.description.clone()}</span>
                                        </li>
                                    }
                                })
                                .collect_view()}
                        </ul>
                    })
                }
            }}
        </details>
    }
}
