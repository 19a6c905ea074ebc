//! Revocation reachability: the CRL distribution points and OCSP responders
//! named by the certificates the handshakes presented, fetched once each
//! over plain HTTP (port 80 unless the URL says otherwise), directly or
//! through the proxy a client would use for an `http://` URL. They are
//! checks derived from the TLS results, so they run after the handshakes,
//! with the same per-probe timeout and under the run's deadline. Windows
//! and .NET clients fetch them on every new chain and wait about 15 s when
//! they are blocked.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::{Bound, ConnectTo, Cut, DnsClient, PathObservation, PathOutcome, RunSettings, Schedule, http, proxy, tcp};
use crate::catalogue::Protocol;
use crate::local::proxy::{Client, bypasses};

/// One revocation URL and what fetching it showed.
#[derive(Debug, Clone, PartialEq)]
pub struct RevocationObservation {
    /// The URL (masked).
    pub url: String,
    /// The fetch, as a path to `host:port` with its HTTP request.
    pub path: PathObservation,
    /// The endpoints (`host:port`) whose presented certificates name it.
    pub named_by: Vec<String>,
}

/// The distinct revocation URLs of `paths`' handshakes, each with the
/// endpoints that named it, in the order they were first seen.
pub fn urls(paths: &[PathObservation]) -> Vec<(String, Vec<String>)> {
    let mut order: Vec<String> = Vec::new();
    let mut by_url: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for p in paths {
        let Some(tls) = &p.tls else { continue };
        for url in &tls.revocation_urls {
            let named = by_url.entry(url.clone()).or_insert_with(|| {
                order.push(url.clone());
                Vec::new()
            });
            let endpoint = format!("{}:{}", p.host, p.port);
            if !named.contains(&endpoint) {
                named.push(endpoint);
            }
        }
    }
    // Every handshake may add its own: the run probes at most this many.
    order.truncate(MAX_URLS_PER_RUN);
    order.into_iter().map(|u| (u.clone(), by_url.remove(&u).unwrap_or_default())).collect()
}

/// Distinct revocation URLs probed in one run (Azure's chains share a handful).
pub const MAX_URLS_PER_RUN: usize = 32;

/// Fetches every URL, concurrently, within the run's slots and deadline.
pub(super) async fn probe_all(
    found: Vec<(String, Vec<String>)>,
    servers: &DnsClient,
    settings: &RunSettings,
    schedule: &Schedule,
    bound: &Bound,
) -> Vec<RevocationObservation> {
    let fetches = found.into_iter().map(|(url, named_by)| async move {
        let path = fetch(&url, servers, settings, schedule, bound).await;
        RevocationObservation { url: crate::redact::mask_url(&url), path, named_by }
    });
    futures_util::future::join_all(fetches).await
}

/// Fetches one URL.
async fn fetch(
    raw: &str,
    servers: &DnsClient,
    settings: &RunSettings,
    schedule: &Schedule,
    bound: &Bound,
) -> PathObservation {
    let masked = crate::redact::mask_url(raw);
    let parsed = url::Url::parse(raw).ok();
    let host = parsed.as_ref().and_then(|u| u.host_str()).unwrap_or("").trim_matches(['[', ']']).to_string();
    let port = parsed.as_ref().and_then(|u| u.port_or_known_default()).unwrap_or(80);
    let mut obs = PathObservation {
        host: host.clone(),
        port,
        protocol: Protocol::Tcp,
        dialled: None,
        via_connect_to: false,
        outcome: PathOutcome::NotDialled(format!("{masked} is not a usable http:// URL")),
        elapsed: Duration::ZERO,
        tls: None,
        http: None,
        via_proxy: None,
        udp_wait: None,
    };
    if host.is_empty() {
        return obs;
    }
    // An http:// URL goes where the client's http_proxy sends it, unless NO_PROXY exempts it.
    let route = settings.http_proxy.as_ref().filter(|p| !bypasses(Client::Requests, &p.no_proxy, &host));
    let started = Instant::now();
    let work = async {
        let (addr, via_connect_to) = match route {
            Some(route) => (route.addr, false),
            None => {
                let resolved = match host.parse::<IpAddr>() {
                    Ok(ip) => Some(ip),
                    Err(_) => {
                        let _slot = schedule.name_slot().await;
                        servers.resolve(&host).await.addresses.first().copied()
                    }
                };
                let rule = ConnectTo::find(&settings.connect_to, &host, resolved, port);
                (rule.map(|r| r.to).or_else(|| resolved.map(|ip| SocketAddr::new(ip, port))), rule.is_some())
            }
        };
        let Some(addr) = addr else {
            let why = match route {
                Some(r) => format!("the proxy's name {} did not resolve", r.url.host),
                None => "the name did not resolve".to_string(),
            };
            return (None, false, PathOutcome::NotDialled(why), None);
        };
        if settings.loopback_only && !addr.ip().is_loopback() {
            let why = format!("{addr} is not a loopback address and --loopback-only is set");
            return (Some(addr), via_connect_to, PathOutcome::NotDialled(why), None);
        }
        let _slot = schedule.dial_slot(addr.ip()).await;
        let stream = match route {
            Some(r) => proxy::dial(addr, &r.url, settings.timeout).await,
            None => match tcp::connect(addr, settings.timeout).await {
                (PathOutcome::Open, Some(s)) => Ok(s),
                (outcome, _) => Err(outcome),
            },
        };
        match stream {
            Ok(s) => {
                let seen = http::get_plain(s, raw, &host, route.is_some(), settings.timeout).await;
                (Some(addr), via_connect_to, PathOutcome::Open, Some(seen))
            }
            Err(outcome) => (Some(addr), via_connect_to, outcome, None),
        }
    };
    match bound.run(work).await {
        Ok((dialled, via_connect_to, outcome, seen)) => {
            obs.dialled = dialled;
            obs.via_connect_to = via_connect_to;
            obs.outcome = outcome;
            obs.http = seen;
        }
        Err(Cut::Deadline) => obs.outcome = PathOutcome::DeadlineExceeded,
        Err(Cut::Interrupt) => obs.outcome = PathOutcome::Interrupted,
    }
    obs.via_proxy = route.map(|r| r.url.masked());
    obs.elapsed = started.elapsed();
    obs
}
