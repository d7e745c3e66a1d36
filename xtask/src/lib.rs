//! The workspace's build steps, behind `cargo xtask`. Chiefly `site`: the UI site and
//! the server built the way cargo-leptos 0.3.10 builds them for this workspace
//! (`cargo leptos build --release --precompress`), from the settings in
//! `[[workspace.metadata.leptos]]`, without compiling cargo-leptos itself.

pub mod assets;
pub mod cli;
pub mod compare;
pub mod compress;
pub mod config;
pub mod error;
pub mod front;
pub mod parallel;
pub mod process;
pub mod server;
pub mod site;
pub mod tools;
