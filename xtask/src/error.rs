//! The error every build step returns: what failed, naming the file, command or
//! setting involved, so the message alone says what to fix.

use std::{fmt, io, path::PathBuf};

/// Why a build step failed.
#[derive(Debug)]
pub enum Error {
    /// A file-system operation failed.
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    /// A program could not be started, or it failed.
    Command { command: String, detail: String },
    /// A tool is missing or is not the version the workspace pins.
    Tool(String),
    /// The workspace's settings ask for something this build step does not do.
    Config(String),
    /// Two sites that should have the same files do not (see `compare`).
    Mismatch(String),
}

/// The result of a build step.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// For `map_err`: an I/O failure while doing `action` on `path`.
    pub fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io {
            action,
            path,
            source,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io {
                action,
                path,
                source,
            } => write!(f, "could not {action} {}: {source}", path.display()),
            Self::Command { command, detail } => write!(f, "`{command}` {detail}"),
            Self::Tool(message) | Self::Config(message) | Self::Mismatch(message) => {
                f.write_str(message)
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
