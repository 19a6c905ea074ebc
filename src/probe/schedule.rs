//! Who may send when. Names have slots of their own, so filtered SYNs that
//! hold a dial slot for a whole timeout never starve DNS; one destination
//! address may hold at most half the dial slots, so a dead network cannot
//! hold them all; and the run keeps the round trips it has seen, so waits
//! that depend on them (the UDP rejection wait) need no fixed constant.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, SemaphorePermit};

/// Most probes in flight when sized from the open-files limit.
pub const MAX_AUTO_CONCURRENCY: usize = 4096;
/// Most DNS queries in flight.
const MAX_DNS_SLOTS: usize = 256;
/// Descriptors kept free for the resolver, the report and the runtime.
const RESERVED_FILES: u64 = 128;

/// Raises the soft open-files limit to the hard one (where the system has
/// such limits) and returns how many probes may be in flight: each holds at
/// most two descriptors (the dial and the HTTP request).
pub fn auto_concurrency() -> usize {
    let files = open_files_limit();
    let fit = (files.saturating_sub(RESERVED_FILES) / 2) as usize;
    fit.clamp(16, MAX_AUTO_CONCURRENCY)
}

#[cfg(unix)]
fn open_files_limit() -> u64 {
    // increase_nofile_limit raises the soft limit as far as the hard one allows.
    rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024)
}

#[cfg(not(unix))]
fn open_files_limit() -> u64 {
    8192
}

/// The slots of one run.
pub struct Schedule {
    dns: Semaphore,
    dials: Semaphore,
    per_destination: usize,
    destinations: Mutex<HashMap<IpAddr, Arc<Semaphore>>>,
    round_trips: RoundTrips,
}

impl Schedule {
    /// Slots for `concurrency` dials and a share of that for names.
    pub fn new(concurrency: usize) -> Schedule {
        let concurrency = concurrency.max(1);
        Schedule {
            dns: Semaphore::new(concurrency.min(MAX_DNS_SLOTS)),
            dials: Semaphore::new(concurrency),
            per_destination: (concurrency / 2).max(1),
            destinations: Mutex::new(HashMap::new()),
            round_trips: RoundTrips::default(),
        }
    }

    /// Waits for a DNS slot.
    pub async fn name_slot(&self) -> Option<SemaphorePermit<'_>> {
        self.dns.acquire().await.ok()
    }

    /// Waits for a slot to dial `to`: its destination's share first, so a
    /// destination at its cap does not take a run-wide slot while it waits.
    pub async fn dial_slot(&self, to: IpAddr) -> Option<(OwnedSemaphorePermit, SemaphorePermit<'_>)> {
        let destination = {
            let mut map = self.destinations.lock().ok()?;
            map.entry(to).or_insert_with(|| Arc::new(Semaphore::new(self.per_destination))).clone()
        };
        let mine = destination.acquire_owned().await.ok()?;
        let run_wide = self.dials.acquire().await.ok()?;
        Some((mine, run_wide))
    }

    /// The round trips seen so far.
    pub fn round_trips(&self) -> &RoundTrips {
        &self.round_trips
    }
}

/// The longest round trip this run has seen (a TCP handshake, refused or
/// accepted, or a DNS answer), in microseconds.
#[derive(Debug, Default)]
pub struct RoundTrips {
    longest_us: AtomicU64,
}

impl RoundTrips {
    /// Records one round trip.
    pub fn record(&self, rtt: Duration) {
        let us = u64::try_from(rtt.as_micros()).unwrap_or(u64::MAX);
        self.longest_us.fetch_max(us, Ordering::Relaxed);
    }

    /// The longest so far (zero before any).
    pub fn longest(&self) -> Duration {
        Duration::from_micros(self.longest_us.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_destination_cannot_take_every_slot() {
        let s = Schedule::new(4);
        let dead: IpAddr = "10.9.9.9".parse().unwrap();
        let a = s.dial_slot(dead).await.unwrap();
        let b = s.dial_slot(dead).await.unwrap();
        let third = tokio::time::timeout(Duration::from_millis(50), s.dial_slot(dead)).await;
        assert!(third.is_err(), "a destination holds at most half the slots");
        let other = tokio::time::timeout(Duration::from_millis(50), s.dial_slot("10.1.1.1".parse().unwrap())).await;
        assert!(other.is_ok(), "another destination still gets one");
        drop((a, b));
    }

    #[test]
    fn keeps_the_longest_round_trip() {
        let r = RoundTrips::default();
        assert_eq!(r.longest(), Duration::ZERO);
        r.record(Duration::from_millis(3));
        r.record(Duration::from_millis(1));
        assert_eq!(r.longest(), Duration::from_millis(3));
    }

    #[test]
    fn concurrency_follows_the_open_files_limit() {
        let n = auto_concurrency();
        assert!((16..=MAX_AUTO_CONCURRENCY).contains(&n), "{n}");
    }
}
