//! Shared by the tests: a temporary directory, and `cargo metadata` JSON for a
//! workspace shaped like this one.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};
use xtask::config::SiteConfig;

/// A directory under the system's temp dir, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "xtask-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `contents` at `rel`, creating directories.
    pub fn write(&self, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.0.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, contents).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `[[workspace.metadata.leptos]]` as this workspace has it.
pub fn leptos_section() -> Value {
    json!({
        "name": "toolstream",
        "bin-package": "server",
        "lib-package": "frontend",
        "site-root": "target/site",
        "site-pkg-dir": "pkg",
        "style-file": "style/main.css",
        "assets-dir": "public",
        "site-addr": "127.0.0.1:8000",
        "reload-port": 8001,
        "end2end-cmd": "npx playwright test",
        "end2end-dir": "end2end",
        "bin-default-features": false,
        "lib-default-features": false,
        "lib-profile-release": "wasm-release"
    })
}

/// `cargo metadata --no-deps` output for a workspace at /ws with `leptos` as its only
/// `[[workspace.metadata.leptos]]` entry.
pub fn metadata(leptos: Value) -> Value {
    json!({
        "workspace_root": "/ws",
        "target_directory": "/ws/target",
        "packages": [
            {
                "name": "frontend",
                "manifest_path": "/ws/frontend/Cargo.toml",
                "targets": [{ "name": "frontend", "kind": ["cdylib", "rlib"] }]
            },
            {
                "name": "server",
                "manifest_path": "/ws/server/Cargo.toml",
                "targets": [
                    { "name": "server", "kind": ["lib"] },
                    { "name": "server", "kind": ["bin"] },
                    { "name": "api", "kind": ["test"] }
                ]
            }
        ],
        "metadata": {
            "leptos": [leptos],
            "site-tools": {
                "binaryen": "132.0.0",
                "terser": "5.51.4",
                "lightningcss-cli": "1.32.0",
                "cargo-leptos": "0.3.10"
            }
        }
    })
}

/// The settings of this workspace's metadata, with no environment overrides.
pub fn config() -> SiteConfig {
    SiteConfig::from_metadata(&metadata(leptos_section()), |_| None).unwrap()
}

/// `config` with `key` set to `value` in the leptos section.
pub fn config_with(key: &str, value: Value) -> xtask::error::Result<SiteConfig> {
    let mut section = leptos_section();
    section[key] = value;
    SiteConfig::from_metadata(&metadata(section), |_| None)
}
