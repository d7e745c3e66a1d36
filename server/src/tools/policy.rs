//! Whether a tool call runs at once, waits for the user's approval, or never runs.
//!
//! A server's `toolApproval` in `mcp.json` names a policy per tool (by the server's
//! own tool name) and, with `"*"`, for the rest. Without a rule, a tool the server
//! annotates `readOnlyHint: true` runs at once and any other tool asks first.

use std::collections::BTreeMap;

use serde::Serialize;

/// What happens when the model calls a tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalPolicy {
    /// The call runs at once.
    Auto,
    /// The call waits for the user's `approve` (or `deny`, or the timeout).
    Ask,
    /// The tool is never offered to the model nor run.
    Deny,
}

impl ApprovalPolicy {
    /// Reads a policy as `mcp.json` spells it.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "auto" => Some(Self::Auto),
            "ask" => Some(Self::Ask),
            "deny" => Some(Self::Deny),
            _ => None,
        }
    }

    /// The policy for a tool with no rule: `auto` when the server says the tool only
    /// reads, `ask` otherwise (the MCP default for `readOnlyHint` is false).
    pub fn default_for(read_only: Option<bool>) -> Self {
        if read_only == Some(true) {
            Self::Auto
        } else {
            Self::Ask
        }
    }
}

/// A server's `toolApproval` rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApprovalRules {
    /// Rules by the server's own tool name.
    pub tools: BTreeMap<String, ApprovalPolicy>,
    /// The `"*"` rule, for tools without their own.
    pub fallback: Option<ApprovalPolicy>,
}

impl ApprovalRules {
    /// The policy for `tool` (the server's name for it), given its read-only hint.
    pub fn resolve(&self, tool: &str, read_only: Option<bool>) -> ApprovalPolicy {
        self.tools
            .get(tool)
            .copied()
            .or(self.fallback)
            .unwrap_or_else(|| ApprovalPolicy::default_for(read_only))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_named_rule_beats_the_star_which_beats_the_hint() {
        let mut rules = ApprovalRules::default();
        assert_eq!(rules.resolve("add", Some(true)), ApprovalPolicy::Auto);
        assert_eq!(rules.resolve("rm", Some(false)), ApprovalPolicy::Ask);
        assert_eq!(rules.resolve("rm", None), ApprovalPolicy::Ask);
        rules.fallback = Some(ApprovalPolicy::Deny);
        assert_eq!(rules.resolve("add", Some(true)), ApprovalPolicy::Deny);
        rules.tools.insert("add".into(), ApprovalPolicy::Ask);
        assert_eq!(rules.resolve("add", Some(true)), ApprovalPolicy::Ask);
        assert_eq!(ApprovalPolicy::parse("sometimes"), None);
    }
}
