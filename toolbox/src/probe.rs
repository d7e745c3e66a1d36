//! `--healthcheck`: probes this process's own `/healthz` over loopback, so container
//! images need no curl or wget for their `HEALTHCHECK`.

use std::{
    io::{Read, Write},
    net::{Ipv4Addr, SocketAddr, TcpStream},
    time::Duration,
};

/// Exits the process: 0 when `GET /healthz` on `port` answers 200, 1 otherwise.
pub fn healthcheck_and_exit(port: u16) -> ! {
    let healthy = probe(port).unwrap_or(false);
    std::process::exit(if healthy { 0 } else { 1 })
}

fn probe(port: u16) -> std::io::Result<bool> {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head)?;
    Ok(head.starts_with(b"HTTP/1.1 200"))
}
