//! The proof that `cargo xtask site` builds what cargo-leptos builds: both sites built
//! from the same tree, then compared file by file. Same file names and layout; the
//! same bytes wherever both use the same tool on the same input (the WASM, through the
//! same cargo artifact, wasm-bindgen and wasm-opt; the stylesheet; the assets; their
//! brotli files); every `.gz` and `.br` decompressing to its file. Only the JS glue
//! differs, minified by swc there and by terser here: it must stay within
//! [`JS_SIZE_TOLERANCE`] of cargo-leptos's size. With `--split`, two files come out of
//! the split crate in hash order, different on every run (cargo-leptos's own too): the
//! manifest is compared as JSON, and the loader with the names inside each `{ ... }`
//! sorted.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use crate::config::SiteConfig;
use crate::error::{Error, Result};
use crate::front::{SPLIT_LOADER, SPLIT_MANIFEST};
use crate::process::Cmd;
use crate::site::{self, Options};
use crate::tools;

/// How much larger than cargo-leptos's our minified JS may be (0.10 = 10 %).
pub const JS_SIZE_TOLERANCE: f64 = 0.10;

/// Every file under a directory: path relative to it (with `/`) -> contents.
pub type Listing = BTreeMap<String, Vec<u8>>;

/// What the comparison found.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// The two sites agree; the summary says how.
    Same(String),
    /// cargo-leptos (the pinned version) is not installed: nothing was compared.
    Skipped(String),
}

/// Reads every file under `root`.
pub fn listing(root: &Path) -> Result<Listing> {
    fn walk(root: &Path, dir: &Path, out: &mut Listing) -> Result<()> {
        for entry in std::fs::read_dir(dir).map_err(Error::io("read", dir))? {
            let path = entry.map_err(Error::io("read", dir))?.path();
            if path.is_dir() {
                walk(root, &path, out)?;
            } else {
                let bytes = std::fs::read(&path).map_err(Error::io("read", &path))?;
                let rel = path.strip_prefix(root).unwrap_or(&path);
                out.insert(rel.to_string_lossy().replace('\\', "/"), bytes);
            }
        }
        Ok(())
    }
    let mut out = Listing::new();
    walk(root, root, &mut out)?;
    Ok(out)
}

/// Compares our site with cargo-leptos's; `js` is the JS glue's relative path, the one
/// file allowed to differ. Returns every problem found (empty: the sites agree).
pub fn differences(ours: &Listing, theirs: &Listing, js: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for path in ours.keys().filter(|p| !theirs.contains_key(*p)) {
        problems.push(format!("{path}: only in ours"));
    }
    for path in theirs.keys().filter(|p| !ours.contains_key(*p)) {
        problems.push(format!("{path}: only in cargo-leptos's"));
    }
    for (side, listing) in [("ours", ours), ("cargo-leptos's", theirs)] {
        for (path, bytes) in listing {
            if let Some(problem) = sibling_problem(listing, path, bytes) {
                problems.push(format!("{path} ({side}): {problem}"));
            }
        }
    }
    for (path, mine) in ours {
        let Some(theirs) = theirs.get(path) else {
            continue;
        };
        let is_js = path == js || path == &format!("{js}.br");
        if is_js || path.ends_with(".gz") {
            // Different minifier; gzip headers carry cargo-leptos's build time.
            continue;
        }
        if path.ends_with(SPLIT_MANIFEST) || path.ends_with(&format!("{SPLIT_MANIFEST}.br")) {
            if path.ends_with(".json") && !same_json(mine, theirs) {
                problems.push(format!("{path}: another split than cargo-leptos's"));
            }
            continue;
        }
        if path.ends_with(SPLIT_LOADER) || path.ends_with(&format!("{SPLIT_LOADER}.br")) {
            let same = |a: &[u8], b: &[u8]| {
                sorted_braces(&String::from_utf8_lossy(a))
                    == sorted_braces(&String::from_utf8_lossy(b))
            };
            if path.ends_with(".js") && !same(mine, theirs) {
                problems.push(format!("{path}: another loader than cargo-leptos's"));
            }
            continue;
        }
        if mine != theirs {
            problems.push(format!(
                "{path}: {} bytes here, {} in cargo-leptos's",
                mine.len(),
                theirs.len()
            ));
        }
    }
    if let (Some(mine), Some(theirs)) = (ours.get(js), theirs.get(js)) {
        let limit = theirs.len() as f64 * (1.0 + JS_SIZE_TOLERANCE);
        if mine.len() as f64 > limit {
            problems.push(format!(
                "{js}: {} bytes, more than {:.0} % over cargo-leptos's {} (is it minified?)",
                mine.len(),
                JS_SIZE_TOLERANCE * 100.0,
                theirs.len()
            ));
        }
    }
    problems
}

