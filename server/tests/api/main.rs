//! Black-box tests of the server through its real HTTP and WebSocket surfaces.

mod helpers;
mod turns;
mod websocket;
