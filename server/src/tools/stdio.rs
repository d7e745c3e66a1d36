//! The stdio transport: the server is a child process speaking MCP on its stdin and
//! stdout. It runs in a process group of its own, so that stopping it also stops what
//! it started (`npx` runs the real server as its child), and is killed if its handle
//! is dropped. Each line it writes to stderr goes into our logs.

use std::process::Stdio;

use futures::StreamExt;
use process_wrap::tokio::{CommandWrap, KillOnDrop, ProcessGroup};
use rmcp::transport::TokioChildProcess;
use secrecy::ExposeSecret;
use tokio::process::ChildStderr;
use tokio_util::codec::{FramedRead, LinesCodec};

use super::config::ServerTransport;

/// Longest stderr line logged whole; longer ones are cut.
const MAX_LINE: usize = 4096;

/// Starts the server's process. Its environment is only what the configuration gives
/// it (see `config`), never the whole of ours, which holds our secrets.
pub fn spawn(server: &str, transport: &ServerTransport) -> Result<TokioChildProcess, String> {
    let ServerTransport::Stdio {
        command,
        args,
        env,
        cwd,
    } = transport
    else {
        return Err("not a stdio server".into());
    };
    let mut cmd = tokio::process::Command::new(command);
    cmd.args(args).env_clear();
    cmd.envs(env.iter().map(|(k, v)| (k, v.expose_secret())));
    if let Some(cwd) = cwd {
        cmd.current_dir(cwd);
    }
    let mut wrapped = CommandWrap::from(cmd);
    wrapped.wrap(ProcessGroup::leader()).wrap(KillOnDrop);
    let (child, stderr) = TokioChildProcess::builder(wrapped)
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {command}: {e}"))?;
    tracing::info!(server, command = %command, pid = child.id(), "started the MCP server process");
    if let Some(stderr) = stderr {
        tokio::spawn(log_stderr(server.to_owned(), stderr));
    }
    Ok(child)
}

/// Logs each stderr line of the server until the process closes it.
async fn log_stderr(server: String, stderr: ChildStderr) {
    let mut lines = FramedRead::new(stderr, LinesCodec::new_with_max_length(MAX_LINE));
    while let Some(line) = lines.next().await {
        match line {
            Ok(line) if line.trim().is_empty() => {}
            Ok(line) => tracing::info!(target: "mcp_stderr", server = %server, "{line}"),
            // An over-long line: say so and go on with the next one.
            Err(tokio_util::codec::LinesCodecError::MaxLineLengthExceeded) => {
                tracing::info!(target: "mcp_stderr", server = %server, "(a stderr line over {MAX_LINE} bytes was left out)");
            }
            Err(_) => break,
        }
    }
}
