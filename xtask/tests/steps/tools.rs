//! Finding the tools and telling npm's from others (Debian's wasm-opt breaks hydration).

use std::os::unix::fs::{PermissionsExt, symlink};

use xtask::tools::{find, lock_version, npm_package_version, word_after};

use crate::helpers::TempDir;

fn executable(dir: &TempDir, rel: &str) -> std::path::PathBuf {
    let path = dir.write(rel, "#!/bin/sh\n");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn an_npm_tool_reports_its_packages_version_through_the_bin_link() {
    let dir = TempDir::new();
    dir.write(
        "node_modules/binaryen/package.json",
        r#"{"name": "binaryen", "version": "132.0.0"}"#,
    );
    // binaryen's bin/ has a package.json of its own without a name.
    dir.write(
        "node_modules/binaryen/bin/package.json",
        r#"{"type": "module"}"#,
    );
    executable(&dir, "node_modules/binaryen/bin/wasm-opt");
    std::fs::create_dir_all(dir.path().join("node_modules/.bin")).unwrap();
    symlink(
        "../binaryen/bin/wasm-opt",
        dir.path().join("node_modules/.bin/wasm-opt"),
    )
    .unwrap();
    let found = find(&[dir.path().join("node_modules/.bin")], "wasm-opt").unwrap();
    assert_eq!(
        npm_package_version(&found, "binaryen").as_deref(),
        Some("132.0.0")
    );
}

#[test]
fn a_tool_outside_any_npm_package_has_no_npm_version() {
    let dir = TempDir::new();
    let debian = executable(&dir, "usr/bin/wasm-opt");
    assert_eq!(npm_package_version(&debian, "binaryen"), None);
}

#[test]
fn find_skips_missing_and_non_executable_files() {
    let dir = TempDir::new();
    dir.write("a/terser", "not executable");
    let b = executable(&dir, "b/terser");
    let dirs = [
        dir.path().join("none"),
        dir.path().join("a"),
        dir.path().join("b"),
    ];
    assert_eq!(find(&dirs, "terser"), Some(b));
    assert_eq!(find(&dirs, "lightningcss"), None);
}

#[test]
fn versions_are_read_from_cargo_lock_and_version_lines() {
    let lock = "[[package]]\nname = \"wasm-bindgen\"\nversion = \"0.2.130\"\nsource = \"x\"\n";
    assert_eq!(
        lock_version(lock, "wasm-bindgen").as_deref(),
        Some("0.2.130")
    );
    assert_eq!(lock_version(lock, "wasm-bindgen-macro"), None);
    assert_eq!(
        word_after("wasm-bindgen 0.2.130\n", "wasm-bindgen "),
        Some("0.2.130")
    );
    assert_eq!(
        word_after("cargo-leptos 0.3.10\n", "cargo-leptos "),
        Some("0.3.10")
    );
}
