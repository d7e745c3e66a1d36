//! What clients are told about tools: the tool list of `ready` and `tools_changed`.

use protocol::ToolDescriptor;
use serde_json::Value;

use crate::tools::ToolInfo;

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
