//! The parts of the chat page.

pub mod answer;
pub mod composer;
pub mod header;
pub mod sidebar;
pub mod steps;
pub mod tool_card;
pub mod tools_panel;
pub mod transcript;
pub mod turn;
pub mod usage;
