//! The site's settings: `[[workspace.metadata.leptos]]` in the root Cargo.toml, read
//! as cargo-leptos 0.3.10 reads it (same keys, same defaults, the same `LEPTOS_*`
//! environment overrides), plus `[workspace.metadata.site-tools]`, the tool versions.
//! Keys that would change the output in ways this build step does not reproduce
//! (Tailwind, hashed file names, a cross-compiled server, ...) are refused rather
//! than ignored, so the site never silently differs from cargo-leptos's.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::process::Cmd;

/// Keys that only matter to `cargo leptos watch` / `end-to-end`, not to a release build.
const DEV_ONLY_KEYS: &[&str] = &[
    "end2end-cmd",
    "end2end-dir",
    "lib-profile-dev",
    "bin-profile-dev",
    "watch-additional-files",
    "js-dir",
    "graceful-shutdown",
    "graceful-shutdown-timeout-secs",
    "graceful-shutdown-unix-signal",
    "disable-erase-components",
    "always-erase-components",
];

/// Keys this build step reads.
const KNOWN_KEYS: &[&str] = &[
    "name",
    "bin-package",
    "lib-package",
    "output-name",
    "site-root",
    "site-pkg-dir",
    "style-file",
    "style-bundle",
    "browserquery",
    "assets-dir",
    "site-addr",
    "reload-port",
    "js-minify",
    "hash-files",
    "features",
    "lib-features",
    "bin-features",
    "lib-default-features",
    "bin-default-features",
    "lib-profile-release",
    "bin-profile-release",
    "lib-cargo-args",
    "bin-cargo-args",
    "bin-target",
];

/// One of the two packages cargo-leptos builds: the WASM library or the server binary.
#[derive(Debug, Clone, PartialEq)]
pub struct Package {
    /// The package name (`frontend`, `server`).
    pub name: String,
    /// The target: the cdylib's library name, or the binary's name.
    pub target: String,
    /// `--profile` value (`release`, `wasm-release`).
    pub profile: String,
    pub default_features: bool,
    pub features: Vec<String>,
    /// Extra cargo arguments from the metadata (`lib-cargo-args`, `bin-cargo-args`).
    pub cargo_args: Vec<String>,
    /// The package directory, relative to the workspace root (`LEPTOS_LIB_DIR`/`_BIN_DIR`).
    pub rel_dir: String,
}

/// The versions of the external tools (`[workspace.metadata.site-tools]`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ToolVersions {
    pub binaryen: String,
    pub terser: String,
    pub lightningcss: String,
    pub cargo_leptos: String,
}

/// Everything the site build needs to know about the workspace.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteConfig {
    pub workspace_root: PathBuf,
    pub target_dir: PathBuf,
    /// Base name of the JS, WASM and CSS files (`toolstream`).
    pub output_name: String,
    /// The site root as configured (relative to the workspace root), for `LEPTOS_SITE_ROOT`.
    pub site_root: String,
    /// The package directory inside the site root (`pkg`).
    pub pkg_dir: String,
    pub style_file: Option<PathBuf>,
    pub style_bundle: bool,
    pub browserquery: String,
    pub assets_dir: Option<PathBuf>,
    pub site_addr: String,
    pub reload_port: u16,
    pub js_minify: bool,
    /// The metadata's `features`, added to both packages' own.
    pub features: Vec<String>,
    /// Split the WASM into lazily loaded modules (`--split`; cargo-leptos has no
    /// metadata key for it either).
    pub split: bool,
    pub lib: Package,
    pub bin: Package,
    pub tools: ToolVersions,
}

impl SiteConfig {
    /// Reads the settings through `cargo metadata`, with `LEPTOS_*` overrides from
    /// this process's environment (as cargo-leptos applies them).
    pub fn load(workspace_root: &Path) -> Result<Self> {
        let json = Cmd::cargo()
            .args(["metadata", "--format-version=1", "--no-deps", "--offline"])
            .current_dir(workspace_root)
            .output()?;
        let metadata: Value = serde_json::from_str(&json)
            .map_err(|e| Error::Config(format!("cargo metadata printed invalid JSON: {e}")))?;
        Self::from_metadata(&metadata, |key| std::env::var(key).ok())
    }

