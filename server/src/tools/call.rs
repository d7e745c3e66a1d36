//! One `tools/call` on a connected server: its progress routed to the caller, its
//! timeout, and its cancellation.
//!
//! rmcp gives every request a progress token (`_meta.progressToken`), so servers
//! report progress for any call. Cancelling (the token fires, the time runs out, or
//! the caller drops the future) sends the server `notifications/cancelled` for the
//! request and returns at once: nothing waits for the tool to notice.

use std::{sync::Arc, time::Duration};

use protocol::Args;
use rmcp::{
    model::{
        CallToolRequest, CallToolRequestParams, CancelledNotificationParam, ClientRequest,
        RequestId, ServerResult,
    },
    service::{Peer, PeerRequestOptions, RoleClient, ServiceError},
};
use tokio_util::sync::CancellationToken;

use super::{ProgressSender, ToolOutput, convert, handler::ProgressRoutes};

/// How a call ended without a result.
#[derive(Debug)]
pub enum CallError {
    /// The connection failed; the server may be gone.
    Transport(String),
    Timeout,
    Cancelled,
}

/// Calls `tool` (the server's name for it) with `args`.
pub async fn call_tool(
    peer: &Peer<RoleClient>,
    routes: &Arc<ProgressRoutes>,
    tool: &str,
    args: &Args,
    progress: ProgressSender,
    cancel: &CancellationToken,
    timeout: Duration,
) -> Result<ToolOutput, CallError> {
    let params = CallToolRequestParams::new(tool.to_owned()).with_arguments(args.clone());
    let request = ClientRequest::CallToolRequest(CallToolRequest::new(params));
    // The turn's trace goes on at the server (W3C trace context in `_meta`).
    let mut options = PeerRequestOptions::no_options();
    options.meta = crate::otel::propagation::current_meta();
    let handle = peer
        .send_cancellable_request(request, options)
        .await
        .map_err(|e| CallError::Transport(e.to_string()))?;
    let _route = routes.register(handle.progress_token.clone(), progress);
    let mut guard = CancelOnDrop {
        peer: peer.clone(),
        request: Some(handle.id.clone()),
    };
    let response = tokio::select! {
        biased;
        () = cancel.cancelled() => {
            guard.cancel_now("cancelled by the user").await;
            return Err(CallError::Cancelled);
        }
        response = tokio::time::timeout(timeout, handle.await_response()) => response,
    };
    let Ok(response) = response else {
        guard.cancel_now("timed out").await;
        return Err(CallError::Timeout);
    };
    guard.request = None;
    match response {
        Ok(ServerResult::CallToolResult(result)) => Ok(convert::tool_output(result)),
        // A result with only `_meta`, or none at all: the tool succeeded silently.
        Ok(ServerResult::EmptyResult(_)) => Ok(ToolOutput::default()),
        Ok(ServerResult::InputRequiredResult(_)) => Ok(ToolOutput::error(
            "the tool asked the user for more input, which toolstream does not support yet",
        )),
        Ok(ServerResult::CreateTaskResult(_)) => Ok(ToolOutput::error(
            "the tool runs as an asynchronous task, which toolstream does not support yet",
        )),
        Ok(_) => Ok(ToolOutput::error(
            "the server answered with something that is not a tool result",
        )),
        // Unknown tool, invalid arguments: the model reads it and may correct itself.
        Err(ServiceError::McpError(error)) => Ok(ToolOutput::error(error.message.into_owned())),
        Err(ServiceError::Cancelled { reason }) => Ok(ToolOutput::error(format!(
            "the server cancelled the call{}",
            reason.map(|r| format!(": {r}")).unwrap_or_default()
        ))),
        Err(error) => Err(CallError::Transport(error.to_string())),
    }
}

/// Tells the server a request is abandoned, unless disarmed. Dropped armed (the turn
/// was cancelled and its future dropped), it sends the notification from a task.
struct CancelOnDrop {
    peer: Peer<RoleClient>,
    request: Option<RequestId>,
}

/// How long telling a server about a cancellation may take.
const NOTIFY_TIMEOUT: Duration = Duration::from_secs(2);

impl CancelOnDrop {
    fn notification(&mut self, reason: &str) -> Option<CancelledNotificationParam> {
        let id = self.request.take()?;
        Some(CancelledNotificationParam::new(
            Some(id),
            Some(reason.to_owned()),
        ))
    }

    /// Sends the notification now, waiting a little for it to leave.
    async fn cancel_now(&mut self, reason: &str) {
        if let Some(param) = self.notification(reason) {
            let sent =
                tokio::time::timeout(NOTIFY_TIMEOUT, self.peer.notify_cancelled(param)).await;
            if !matches!(sent, Ok(Ok(()))) {
                tracing::debug!("could not tell the MCP server about a cancelled call");
            }
        }
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        let Some(param) = self.notification("cancelled by the user") else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let peer = self.peer.clone();
        runtime.spawn(async move {
            let _ = tokio::time::timeout(NOTIFY_TIMEOUT, peer.notify_cancelled(param)).await;
        });
    }
}