/// `text` with the comma-separated names inside each innermost `{ ... }` on a line
/// sorted: `{ b, a, }` and `{ a, b, }` read the same.
pub fn sorted_braces(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let (head, tail) = rest.split_at(open + 1);
        out.push_str(head);
        match tail.find(['{', '}', '\n']) {
            Some(close) if tail[close..].starts_with('}') => {
                let mut names: Vec<&str> = tail[..close]
                    .split(',')
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .collect();
                names.sort_unstable();
                out.push_str(&names.join(","));
                rest = &tail[close..];
            }
            _ => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

fn same_json(a: &[u8], b: &[u8]) -> bool {
    match (
        serde_json::from_slice::<serde_json::Value>(a),
        serde_json::from_slice::<serde_json::Value>(b),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// For a `.gz` or `.br` file: why it is not its sibling's contents compressed.
fn sibling_problem(listing: &Listing, path: &str, bytes: &[u8]) -> Option<String> {
    let (original, decoded) = if let Some(original) = path.strip_suffix(".gz") {
        let mut out = Vec::new();
        let decoded = flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .map(|_| out);
        (original, decoded)
    } else if let Some(original) = path.strip_suffix(".br") {
        let mut out = Vec::new();
        let decoded = brotli::Decompressor::new(bytes, 4096)
            .read_to_end(&mut out)
            .map(|_| out);
        (original, decoded)
    } else {
        return None;
    };
    match (listing.get(original), decoded) {
        (None, _) => Some(format!("no {original} next to it")),
        (Some(_), Err(e)) => Some(format!("does not decompress: {e}")),
        (Some(want), Ok(got)) if *want != got => Some(format!("is not {original} compressed")),
        _ => None,
    }
}

/// Builds our site (a no-op for cargo when it is up to date), then cargo-leptos's into
/// `<target>/site-cargo-leptos` from the same tree, with the same `--split` and
/// `--lib-features`, and compares them.
pub fn against_cargo_leptos(config: &SiteConfig, options: &Options) -> Result<Outcome> {
    let wanted = &config.tools.cargo_leptos;
    let version = Cmd::cargo().args(["leptos", "--version"]).output();
    match version {
        Ok(v) if tools::word_after(&v, "cargo-leptos ") == Some(wanted.as_str()) => {}
        Ok(v) => {
            return Ok(Outcome::Skipped(format!(
                "{} is installed; the comparison is against the pinned cargo-leptos {wanted}",
                v.trim()
            )));
        }
        Err(_) => {
            return Ok(Outcome::Skipped(format!(
                "cargo-leptos {wanted} is not installed (./scripts/dev.sh installs it)"
            )));
        }
    }
    let options = Options {
        cargo_flags: options.cargo_flags.clone(),
        split: options.split,
        lib_features: options.lib_features.clone(),
        ..Options::default()
    };
    site::build(config, &options)?;
    let theirs_root = config.target_dir.join("site-cargo-leptos");
    let tool_path = std::env::join_paths(tools::search_dirs(&config.workspace_root))
        .map_err(|e| Error::Tool(format!("PATH: {e}")))?;
    let binaryen_major = config.tools.binaryen.split('.').next().unwrap_or_default();
    Cmd::cargo()
        .args(cargo_leptos_args(&options))
        .envs([
            ("LEPTOS_SITE_ROOT", theirs_root.display().to_string()),
            // Use the wasm-opt on PATH instead of downloading one from GitHub.
            (
                "LEPTOS_WASM_OPT_VERSION",
                format!("version_{binaryen_major}"),
            ),
            ("PATH", tool_path.to_string_lossy().into_owned()),
        ])
        .current_dir(&config.workspace_root)
        .run()?;
    let ours = listing(&config.site_root_path())?;
    let theirs = listing(&theirs_root)?;
    let js = format!("{}/{}.js", config.pkg_dir, config.output_name);
    let problems = differences(&ours, &theirs, &js);
    if !problems.is_empty() {
        return Err(Error::Mismatch(format!(
            "target/site differs from cargo-leptos {wanted}'s build:\n  {}",
            problems.join("\n  ")
        )));
    }
    let size = |l: &Listing| l.get(&js).map_or(0, Vec::len);
    Ok(Outcome::Same(format!(
        "the same {} files as cargo-leptos {wanted} ({}), byte for byte except the JS glue \
         ({} bytes minified by terser, {} by cargo-leptos's swc)",
        ours.len(),
        cargo_leptos_args(&options).join(" "),
        size(&ours),
        size(&theirs)
    )))
}

/// The cargo-leptos command line that builds what `options` asks of `cargo xtask site`.
pub fn cargo_leptos_args(options: &Options) -> Vec<String> {
    let mut args: Vec<String> = ["leptos", "build", "--release", "--precompress"]
        .map(String::from)
        .into();
    if options.split {
        args.push("--split".into());
    }
    for features in &options.lib_features {
        args.extend(["--lib-features".into(), features.clone()]);
    }
    // cargo-leptos's names for cargo's --locked, --offline, --frozen.
    args.extend(
        options
            .cargo_flags
            .iter()
            .map(|f| f.replacen("--", "--cargo-", 1)),
    );
    args
}
