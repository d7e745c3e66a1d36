//! The commands `cargo xtask site` runs: for this workspace, those cargo-leptos 0.3.10
//! runs for `cargo leptos build --release` (its `build_cargo_front_cmd`, `bindgen`,
//! `optimize`, `build_cargo_server_cmd`).

use std::path::{Path, PathBuf};

use xtask::tools::Tools;
use xtask::{assets, front, server};

use crate::helpers::config;

fn tools() -> Tools {
    Tools {
        wasm_bindgen: "/bin/wasm-bindgen".into(),
        wasm_opt: "/bin/wasm-opt".into(),
        terser: "/bin/terser".into(),
        lightningcss: "/bin/lightningcss".into(),
    }
}

#[test]
fn front_end_cargo_build_matches_cargo_leptos() {
    let cmd = front::cargo_build(&config(), &["--locked".to_owned()]);
    assert_eq!(
        cmd.arg_list(),
        [
            "build",
            "--package=frontend",
            "--lib",
            "--target-dir=/ws/target/front",
            "--target=wasm32-unknown-unknown",
            "--no-default-features",
            "--locked",
            "--profile=wasm-release"
        ]
    );
    assert_eq!(
        front::wasm_artifact(&config()),
        PathBuf::from("/ws/target/front/wasm32-unknown-unknown/wasm-release/frontend.wasm")
    );
}

#[test]
fn server_cargo_build_matches_cargo_leptos() {
    let cmd = server::cargo_build(&config(), &[]);
    assert_eq!(
        cmd.arg_list(),
        [
            "build",
            "--package=server",
            "--bin=server",
            "--no-default-features",
            "--release"
        ]
    );
    assert_eq!(
        server::executable(&config()),
        PathBuf::from("/ws/target/release/server")
    );
}

#[test]
fn wasm_bindgen_and_wasm_opt_match_cargo_leptos() {
    let pkg = Path::new("/ws/target/site/pkg");
    assert_eq!(
        front::bindgen(&config(), &tools(), pkg).line(),
        "wasm-bindgen --target=web --out-name=toolstream --out-dir=/ws/target/site/pkg \
         /ws/target/front/wasm32-unknown-unknown/wasm-release/frontend.wasm"
    );
    assert_eq!(
        front::wasm_opt(&tools(), &pkg.join("toolstream.wasm")).line(),
        "wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
         /ws/target/site/pkg/toolstream.wasm -o /ws/target/site/pkg/toolstream.wasm"
    );
}

#[test]
fn js_is_minified_as_an_es_module_and_css_for_the_browser_query() {
    let js = Path::new("/s/pkg/toolstream.js");
    assert_eq!(
        front::minify_js(&tools(), js).line(),
        "terser /s/pkg/toolstream.js --module --compress --mangle --output /s/pkg/toolstream.js"
    );
    let css = assets::minify_css(
        &config(),
        &tools(),
        Path::new("/ws/style/main.css"),
        Path::new("/s/pkg/toolstream.css"),
    );
    assert_eq!(
        css.line(),
        "lightningcss --minify --targets defaults /ws/style/main.css --output-file /s/pkg/toolstream.css"
    );
}

#[test]
fn profiles_map_to_cargos_directories_and_flags() {
    use xtask::config::profile_dir;
    assert_eq!(profile_dir("release"), "release");
    assert_eq!(profile_dir("wasm-release"), "wasm-release");
    assert_eq!(profile_dir("dev"), "debug");
    assert_eq!(profile_dir("bench"), "release");
    assert_eq!(front::profile_arg("release"), "--release");
    assert_eq!(front::profile_arg("wasm-release"), "--profile=wasm-release");
}
