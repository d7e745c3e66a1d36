//! One entry of a turn's timeline: a step, a thought, or a tool card with its
//! arguments, result and duration.

use leptos::{either::Either, prelude::*};

use crate::{chat::Step, components::tool_card::ToolCard, format, state::TurnSignal};

#[component]
pub fn StepView(turn: TurnSignal, index: usize, started: Signal<Option<u64>>) -> impl IntoView {
    let step = Memo::new(move |_| turn.with(|t| t.steps.get(index).cloned()));
    move || {
        let step = step.get()?;
        let offset = started
            .get()
            .map(|start| format!("+{}", format::duration(step.at_ms().saturating_sub(start))))
            .unwrap_or_default();
        let (class, kind, node, text) = match step {
            Step::Tool(call) => {
                return Some(Either::Right(view! { <ToolCard call offset /> }));
            }
            Step::Started { message, .. } => ("step", "start", None, message),
            Step::Node { node, message, .. } => ("step", "step", Some(node), message),
            Step::Thought { text, .. } => ("step thought", "thought", None, text),
        };
        Some(Either::Left(view! {
            <li class=class data-kind=kind>
                {node.map(|node| view! { <span class="step-node">{node}</span> })}
                <span class="step-text">{text}</span>
                <span class="step-time">{offset}</span>
            </li>
        }))
    }
}
