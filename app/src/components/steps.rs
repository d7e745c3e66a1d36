//! One entry of a turn's timeline: a step, a thought, or a tool card with its
//! arguments, result and duration.

use leptos::{either::Either, prelude::*};

use crate::{chat::Step, format, state::TurnSignal};

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
            Step::Tool {
                tool,
                args,
                result,
                is_error,
                called_ms,
                returned_ms,
            } => {
                let took = returned_ms.map(|done| format::duration(done.saturating_sub(called_ms)));
                let pending = result.is_none();
                return Some(Either::Right(view! {
                    <li class="tool-card" class:failed=is_error data-kind="tool_call" data-tool=tool.clone()>
                        <div class="tool-head">
                            <span class="tool-icon" aria-hidden="true"></span>
                            <code class="tool-name">{tool.clone()}</code>
                            <span class="step-time">{took.unwrap_or(offset)}</span>
                        </div>
                        <code class="tool-args">{args}</code>
                        <div class="tool-result" data-kind="tool_result" aria-busy=pending.to_string()>
                            <span class="tool-arrow" aria-hidden="true">"→ "</span>
                            <code>{result.unwrap_or_else(|| "…".into())}</code>
                        </div>
                    </li>
                }));
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
