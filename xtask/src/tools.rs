//! The external tools of the front-end build, found and checked before anything is
//! compiled: wasm-bindgen (the version of the `wasm-bindgen` crate in Cargo.lock),
//! and from npm wasm-opt (binaryen), terser and lightningcss, at the versions of
//! `[workspace.metadata.site-tools]`. They are looked up in `.tools/node_modules/.bin`
//! (where scripts/lib.sh installs them) and then on `PATH`. A wrong version is an
//! error, not a warning: Debian's wasm-opt 108, for one, builds a site that does not
//! hydrate.

use std::path::{Path, PathBuf};

use crate::config::SiteConfig;
use crate::error::{Error, Result};
use crate::process::Cmd;

/// Paths of the tools, each checked to be the pinned version.
#[derive(Debug, Clone)]
pub struct Tools {
    pub wasm_bindgen: PathBuf,
    pub wasm_opt: PathBuf,
    pub terser: PathBuf,
    pub lightningcss: PathBuf,
}

impl Tools {
    /// Finds every tool and checks its version.
    pub fn locate(config: &SiteConfig) -> Result<Self> {
        let dirs = search_dirs(&config.workspace_root);
        let lock = config.workspace_root.join("Cargo.lock");
        let lock_text = std::fs::read_to_string(&lock).map_err(Error::io("read", &lock))?;
        let bindgen = lock_version(&lock_text, "wasm-bindgen").ok_or_else(|| {
            Error::Tool("Cargo.lock has no wasm-bindgen: is the frontend a Leptos crate?".into())
        })?;
        let v = &config.tools;
        let wasm_bindgen = find_tool(&dirs, "wasm-bindgen", || {
            format!("cargo install wasm-bindgen-cli --version {bindgen}")
        })?;
        let reported = Cmd::new(&wasm_bindgen).args(["--version"]).output()?;
        if word_after(&reported, "wasm-bindgen ") != Some(bindgen.as_str()) {
            return Err(Error::Tool(format!(
                "{} is {:?}; Cargo.lock's wasm-bindgen is {bindgen}, and they must be equal: \
                 cargo install wasm-bindgen-cli --version {bindgen}",
                wasm_bindgen.display(),
                reported.trim()
            )));
        }
        Ok(Self {
            wasm_bindgen,
            wasm_opt: npm_tool(&dirs, "wasm-opt", "binaryen", &v.binaryen)?,
            terser: npm_tool(&dirs, "terser", "terser", &v.terser)?,
            lightningcss: npm_tool(&dirs, "lightningcss", "lightningcss-cli", &v.lightningcss)?,
        })
    }
}

/// Where tools are looked for: the workspace's `.tools/node_modules/.bin`, then `PATH`.
pub fn search_dirs(workspace_root: &Path) -> Vec<PathBuf> {
    let mut dirs = vec![workspace_root.join(".tools/node_modules/.bin")];
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    dirs
}

/// The first executable file called `name` in `dirs`.
pub fn find(dirs: &[PathBuf], name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    dirs.iter().map(|dir| dir.join(name)).find(|path| {
        std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

fn find_tool(dirs: &[PathBuf], name: &str, install: impl Fn() -> String) -> Result<PathBuf> {
    find(dirs, name).ok_or_else(|| {
        Error::Tool(format!(
            "{name} not found in .tools/node_modules/.bin or PATH; install it: {}",
            install()
        ))
    })
}

/// The tool `name` from npm package `package` at exactly `version`: the executable's
/// real path must lie in that package (so Debian's `/usr/bin/wasm-opt` is refused).
fn npm_tool(dirs: &[PathBuf], name: &str, package: &str, version: &str) -> Result<PathBuf> {
    let install =
        || format!("npm install --prefix .tools {package}@{version} (scripts/lib.sh does)");
    let path = find_tool(dirs, name, install)?;
    match npm_package_version(&path, package) {
        Some(found) if found == version => Ok(path),
        found => Err(Error::Tool(format!(
            "{} is {}; this workspace needs npm {package}@{version}: {}",
            path.display(),
            found.map_or_else(
                || format!("not from the npm package {package}"),
                |v| format!("{package}@{v}")
            ),
            install()
        ))),
    }
}

/// The version of the npm package `package` that the executable at `path` belongs to:
/// from the `package.json` named `package` above its real path.
pub fn npm_package_version(path: &Path, package: &str) -> Option<String> {
    let real = std::fs::canonicalize(path).ok()?;
    real.ancestors().skip(1).find_map(|dir| {
        let text = std::fs::read_to_string(dir.join("package.json")).ok()?;
        let json: serde_json::Value = serde_json::from_str(&text).ok()?;
        (json.get("name")?.as_str()? == package)
            .then(|| json.get("version")?.as_str().map(str::to_owned))
            .flatten()
    })
}

/// The version of package `name` in a Cargo.lock (the first, if several).
pub fn lock_version(lock: &str, name: &str) -> Option<String> {
    let wanted = format!("name = \"{name}\"");
    let mut lines = lock.lines();
    lines.find(|line| *line == wanted)?;
    let version = lines.next()?.strip_prefix("version = \"")?;
    Some(version.trim_end_matches('"').to_owned())
}

/// The word after `prefix` in a `--version` line (`terser 5.51.4` -> `5.51.4`).
pub fn word_after<'a>(output: &'a str, prefix: &str) -> Option<&'a str> {
    let start = output.find(prefix)? + prefix.len();
    output[start..].split_whitespace().next()
}
