//! Black-box tests of the server through its real HTTP and WebSocket surfaces.

#![allow(clippy::unwrap_used)] // Tests fail loudly by design.

mod approvals;
mod bedrock;
mod caps;
mod claims;
mod client_limits;
mod conversations;
mod durable;
mod engines;
mod fake_bedrock;
mod fake_openai;
mod fake_otlp;
mod fake_script;
mod fixtures;
mod helpers;
mod load;
mod mcp_host;
mod mcp_servers;
mod mcp_tls;
mod openai;
mod outages;
mod pages;
mod process;
mod reliability;
mod replicas;
mod rest;
mod resume;
mod security;
mod sessions;
mod shutdown;
mod slow_clients;
mod traces;
mod turns;
mod usage;
mod websocket;
