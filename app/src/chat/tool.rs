//! One tool call as its card shows it: arguments, the server that offers the tool,
//! the user's approval when the host asks for it, progress, and the result with any
//! images and links. Events find their call by `call_id` (by tool name for servers
//! that send none).

use protocol::{Args, ContentItem};
use serde::{Serialize, Serializer};

use super::Turn;

/// Images larger than this (base64) are shown but not kept in browser storage.
const MAX_KEPT_IMAGE: usize = 100_000;

/// A tool call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolCall {
    pub tool: String,
    /// The arguments as JSON text, numbers as given.
    pub args: String,
    pub result: Option<String>,
    pub is_error: bool,
    pub called_ms: u64,
    pub returned_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    /// The MCP server that offers the tool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// The user's say, when the host asked for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<Approval>,
    /// The latest progress the tool reported, while it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<Progress>,
    /// Images and links the tool returned besides its text.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
}

/// Where an approval stands.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Approval {
    Pending,
    Approved,
    Denied { reason: Option<String> },
}

/// A progress report: `progress` of `total` (when known), and what the tool said.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Progress {
    pub progress: f64,
    pub total: Option<f64>,
    pub message: Option<String>,
}

impl Progress {
    /// The share done, 0 to 1, when the total is known.
    pub fn fraction(&self) -> Option<f64> {
        let total = self.total.filter(|t| *t > 0.0)?;
        Some((self.progress / total).clamp(0.0, 1.0))
    }
}

/// Something a tool returned besides its text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Attachment {
    /// An image, base64 (`data` is empty when it was too large to keep).
    Image {
        mime_type: String,
        #[serde(serialize_with = "keep_small")]
        data: String,
    },
    /// A link to a resource.
    Link { uri: String, name: Option<String> },
}

fn keep_small<S: Serializer>(data: &str, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(if data.len() <= MAX_KEPT_IMAGE {
        data
    } else {
        ""
    })
}

impl Attachment {
    fn of(item: &ContentItem) -> Option<Self> {
        match item {
            ContentItem::Image { mime_type, data } => Some(Self::Image {
                mime_type: mime_type.clone(),
                data: data.clone(),
            }),
            ContentItem::ResourceLink { uri, name, .. } => Some(Self::Link {
                uri: uri.clone(),
                name: name.clone(),
            }),
            ContentItem::Unknown => None,
        }
    }
}

/// What a `tool_result` carries.
pub struct Returned<'a> {
    pub tool: &'a str,
    pub result: &'a str,
    pub is_error: bool,
    pub call_id: Option<&'a str>,
    pub content: &'a [ContentItem],
}

impl ToolCall {
    fn new(tool: &str, args: &Args, call_id: Option<&str>, server: Option<&str>, at: u64) -> Self {
        Self {
            tool: tool.to_owned(),
            args: serde_json::to_string(args).unwrap_or_default(),
            result: None,
            is_error: false,
            called_ms: at,
            returned_ms: None,
            call_id: call_id.map(str::to_owned),
            server: server.map(str::to_owned),
            approval: None,
            progress: None,
            attachments: Vec::new(),
        }
    }
}

impl Turn {
    fn call_mut(&mut self, call_id: &str) -> Option<&mut ToolCall> {
        self.steps.iter_mut().rev().find_map(|step| match step {
            super::Step::Tool(call) if call.call_id.as_deref() == Some(call_id) => Some(call),
            _ => None,
        })
    }

    /// `tool_call`: a new card (or the one an approval request already opened).
    pub(super) fn tool_called(
        &mut self,
        tool: &str,
        args: &Args,
        call_id: Option<&str>,
        server: Option<&str>,
        at: u64,
    ) {
        if let Some(known) = call_id.and_then(|id| self.call_mut(id)) {
            known.server = server.map(str::to_owned).or(known.server.take());
            return;
        }
        self.steps.push(super::Step::Tool(ToolCall::new(
            tool, args, call_id, server, at,
        )));
    }

    /// `approval_required`: the card waits for Approve or Deny.
    pub(super) fn approval_required(
        &mut self,
        call_id: &str,
        tool: &str,
        args: &Args,
        server: &str,
        at: u64,
    ) {
        if self.call_mut(call_id).is_none() {
            self.tool_called(tool, args, Some(call_id), Some(server), at);
        }
        if let Some(call) = self.call_mut(call_id) {
            call.approval = Some(Approval::Pending);
        }
    }

    /// `approval_resolved`: the user (or the timeout) decided.
    pub(super) fn approval_resolved(
        &mut self,
        call_id: &str,
        approved: bool,
        reason: Option<&str>,
    ) {
        if let Some(call) = self.call_mut(call_id) {
            call.approval = Some(if approved {
                Approval::Approved
            } else {
                Approval::Denied {
                    reason: reason.map(str::to_owned),
                }
            });
        }
    }

    /// `tool_progress`: the latest report replaces the one before.
    pub(super) fn tool_progress(&mut self, call_id: &str, progress: Progress) {
        if let Some(call) = self.call_mut(call_id) {
            call.progress = Some(progress);
        }
    }

    /// `tool_result`: the call's own card by id, else the newest unanswered call of
    /// that tool.
    pub(super) fn tool_returned(&mut self, returned: Returned<'_>, at: u64) {
        let by_id = returned.call_id.and_then(|id| {
            self.steps.iter().rposition(
                |s| matches!(s, super::Step::Tool(c) if c.call_id.as_deref() == Some(id)),
            )
        });
        let index = by_id.or_else(|| {
            self.steps.iter().rposition(|s| {
                matches!(s, super::Step::Tool(c) if c.tool == returned.tool && c.result.is_none())
            })
        });
        let Some(super::Step::Tool(call)) = index.and_then(|i| self.steps.get_mut(i)) else {
            return;
        };
        call.result = Some(returned.result.to_owned());
        call.is_error = returned.is_error;
        call.returned_ms = Some(at);
        call.progress = None;
        call.attachments = returned.content.iter().filter_map(Attachment::of).collect();
    }
}
