//! `cargo xtask <command>` (an alias in .cargo/config.toml): the workspace's build
//! steps. `cargo xtask help` lists them.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // This crate sits one level below the workspace root. `cargo run` says where it is;
    // the path it was compiled at serves when the binary is run directly.
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    let root = manifest_dir
        .parent()
        .map_or_else(|| PathBuf::from("."), PathBuf::from);
    match xtask::cli::run(&args, root) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
