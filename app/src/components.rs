//! Reusable pieces of the chat page.

pub mod composer;
pub mod transcript;
