//! The toolstream agent server: serves the chat UI, runs agent turns for WebSocket
//! clients, and reaches its tools on MCP servers (HTTP, HTTPS or stdio).

pub mod agent;
pub mod api;
pub mod bus;
pub mod clock;
pub mod config;
pub mod error;
pub mod input;
pub mod lang;
pub mod legacy_page;
pub mod limits;
pub mod llm;
pub mod metrics;
pub mod otel;
pub mod owner;
pub mod retention;
pub mod routes;
pub mod security;
pub mod serve;
pub mod session;
pub mod startup;
pub mod state;
pub mod store;
pub mod texts;
pub mod tools;
pub mod transcript;
pub mod ws;

pub use config::Settings;
pub use startup::Application;
