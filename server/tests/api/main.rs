//! Black-box tests of the server through its real HTTP and WebSocket surfaces.

#![allow(clippy::unwrap_used)] // Tests fail loudly by design.

mod fixtures;
mod helpers;
mod pages;
mod reliability;
mod turns;
mod websocket;
