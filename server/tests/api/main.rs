//! Black-box tests of the server through its real HTTP and WebSocket surfaces.

#![allow(clippy::unwrap_used)] // Tests fail loudly by design.

mod bedrock;
mod fake_bedrock;
mod fake_openai;
mod helpers;
mod openai;
mod pages;
mod turns;
mod websocket;
