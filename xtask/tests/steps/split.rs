//! `--split`: the command line, and the commands and files of cargo-leptos 0.3.10's
//! `cargo leptos build --release --precompress --split --lib-features split`.

use std::path::{Path, PathBuf};

use xtask::cli::{Command, parse};
use xtask::compare::{cargo_leptos_args, differences, sorted_braces};
use xtask::compress::{brotli, gzip};
use xtask::front;
use xtask::site::Options;
use xtask::tools::Tools;

use crate::helpers::{config, config_with};

fn args(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_owned).collect()
}

fn split_options() -> Options {
    Options {
        split: true,
        lib_features: vec!["split".into()],
        ..Options::default()
    }
}

#[test]
fn split_and_lib_features_are_read_for_site_and_compare() {
    assert_eq!(
        parse(&args("site --split --lib-features split --frontend-only")).unwrap(),
        Command::Site(Options {
            server: false,
            ..split_options()
        })
    );
    assert_eq!(
        parse(&args("compare-cargo-leptos --split --lib-features split")).unwrap(),
        Command::CompareCargoLeptos(split_options())
    );
    assert!(parse(&args("site --lib-features")).is_err());
    assert!(parse(&args("site --lib-features --split")).is_err());
}

#[test]
fn lib_features_replace_the_metadatas_and_keep_the_shared_ones() {
    let mut section = crate::helpers::leptos_section();
    section["lib-features"] = serde_json::json!(["hydrate"]);
    section["features"] = serde_json::json!(["shared"]);
    let c = xtask::config::SiteConfig::from_metadata(&crate::helpers::metadata(section), |_| None)
        .unwrap();
    assert_eq!(c.lib.features, ["hydrate", "shared"]);
    let c = c.with_command_line(true, &["split".to_owned()]);
    assert!(c.split);
    assert_eq!(c.lib.features, ["split", "shared"]);
    assert_eq!(c.bin.features, ["shared"]);
    // Without --lib-features the metadata's stay.
    let c = config_with("lib-features", serde_json::json!(["a"]))
        .unwrap()
        .with_command_line(true, &[]);
    assert_eq!(c.lib.features, ["a"]);
}

#[test]
fn the_split_build_links_with_relocations_and_the_split_feature() {
    let c = config().with_command_line(true, &["split".to_owned()]);
    let cmd = front::cargo_build(&c, &[]);
    assert!(
        cmd.arg_list().contains(&"--features=split".to_owned()),
        "{:?}",
        cmd.arg_list()
    );
    assert_eq!(
        front::split_rustflags(&c, None),
        Some(("RUSTFLAGS", "-Clink-args=--emit-relocs".to_owned()))
    );
    assert_eq!(
        front::split_rustflags(&c, Some("-Cfoo".into())),
        Some(("RUSTFLAGS", "-Cfoo -Clink-args=--emit-relocs".to_owned()))
    );
    assert_eq!(
        front::split_rustflags(&config(), Some("-Cfoo".into())),
        None
    );
    let unsplit = front::cargo_build(&config(), &[]);
    assert!(!unsplit.env_list().iter().any(|(k, _)| k == "RUSTFLAGS"));
}

#[test]
fn wasm_bindgen_runs_on_the_split_main_module_keeping_linker_exports() {
    let c = config().with_command_line(true, &[]);
    let tools = Tools {
        wasm_bindgen: "/bin/wasm-bindgen".into(),
        wasm_opt: "/bin/wasm-opt".into(),
        terser: "/bin/terser".into(),
        lightningcss: "/bin/lightningcss".into(),
    };
    assert_eq!(
        front::split_main_module(&c),
        PathBuf::from("/ws/target/front/wasm32-unknown-unknown/wasm-release/frontend_split.wasm")
    );
    assert_eq!(
        front::bindgen(&c, &tools, Path::new("/ws/target/site/pkg")).line(),
        "wasm-bindgen --target=web --keep-lld-exports --no-demangle --out-name=toolstream \
         --out-dir=/ws/target/site/pkg \
         /ws/target/front/wasm32-unknown-unknown/wasm-release/frontend_split.wasm"
    );
    assert_eq!(
        front::SPLIT_LOADER,
        "__wasm_split.______________________.js"
    );
    assert_eq!(front::SPLIT_MANIFEST, "__wasm_split_manifest.json");
}

#[test]
fn cargo_leptos_is_asked_for_the_same_split() {
    let mut options = split_options();
    options.cargo_flags = vec!["--locked".into()];
    assert_eq!(
        cargo_leptos_args(&options).join(" "),
        "leptos build --release --precompress --split --lib-features split --cargo-locked"
    );
    assert_eq!(
        cargo_leptos_args(&Options::default()).join(" "),
        "leptos build --release --precompress"
    );
}

#[test]
fn the_split_manifest_is_compared_as_json() {
    let js = "pkg/app.js";
    let manifest = "pkg/__wasm_split_manifest.json";
    let site = |json: &str| {
        let mut out = xtask::compare::Listing::new();
        for (path, bytes) in [(js, b"j".as_slice()), (manifest, json.as_bytes())] {
            out.insert(path.to_owned(), bytes.to_vec());
            out.insert(format!("{path}.gz"), gzip(bytes));
            out.insert(format!("{path}.br"), brotli(bytes));
        }
        out
    };
    let ours = site(r#"{"a": ["x"], "b": ["y"]}"#);
    let reordered = site(r#"{"b": ["y"], "a": ["x"]}"#);
    assert_eq!(differences(&ours, &reordered, js), Vec::<String>::new());
    let other = site(r#"{"a": ["z"]}"#);
    let problems = differences(&ours, &other, js).join("\n");
    assert!(problems.contains("another split"), "{problems}");
}

#[test]
fn the_split_loader_may_list_its_names_in_another_order() {
    assert_eq!(
        sorted_braces("const { b, memory, a,  } = f({ x });\nif (y) {\n}"),
        "const {a,b,memory} = f({x});\nif (y) {\n}"
    );
    let js = "pkg/app.js";
    let loader = "pkg/__wasm_split.______________________.js";
    let site = |text: &str| {
        let mut out = xtask::compare::Listing::new();
        for (path, bytes) in [(js, b"j".as_slice()), (loader, text.as_bytes())] {
            out.insert(path.to_owned(), bytes.to_vec());
            out.insert(format!("{path}.gz"), gzip(bytes));
            out.insert(format!("{path}.br"), brotli(bytes));
        }
        out
    };
    let ours = site("const { shared0, table, memory,  } = initSync();");
    let theirs = site("const { table, memory, shared0,  } = initSync();");
    assert_eq!(differences(&ours, &theirs, js), Vec::<String>::new());
    let other = site("const { table, memory } = initSync();");
    let problems = differences(&ours, &other, js).join("\n");
    assert!(problems.contains("another loader"), "{problems}");
}
