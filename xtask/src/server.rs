//! The server binary, built as cargo-leptos 0.3.10 builds it in release
//! (`compile/server.rs` there): `cargo build --package=<bin> --bin=<target>
//! --no-default-features --release` with the `LEPTOS_*` variables. The same cargo
//! invocation, so `cargo test --release` and `cargo leptos build --release` reuse
//! what it compiled.

use std::path::PathBuf;

use crate::config::{SiteConfig, profile_dir};
use crate::front::profile_arg;
use crate::process::Cmd;

/// The cargo build of the server; `cargo_flags` are `--locked` and the like.
pub fn cargo_build(config: &SiteConfig, cargo_flags: &[String]) -> Cmd {
    let bin = &config.bin;
    let mut args = vec![
        "build".to_owned(),
        format!("--package={}", bin.name),
        format!("--bin={}", bin.target),
    ];
    if !bin.default_features {
        args.push("--no-default-features".into());
    }
    if !bin.features.is_empty() {
        args.push(format!("--features={}", bin.features.join(",")));
    }
    args.extend(cargo_flags.iter().cloned());
    args.extend(bin.cargo_args.iter().cloned());
    args.push(profile_arg(&bin.profile));
    Cmd::cargo()
        .args(args)
        .envs(config.build_env())
        .current_dir(&config.workspace_root)
}

/// Where the built server binary is.
pub fn executable(config: &SiteConfig) -> PathBuf {
    config
        .target_dir
        .join(profile_dir(&config.bin.profile))
        .join(&config.bin.target)
}
