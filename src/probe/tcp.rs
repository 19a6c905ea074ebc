//! TCP reachability: one connect, bounded by the probe timeout, classified
//! by what the kernel told us.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpStream;

use super::PathOutcome;

/// Connects to `addr`; the open stream is handed back for a TLS handshake.
pub async fn connect(addr: SocketAddr, timeout: Duration) -> (PathOutcome, Option<TcpStream>) {
    match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Ok(Ok(stream)) => (PathOutcome::Open, Some(stream)),
        Ok(Err(e)) => (classify(&e), None),
        Err(_) => (PathOutcome::TimedOut, None),
    }
}

/// Maps a connect error to what it means on the network.
pub fn classify(e: &io::Error) -> PathOutcome {
    match e.kind() {
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset => PathOutcome::Refused,
        io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => PathOutcome::Unreachable,
        io::ErrorKind::TimedOut => PathOutcome::TimedOut,
        _ => PathOutcome::Failed(e.to_string()),
    }
}
