//! The `tools` node: runs the tool calls the model asked for, one after another.
//!
//! Each call is announced (`tool_call` with a fresh `call_id` and its server); a call
//! whose policy is `ask` then waits for the user (`approval_required`, then
//! `approval_resolved`); while it runs, its progress becomes `tool_progress`; its
//! result becomes `tool_result` (text, structured content, images and links) and an
//! entry of the conversation for the model, cut to the size limit. Each call is an
//! `execute_tool` trace span, whose context the MCP server receives.

use std::time::{Duration, Instant};

use protocol::ServerEvent;
use tokio::sync::mpsc;
use tracing::Instrument;

use super::{
    AgentError, AgentSettings, ToolRecord,
    approval::Verdict,
    graph::{AgentState, NodeContext, Transition, after_tools},
};
use crate::{
    llm::{ChatMessage, ToolCall, ToolImage, ToolOutcome},
    metrics::{Metrics, ToolLabels},
    otel::spans,
    tools::{ApprovalPolicy, ToolError, ToolInfo, ToolOutput, Toolbox, convert},
};

/// Progress reports buffered between the server and the events; more are dropped.
const PROGRESS_BUFFER: usize = 64;

pub struct ToolNode<'a> {
    toolbox: &'a dyn Toolbox,
    settings: &'a AgentSettings,
    metrics: &'a Metrics,
}

/// How a call went, for metrics and the log.
fn outcome_label(output: &Result<ToolOutput, AgentError>, denied: bool) -> &'static str {
    match output {
        _ if denied => "denied",
        Ok(output) if output.is_error => "tool_error",
        Ok(_) => "ok",
        Err(_) => "failed",
    }
}

