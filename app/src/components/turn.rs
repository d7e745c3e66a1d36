//! One turn: the question (editable on the last turn), a collapsible timeline of the
//! agent's steps, the answer as it streams (markdown) with Copy and Regenerate, and
//! how it ended: time, events and tokens.
//!
//! The turn's parts follow the turn's own signal and nothing else, so a streamed
//! piece of this answer updates this turn only; the timeline keeps its open/closed
//! state.

use leptos::{either::Either, prelude::*};

use crate::{
    chat::{Turn, TurnStatus},
    components::{
        answer::{AnswerText, CopyButton},
        steps::StepView,
    },
    format,
    i18n::{Lang, Text, error_hint, t},
    pages::chat::Actions,
    state::{Status, TurnSignal},
};

/// What the turn's frame shows, apart from the streaming text: it changes a few
/// times per turn, so the parts that follow it do not re-run per streamed piece.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Shape {
    status: TurnStatus,
    steps: usize,
    has_answer: bool,
    started: Option<u64>,
}

impl Shape {
    fn of(turn: &Turn) -> Self {
        Self {
            status: turn.status,
            steps: turn.steps.len(),
            has_answer: !turn.answer.is_empty(),
            started: turn.started_ms,
        }
    }
}

#[component]
pub fn TurnView(
    turn: TurnSignal,
    /// Whether this turn is the one Edit and Regenerate act on.
    #[prop(into)]
    revisable: Signal<bool>,
) -> impl IntoView {
    let actions = expect_context::<Actions>();
    let state = actions.state();
    let lang = state.lang;
    let local_id = turn.with_untracked(|t| t.local_id);
    let question = turn.with_untracked(|t| t.question.clone());
    let read = turn.clone();
    let shape = Memo::new(move |_| read.with(Shape::of));
    let status = move || shape.get().status;
    let has_answer = Memo::new(move |_| shape.get().has_answer);
    let has_answer = move || has_answer.get();
    let running = Memo::new(move |_| status() == TurnStatus::Running);
    let show_answer = Memo::new(move |_| has_answer() || running.get());
    let started = Signal::derive(move || shape.get().started);
    // Read when the shape changes (start, steps, end), not per streamed piece.
    let read = turn.clone();
    let summary_text = move || {
        shape.track();
        read.with_untracked(|t| summary(lang, t))
    };
    let read = turn.clone();
    let ending = move || {
        shape.track();
        read.with_untracked(|t| ending(lang, t))
    };
    let connected = move || state.status.get() == Status::Connected;
    let can_revise = move || revisable.get() && connected();
    let read = turn.clone();
    let answer_text = Callback::new(move |()| read.with_untracked(|t| t.answer.clone()));
    let steps_turn = turn.clone();
    let answer_turn = turn.clone();
    // The renderer takes over once there is text; "Working…" until then.
    let answer_body =
        move || has_answer().then(|| view! { <AnswerText turn=answer_turn.clone() /> });

    view! {
        <li class="turn" data-status=move || status().as_str() data-local-id=local_id>
            {(!question.is_empty()).then(|| view! { <Question question can_edit=Signal::derive(can_revise) /> })}
            <details class="timeline" open>
                <summary>{summary_text}</summary>
                <ol class="steps">
                    <For each=move || 0..shape.get().steps key=|i| *i let:index>
                        <StepView turn=steps_turn.clone() index started />
                    </For>
                </ol>
            </details>
            {move || show_answer.get().then(|| view! {
                <div class="bubble answer" data-kind="response" aria-busy=move || running.get().to_string()>
                    {answer_body.clone()}
                    {move || (!has_answer()).then(|| view! { <span class="muted">{t(lang, Text::Thinking)}</span> })}
                </div>
            })}
            {move || (!status().is_open() && (has_answer() || can_revise())).then(|| view! {
                <div class="answer-actions">
                    {has_answer().then(|| view! {
                        <CopyButton text=answer_text label=t(lang, Text::Copy) class="copy-answer" />
                    })}
                    {can_revise().then(|| view! {
                        <button type="button" class="regenerate" on:click=move |_| actions.regenerate()>
                            {t(lang, Text::Regenerate)}
                        </button>
                    })}
                </div>
            })}
            {ending}
        </li>
    }
}

