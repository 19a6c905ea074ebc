//! UDP: a datagram on a connected socket. An ICMP port-unreachable comes
//! back as `ConnectionRefused` (Linux) or `ConnectionReset` (Windows'
//! WSAECONNRESET); silence proves nothing either way, and is reported as
//! such. How long silence is waited for follows the round trips the run has
//! seen, not a constant.
//!
//! The socket is read with `ready()` and `try_recv()`, never `recv()`:
//! where readiness says "readable" while the read says "would block" (Wine
//! does so for a pending ICMP error), `recv()` retries inside one poll
//! without end, so neither the timeout nor the run's deadline could ever be
//! checked. Here each such round asks the socket's pending error, then
//! sleeps a moment, returning to the scheduler.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::time::Instant;

use super::PathOutcome;
use super::schedule::RoundTrips;

/// The shortest wait for a rejection: scheduling noise on a busy machine.
pub const REJECTION_WAIT_FLOOR: Duration = Duration::from_millis(100);
/// The longest: a rejection comes within a round trip or not at all, and
/// no network this runs on has round trips of a quarter second.
pub const REJECTION_WAIT_CEILING: Duration = Duration::from_secs(1);

/// How long to wait for a rejection when the longest round trip seen is `rtt`.
pub fn rejection_wait(rtt: Duration) -> Duration {
    (rtt * 4).clamp(REJECTION_WAIT_FLOOR, REJECTION_WAIT_CEILING)
}

/// Sends one small datagram to `addr` and listens for a rejection or a
/// reply; returns the verdict and how long it waited.
pub async fn probe(addr: SocketAddr, timeout: Duration, round_trips: &RoundTrips) -> (PathOutcome, Duration) {
    let sent = Instant::now();
    match exchange(addr, timeout, round_trips, sent).await {
        Ok(outcome) => (outcome, sent.elapsed()),
        Err(e) if rejected(&e) => (PathOutcome::UdpRejected, sent.elapsed()),
        Err(e) => (super::tcp::classify(&e), sent.elapsed()),
    }
}

async fn exchange(
    addr: SocketAddr,
    timeout: Duration,
    round_trips: &RoundTrips,
    sent: Instant,
) -> io::Result<PathOutcome> {
    let local: SocketAddr =
        if addr.is_ipv4() { (Ipv4Addr::UNSPECIFIED, 0).into() } else { (Ipv6Addr::UNSPECIFIED, 0).into() };
    let socket = UdpSocket::bind(local).await?;
    socket.connect(addr).await?;
    socket.send(b"amlnet probe\n").await?;
    let mut buf = [0u8; 512];
    // Round trips measured while this waits (other probes finishing) extend it.
    let until = |rtt: Duration| sent + rejection_wait(rtt).min(timeout);
    let mut deadline = until(round_trips.longest());
    loop {
        match tokio::time::timeout_at(deadline, receive(&socket, &mut buf)).await {
            Ok(Ok(_)) => return Ok(PathOutcome::UdpAnswered),
            Ok(Err(e)) => return Err(e),
            Err(_) => {
                let later = until(round_trips.longest());
                if later <= deadline {
                    return Ok(PathOutcome::UdpNoRejection);
                }
                deadline = later;
            }
        }
    }
}

/// How long a spurious "readable" is left alone before the socket is asked again.
const SPURIOUS_READY_PAUSE: Duration = Duration::from_millis(5);

/// Whether a receive error is the ICMP port-unreachable coming back.
fn rejected(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset)
}

/// One datagram, or the socket's pending error; yields to the scheduler on
/// every round, so a timeout around it always gets its turn.
async fn receive(socket: &UdpSocket, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        let ready = socket.ready(Interest::READABLE | Interest::ERROR).await?;
        if ready.is_readable() {
            match socket.try_recv(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                done => return done,
            }
        }
        // Linux reports the ICMP error as an error event, Wine as "readable"
        // with nothing to read: either way it waits in SO_ERROR.
        if let Some(pending) = socket.take_error()? {
            return Err(pending);
        }
        tokio::time::sleep(SPURIOUS_READY_PAUSE).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_follows_the_round_trip_within_bounds() {
        assert_eq!(rejection_wait(Duration::ZERO), REJECTION_WAIT_FLOOR);
        assert_eq!(rejection_wait(Duration::from_millis(40)), Duration::from_millis(160));
        assert_eq!(rejection_wait(Duration::from_secs(2)), REJECTION_WAIT_CEILING);
    }

    #[tokio::test]
    async fn a_closed_port_is_rejected_and_silence_ends_at_the_floor() {
        let closed = {
            let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            s.local_addr().unwrap()
        };
        let rtts = RoundTrips::default();
        let (outcome, _) = probe(closed, Duration::from_secs(2), &rtts).await;
        assert_eq!(outcome, PathOutcome::UdpRejected);
        let open = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let (outcome, waited) = probe(open.local_addr().unwrap(), Duration::from_secs(2), &rtts).await;
        assert_eq!(outcome, PathOutcome::UdpNoRejection);
        assert!(waited >= REJECTION_WAIT_FLOOR && waited < REJECTION_WAIT_CEILING, "{waited:?}");
    }
}
