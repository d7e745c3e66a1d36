//! Prometheus metrics, exported at `GET /metrics` in the text exposition format.
//!
//! One registry per application (no global recorder), so several servers in one
//! process (the tests) each count only their own traffic.

use std::sync::{Arc, atomic::AtomicU64};

use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};

/// `outcome` of a turn: `complete`, `error`, `cancelled`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: &'static str,
}

/// A tool and whether its call succeeded (`ok`, `tool_error`, `failed`).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ToolLabels {
    pub tool: String,
    pub outcome: &'static str,
}

/// The LLM provider of a model call.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProviderLabels {
    pub provider: String,
}

/// The model of an LLM call, and which of its tokens (`input`, `output`).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TokenLabels {
    pub provider: String,
    pub model: String,
    pub kind: &'static str,
}

/// The model of an LLM call.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModelLabels {
    pub provider: String,
    pub model: String,
}

/// Why something was refused or failed: a short, fixed vocabulary.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: &'static str,
}

/// Every metric of the server.
pub struct Metrics {
    registry: Registry,
    /// Open WebSocket connections.
    pub connections: Gauge,
    /// Chat sessions alive (attached or within their resume grace period).
    pub sessions: Gauge,
    /// Turns running now, on any transport.
    pub turns_running: Gauge,
    /// Finished turns by outcome.
    pub turns: Family<OutcomeLabels, Counter>,
    /// Wall time of whole turns.
    pub turn_duration: Histogram,
    /// Wall time of tool calls, by tool and outcome.
    pub tool_calls: Family<ToolLabels, Histogram>,
    /// Wall time of LLM calls, by provider.
    pub llm_calls: Family<ProviderLabels, Histogram>,
    /// Tokens the models reported, by provider, model and kind (`input`, `output`).
    pub llm_tokens: Family<TokenLabels, Counter>,
    /// What those tokens cost in US dollars, by provider and model, when the server
    /// has a price table.
    pub llm_cost: Family<ModelLabels, Counter<f64, AtomicU64>>,
    /// Failures to reach the MCP toolbox, by kind (`unavailable`, `timeout`).
    pub mcp_errors: Family<ReasonLabels, Counter>,
    /// WebSocket upgrades or frames refused, by reason.
    pub rejected: Family<ReasonLabels, Counter>,
}

fn latency_histogram() -> Histogram {
    // 100 µs … ~105 s, doubling.
    Histogram::new(exponential_buckets(0.0001, 2.0, 21))
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::with_prefix("toolstream");
        let metrics = Self {
            connections: Gauge::default(),
            sessions: Gauge::default(),
            turns_running: Gauge::default(),
            turns: Family::default(),
            turn_duration: latency_histogram(),
            tool_calls: Family::new_with_constructor(latency_histogram),
            llm_calls: Family::new_with_constructor(latency_histogram),
            llm_tokens: Family::default(),
            llm_cost: Family::default(),
            mcp_errors: Family::default(),
            rejected: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "ws_connections",
            "Open WebSocket connections",
            metrics.connections.clone(),
        );
        registry.register("sessions", "Chat sessions alive", metrics.sessions.clone());
        registry.register(
            "turns_running",
            "Agent turns running now",
            metrics.turns_running.clone(),
        );
        registry.register(
            "turns",
            "Finished agent turns by outcome",
            metrics.turns.clone(),
        );
        registry.register(
            "turn_duration_seconds",
            "Wall time of agent turns",
            metrics.turn_duration.clone(),
        );
        registry.register(
            "tool_call_duration_seconds",
            "Wall time of MCP tool calls by tool and outcome",
            metrics.tool_calls.clone(),
        );
        registry.register(
            "llm_call_duration_seconds",
            "Wall time of LLM calls by provider",
            metrics.llm_calls.clone(),
        );
        registry.register(
            "llm_tokens",
            "Tokens used by LLM calls, as the provider reported them, by provider, model and kind",
            metrics.llm_tokens.clone(),
        );
        registry.register(
            "llm_cost_usd",
            "Cost of LLM calls in US dollars from LLM_PRICE_*_PER_MTOK, by provider and model",
            metrics.llm_cost.clone(),
        );
        registry.register(
            "mcp_errors",
            "Failures to reach the MCP toolbox",
            metrics.mcp_errors.clone(),
        );
        registry.register(
            "ws_rejected",
            "Refused WebSocket upgrades and frames",
            metrics.rejected.clone(),
        );
        Arc::new(Self {
            registry,
            ..metrics
        })
    }

    /// The metrics in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut text = String::with_capacity(8 * 1024);
        // Writing into a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }

    /// Counts the tokens (and cost, if priced) of one LLM call.
    pub fn llm_usage(&self, provider: &str, model: &str, usage: &protocol::Usage) {
        for (kind, tokens) in [
            ("input", usage.input_tokens),
            ("output", usage.output_tokens),
        ] {
            let labels = TokenLabels {
                provider: provider.to_owned(),
                model: model.to_owned(),
                kind,
            };
            self.llm_tokens.get_or_create(&labels).inc_by(tokens);
        }
        if let Some(cost) = usage.cost_usd {
            let labels = ModelLabels {
                provider: provider.to_owned(),
                model: model.to_owned(),
            };
            self.llm_cost.get_or_create(&labels).inc_by(cost);
        }
    }

    pub fn reject(&self, reason: &'static str) {
        self.rejected.get_or_create(&ReasonLabels { reason }).inc();
    }
}

/// Increments a gauge now and decrements it when dropped.
pub struct GaugeGuard(Gauge);

impl GaugeGuard {
    pub fn new(gauge: &Gauge) -> Self {
        gauge.inc();
        Self(gauge.clone())
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}
