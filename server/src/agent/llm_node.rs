//! The `llm` node: asks the model for its next move, in a `chat` trace span, and
//! adds the tokens the call used to the turn's (and to the token counters).
//!
//! An answer longer than `max_answer_chars` is cut there, with a note saying so: a
//! streamed answer is not forwarded past the cap and its model call is stopped (no
//! more tokens paid for), a whole answer is shortened.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use protocol::{Node, ServerEvent};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::{
    AgentError, AgentSettings,
    graph::{AgentState, NodeContext, Transition, after_llm},
};
use crate::{
    lang::Lang,
    llm::{
        ChatMessage, Llm, LlmError, LlmReply, LlmRequest, TextSink,
        usage::{self, Prices},
    },
    metrics::{Metrics, ProviderLabels},
    otel::spans,
};

pub struct LlmNode<'a> {
    llm: &'a dyn Llm,
    max_iterations: u32,
    /// The longest one model call may take.
    timeout: Duration,
    /// The longest answer, in characters.
    max_answer_chars: usize,
    prices: Option<Prices>,
    metrics: &'a Metrics,
}

impl<'a> LlmNode<'a> {
    pub fn new(llm: &'a dyn Llm, settings: &AgentSettings, metrics: &'a Metrics) -> Self {
        Self {
            llm,
            max_iterations: settings.max_iterations,
            timeout: settings.llm_timeout,
            max_answer_chars: settings.max_answer_chars.max(1),
            prices: settings.prices,
            metrics,
        }
    }

    pub async fn run(
        &self,
        state: &mut AgentState,
        ctx: &mut NodeContext<'_, '_>,
    ) -> Result<Transition, AgentError> {
        if state.iterations >= self.max_iterations {
            return Err(AgentError::IterationLimit(self.max_iterations));
        }
        // One `step` per turn for the model: the tool events that follow show the loop.
        if state.iterations == 0 {
            ctx.emit(ServerEvent::Step {
                node: Node::Llm,
                message: self.llm.consulting(ctx.lang),
            })
            .await?;
        }
        state.iterations += 1;
        let request = LlmRequest {
            messages: &state.messages,
            tools: ctx.tools,
        };
        let lang = ctx.lang;
        let over_cap = CancellationToken::new();
        let mut deltas = Deltas {
            ctx: &mut *ctx,
            gone: None,
            forwarded: String::new(),
            chars: 0,
            cap: self.max_answer_chars,
            over_cap: over_cap.clone(),
        };
        let started = Instant::now();
        let trace = spans::chat(self.llm.info());
        let call = tokio::time::timeout(self.timeout, self.llm.complete(request, &mut deltas))
            .instrument(trace.clone());
        // A streamed answer past the cap drops the call: the provider stops reading.
        let reply = tokio::select! {
            biased;
            outcome = call => Some(outcome.unwrap_or(Err(LlmError::Timeout))),
            () = over_cap.cancelled() => None,
        };
        let provider = ProviderLabels {
            provider: self.llm.info().provider.clone(),
        };
        self.metrics
            .llm_calls
            .get_or_create(&provider)
            .observe(started.elapsed().as_secs_f64());
        if let Some(Ok(reply)) = &reply {
            self.count(&trace, reply.usage, state);
        }
        if let Some(gone) = deltas.gone.take() {
            return Err(gone);
        }
        let reply = match reply {
            Some(reply) if !over_cap.is_cancelled() => {
                let mut reply = reply.inspect_err(|error| {
                    spans::record_error(
                        &trace,
                        &spans::error_type(AgentError::Llm(error.clone()).code()),
                    );
                })?;
                if let Some(cut) = cut(&reply.text, self.max_answer_chars, lang) {
                    tracing::info!(
                        cap = self.max_answer_chars,
                        "the model's answer was cut at the cap"
                    );
                    reply.text = cut;
                }
                reply
            }
            // The streamed text reached the cap (whether or not the call ended too).
            _ => {
                tracing::info!(
                    cap = self.max_answer_chars,
                    "the model's streamed answer reached the cap; call stopped"
                );
                let note = cut_note(lang, self.max_answer_chars);
                deltas.send(&note).await;
                if let Some(gone) = deltas.gone.take() {
                    return Err(gone);
                }
                LlmReply::text(deltas.forwarded + &note)
            }
        };
        state.messages.push(ChatMessage::Assistant {
            text: reply.text.clone(),
            tool_calls: reply.tool_calls.clone(),
        });
        state.pending = reply.tool_calls;
        if state.pending.is_empty() {
            ctx.emit(ServerEvent::Response {
                content: reply.text.clone(),
            })
            .await?;
            state.answer = Some(reply.text);
        }
        Ok(after_llm(state))
    }
}

