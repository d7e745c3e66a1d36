//! What the WebSocket says about tools and approvals: the tool list of `ready` and
//! `tools_changed`, and `approve` / `deny` handed to the session's waiting turn.
//! (Thin on purpose: the turn-side logic lives in `agent::approval`.)

use protocol::ToolDescriptor;
use serde_json::Value;

use super::session::Session;
use crate::{agent::Decision, tools::ToolInfo};

/// The tools as `ready` and `tools_changed` list them.
pub fn descriptors(tools: &[ToolInfo]) -> Vec<ToolDescriptor> {
    tools
        .iter()
        .map(|tool| ToolDescriptor {
            name: tool.name.clone(),
            description: tool.description.clone(),
            parameters: Value::Object((*tool.input_schema).clone()),
            server: Some(tool.server.clone()),
        })
        .collect()
}

/// Hands an `approve` / `deny` to the session's turn, which answers with
/// `approval_resolved`; `Err` says why it could not (safe to send to the client).
pub fn decide(session: &Session, call_id: &str, decision: Decision) -> Result<(), String> {
    session
        .decide(call_id, decision)
        .map_err(|error| error.to_string())
}
