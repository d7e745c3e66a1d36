//! Running the build's external programs (cargo, wasm-bindgen, wasm-opt, the npm
//! minifiers): each command line is echoed before it runs, as cargo-leptos does, and a
//! failure names the command.

use std::{
    ffi::OsString,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use crate::error::{Error, Result};

/// One command line: program, arguments, extra environment, working directory.
#[derive(Debug, Clone)]
pub struct Cmd {
    program: OsString,
    args: Vec<String>,
    envs: Vec<(String, String)>,
    removed_envs: Vec<String>,
    cwd: Option<PathBuf>,
}

/// Variables `cargo run` sets for the program it runs (this task), describing the
/// xtask package. A nested cargo must not inherit them: build scripts such as ring's
/// declare `rerun-if-env-changed=CARGO_PKG_NAME` and the like, so cargo would see them
/// change between `cargo xtask site` and a plain `cargo test`, run those build scripts
/// again and recompile everything above them.
const PACKAGE_ENV: &[&str] = &[
    "CARGO",
    "CARGO_MANIFEST_DIR",
    "CARGO_MANIFEST_PATH",
    "CARGO_MANIFEST_LINKS",
    "CARGO_CRATE_NAME",
    "CARGO_BIN_NAME",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_RUSTC_CURRENT_DIR",
    "CARGO_TARGET_TMPDIR",
    "OUT_DIR",
];

impl Cmd {
    /// A command running `program` (a name looked up on `PATH`, or a path).
    pub fn new(program: impl Into<OsString>) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
            envs: Vec::new(),
            removed_envs: Vec::new(),
            cwd: None,
        }
    }

    /// The cargo that runs this task (`$CARGO`), so nested builds use the same toolchain,
    /// with the environment of a shell rather than of `cargo run` (see [`PACKAGE_ENV`]).
    pub fn cargo() -> Self {
        Self::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())).without_package_env()
    }

    /// Leaves out the variables `cargo run` set for this task ([`PACKAGE_ENV`] and every
    /// `CARGO_PKG_*`), keeping the caller's own (`CARGO_HOME`, `CARGO_TARGET_DIR`, ...).
    pub fn without_package_env(mut self) -> Self {
        self.removed_envs = std::env::vars_os()
            .filter_map(|(key, _)| key.into_string().ok())
            .filter(|key| key.starts_with("CARGO_PKG_") || PACKAGE_ENV.contains(&key.as_str()))
            .collect();
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn envs<I, K, V>(mut self, envs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.envs
            .extend(envs.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.cwd = Some(dir.as_ref().to_path_buf());
        self
    }

    /// The arguments, for tests.
    pub fn arg_list(&self) -> &[String] {
        &self.args
    }

    /// The variables set for the command, for tests.
    pub fn env_list(&self) -> &[(String, String)] {
        &self.envs
    }

    /// The command line as a shell would show it (environment not included).
    pub fn line(&self) -> String {
        let program = Path::new(&self.program)
            .file_name()
            .unwrap_or(&self.program)
            .to_string_lossy()
            .into_owned();
        std::iter::once(program)
            .chain(self.args.iter().map(|a| {
                if a.contains(' ') {
                    format!("'{a}'")
                } else {
                    a.clone()
                }
            }))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn command(&self) -> Command {
        let mut command = Command::new(&self.program);
        command.args(&self.args);
        for key in &self.removed_envs {
            command.env_remove(key);
        }
        command.envs(self.envs.iter().map(|(k, v)| (k, v)));
        if let Some(dir) = &self.cwd {
            command.current_dir(dir);
        }
        command
    }

    /// Runs the command with this process's stdout and stderr; fails unless it exits 0.
    pub fn run(&self) -> Result<()> {
        eprintln!("     Running {}", self.line());
        let status = self.command().status().map_err(|e| self.failed(e))?;
        if status.success() {
            Ok(())
        } else {
            Err(Error::Command {
                command: self.line(),
                detail: format!("failed ({status})"),
            })
        }
    }

    /// Runs the command quietly and returns its stdout; stderr is shown only on failure.
    pub fn output(&self) -> Result<String> {
        let output = self
            .command()
            .stdin(Stdio::null())
            .output()
            .map_err(|e| self.failed(e))?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(Error::Command {
                command: self.line(),
                detail: format!(
                    "failed ({}): {}",
                    output.status,
                    String::from_utf8_lossy(&output.stderr).trim()
                ),
            })
        }
    }

    fn failed(&self, e: std::io::Error) -> Error {
        Error::Command {
            command: self.line(),
            detail: format!("could not start: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_shows_the_program_name_and_quotes_arguments_with_spaces() {
        let cmd = Cmd::new("/usr/bin/lightningcss").args(["--targets", "last 2 versions"]);
        assert_eq!(cmd.line(), "lightningcss --targets 'last 2 versions'");
    }

    #[test]
    fn output_returns_stdout_and_failures_carry_stderr() {
        let out = Cmd::new("sh").args(["-c", "echo hi"]).output().unwrap();
        assert_eq!(out, "hi\n");
        let err = Cmd::new("sh")
            .args(["-c", "echo broken >&2; exit 3"])
            .output()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("exit status: 3") && err.contains("broken"),
            "{err}"
        );
    }

    #[test]
    fn nested_commands_do_not_inherit_the_variables_cargo_run_set() {
        // cargo sets these for the test binary as `cargo run` does for xtask.
        assert!(std::env::var_os("CARGO_PKG_NAME").is_some());
        assert!(std::env::var_os("CARGO_MANIFEST_DIR").is_some());
        let script = "echo ${CARGO_PKG_NAME:-unset} ${CARGO_MANIFEST_DIR:-unset} ${HOME:+home}";
        let out = Cmd::new("sh")
            .args(["-c", script])
            .without_package_env()
            .output()
            .unwrap();
        assert_eq!(out, "unset unset home\n");
    }

    #[test]
    fn a_missing_program_is_a_clear_error() {
        let err = Cmd::new("no-such-program-xtask").run().unwrap_err();
        assert!(err.to_string().contains("could not start"), "{err}");
    }
}