impl LlmNode<'_> {
    /// Adds one call's usage (priced, when there is a price table) to the turn's, the
    /// token counters and its span.
    fn count(&self, trace: &tracing::Span, reported: Option<usage::Usage>, state: &mut AgentState) {
        let Some(mut call) = reported else {
            return;
        };
        if let Some(prices) = self.prices {
            call = prices.price(call);
        }
        let info = self.llm.info();
        self.metrics.llm_usage(&info.provider, &info.model, &call);
        spans::record_usage(trace, &call);
        usage::accumulate(&mut state.usage, Some(call));
    }
}

/// What is appended to an answer cut at the cap.
fn cut_note(lang: Lang, cap: usize) -> String {
    match lang {
        Lang::Es => format!(" […] (respuesta recortada: superaba los {cap} caracteres)"),
        Lang::En => format!(" […] (answer cut: it was longer than {cap} characters)"),
    }
}

/// `text` cut after `cap` characters, with the note; `None` when it fits.
fn cut(text: &str, cap: usize, lang: Lang) -> Option<String> {
    let (at, _) = text.char_indices().nth(cap)?;
    Some(format!("{}{}", &text[..at], cut_note(lang, cap)))
}

/// Forwards the model's streamed text to the client as `response_delta` events, up to
/// the answer cap.
struct Deltas<'c, 'e, 'a> {
    ctx: &'c mut NodeContext<'e, 'a>,
    /// Set when the client went away; the node then stops.
    gone: Option<AgentError>,
    /// The text forwarded so far (what a cut answer keeps).
    forwarded: String,
    /// Characters in `forwarded`.
    chars: usize,
    cap: usize,
    /// Cancelled once the cap is reached.
    over_cap: CancellationToken,
}

impl Deltas<'_, '_, '_> {
    async fn send(&mut self, piece: &str) {
        let delta = ServerEvent::ResponseDelta {
            content: piece.to_owned(),
        };
        if let Err(gone) = self.ctx.emit(delta).await {
            self.gone = Some(gone);
        }
    }
}

#[async_trait]
impl TextSink for Deltas<'_, '_, '_> {
    async fn text(&mut self, piece: &str) {
        if self.gone.is_some() || piece.is_empty() || self.over_cap.is_cancelled() {
            return;
        }
        let room = self.cap - self.chars;
        let piece = match piece.char_indices().nth(room) {
            Some((at, _)) => {
                self.over_cap.cancel();
                &piece[..at]
            }
            None => piece,
        };
        self.chars += piece.chars().count();
        self.forwarded.push_str(piece);
        if !piece.is_empty() {
            self.send(piece).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_answers_are_cut_on_a_character_boundary_with_a_note() {
        assert_eq!(cut("short", 5, Lang::En), None);
        assert_eq!(
            cut("añadido", 2, Lang::Es).as_deref(),
            Some("añ […] (respuesta recortada: superaba los 2 caracteres)")
        );
        assert_eq!(
            cut("abcdef", 3, Lang::En).as_deref(),
            Some("abc […] (answer cut: it was longer than 3 characters)")
        );
    }
}
