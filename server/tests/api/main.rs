//! Black-box tests of the server through its real HTTP and WebSocket surfaces.

#![allow(clippy::unwrap_used)] // Tests fail loudly by design.

mod approvals;
mod bedrock;
mod fake_bedrock;
mod fake_openai;
mod fake_script;
mod fixtures;
mod helpers;
mod load;
mod mcp_host;
mod mcp_servers;
mod mcp_tls;
mod openai;
mod pages;
mod process;
mod reliability;
mod rest;
mod resume;
mod security;
mod turns;
mod websocket;
