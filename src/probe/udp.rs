//! UDP: a datagram on a connected socket. An ICMP port-unreachable comes
//! back as `ConnectionRefused`; silence proves nothing either way, and is
//! reported as such.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::net::UdpSocket;

use super::PathOutcome;

/// How long to wait for an ICMP rejection. It comes back within one round
/// trip when it comes at all; waiting the whole probe timeout would only
/// make every healthy run slower.
pub const REJECTION_WAIT: Duration = Duration::from_secs(1);

/// Sends one small datagram to `addr` and listens for a rejection or a reply.
pub async fn probe(addr: SocketAddr, timeout: Duration) -> PathOutcome {
    match exchange(addr, timeout.min(REJECTION_WAIT)).await {
        Ok(outcome) => outcome,
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => PathOutcome::UdpRejected,
        Err(e) => super::tcp::classify(&e),
    }
}

async fn exchange(addr: SocketAddr, wait: Duration) -> io::Result<PathOutcome> {
    let local: SocketAddr =
        if addr.is_ipv4() { (Ipv4Addr::UNSPECIFIED, 0).into() } else { (Ipv6Addr::UNSPECIFIED, 0).into() };
    let socket = UdpSocket::bind(local).await?;
    socket.connect(addr).await?;
    socket.send(b"amlnet probe\n").await?;
    let mut buf = [0u8; 512];
    match tokio::time::timeout(wait, socket.recv(&mut buf)).await {
        Ok(Ok(_)) => Ok(PathOutcome::UdpAnswered),
        Ok(Err(e)) => Err(e),
        Err(_) => Ok(PathOutcome::UdpNoRejection),
    }
}
