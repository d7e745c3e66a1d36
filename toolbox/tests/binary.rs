//! The `toolbox` binary as operators run it: port from `PORT` or `--port`, the
//! `--healthcheck` probe, clean exit on SIGTERM.

#![allow(clippy::unwrap_used)] // Tests fail loudly by design.

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

const BINARY: &str = env!("CARGO_BIN_EXE_toolbox");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn healthcheck(port: u16) -> bool {
    Command::new(BINARY)
        .args(["--healthcheck", "--port", &port.to_string()])
        .status()
        .unwrap()
        .success()
}

fn wait_until(mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn port_from_env_healthcheck_and_sigterm() {
    let port = free_port();
    assert!(!healthcheck(port), "nothing listens yet");
    let mut child = Command::new(BINARY)
        .env("PORT", port.to_string())
        .env("HOST", "127.0.0.1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until(|| healthcheck(port));

    // SIGTERM: a graceful, successful exit.
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(!healthcheck(port));
}

#[test]
fn bad_settings_stop_startup_naming_the_setting() {
    let output = Command::new(BINARY).env("PORT", "eighty").output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--port") && stderr.contains("eighty"),
        "{stderr}"
    );
}
