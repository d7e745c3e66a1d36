//! The WASM front end, built as cargo-leptos 0.3.10 builds it in release
//! (`compile/front.rs` there):
//!
//! 1. `cargo build --package=<lib> --lib --target-dir=target/front
//!    --target=wasm32-unknown-unknown --no-default-features --profile=<lib-profile-release>`
//!    with the `LEPTOS_*` variables;
//! 2. `wasm-bindgen --target=web --out-name=<output> --out-dir=<site>/<pkg>` (TypeScript
//!    declarations included: cargo-leptos does not pass `--no-typescript`);
//! 3. `<output>_bg.wasm` renamed to `<output>.wasm`, the name Leptos's
//!    `HydrationScripts` loads when `LEPTOS_OUTPUT_NAME` was set at compile time;
//! 4. `wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int` in place;
//! 5. the JS glue minified (cargo-leptos uses swc; here terser, as an ES module).

use std::path::{Path, PathBuf};

use crate::config::{SiteConfig, profile_dir};
use crate::error::{Error, Result};
use crate::process::Cmd;
use crate::tools::Tools;

/// The cargo build of the front end (step 1); `cargo_flags` are `--locked` and the like.
pub fn cargo_build(config: &SiteConfig, cargo_flags: &[String]) -> Cmd {
    let lib = &config.lib;
    let mut args = vec![
        "build".to_owned(),
        format!("--package={}", lib.name),
        "--lib".to_owned(),
        format!("--target-dir={}", config.front_target_dir().display()),
        "--target=wasm32-unknown-unknown".to_owned(),
    ];
    if !lib.default_features {
        args.push("--no-default-features".into());
    }
    if !lib.features.is_empty() {
        args.push(format!("--features={}", lib.features.join(",")));
    }
    args.extend(cargo_flags.iter().cloned());
    args.extend(lib.cargo_args.iter().cloned());
    args.push(profile_arg(&lib.profile));
    Cmd::cargo()
        .args(args)
        .envs(config.build_env())
        .current_dir(&config.workspace_root)
}

/// `--release` or `--profile=NAME`, as cargo-leptos passes it.
pub fn profile_arg(profile: &str) -> String {
    if profile == "release" {
        "--release".into()
    } else {
        format!("--profile={profile}")
    }
}

/// The WASM file cargo writes for the front end.
pub fn wasm_artifact(config: &SiteConfig) -> PathBuf {
    config
        .front_target_dir()
        .join("wasm32-unknown-unknown")
        .join(profile_dir(&config.lib.profile))
        .join(format!("{}.wasm", config.lib.target))
}

/// wasm-bindgen into `pkg_dir` (step 2).
pub fn bindgen(config: &SiteConfig, tools: &Tools, pkg_dir: &Path) -> Cmd {
    Cmd::new(&tools.wasm_bindgen).args([
        "--target=web".to_owned(),
        format!("--out-name={}", config.output_name),
        format!("--out-dir={}", pkg_dir.display()),
        wasm_artifact(config).display().to_string(),
    ])
}

/// wasm-opt, in place (step 4).
pub fn wasm_opt(tools: &Tools, wasm: &Path) -> Cmd {
    let file = wasm.display().to_string();
    Cmd::new(&tools.wasm_opt).args([
        "-Oz",
        "--enable-bulk-memory",
        "--enable-nontrapping-float-to-int",
        &file,
        "-o",
        &file,
    ])
}

/// terser on the JS glue, in place (step 5): compressed and mangled, as an ES module so
/// that its exports (`default`, `hydrate`) keep their names.
pub fn minify_js(tools: &Tools, js: &Path) -> Cmd {
    let file = js.display().to_string();
    Cmd::new(&tools.terser).args([
        &file,
        "--module",
        "--compress",
        "--mangle",
        "--output",
        &file,
    ])
}

/// Runs steps 2 to 5 on the WASM that [`cargo_build`] produced, writing into `pkg_dir`.
pub fn package(config: &SiteConfig, tools: &Tools, pkg_dir: &Path) -> Result<()> {
    let source = wasm_artifact(config);
    if !source.is_file() {
        return Err(Error::Config(format!(
            "{} was not built: does {} have a cdylib target?",
            source.display(),
            config.lib.name
        )));
    }
    bindgen(config, tools, pkg_dir).run()?;
    let name = &config.output_name;
    let bindgen_wasm = pkg_dir.join(format!("{name}_bg.wasm"));
    let wasm = pkg_dir.join(format!("{name}.wasm"));
    std::fs::rename(&bindgen_wasm, &wasm).map_err(Error::io("rename", &bindgen_wasm))?;
    wasm_opt(tools, &wasm).run()?;
    if config.js_minify {
        minify_js(tools, &pkg_dir.join(format!("{name}.js"))).run()?;
    }
    Ok(())
}
