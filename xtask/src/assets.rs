//! The site's static files, as cargo-leptos 0.3.10 writes them (`compile/assets.rs`,
//! `compile/style.rs` there): the assets directory copied into the site root, and the
//! stylesheet, minified by Lightning CSS for the `browserquery` targets, written as
//! `<pkg>/<output>.css`.

use std::path::Path;

use crate::config::SiteConfig;
use crate::error::{Error, Result};
use crate::process::Cmd;
use crate::tools::Tools;

/// Copies the contents of `assets` into `site_root`. Like cargo-leptos, refuses an
/// `index.html` or a directory named like the package directory among the assets:
/// the build writes those paths itself.
pub fn copy_assets(assets: &Path, site_root: &Path, pkg_dir: &str) -> Result<()> {
    if !assets.is_dir() {
        // cargo-leptos warns and carries on; a missing assets dir is not an error.
        eprintln!("warning: assets dir {} does not exist", assets.display());
        return Ok(());
    }
    for reserved in [assets.join("index.html"), assets.join(pkg_dir)] {
        if reserved.exists() {
            return Err(Error::Config(format!(
                "{} is reserved for the build's own files: move or rename it",
                reserved.display()
            )));
        }
    }
    copy_dir(assets, site_root)
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).map_err(Error::io("create", to))?;
    let entries = std::fs::read_dir(from).map_err(Error::io("read", from))?;
    for entry in entries {
        let entry = entry.map_err(Error::io("read", from))?;
        let (source, dest) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type().map_err(Error::io("inspect", &source))?;
        if kind.is_dir() {
            copy_dir(&source, &dest)?;
        } else {
            std::fs::copy(&source, &dest).map_err(Error::io("copy", &source))?;
        }
    }
    Ok(())
}

/// Lightning CSS on the stylesheet: minified for `browserquery` (cargo-leptos's
/// `minify` + `PrinterOptions { minify: release }`), `@import`s inlined only with
/// `style-bundle = true`.
pub fn minify_css(config: &SiteConfig, tools: &Tools, style: &Path, dest: &Path) -> Cmd {
    let mut args = vec!["--minify".to_owned()];
    if config.style_bundle {
        args.push("--bundle".into());
    }
    args.extend([
        "--targets".to_owned(),
        config.browserquery.clone(),
        style.display().to_string(),
        "--output-file".to_owned(),
        dest.display().to_string(),
    ]);
    Cmd::new(&tools.lightningcss).args(args)
}
