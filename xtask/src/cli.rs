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

  --locked, --offline, --frozen are passed on to cargo.";

/// A parsed command line.
#[derive(Debug, PartialEq)]
pub enum Command {
    Site(Options),
    CompareCargoLeptos { cargo_flags: Vec<String> },
    Help,
}

/// Parses the arguments after `cargo xtask`.
pub fn parse(args: &[String]) -> Result<Command> {
    let usage = |what: String| Error::Config(format!("{what}\n\n{USAGE}"));
    let Some((command, rest)) = args.split_first() else {
        return Ok(Command::Help);
    };
    let mut options = Options::default();
    for arg in rest {
        match arg.as_str() {
            "--locked" | "--offline" | "--frozen" => options.cargo_flags.push(arg.clone()),
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
        "compare-cargo-leptos" => Ok(Command::CompareCargoLeptos {
            cargo_flags: options.cargo_flags,
        }),
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
        Command::Site(options) => site::build(&SiteConfig::load(&workspace_root)?, &options),
        Command::CompareCargoLeptos { cargo_flags } => {
            let config = SiteConfig::load(&workspace_root)?;
            match compare::against_cargo_leptos(&config, &cargo_flags)? {
                Outcome::Same(summary) => eprintln!("ok: {summary}"),
                Outcome::Skipped(why) => eprintln!("skipped: {why}"),
            }
            Ok(())
        }
    }
}
