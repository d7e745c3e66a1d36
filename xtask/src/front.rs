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
//!
//! With `--split` (cargo-leptos's `--split`: `compile/front.rs` and
//! `wasm_split_tools/` there), the WASM is linked with `-Clink-args=--emit-relocs`
//! and split before wasm-bindgen by the same crate cargo-leptos runs
//! (`wasm_split_cli_support` 0.2.3, same options): the lazily loaded modules and the
//! `__wasm_split.______________________.js` loader go into the package directory, with
//! `__wasm_split_manifest.json` (which module needs which); the main module,
//! `<lib>_split.wasm` next to cargo's artifact, goes through wasm-bindgen with
//! `--keep-lld-exports --no-demangle` (the split modules import its exports by their
//! linker names), and wasm-opt runs on every `.wasm`. Only the main JS is minified.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::config::{SiteConfig, profile_dir};
use crate::error::{Error, Result};
use crate::parallel;
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
        .envs(split_rustflags(config, std::env::var("RUSTFLAGS").ok()))
        .current_dir(&config.workspace_root)
}

/// The linker flag the split needs: the relocations tell it which functions a split
/// module takes along.
pub const SPLIT_LINK_ARGS: &str = "-Clink-args=--emit-relocs";

/// `RUSTFLAGS` for the front end's build when splitting: the flags already set, then
/// [`SPLIT_LINK_ARGS`] (cargo-leptos appends it to the configured rustflags the same
/// way; this workspace configures none in .cargo/config.toml).
pub fn split_rustflags(
    config: &SiteConfig,
    current: Option<String>,
) -> Option<(&'static str, String)> {
    config.split.then(|| {
        let current = current.unwrap_or_default();
        let flags = format!("{current} {SPLIT_LINK_ARGS}");
        ("RUSTFLAGS", flags.trim().to_owned())
    })
}

/// The loader of the split modules, as cargo-leptos names it (the underscores stand
/// where its `hash-files` puts a hash).
pub const SPLIT_LOADER: &str = "__wasm_split.______________________.js";

/// Which split module needs which, written next to the loader.
pub const SPLIT_MANIFEST: &str = "__wasm_split_manifest.json";

/// The main module the split leaves for wasm-bindgen: `<lib>_split.wasm` next to
/// cargo's artifact.
pub fn split_main_module(config: &SiteConfig) -> PathBuf {
    wasm_artifact(config).with_file_name(format!("{}_split.wasm", config.lib.target))
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

/// wasm-bindgen into `pkg_dir` (step 2); when splitting, on the split's main module.
pub fn bindgen(config: &SiteConfig, tools: &Tools, pkg_dir: &Path) -> Cmd {
    let mut args = vec!["--target=web".to_owned()];
    let input = if config.split {
        args.push("--keep-lld-exports".into());
        args.push("--no-demangle".into());
        split_main_module(config)
    } else {
        wasm_artifact(config)
    };
    args.push(format!("--out-name={}", config.output_name));
    args.push(format!("--out-dir={}", pkg_dir.display()));
    args.push(input.display().to_string());
    Cmd::new(&tools.wasm_bindgen).args(args)
}

/// Splits cargo's WASM as cargo-leptos does: the lazily loaded modules, their loader
/// and the manifest into `pkg_dir`, the main module to [`split_main_module`]. Returns
/// the split modules' paths.
pub fn split(config: &SiteConfig, pkg_dir: &Path) -> Result<Vec<PathBuf>> {
    let source = wasm_artifact(config);
    let input = std::fs::read(&source).map_err(Error::io("read", &source))?;
    let main_out = split_main_module(config);
    let main_module = format!("./{}.js", config.output_name);
    let loader = format!("./{SPLIT_LOADER}");
    let mut options = wasm_split_cli_support::Options::new(&input);
    options.output_dir = pkg_dir;
    options.main_out_path = &main_out;
    options.main_module = &main_module;
    options.link_name = &loader;
    let split = wasm_split_cli_support::transform(options).map_err(|e| Error::Command {
        command: format!("wasm_split_cli_support::transform {}", source.display()),
        detail: format!("failed: {e:#} (was it linked with {SPLIT_LINK_ARGS}?)"),
    })?;
    // cargo-leptos serialises a HashMap; sorted here, so the file is reproducible.
    let manifest: BTreeMap<_, _> = split.prefetch_map.into_iter().collect();
    let path = pkg_dir.join(SPLIT_MANIFEST);
    let json = serde_json::to_string_pretty(&manifest)
        .map_err(|e| Error::Config(format!("{SPLIT_MANIFEST}: {e}")))?;
    std::fs::write(&path, json).map_err(Error::io("write", &path))?;
    Ok(split.split_modules)
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
    let mut modules = if config.split {
        split(config, pkg_dir)?
    } else {
        Vec::new()
    };
    bindgen(config, tools, pkg_dir).run()?;
    let name = &config.output_name;
    let bindgen_wasm = pkg_dir.join(format!("{name}_bg.wasm"));
    let wasm = pkg_dir.join(format!("{name}.wasm"));
    std::fs::rename(&bindgen_wasm, &wasm).map_err(Error::io("rename", &bindgen_wasm))?;
    modules.insert(0, wasm);
    // One wasm-opt per module at once, as cargo-leptos runs them.
    parallel::for_each(&modules, |module| wasm_opt(tools, module).run())?;
    if config.js_minify {
        minify_js(tools, &pkg_dir.join(format!("{name}.js"))).run()?;
    }
    Ok(())
}
