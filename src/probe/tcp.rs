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

/// Maps a connect error to what it means on the network, or to a failure
/// of this machine's own (nothing was sent, so nothing is known of the path).
pub fn classify(e: &io::Error) -> PathOutcome {
    if let Some(why) = local_failure(e) {
        return PathOutcome::LocalError(why);
    }
    match e.kind() {
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset => PathOutcome::Refused,
        io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => PathOutcome::Unreachable,
        io::ErrorKind::TimedOut => PathOutcome::TimedOut,
        _ => PathOutcome::Failed(e.to_string()),
    }
}

/// Errors this machine raises before a packet leaves: a local firewall rule
/// (EPERM/EACCES from iptables/nftables OUTPUT or a security module), no
/// descriptors left (EMFILE, ENFILE), no buffers or memory, no local address.
pub fn local_failure(e: &io::Error) -> Option<String> {
    let why = match e.kind() {
        io::ErrorKind::PermissionDenied => "refused by this machine (a local firewall rule or security policy)",
        io::ErrorKind::AddrNotAvailable | io::ErrorKind::AddrInUse => "no local address or port free",
        io::ErrorKind::OutOfMemory => "this machine is out of memory",
        // Winsock's numbers (WSAEMFILE, WSAENOBUFS) beside the C library's.
        _ => match e.raw_os_error() {
            Some(libc::EMFILE) | Some(10024) => "this process has no file descriptors left",
            Some(libc::ENFILE) => "this machine has no file descriptors left",
            Some(libc::ENOBUFS) | Some(libc::ENOMEM) | Some(10055) => "this machine is out of socket buffers",
            _ => return None,
        },
    };
    Some(format!("{why}: {e}"))
}
