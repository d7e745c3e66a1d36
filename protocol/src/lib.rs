//! The toolstream WebSocket protocol: one JSON object per text frame, tagged by `"type"`.
//!
//! This crate is the single source of the wire types for the server, the browser UI, the
//! tests and the load generator. It depends on serde alone so it builds for native and
//! `wasm32` targets alike.
//!
//! The first seven server events and the `message` client message are a contract with
//! existing clients: their names, fields and meanings never change. Everything else is
//! additive, and a client that ignores unknown types and fields keeps working.

mod client;
mod event;
mod number;
mod types;

pub use client::{CLIENT_MESSAGE_TYPES, ClientMessage, DecodeError};
pub use event::{ServerEvent, ServerFrame};
pub use number::format_number;
pub use types::{
    ContentItem, ConversationSummary, ErrorCode, Lang, LlmDescriptor, Node, ToolDescriptor, Usage,
};

/// Version of the protocol spoken by this crate, announced to clients on connect.
/// 2 added approvals, progress, rich tool results, edit/regenerate and usage.
pub const PROTOCOL_VERSION: u32 = 2;

/// Tool-call arguments: always a JSON object, numbers kept as the user gave them.
pub type Args = serde_json::Map<String, serde_json::Value>;