/// The user's question; on the last turn, an Edit button that turns it into a form.
#[component]
fn Question(question: String, can_edit: Signal<bool>) -> impl IntoView {
    let actions = expect_context::<Actions>();
    let lang = actions.state().lang;
    let (editing, set_editing) = signal(false);
    let (draft, set_draft) = signal(String::new());
    let input = NodeRef::<leptos::html::Textarea>::new();
    let original = question.clone();
    let start_editing = move |_| {
        set_draft.set(original.clone());
        set_editing.set(true);
        request_animation_frame(move || {
            if let Some(input) = input.get_untracked() {
                let _ = input.focus();
            }
        });
    };
    let submit = move || {
        let text = draft.get_untracked().trim().to_owned();
        if !text.is_empty() && can_edit.get_untracked() {
            actions.edit(text);
            set_editing.set(false);
        }
    };
    let on_key = move |ev: leptos::ev::KeyboardEvent| match ev.key().as_str() {
        "Enter" if !ev.shift_key() => {
            ev.prevent_default();
            submit();
        }
        "Escape" => set_editing.set(false),
        _ => {}
    };
    move || {
        if editing.get() && can_edit.get() {
            Either::Left(view! {
                <form class="edit-form" on:submit=move |ev| { ev.prevent_default(); submit(); }>
                    <label class="visually-hidden" for="edit-question">{t(lang, Text::EditLabel)}</label>
                    <textarea
                        id="edit-question"
                        node_ref=input
                        rows="2"
                        prop:value=draft
                        on:input=move |ev| set_draft.set(event_target_value(&ev))
                        on:keydown=on_key
                    ></textarea>
                    <div class="edit-buttons">
                        <button type="button" on:click=move |_| set_editing.set(false)>
                            {t(lang, Text::Cancel)}
                        </button>
                        <button type="submit">{t(lang, Text::SendEdit)}</button>
                    </div>
                </form>
            })
        } else {
            let start_editing = start_editing.clone();
            Either::Right(view! {
                <div class="question">
                    {can_edit.get().then(|| view! {
                        <button type="button" class="edit" on:click=start_editing>
                            {t(lang, Text::Edit)}
                        </button>
                    })}
                    <p class="bubble user" data-kind="user">{question.clone()}</p>
                </div>
            })
        }
    }
}

/// The timeline's one-line summary: `5 steps · 12 ms`.
fn summary(lang: Lang, turn: &Turn) -> String {
    let steps = turn.steps.len();
    let noun = match (lang, steps) {
        (Lang::En, 1) => "step",
        (Lang::Es, 1) => "paso",
        _ => t(lang, Text::Steps),
    };
    match turn.elapsed_ms(0) {
        Some(ms) if !turn.status.is_open() => format!("{steps} {noun} · {}", format::duration(ms)),
        _ => format!("{steps} {noun}"),
    }
}

/// How the turn ended: its error, or time, events and tokens.
fn ending(lang: Lang, turn: &Turn) -> impl IntoView + use<> {
    if let Some(error) = &turn.error {
        return Either::Left(view! {
            <div class="error-card" role="alert" data-kind="error">
                <strong>{t(lang, Text::ErrorTitle)}</strong>
                <p class="error-message">{error.message.clone()}</p>
                <p class="error-hint">{error_hint(lang, error.code)}</p>
            </div>
        });
    }
    Either::Right(footer(lang, turn).map(|(class, kind, text, tokens)| {
        view! {
            <p class=class data-kind=kind>
                {text}
                {tokens.map(|tokens| view! { <span class="turn-usage" data-kind="usage">{tokens}</span> })}
            </p>
        }
    }))
}

/// The line under a turn that did not fail: its class, kind, text, and tokens.
fn footer(lang: Lang, turn: &Turn) -> Option<(&'static str, &'static str, String, Option<String>)> {
    Some(match turn.status {
        TurnStatus::Done => {
            // `complete{steps}` counts the turn's events on the wire, not the rows of
            // the timeline above: named events here, so the two numbers never clash.
            let events = turn.event_count.unwrap_or_default();
            let took = turn.elapsed_ms(0).map(format::duration).unwrap_or_default();
            let text = match lang {
                Lang::En => format!("✓ Completed in {took} · {events} events"),
                Lang::Es => format!("✓ Completado en {took} · {events} eventos"),
            };
            let tokens = turn
                .usage
                .map(|usage| format!(" · tokens: {}", format::usage(lang, &usage)));
            ("turn-meta", "complete", text, tokens)
        }
        TurnStatus::Stopped => (
            "turn-meta",
            "cancelled",
            t(lang, Text::Stopped).into(),
            None,
        ),
        TurnStatus::Interrupted => (
            "turn-meta warn",
            "interrupted",
            t(lang, Text::Interrupted).into(),
            None,
        ),
        TurnStatus::Waiting => (
            "turn-meta muted",
            "waiting",
            t(lang, Text::Waiting).into(),
            None,
        ),
        TurnStatus::Running | TurnStatus::Failed => return None,
    })
}
