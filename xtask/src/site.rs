//! `cargo xtask site`: the site under `site-root` and the server binary, as
//! `cargo leptos build --release --precompress` produces them for this workspace.
//!
//! The site is assembled in a sibling directory (`<site-root>.partial`) and moved into
//! place at the end, so a failed build leaves the previous site whole. The server does
//! not embed the site, so its build runs at the same time as the front end's: each
//! has long single-threaded stretches (the WASM's LTO, the server crate) that the
//! other fills on a small machine.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::config::SiteConfig;
use crate::error::{Error, Result};
use crate::tools::Tools;
use crate::{assets, compress, front, server};

/// What to build.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// The WASM front end, the stylesheet and the assets, into the site root.
    pub frontend: bool,
    /// The server binary.
    pub server: bool,
    /// Write `.gz` and `.br` next to every site file.
    pub precompress: bool,
    /// Build the front end and the server one after the other (for measuring).
    pub sequential: bool,
    /// Passed to both cargo builds (`--locked`, `--offline`, `--frozen`).
    pub cargo_flags: Vec<String>,
    /// `--split`: the WASM split into lazily loaded modules (see `front`).
    pub split: bool,
    /// `--lib-features`: the front end's features instead of the metadata's.
    pub lib_features: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            frontend: true,
            server: true,
            precompress: true,
            sequential: false,
            cargo_flags: Vec::new(),
            split: false,
            lib_features: Vec::new(),
        }
    }
}

/// Builds what `options` asks for.
pub fn build(config: &SiteConfig, options: &Options) -> Result<()> {
    // Every tool is checked before anything compiles: a missing one fails in a second.
    let tools = options
        .frontend
        .then(|| Tools::locate(config))
        .transpose()?;
    let started = Instant::now();
    match (&tools, options.server) {
        (Some(tools), true) if !options.sequential => std::thread::scope(|scope| {
            let server = scope.spawn(|| build_server(config, options));
            let front = build_front(config, tools, options, true);
            let server = server
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            front.and(server)
        })?,
        (Some(tools), build_server_too) => {
            build_front(config, tools, options, false)?;
            if build_server_too {
                build_server(config, options)?;
            }
        }
        (None, true) => build_server(config, options)?,
        (None, false) => {}
    }
    eprintln!("    Finished in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

fn build_server(config: &SiteConfig, options: &Options) -> Result<()> {
    let started = Instant::now();
    server::cargo_build(config, &options.cargo_flags).run()?;
    eprintln!(
        "    Finished server {} in {:.1} s",
        server::executable(config).display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The front end's cargo build, then the site assembled from it. With `quiet_cargo`
/// (the server builds at the same time) cargo's output is kept and shown only on a
/// failure, so the two builds' progress lines do not interleave.
fn build_front(
    config: &SiteConfig,
    tools: &Tools,
    options: &Options,
    quiet_cargo: bool,
) -> Result<()> {
    let started = Instant::now();
    let cargo = front::cargo_build(config, &options.cargo_flags);
    if quiet_cargo {
        eprintln!(
            "    Building the front end (its output is shown if it fails): {}",
            cargo.line()
        );
        cargo.output()?;
    } else {
        cargo.run()?;
    }
    eprintln!(
        "    Compiled the front end in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let site_root = config.site_root_path();
    let staging = staging_dir(&site_root);
    remove_dir(&staging)?;
    assemble(config, tools, &staging, options.precompress)?;
    remove_dir(&site_root)?;
    std::fs::rename(&staging, &site_root).map_err(Error::io("move into place", &staging))?;
    eprintln!(
        "    Finished site {} in {:.1} s",
        site_root.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Writes the whole site into `root` from the compiled WASM.
pub fn assemble(config: &SiteConfig, tools: &Tools, root: &Path, precompress: bool) -> Result<()> {
    let pkg_dir = root.join(&config.pkg_dir);
    std::fs::create_dir_all(&pkg_dir).map_err(Error::io("create", &pkg_dir))?;
    front::package(config, tools, &pkg_dir)?;
    let css = pkg_dir.join(format!("{}.css", config.output_name));
    match &config.style_file {
        Some(style) if style.extension().is_some_and(|e| e == "css") => {
            assets::minify_css(config, tools, style, &css).run()?;
        }
        Some(style) => {
            return Err(Error::Config(format!(
                "style-file {}: only plain .css is supported (cargo-leptos runs sass for .scss)",
                style.display()
            )));
        }
        // cargo-leptos writes an empty stylesheet when there is none.
        None => std::fs::write(&css, "").map_err(Error::io("write", &css))?,
    }
    if let Some(assets) = &config.assets_dir {
        assets::copy_assets(assets, root, &config.pkg_dir)?;
    }
    if precompress {
        let started = Instant::now();
        let count = compress::precompress(root)?;
        eprintln!(
            "  Compressed {count} files (gzip, brotli) in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// `target/site` -> `target/site.partial`.
pub fn staging_dir(site_root: &Path) -> PathBuf {
    let mut name = site_root.file_name().unwrap_or_default().to_owned();
    name.push(".partial");
    site_root.with_file_name(name)
}

fn remove_dir(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io("remove", dir)(e)),
        _ => Ok(()),
    }
}
