//! TCP reachability: one connect, bounded by the probe timeout, classified
//! by what the kernel told us.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpStream;

use super::PathOutcome;

/// Connects to `addr` and closes again at once.
pub async fn probe(addr: SocketAddr, timeout: Duration) -> PathOutcome {
    match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Ok(Ok(_stream)) => PathOutcome::Open,
        Ok(Err(e)) => classify(&e),
        Err(_) => PathOutcome::TimedOut,
    }
}

/// Maps a connect error to what it means on the network.
pub fn classify(e: &io::Error) -> PathOutcome {
    match e.kind() {
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset => PathOutcome::Refused,
        io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => {
            PathOutcome::Unreachable
        }
        io::ErrorKind::TimedOut => PathOutcome::TimedOut,
        _ => PathOutcome::Failed(e.to_string()),
    }
}
