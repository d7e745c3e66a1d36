//! The list of transcript entries, each styled by its kind.

use leptos::prelude::*;

use crate::chat::{Entry, EntryKind};

/// Shows the transcript as it grows, keeping the newest line in view.
#[component]
pub fn Transcript(entries: ReadSignal<Vec<Entry>>) -> impl IntoView {
    let list = NodeRef::<leptos::html::Ol>::new();
    Effect::new(move |_| {
        entries.track();
        if let Some(list) = list.get() {
            list.set_scroll_top(list.scroll_height());
        }
    });
    view! {
        <ol class="transcript" node_ref=list aria-live="polite" aria-label="Conversation">
            <For each=move || entries.get() key=|entry| entry.id let:entry>
                <EntryLine entry />
            </For>
        </ol>
    }
}

#[component]
fn EntryLine(entry: Entry) -> impl IntoView {
    let icon = match entry.kind {
        EntryKind::User => "👤",
        EntryKind::Start => "🚀",
        EntryKind::Step => "⚙️",
        EntryKind::ToolCall => "🔧",
        EntryKind::ToolResult if entry.failed => "⚠️",
        EntryKind::ToolResult => "✅",
        EntryKind::Response => "🤖",
        EntryKind::Complete => "✓",
        EntryKind::Error => "❌",
        EntryKind::Notice => "•",
    };
    let class = format!(
        "entry entry-{}{}",
        entry.kind.as_str(),
        if entry.failed { " entry-failed" } else { "" }
    );
    let arrow = (entry.kind == EntryKind::ToolResult).then_some(" → ");
    view! {
        <li class=class data-kind=entry.kind.as_str()>
            <span class="entry-icon" aria-hidden="true">{icon}</span>
            {entry.label.map(|label| view! { <span class="entry-label">{label}{arrow}</span> })}
            <span class="entry-text">{entry.text}</span>
        </li>
    }
}
