//! Black-box tests of the server through its real HTTP and WebSocket surfaces.

#![allow(clippy::unwrap_used)] // Tests fail loudly by design.

mod fixtures;
mod helpers;
mod load;
mod pages;
mod process;
mod reliability;
mod rest;
mod resume;
mod security;
mod turns;
mod websocket;
