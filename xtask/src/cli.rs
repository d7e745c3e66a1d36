//! The command line of `cargo xtask`: which build step to run, with which options.

use std::path::PathBuf;

use crate::compare::{self, Outcome};
use crate::config::SiteConfig;
use crate::error::{Error, Result};
use crate::site::{self, Options};

pub const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  site                   build target/site and the server in release, as
                         `cargo leptos build --release --precompress` does
    --frontend-only      only the site (WASM, JS, CSS, assets)
    --server-only        only the server binary
    --no-precompress     no .gz/.br files
    --sequential         build the front end, then the server (default: at once)
  compare-cargo-leptos   build the site with both this task and cargo-leptos and
                         check they agree (skipped when cargo-leptos is absent)

  --split                split the WASM into lazily loaded modules, as
                         `cargo leptos build --split` does (site, compare)
  --lib-features F       the front end's features instead of the metadata's
                         lib-features (repeatable; site, compare)

  --locked, --offline, --frozen are passed on to cargo.";

/// A parsed command line.
#[derive(Debug, PartialEq)]
pub enum Command {
    Site(Options),
    /// The options of `site` that cargo-leptos also takes: cargo flags, `--split`,
    /// `--lib-features`.
    CompareCargoLeptos(Options),
    Help,
}

/// Parses the arguments after `cargo xtask`.
pub fn parse(args: &[String]) -> Result<Command> {
    let usage = |what: String| Error::Config(format!("{what}\n\n{USAGE}"));
    let Some((command, rest)) = args.split_first() else {
        return Ok(Command::Help);
    };
    let mut options = Options::default();
    let mut rest = rest.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--locked" | "--offline" | "--frozen" => options.cargo_flags.push(arg.clone()),
            "--split" => options.split = true,
            "--lib-features" => match rest.next() {
                Some(features) if !features.starts_with("--") => {
                    options.lib_features.push(features.clone());
                }
                _ => return Err(usage("--lib-features needs a value".into())),
            },
            "--frontend-only" if command == "site" => options.server = false,
            "--server-only" if command == "site" => options.frontend = false,
            "--no-precompress" if command == "site" => options.precompress = false,
            "--sequential" if command == "site" => options.sequential = true,
            other => {
                return Err(usage(format!(
                    "unexpected argument {other:?} for {command}"
                )));
            }
        }
    }
    if !options.frontend && !options.server {
        return Err(usage(
            "--frontend-only and --server-only exclude each other".into(),
        ));
    }
    match command.as_str() {
        "site" => Ok(Command::Site(options)),
        "compare-cargo-leptos" => Ok(Command::CompareCargoLeptos(options)),
        "help" | "--help" | "-h" => Ok(Command::Help),
        other => Err(usage(format!("unknown command {other:?}"))),
    }
}

/// Runs the command line `args` in the workspace at `workspace_root`.
pub fn run(args: &[String], workspace_root: PathBuf) -> Result<()> {
    match parse(args)? {
        Command::Help => {
            eprintln!("{USAGE}");
            Ok(())
        }
        Command::Site(options) => site::build(&load(&workspace_root, &options)?, &options),
        Command::CompareCargoLeptos(options) => {
            let config = load(&workspace_root, &options)?;
            match compare::against_cargo_leptos(&config, &options)? {
                Outcome::Same(summary) => eprintln!("ok: {summary}"),
                Outcome::Skipped(why) => eprintln!("skipped: {why}"),
            }
            Ok(())
        }
    }
}

fn load(workspace_root: &std::path::Path, options: &Options) -> Result<SiteConfig> {
    Ok(SiteConfig::load(workspace_root)?.with_command_line(options.split, &options.lib_features))
}
