//! `[[workspace.metadata.leptos]]` read as cargo-leptos 0.3.10 reads it.

use std::path::PathBuf;

use serde_json::json;
use xtask::config::SiteConfig;

use crate::helpers::{config, config_with, leptos_section, metadata};

#[test]
fn reads_this_workspaces_settings() {
    let c = config();
    assert_eq!(
        c.output_name, "toolstream",
        "output-name defaults to the project name"
    );
    assert_eq!(c.site_root, "target/site");
    assert_eq!(c.site_root_path(), PathBuf::from("/ws/target/site"));
    assert_eq!(c.pkg_dir, "pkg");
    assert_eq!(c.style_file, Some(PathBuf::from("/ws/style/main.css")));
    assert_eq!(c.assets_dir, Some(PathBuf::from("/ws/public")));
    assert_eq!(c.browserquery, "defaults");
    assert!(!c.style_bundle);
    assert!(
        c.js_minify,
        "cargo-leptos minifies the JS in release by default"
    );
    assert_eq!(
        (c.site_addr.as_str(), c.reload_port),
        ("127.0.0.1:8000", 8001)
    );
    assert_eq!(c.front_target_dir(), PathBuf::from("/ws/target/front"));
    assert_eq!(
        (
            c.lib.name.as_str(),
            c.lib.target.as_str(),
            c.lib.profile.as_str()
        ),
        ("frontend", "frontend", "wasm-release")
    );
    assert!(!c.lib.default_features && c.lib.features.is_empty());
    assert_eq!(
        (
            c.bin.name.as_str(),
            c.bin.target.as_str(),
            c.bin.profile.as_str()
        ),
        ("server", "server", "release")
    );
    assert_eq!(c.tools.binaryen, "132.0.0");
    assert_eq!(c.tools.lightningcss, "1.32.0");
}

#[test]
fn defaults_are_cargo_leptos_defaults() {
    let c = SiteConfig::from_metadata(
        &metadata(
            json!({"name": "toolstream", "bin-package": "server", "lib-package": "frontend"}),
        ),
        |_| None,
    )
    .unwrap();
    assert_eq!(c.site_root, "target/site");
    assert_eq!(c.pkg_dir, "pkg");
    assert_eq!(
        (c.site_addr.as_str(), c.reload_port),
        ("127.0.0.1:3000", 3001)
    );
    assert_eq!((c.style_file, c.assets_dir), (None, None));
    assert_eq!(c.lib.profile, "release");
    // Absent *-default-features mean false in cargo-leptos (serde default).
    assert!(!c.lib.default_features && !c.bin.default_features);
}

#[test]
fn leptos_variables_override_the_metadata_like_cargo_leptos() {
    let env = |key: &str| match key {
        "LEPTOS_SITE_ROOT" => Some("target/other-site".to_owned()),
        "LEPTOS_OUTPUT_NAME" => Some("renamed".to_owned()),
        "LEPTOS_RELOAD_PORT" => Some("9001".to_owned()),
        _ => None,
    };
    let c = SiteConfig::from_metadata(&metadata(leptos_section()), env).unwrap();
    assert_eq!(c.site_root, "target/other-site");
    assert_eq!(c.output_name, "renamed");
    assert_eq!(c.reload_port, 9001);
}

#[test]
fn build_env_is_what_cargo_leptos_sets_for_a_release_build() {
    let env = config().build_env();
    let names: Vec<&str> = env.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        names,
        [
            "LEPTOS_OUTPUT_NAME",
            "LEPTOS_SITE_ROOT",
            "LEPTOS_SITE_PKG_DIR",
            "LEPTOS_SITE_ADDR",
            "LEPTOS_RELOAD_PORT",
            "LEPTOS_LIB_DIR",
            "LEPTOS_BIN_DIR",
            "LEPTOS_JS_MINIFY",
            "LEPTOS_HASH_FILES"
        ]
    );
    let get = |name: &str| env.iter().find(|(k, _)| *k == name).unwrap().1.clone();
    assert_eq!(get("LEPTOS_OUTPUT_NAME"), "toolstream");
    assert_eq!(get("LEPTOS_SITE_ROOT"), "target/site");
    assert_eq!(get("LEPTOS_LIB_DIR"), "frontend");
    assert_eq!(get("LEPTOS_BIN_DIR"), "server");
    assert_eq!(get("LEPTOS_HASH_FILES"), "false");
}

#[test]
fn settings_this_step_does_not_reproduce_are_refused_not_ignored() {
    for (key, value) in [
        ("tailwind-input-file", json!("style/tailwind.css")),
        ("bin-target-triple", json!("wasm32-wasip1")),
        ("hash-files", json!(true)),
        ("some-future-key", json!(1)),
    ] {
        let err = config_with(key, value).unwrap_err().to_string();
        assert!(
            err.contains("not supported by `cargo xtask site`"),
            "{key}: {err}"
        );
    }
}

#[test]
fn wrong_types_and_bad_site_roots_are_clear_errors() {
    let err = config_with("site-root", json!(3)).unwrap_err().to_string();
    assert!(err.contains("site-root = 3: wrong type"), "{err}");
    let err = config_with("site-root", json!("."))
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot be \".\""), "{err}");
    let err = config_with("lib-package", json!("nope"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("no workspace package named \"nope\""), "{err}");
    let err = config_with("bin-package", json!("frontend"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("expected one bin target"), "{err}");
}

#[test]
fn features_and_cargo_args_reach_the_packages() {
    let mut section = leptos_section();
    section["features"] = json!(["shared"]);
    section["lib-features"] = json!(["hydrate"]);
    section["bin-cargo-args"] = json!(["--timings"]);
    let c = SiteConfig::from_metadata(&metadata(section), |_| None).unwrap();
    assert_eq!(c.lib.features, ["hydrate", "shared"]);
    assert_eq!(c.bin.features, ["shared"]);
    assert_eq!(c.bin.cargo_args, ["--timings"]);
}
