//! Tests of the build steps behind `cargo xtask`: the settings read from Cargo
//! metadata, the exact commands run (those of cargo-leptos 0.3.10), precompression,
//! assets, tool checks, the site comparison, and checks on this workspace itself.
//! The whole build (`cargo xtask site`) is exercised by scripts/test.sh, whose browser
//! tests hydrate the site it builds.

#![allow(clippy::unwrap_used)] // Tests fail loudly by design.

mod assets;
mod commands;
mod compare;
mod compress;
mod config;
mod helpers;
mod split;
mod tools;
mod workspace;