/// A fresh, unguessable id pairing a call's events (and answering its approval).
fn new_call_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl<'a> ToolNode<'a> {
    pub fn new(
        toolbox: &'a dyn Toolbox,
        settings: &'a AgentSettings,
        metrics: &'a Metrics,
    ) -> Self {
        Self {
            toolbox,
            settings,
            metrics,
        }
    }

    pub async fn run(
        &self,
        state: &mut AgentState,
        ctx: &mut NodeContext<'_, '_>,
    ) -> Result<Transition, AgentError> {
        let calls = std::mem::take(&mut state.pending);
        let mut outcomes = Vec::with_capacity(calls.len());
        for call in calls {
            let call_id = new_call_id();
            let info = ctx.catalog.iter().find(|t| t.name == call.name).cloned();
            ctx.emit(ServerEvent::ToolCall {
                tool: call.name.clone(),
                args: call.args.clone(),
                call_id: Some(call_id.clone()),
                server: info.as_ref().map(|t| t.server.clone()),
            })
            .await?;
            let started = Instant::now();
            let trace = spans::execute_tool(
                &call.name,
                &call.id,
                info.as_ref().map(|t| t.server.as_str()),
            );
            let executed = self
                .execute(&call, &call_id, info.as_ref(), ctx)
                .instrument(trace.clone())
                .await;
            let (output, denied) = executed.inspect_err(|error| {
                spans::record_error(&trace, &spans::error_type(error.code()));
            })?;
            let elapsed = started.elapsed();
            let outcome = outcome_label(&output, denied);
            trace.record("toolstream.tool.outcome", outcome);
            if matches!(outcome, "tool_error" | "failed") {
                spans::record_error(&trace, outcome);
            }
            // Model-invented names must not grow the label set without bound.
            let labels = ToolLabels {
                tool: info
                    .as_ref()
                    .map_or_else(|| "unknown".to_owned(), |t| t.name.clone()),
                outcome,
            };
            self.metrics
                .tool_calls
                .get_or_create(&labels)
                .observe(elapsed.as_secs_f64());
            tracing::debug!(tool = %call.name, outcome, elapsed_us = elapsed.as_micros() as u64, "tool call");
            let output = output?;
            let text = convert::cut(&output.text, self.settings.max_tool_result_chars);
            ctx.emit(ServerEvent::ToolResult {
                tool: call.name.clone(),
                result: text.clone(),
                is_error: output.is_error,
                call_id: Some(call_id),
                structured: output.structured.clone(),
                content: output.content.clone(),
            })
            .await?;
            outcomes.push(for_model(&call, text.clone(), &output, denied));
            state.tool_log.push(ToolRecord {
                call,
                result: text,
                is_error: output.is_error,
            });
        }
        state.messages.push(ChatMessage::ToolResults(outcomes));
        Ok(after_tools(state))
    }

    /// Asks for approval when the policy says so, then runs the call. Returns its
    /// output (or why it failed) and whether the user refused it.
    async fn execute(
        &self,
        call: &ToolCall,
        call_id: &str,
        info: Option<&ToolInfo>,
        ctx: &mut NodeContext<'_, '_>,
    ) -> Result<(Result<ToolOutput, AgentError>, bool), AgentError> {
        // The model wrote arguments that cannot be sent: it reads why instead.
        if let Some(why) = &call.malformed {
            return Ok((Ok(ToolOutput::error(why.clone())), false));
        }
        if let Some(info) = info
            && info.approval == ApprovalPolicy::Ask
            && let Some(refusal) = self.ask(call, call_id, info, ctx).await?
        {
            return Ok((Ok(ToolOutput::error(refusal)), true));
        }
        Ok((self.invoke(call, call_id, ctx).await, false))
    }

    /// Waits for the user's decision; `Some(text for the model)` when refused.
    async fn ask(
        &self,
        call: &ToolCall,
        call_id: &str,
        info: &ToolInfo,
        ctx: &mut NodeContext<'_, '_>,
    ) -> Result<Option<String>, AgentError> {
        let pending = ctx.approvals.expect(call_id);
        ctx.emit(ServerEvent::ApprovalRequired {
            call_id: call_id.to_owned(),
            tool: call.name.clone(),
            args: call.args.clone(),
            server: info.server.clone(),
        })
        .await?;
        let verdict = {
            let _paused = ctx.clock.pause();
            pending
                .wait(self.settings.approval_timeout, ctx.cancel)
                .await
        };
        let (approved, reason, refusal) = match verdict {
            Verdict::Approved => (true, None, None),
            Verdict::Cancelled => return Err(AgentError::Cancelled),
            Verdict::Denied { reason } => {
                let why = reason.as_deref().map(|r| format!(" Their reason: {r}")).unwrap_or_default();
                let text = format!("The user declined this tool call, so it was not run.{why}");
                (false, reason, Some(text))
            }
            Verdict::TimedOut(after) => (
                false,
                Some(format!("nobody answered within {} s", secs(after))),
                Some(format!(
                    "Nobody approved this tool call within {} s, so it was not run.",
                    secs(after)
                )),
            ),
            Verdict::Unattended => (
                false,
                Some("this client cannot answer approvals".to_owned()),
                Some("This tool needs the user's approval, which this client cannot give, so it was not run.".to_owned()),
            ),
        };
        ctx.emit(ServerEvent::ApprovalResolved {
            call_id: call_id.to_owned(),
            approved,
            reason,
        })
        .await?;
        Ok(refusal)
    }

    /// Runs the call, turning its progress into `tool_progress` events.
    async fn invoke(
        &self,
        call: &ToolCall,
        call_id: &str,
        ctx: &mut NodeContext<'_, '_>,
    ) -> Result<ToolOutput, AgentError> {
        let (progress_tx, mut progress) = mpsc::channel(PROGRESS_BUFFER);
        let cancel = ctx.cancel.clone();
        let running = self
            .toolbox
            .call(&call.name, &call.args, progress_tx, &cancel);
        let mut running = std::pin::pin!(running);
        let result = loop {
            tokio::select! {
                result = &mut running => break result,
                Some(report) = progress.recv() => {
                    ctx.emit(progress_event(call, call_id, report)).await?;
                }
            }
        };
        // Reports that arrived just before the result still come first.
        while let Ok(report) = progress.try_recv() {
            ctx.emit(progress_event(call, call_id, report)).await?;
        }
        match result {
            Ok(output) => Ok(output),
            // An optional server that went away: the model is told, the turn goes on.
            Err(ToolError::Unavailable {
                server,
                required: false,
                detail,
            }) => {
                tracing::info!(%server, %detail, tool = %call.name, "tool call on an unavailable server");
                Ok(ToolOutput::error(format!(
                    "The MCP server {server} is unavailable right now, so the tool was not run."
                )))
            }
            Err(ToolError::Cancelled) => Err(AgentError::Cancelled),
            Err(error) => Err(error.into()),
        }
    }
}

fn progress_event(call: &ToolCall, call_id: &str, report: crate::tools::Progress) -> ServerEvent {
    ServerEvent::ToolProgress {
        call_id: call_id.to_owned(),
        tool: call.name.clone(),
        progress: report.progress,
        total: report.total,
        message: report.message,
    }
}

fn secs(duration: Duration) -> String {
    protocol::format_number(duration.as_secs_f64())
}

/// The conversation entry for the model: the (cut) text, a mention of images and
/// links so that text-only models know of them, and the images themselves.
fn for_model(call: &ToolCall, text: String, output: &ToolOutput, denied: bool) -> ToolOutcome {
    let mut content = text;
    let mut images = Vec::new();
    for item in &output.content {
        match item {
            protocol::ContentItem::Image { mime_type, data } => {
                content.push_str(&format!("\n[image attached: {mime_type}]"));
                images.push(ToolImage {
                    mime_type: mime_type.clone(),
                    data: data.clone(),
                });
            }
            protocol::ContentItem::ResourceLink { uri, .. } => {
                content.push_str(&format!("\n[resource: {uri}]"));
            }
            protocol::ContentItem::Unknown => {}
        }
    }
    ToolOutcome {
        images,
        denied,
        ..ToolOutcome::text(call.id.clone(), call.name.clone(), content, output.is_error)
    }
}
