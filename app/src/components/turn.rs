//! One turn: the question, a collapsible timeline of the agent's steps (tool calls as
//! cards with their durations), the answer as it streams, and how it ended.
//!
//! Each part reads only what it shows, so a streamed piece of the answer updates one
//! text node and the timeline keeps its open/closed state.

use leptos::prelude::*;

use crate::{
    chat::{Step, Turn, TurnStatus, format_duration},
    i18n::{Lang, Text, error_hint, t},
    pages::chat::Actions,
};

#[component]
pub fn TurnView(local_id: u64) -> impl IntoView {
    let state = expect_context::<Actions>().state();
    let lang = state.lang;
    let turn = Memo::new(move |_| state.conversation.with(|c| c.turn(local_id).cloned()));
    let status =
        Memo::new(move |_| turn.with(|t| t.as_ref().map_or(TurnStatus::Waiting, |t| t.status)));
    let step_count = Memo::new(move |_| turn.with(|t| t.as_ref().map_or(0, |t| t.steps.len())));
    let answer =
        Memo::new(move |_| turn.with(|t| t.as_ref().map(|t| t.answer.clone()).unwrap_or_default()));
    let question =
        turn.with_untracked(|t| t.as_ref().map(|t| t.question.clone()).unwrap_or_default());
    let started = move || turn.with(|t| t.as_ref().and_then(|t| t.started_ms));

    view! {
        <li class="turn" data-status=move || status.get().as_str()>
            <Show when={
                let empty = question.is_empty();
                move || !empty
            }>
                <p class="bubble user" data-kind="user">{question.clone()}</p>
            </Show>
            <details class="timeline" open>
                <summary>{move || summary(lang, turn.get().as_ref())}</summary>
                <ol class="steps">
                    <For each=move || 0..step_count.get() key=|i| *i let:index>
                        <StepView turn index started=Signal::derive(started) />
                    </For>
                </ol>
            </details>
            <Show when=move || !answer.with(String::is_empty) || status.get() == TurnStatus::Running>
                <div
                    class="bubble answer"
                    data-kind="response"
                    aria-busy=move || (status.get() == TurnStatus::Running).to_string()
                >
                    {move || {
                        let text = answer.get();
                        if text.is_empty() { t(lang, Text::Thinking).to_owned() } else { text }
                    }}
                </div>
            </Show>
            {move || turn.with(|t| t.as_ref().and_then(|t| t.error.clone())).map(|error| {
                view! {
                    <div class="error-card" role="alert" data-kind="error">
                        <strong>{t(lang, Text::ErrorTitle)}</strong>
                        <p class="error-message">{error.message}</p>
                        <p class="error-hint">{error_hint(lang, error.code)}</p>
                    </div>
                }
            })}
            {move || footer(lang, turn.get().as_ref())}
        </li>
    }
}

/// The timeline's one-line summary: `5 steps · 12 ms`.
fn summary(lang: Lang, turn: Option<&Turn>) -> String {
    let Some(turn) = turn else {
        return String::new();
    };
    let steps = turn.steps.len();
    let noun = match (lang, steps) {
        (Lang::En, 1) => "step",
        (Lang::Es, 1) => "paso",
        _ => t(lang, Text::Steps),
    };
    match turn.elapsed_ms(now_ms()) {
        Some(ms) if !turn.status.is_open() => format!("{steps} {noun} · {}", format_duration(ms)),
        _ => format!("{steps} {noun}"),
    }
}

/// How the turn ended, under the answer.
fn footer(lang: Lang, turn: Option<&Turn>) -> Option<AnyView> {
    let turn = turn?;
    let view = match turn.status {
        TurnStatus::Done => {
            // `complete{steps}` counts the turn's events on the wire, not the rows of
            // the timeline above: named events here, so the two numbers never clash.
            let events = turn.event_count.unwrap_or_default();
            let took = turn.elapsed_ms(0).map(format_duration).unwrap_or_default();
            let text = match lang {
                Lang::En => format!("✓ Completed in {took} · {events} events"),
                Lang::Es => format!("✓ Completado en {took} · {events} eventos"),
            };
            view! { <p class="turn-meta" data-kind="complete">{text}</p> }.into_any()
        }
        TurnStatus::Stopped => {
            view! { <p class="turn-meta" data-kind="cancelled">{t(lang, Text::Stopped)}</p> }.into_any()
        }
        TurnStatus::Interrupted => {
            view! { <p class="turn-meta warn" data-kind="interrupted">{t(lang, Text::Interrupted)}</p> }
                .into_any()
        }
        TurnStatus::Waiting => {
            view! { <p class="turn-meta muted">{t(lang, Text::Waiting)}</p> }.into_any()
        }
        TurnStatus::Running | TurnStatus::Failed => return None,
    };
    Some(view)
}

#[component]
fn StepView(turn: Memo<Option<Turn>>, index: usize, started: Signal<Option<u64>>) -> impl IntoView {
    let step =
        Memo::new(move |_| turn.with(|t| t.as_ref().and_then(|t| t.steps.get(index).cloned())));
    move || {
        let step = step.get()?;
        let offset = started
            .get()
            .map(|start| format!("+{}", format_duration(step.at_ms().saturating_sub(start))))
            .unwrap_or_default();
        Some(match step {
            Step::Started { message, .. } => view! {
                <li class="step" data-kind="start">
                    <span class="step-text">{message}</span>
                    <span class="step-time">{offset}</span>
                </li>
            }
            .into_any(),
            Step::Node { node, message, .. } => view! {
                <li class="step" data-kind="step">
                    <span class="step-node">{node}</span>
                    <span class="step-text">{message}</span>
                    <span class="step-time">{offset}</span>
                </li>
            }
            .into_any(),
            Step::Thought { text, .. } => view! {
                <li class="step thought" data-kind="thought">
                    <span class="step-text">{text}</span>
                    <span class="step-time">{offset}</span>
                </li>
            }
            .into_any(),
            Step::Tool {
                tool,
                args,
                result,
                is_error,
                called_ms,
                returned_ms,
            } => {
                let took = returned_ms.map(|done| format_duration(done.saturating_sub(called_ms)));
                let pending = result.is_none();
                view! {
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
                }
                .into_any()
            }
        })
    }
}

/// The browser's clock, for the running turn's summary.
fn now_ms() -> u64 {
    #[cfg(feature = "hydrate")]
    {
        js_sys::Date::now() as u64
    }
    #[cfg(not(feature = "hydrate"))]
    {
        0
    }
}