    /// The settings from `cargo metadata` JSON; `env` looks up `LEPTOS_*` overrides.
    pub fn from_metadata(metadata: &Value, env: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let workspace_root = PathBuf::from(str_at(metadata, "workspace_root")?);
        let target_dir = PathBuf::from(str_at(metadata, "target_directory")?);
        let workspace_meta = metadata.pointer("/metadata").unwrap_or(&Value::Null);
        let project = single_project(workspace_meta)?;
        check_keys(project)?;
        let get = |key: &str| project.get(key);
        let string = |key: &str, default: &str| -> Result<String> {
            match get(key) {
                None => Ok(default.to_owned()),
                Some(Value::String(s)) => Ok(s.clone()),
                Some(other) => Err(bad_value(key, other)),
            }
        };
        let boolean = |key: &str, default: bool| -> Result<bool> {
            match get(key) {
                None => Ok(default),
                Some(Value::Bool(b)) => Ok(*b),
                Some(other) => Err(bad_value(key, other)),
            }
        };
        let strings = |key: &str| -> Result<Vec<String>> {
            match get(key) {
                None => Ok(Vec::new()),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_owned)
                            .ok_or_else(|| bad_value(key, v))
                    })
                    .collect(),
                Some(other) => Err(bad_value(key, other)),
            }
        };

        let name = string("name", "")?;
        let overridden = |var: &str, value: String| env(var).unwrap_or(value);
        let mut output_name = overridden("LEPTOS_OUTPUT_NAME", string("output-name", "")?);
        if output_name.is_empty() {
            output_name.clone_from(&name);
        }
        let hash_files = match env("LEPTOS_HASH_FILES") {
            Some(v) => parse_bool("LEPTOS_HASH_FILES", &v)?,
            None => boolean("hash-files", false)?,
        };
        if hash_files {
            return Err(unsupported("hash-files = true"));
        }
        let js_minify = match env("LEPTOS_JS_MINIFY") {
            Some(v) => parse_bool("LEPTOS_JS_MINIFY", &v)?,
            None => boolean("js-minify", true)?,
        };
        let reload_port = overridden("LEPTOS_RELOAD_PORT", number(get("reload-port"), 3001)?)
            .parse()
            .map_err(|_| Error::Config("reload-port: not a port number".into()))?;
        let site_root = overridden("LEPTOS_SITE_ROOT", string("site-root", "target/site")?);
        if ["", "/", ".", "CARGO_TARGET_DIR"].contains(&site_root.as_str()) {
            return Err(Error::Config(format!(
                "site-root cannot be {site_root:?}: the build empties it"
            )));
        }
        let optional_path = |var: &str, key: &str| -> Result<Option<PathBuf>> {
            let value = match env(var) {
                Some(v) => Some(v),
                None => get(key)
                    .map(|v| {
                        v.as_str()
                            .map(str::to_owned)
                            .ok_or_else(|| bad_value(key, v))
                    })
                    .transpose()?,
            };
            Ok(value.map(|v| workspace_root.join(v)))
        };
        let features = strings("features")?;
        let packages = metadata
            .get("packages")
            .and_then(Value::as_array)
            .ok_or_else(|| Error::Config("cargo metadata lists no packages".into()))?;
        let package = |key: &str, kind: &str, target: &str, prefix: &str| -> Result<Package> {
            let name = string(key, "")?;
            let (rel_dir, target) = find_target(packages, &workspace_root, &name, kind, target)?;
            let mut own = strings(&format!("{prefix}-features"))?;
            own.extend(features.iter().cloned());
            Ok(Package {
                target,
                profile: string(&format!("{prefix}-profile-release"), "release")?,
                default_features: boolean(&format!("{prefix}-default-features"), false)?,
                features: own,
                cargo_args: strings(&format!("{prefix}-cargo-args"))?,
                rel_dir,
                name,
            })
        };
        let lib = package("lib-package", "cdylib", "", "lib")?;
        let bin = package("bin-package", "bin", &string("bin-target", "")?, "bin")?;

        Ok(Self {
            output_name,
            site_root,
            pkg_dir: overridden("LEPTOS_SITE_PKG_DIR", string("site-pkg-dir", "pkg")?),
            style_file: optional_path("LEPTOS_STYLE_FILE", "style-file")?,
            style_bundle: match env("LEPTOS_STYLE_BUNDLE") {
                Some(v) => parse_bool("LEPTOS_STYLE_BUNDLE", &v)?,
                None => boolean("style-bundle", false)?,
            },
            browserquery: overridden("LEPTOS_BROWSERQUERY", string("browserquery", "defaults")?),
            assets_dir: optional_path("LEPTOS_ASSETS_DIR", "assets-dir")?,
            site_addr: overridden("LEPTOS_SITE_ADDR", string("site-addr", "127.0.0.1:3000")?),
            reload_port,
            js_minify,
            features,
            split: false,
            lib,
            bin,
            tools: tool_versions(workspace_meta)?,
            workspace_root,
            target_dir,
        })
    }

    /// The command line's `--split` and `--lib-features` applied as cargo-leptos 0.3.10
    /// applies them (`config/lib_package.rs`): `--lib-features` replaces the metadata's
    /// `lib-features`, and the shared `features` still follow.
    pub fn with_command_line(mut self, split: bool, lib_features: &[String]) -> Self {
        if !lib_features.is_empty() {
            self.lib.features = lib_features.to_vec();
            self.lib.features.extend(self.features.iter().cloned());
        }
        self.split = split;
        self
    }

    /// The site root on disk.
    pub fn site_root_path(&self) -> PathBuf {
        self.workspace_root.join(&self.site_root)
    }

    /// cargo-leptos's target directory for the front end (`target/front`).
    pub fn front_target_dir(&self) -> PathBuf {
        self.target_dir.join("front")
    }

    /// The variables cargo-leptos 0.3.10 sets for both cargo builds (`Project::to_envs`
    /// for a release build without watch, hashing or server-fn settings). Of these,
    /// only `LEPTOS_OUTPUT_NAME` reaches the compiled code (Leptos reads it with
    /// `option_env!`); the server reads the others again at run time.
    pub fn build_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("LEPTOS_OUTPUT_NAME", self.output_name.clone()),
            ("LEPTOS_SITE_ROOT", self.site_root.clone()),
            ("LEPTOS_SITE_PKG_DIR", self.pkg_dir.clone()),
            ("LEPTOS_SITE_ADDR", self.site_addr.clone()),
            ("LEPTOS_RELOAD_PORT", self.reload_port.to_string()),
            ("LEPTOS_LIB_DIR", self.lib.rel_dir.clone()),
            ("LEPTOS_BIN_DIR", self.bin.rel_dir.clone()),
            ("LEPTOS_JS_MINIFY", self.js_minify.to_string()),
            ("LEPTOS_HASH_FILES", "false".into()),
        ]
    }
}

