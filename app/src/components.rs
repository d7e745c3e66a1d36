//! The parts of the chat page.

pub mod answer;
pub mod composer;
pub mod header;
pub mod steps;
pub mod tools_panel;
pub mod transcript;
pub mod turn;
pub mod usage;
