//! The toolstream agent server: serves the chat UI, runs agent turns for WebSocket
//! clients, and reaches its tools on MCP servers (HTTP, HTTPS or stdio).

pub mod agent;
pub mod api;
pub mod config;
pub mod error;
pub mod lang;
pub mod llm;
pub mod metrics;
pub mod security;
pub mod startup;
pub mod state;
pub mod tools;
pub mod ws;

pub use config::Settings;
pub use startup::Application;