/// Cargo's directory name for a profile's artifacts (`dev` and `test` build into `debug`).
pub fn profile_dir(profile: &str) -> &str {
    match profile {
        "dev" | "test" => "debug",
        "bench" => "release",
        other => other,
    }
}

fn single_project(workspace_meta: &Value) -> Result<&Map<String, Value>> {
    let projects = workspace_meta
        .get("leptos")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::Config("no [[workspace.metadata.leptos]] in Cargo.toml".into()))?;
    match projects.as_slice() {
        [Value::Object(project)] => Ok(project),
        _ => Err(Error::Config(format!(
            "cargo xtask site builds one [[workspace.metadata.leptos]] project; found {}",
            projects.len()
        ))),
    }
}

fn check_keys(project: &Map<String, Value>) -> Result<()> {
    let unknown: Vec<&str> = project
        .keys()
        .map(String::as_str)
        .filter(|k| !KNOWN_KEYS.contains(k) && !DEV_ONLY_KEYS.contains(k))
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(unsupported(&unknown.join(", ")))
    }
}

fn unsupported(what: &str) -> Error {
    Error::Config(format!(
        "[[workspace.metadata.leptos]]: {what} is not supported by `cargo xtask site` \
         (xtask/src/config.rs); build with `cargo leptos build --release` or teach xtask"
    ))
}

fn bad_value(key: &str, value: &Value) -> Error {
    Error::Config(format!(
        "[[workspace.metadata.leptos]] {key} = {value}: wrong type"
    ))
}

fn parse_bool(var: &str, value: &str) -> Result<bool> {
    value
        .parse()
        .map_err(|_| Error::Config(format!("{var}={value}: expected true or false")))
}

fn number(value: Option<&Value>, default: u64) -> Result<String> {
    match value {
        None => Ok(default.to_string()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(other) => Err(bad_value("reload-port", other)),
    }
}

fn str_at<'a>(value: &'a Value, key: &str) -> Result<&'a str> {
    value
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| Error::Config(format!("cargo metadata has no {key}")))
}

/// The package's directory (relative to the workspace) and the name of its target of
/// `kind`: the one named `wanted`, or the only one.
fn find_target(
    packages: &[Value],
    workspace_root: &Path,
    name: &str,
    kind: &str,
    wanted: &str,
) -> Result<(String, String)> {
    let package = packages
        .iter()
        .find(|p| p.get("name").and_then(Value::as_str) == Some(name))
        .ok_or_else(|| Error::Config(format!("no workspace package named {name:?}")))?;
    let manifest = PathBuf::from(str_at(package, "manifest_path")?);
    let dir = manifest.parent().unwrap_or(Path::new(""));
    let rel_dir = dir
        .strip_prefix(workspace_root)
        .unwrap_or(dir)
        .to_string_lossy()
        .into_owned();
    let targets: Vec<&str> = package
        .get("targets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|t| {
            t.get("kind")
                .and_then(Value::as_array)
                .is_some_and(|kinds| kinds.iter().any(|k| k == kind))
        })
        .filter_map(|t| t.get("name").and_then(Value::as_str))
        .collect();
    let target = match (wanted, targets.as_slice()) {
        ("", [only]) => *only,
        ("", _) => {
            return Err(Error::Config(format!(
                "package {name}: expected one {kind} target, found {targets:?}"
            )));
        }
        (wanted, _) if targets.contains(&wanted) => wanted,
        (wanted, _) => {
            return Err(Error::Config(format!(
                "package {name} has no {kind} target {wanted:?}"
            )));
        }
    };
    Ok((rel_dir, target.to_owned()))
}

fn tool_versions(workspace_meta: &Value) -> Result<ToolVersions> {
    let tools = workspace_meta
        .get("site-tools")
        .ok_or_else(|| Error::Config("no [workspace.metadata.site-tools] in Cargo.toml".into()))?;
    let version = |key: &str| {
        tools
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| Error::Config(format!("[workspace.metadata.site-tools] has no {key}")))
    };
    Ok(ToolVersions {
        binaryen: version("binaryen")?,
        terser: version("terser")?,
        lightningcss: version("lightningcss-cli")?,
        cargo_leptos: version("cargo-leptos")?,
    })
}
