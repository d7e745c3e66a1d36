//! The parts of the chat page.

pub mod composer;
pub mod header;
pub mod tools_panel;
pub mod transcript;
pub mod turn;
