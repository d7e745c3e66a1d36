//! Black-box tests of the server through its real HTTP and WebSocket surfaces.

#![allow(clippy::unwrap_used)] // Tests fail loudly by design.

mod helpers;
mod pages;
mod turns;
mod websocket;
