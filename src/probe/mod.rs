//! The run stage: every probe of the plan, concurrently, each with its own
//! timeout and all under one deadline. Probes return typed observations;
//! judging them is `diagnose`'s job and wording them `report`'s.

pub mod connect_to;
pub mod dns;
pub mod http;
pub mod proxy;
pub mod revocation;
pub mod schedule;
pub mod tcp;
pub mod tls;
pub mod udp;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::catalogue::Protocol;
use crate::plan::Plan;
pub use connect_to::ConnectTo;
pub use dns::DnsClient;
pub use http::HttpObservation;
pub use proxy::ProxyRoute;
pub use schedule::Schedule;
pub use tls::{TlsFailure, TlsObservation, TrustStore};

use crate::catalogue::Expect;
use crate::interrupt::Interrupt;
use crate::local::hosts::HostsEntry;
use crate::local::proxy::{Client, bypasses};
use crate::net::ResolverRules;

/// How to run the probes.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// DNS servers, asked in order.
    pub dns_servers: Vec<SocketAddr>,
    /// How they are asked (resolv.conf's options, as glibc reads them).
    pub dns_rules: ResolverRules,
    /// Resolve names to judge them (dials resolve the names they need either way).
    pub dns: bool,
    /// Dialling overrides.
    pub connect_to: Vec<ConnectTo>,
    /// Per-probe timeout.
    pub timeout: Duration,
    /// When the whole run must end, counted from the process's start.
    pub deadline: Instant,
    /// Probes in flight at once.
    pub concurrency: usize,
    /// Dial TCP endpoints.
    pub tcp: bool,
    /// Send UDP datagrams.
    pub udp: bool,
    /// Refuse to dial anything but loopback: the network rule of tests and `demo`.
    pub loopback_only: bool,
    /// Trust for TLS handshakes; `None` skips TLS and HTTP.
    pub trust: Option<TrustStore>,
    /// Send the HTTP requests the plan asks for.
    pub http: bool,
    /// The HTTPS proxy of the live environment, when one is set.
    pub proxy: Option<ProxyRoute>,
    /// The proxy of `http://` URLs (the revocation endpoints), when one is set.
    pub http_proxy: Option<ProxyRoute>,
    /// Azure DNS, asked too for names the configured servers do not answer privately.
    pub azure_dns: Option<SocketAddr>,
    /// `/etc/hosts` entries; a pinned name is not looked up in DNS, as glibc would not.
    pub hosts_overrides: Vec<HostsEntry>,
}

/// What happened to one name.
#[derive(Debug, Clone, PartialEq)]
pub struct NameObservation {
    /// The name asked for.
    pub host: String,
    /// The server that answered.
    pub resolver: Option<SocketAddr>,
    /// The verdict of the server.
    pub outcome: NameOutcome,
    /// CNAME targets, in order, from the name onwards.
    pub cname_chain: Vec<String>,
    /// Addresses at the end of the chain.
    pub addresses: Vec<IpAddr>,
    /// Time spent, over all servers asked.
    pub elapsed: Duration,
    /// What went wrong with servers asked before the one that answered.
    pub problems: Vec<String>,
    /// The `/etc/hosts` entry that decided the address instead of DNS.
    pub pinned: Option<HostsEntry>,
    /// What Azure DNS answered, when it was asked too.
    pub azure_answer: Option<Box<NameObservation>>,
}

impl NameObservation {
    /// An observation of `host` with `outcome` and nothing else yet.
    pub fn new(host: &str, outcome: NameOutcome, elapsed: Duration) -> NameObservation {
        NameObservation {
            host: host.to_string(),
            resolver: None,
            outcome,
            cname_chain: Vec::new(),
            addresses: Vec::new(),
            elapsed,
            problems: Vec::new(),
            pinned: None,
            azure_answer: None,
        }
    }
}

/// A DNS verdict.
#[derive(Debug, Clone, PartialEq)]
pub enum NameOutcome {
    /// Addresses came back.
    Resolved,
    /// A name in the chain does not exist.
    NxDomain {
        /// The name that does not exist (the queried one, or a CNAME target).
        missing: String,
    },
    /// The name exists but has no address record.
    NoAddress,
    /// The CNAME chain comes back to a name already in it.
    CnameLoop,
    /// The servers answered with an error code (SERVFAIL, REFUSED, an unknown RCODE, ...).
    ServerError(String),
    /// A server answered, but nothing it sent could be read (and no other server answered).
    Malformed(String),
    /// The CNAME chain went on past this many links asked one by one.
    ChainTooLong(usize),
    /// No server answered in time.
    Timeout,
    /// No server could be asked.
    Failed(String),
    /// This machine could not send the query (no descriptors, a local firewall rule, ...).
    LocalError(String),
    /// The run's deadline came first.
    DeadlineExceeded,
    /// Ctrl-C or SIGTERM came first.
    Interrupted,
}

/// What happened on one path (host, port, protocol).
#[derive(Debug, Clone, PartialEq)]
pub struct PathObservation {
    /// Endpoint host.
    pub host: String,
    /// Endpoint port.
    pub port: u16,
    /// Transport.
    pub protocol: Protocol,
    /// The address actually dialled.
    pub dialled: Option<SocketAddr>,
    /// Whether a `--connect-to` rule chose that address.
    pub via_connect_to: bool,
    /// The verdict.
    pub outcome: PathOutcome,
    /// Time spent.
    pub elapsed: Duration,
    /// The TLS handshake, where the plan asks for one and TCP opened.
    pub tls: Option<TlsObservation>,
    /// The HTTP request, where the plan asks for one and TLS completed.
    pub http: Option<HttpObservation>,
    /// The proxy the path went through (masked URL).
    pub via_proxy: Option<String>,
    /// How long silence was waited for after a UDP datagram.
    pub udp_wait: Option<Duration>,
}

/// A reachability verdict.
#[derive(Debug, Clone, PartialEq)]
pub enum PathOutcome {
    /// TCP handshake completed.
    Open,
    /// Reset: something answered, the port is closed or rejected.
    Refused,
    /// No answer to the SYN within the timeout.
    TimedOut,
    /// No route to the host or network.
    Unreachable,
    /// ICMP port unreachable came back for a datagram.
    UdpRejected,
    /// A datagram came back.
    UdpAnswered,
    /// Nothing came back: open or filtered, UDP cannot tell.
    UdpNoRejection,
    /// Not dialled, and why (no address, loopback-only guard).
    NotDialled(String),
    /// This machine failed the dial before anything was sent (EPERM, EMFILE, ...).
    LocalError(String),
    /// Any other error.
    Failed(String),
    /// The run's deadline came first.
    DeadlineExceeded,
    /// Ctrl-C or SIGTERM came first.
    Interrupted,
    /// The proxy itself did not accept the connection.
    ProxyUnreachable {
        /// The proxy (masked URL).
        proxy: String,
        /// How the connection to it failed.
        outcome: Box<PathOutcome>,
    },
    /// The proxy answered CONNECT with 407.
    ProxyAuthRequired {
        /// Its status line.
        line: String,
        /// Its Proxy-Authenticate header.
        authenticate: Option<String>,
    },
    /// The proxy answered CONNECT with a status other than 2xx and 407:
    /// a refusal (403, 470) or a failure to reach the destination (502, 504).
    ProxyAnswered {
        /// Status code.
        status: u16,
        /// Status line.
        line: String,
        /// Its Server or Via header.
        server: Option<String>,
        /// The first line of text of its body.
        body: Option<String>,
    },
    /// The proxy accepted the connection and the CONNECT, and said nothing
    /// within the timeout.
    ProxyNoAnswer {
        /// How long the answer was waited for.
        waited: Duration,
    },
    /// The proxy's answer was unusable: not HTTP, a header without an end,
    /// or the connection closed without an answer.
    ProxyFailed(String),
}

/// Everything the run saw.
#[derive(Debug, Clone, Default)]
pub struct Observations {
    /// One per distinct host.
    pub names: Vec<NameObservation>,
    /// One per planned path that was probed.
    pub paths: Vec<PathObservation>,
    /// One per distinct revocation URL the presented certificates named.
    pub revocation: Vec<revocation::RevocationObservation>,
}

/// Runs every probe of `plan`, until each is done, the deadline passes or
/// `interrupt` fires.
pub async fn run(plan: &Plan, settings: &RunSettings, interrupt: &Interrupt) -> Result<Observations, String> {
    // A run of only this machine's settings sends nothing at all.
    if !(settings.dns || settings.tcp || settings.udp) {
        return Ok(Observations::default());
    }
    let deadline = tokio::time::Instant::from_std(settings.deadline);
    let servers = DnsClient::new(settings.dns_servers.clone(), settings.dns_rules, settings.timeout);
    // Azure DNS only where it adds something, and never beyond loopback when told so.
    let azure = match settings.azure_dns {
        Some(a) if !settings.dns_servers.contains(&a) && (!settings.loopback_only || a.ip().is_loopback()) => {
            Some(DnsClient::single(a, settings.timeout))
        }
        _ => None,
    };
    let (servers, azure) = (Arc::new(servers), Arc::new(azure));
    let schedule = Arc::new(Schedule::new(settings.concurrency));
    let bound = Bound { deadline, interrupt: interrupt.clone() };
    let mut settings = settings.clone();
    for route in [settings.proxy.as_mut(), settings.http_proxy.as_mut()].into_iter().flatten() {
        if route.addr.is_none() {
            // Under the deadline too: with long timeouts and silent servers this alone could outlast it.
            route.addr = bound.run(resolve_proxy(&servers, &route.url.host, route.url.port)).await.ok().flatten();
        }
    }
    let settings = Arc::new(settings);

    let mut ports_by_host: BTreeMap<&str, Vec<PathSpec>> = BTreeMap::new();
    for e in &plan.endpoints {
        let ports = ports_by_host.entry(e.host.as_str()).or_default();
        let wanted = match e.protocol {
            Protocol::Tcp => settings.tcp,
            Protocol::Udp => settings.udp,
        };
        if wanted && !ports.iter().any(|p| p.port == e.port && p.protocol == e.protocol) {
            ports.push(PathSpec {
                port: e.port,
                protocol: e.protocol,
                tls: e.tls && settings.trust.is_some(),
                http_path: e.http_path.clone().filter(|_| settings.http),
            });
        }
    }
    let private: std::collections::HashSet<&str> =
        plan.endpoints.iter().filter(|e| e.expect == Expect::Private).map(|e| e.host.as_str()).collect();

    let mut tasks = JoinSet::new();
    let mut probed: Vec<(String, Vec<PathSpec>)> = Vec::new();
    for (index, host) in plan.hosts().into_iter().enumerate() {
        let ask_azure = private.contains(&host);
        let host = host.to_string();
        let ports = ports_by_host.remove(host.as_str()).unwrap_or_default();
        probed.push((host.clone(), ports.clone()));
        let pinned = settings.hosts_overrides.iter().find(|h| h.name == host).cloned();
        let (servers, azure, schedule, settings) = (servers.clone(), azure.clone(), schedule.clone(), settings.clone());
        let bound = bound.clone();
        tasks.spawn(async move {
            let azure = azure.as_ref().as_ref().filter(|_| ask_azure);
            let name = probe_name(&servers, azure, pinned, &schedule, &host, &bound).await;
            let mut dials = JoinSet::new();
            for spec in ports {
                let (schedule, settings, name, bound) =
                    (schedule.clone(), settings.clone(), name.clone(), bound.clone());
                dials.spawn(async move { probe_path(&settings, &schedule, &name, spec, &bound).await });
            }
            let mut paths = dials.join_all().await;
            paths.sort_by_key(|p| (p.protocol, p.port));
            (index, name, paths)
        });
    }
    let mut results = collect(tasks, &bound).await;
    // A host whose task was left behind is reported unfinished, every port of it.
    let cut = if interrupt.exit_status().is_some() { Cut::Interrupt } else { Cut::Deadline };
    for (index, (host, specs)) in probed.into_iter().enumerate() {
        if !results.iter().any(|(i, _, _)| *i == index) {
            let (name, paths) = unfinished(&host, &specs, &cut);
            results.push((index, name, paths));
        }
    }
    results.sort_by_key(|(i, _, _)| *i);
    let mut obs = Observations::default();
    for (_, name, paths) in results {
        obs.names.push(name);
        obs.paths.extend(paths);
    }
    // Derived from the handshakes: only once they are all done.
    if settings.http && settings.tcp {
        let found = revocation::urls(&obs.paths);
        obs.revocation = revocation::probe_all(found, &servers, &settings, &schedule, &bound).await;
    }
    Ok(obs)
}

/// How long past the deadline (or the first signal) the run waits for a
/// probe that has not given up. A future that never returns from a poll
/// (a socket whose readiness lies, a blocking call) cannot be cancelled:
/// its timeout and the deadline are only looked at between polls. It is
/// left behind, and reported as unfinished, so the run still ends.
pub const STRAGGLER_GRACE: Duration = Duration::from_millis(500);

/// The results of `tasks`, until every one is in, or until
/// [`STRAGGLER_GRACE`] after the deadline or the first signal.
async fn collect<T: 'static>(mut tasks: JoinSet<T>, bound: &Bound) -> Vec<T> {
    let give_up = async {
        tokio::select! {
            _ = tokio::time::sleep_until(bound.deadline) => {}
            _ = bound.interrupt.stopped() => {}
        }
        tokio::time::sleep(STRAGGLER_GRACE).await;
    };
    tokio::pin!(give_up);
    let mut done = Vec::new();
    loop {
        tokio::select! {
            next = tasks.join_next() => match next {
                Some(Ok(result)) => done.push(result),
                Some(Err(e)) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Some(Err(_)) => {}
                None => break,
            },
            _ = &mut give_up => break,
        }
    }
    // Dropping the set aborts the stragglers; one stuck in a poll stays
    // behind on its thread, which the runtime's shutdown does not wait for.
    done
}

/// What a host whose probes were left behind reports: every part unfinished.
fn unfinished(host: &str, specs: &[PathSpec], cut: &Cut) -> (NameObservation, Vec<PathObservation>) {
    let (name_outcome, path_outcome) = match cut {
        Cut::Deadline => (NameOutcome::DeadlineExceeded, PathOutcome::DeadlineExceeded),
        Cut::Interrupt => (NameOutcome::Interrupted, PathOutcome::Interrupted),
    };
    let name = NameObservation {
        host: host.to_string(),
        resolver: None,
        outcome: name_outcome,
        cname_chain: Vec::new(),
        addresses: Vec::new(),
        elapsed: Duration::ZERO,
        problems: Vec::new(),
        pinned: None,
        azure_answer: None,
    };
    let paths = specs
        .iter()
        .map(|spec| PathObservation {
            host: host.to_string(),
            port: spec.port,
            protocol: spec.protocol,
            dialled: None,
            via_connect_to: false,
            outcome: path_outcome.clone(),
            elapsed: Duration::ZERO,
            tls: None,
            http: None,
            via_proxy: None,
            udp_wait: None,
        })
        .collect();
    (name, paths)
}

/// When a probe stops waiting: the run's deadline, or the first Ctrl-C or SIGTERM.
#[derive(Clone)]
struct Bound {
    deadline: tokio::time::Instant,
    interrupt: Interrupt,
}

/// Why a probe did not finish.
enum Cut {
    Deadline,
    Interrupt,
}

impl Bound {
    async fn run<T>(&self, work: impl std::future::Future<Output = T>) -> Result<T, Cut> {
        tokio::select! {
            done = tokio::time::timeout_at(self.deadline, work) => done.map_err(|_| Cut::Deadline),
            _ = self.interrupt.stopped() => Err(Cut::Interrupt),
        }
    }
}

/// The proxy's address: as written when it is one, else looked up like any name.
async fn resolve_proxy(servers: &DnsClient, host: &str, port: u16) -> Option<SocketAddr> {
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Some(SocketAddr::new(ip, port));
    }
    let obs = servers.resolve(host).await;
    obs.addresses.first().map(|ip| SocketAddr::new(*ip, port))
}

async fn probe_name(
    servers: &DnsClient,
    azure: Option<&DnsClient>,
    pinned: Option<HostsEntry>,
    schedule: &Schedule,
    host: &str,
    bound: &Bound,
) -> NameObservation {
    let started = Instant::now();
    if let Some(entry) = pinned {
        return NameObservation {
            host: host.to_string(),
            resolver: None,
            outcome: NameOutcome::Resolved,
            cname_chain: Vec::new(),
            addresses: vec![entry.address],
            elapsed: Duration::ZERO,
            problems: Vec::new(),
            pinned: Some(entry),
            azure_answer: None,
        };
    }
    let work = async {
        let _slot = schedule.name_slot().await;
        let mut obs = servers.resolve(host).await;
        if obs.resolver.is_some() {
            schedule.round_trips().record(obs.elapsed);
        }
        let privately =
            obs.outcome == NameOutcome::Resolved && obs.addresses.iter().all(|a| crate::net::is_private_range(*a));
        if let (Some(azure), false) = (azure, privately) {
            obs.azure_answer = Some(Box::new(azure.resolve(host).await));
        }
        obs
    };
    bound.run(work).await.unwrap_or_else(|cut| {
        let outcome = match cut {
            Cut::Deadline => NameOutcome::DeadlineExceeded,
            Cut::Interrupt => NameOutcome::Interrupted,
        };
        NameObservation::new(host, outcome, started.elapsed())
    })
}

/// What to do on one path of a host.
#[derive(Debug, Clone)]
struct PathSpec {
    port: u16,
    protocol: Protocol,
    tls: bool,
    http_path: Option<String>,
}

async fn probe_path(
    settings: &RunSettings,
    schedule: &Schedule,
    name: &NameObservation,
    spec: PathSpec,
    bound: &Bound,
) -> PathObservation {
    let queued = Instant::now();
    let (port, protocol) = (spec.port, spec.protocol);
    let resolved = name.addresses.first().copied();
    let rule = ConnectTo::find(&settings.connect_to, &name.host, resolved, port);
    let dialled = rule.map(|r| r.to).or_else(|| resolved.map(|ip| SocketAddr::new(ip, port)));
    let mut obs = PathObservation {
        host: name.host.clone(),
        port,
        protocol,
        dialled,
        via_connect_to: rule.is_some(),
        outcome: PathOutcome::NotDialled("the name did not resolve".into()),
        elapsed: Duration::ZERO,
        tls: None,
        http: None,
        via_proxy: None,
        udp_wait: None,
    };
    // HTTPS goes through the proxy unless NO_PROXY exempts the name, decided
    // as Python requests (pip, conda, az) decides it.
    let proxy = settings
        .proxy
        .as_ref()
        .filter(|p| protocol == Protocol::Tcp && spec.tls && !bypasses(Client::Requests, &p.no_proxy, &name.host));
    if let Some(route) = proxy {
        obs.via_proxy = Some(route.url.masked());
        obs.dialled = route.addr;
        obs.via_connect_to = false;
    }
    let Some(addr) = obs.dialled else {
        if let Some(route) = proxy {
            // The proxy cannot be reached at all: every path through it is broken.
            let why = format!("its name {} did not resolve", route.url.host);
            obs.outcome = PathOutcome::ProxyUnreachable {
                proxy: route.url.masked(),
                outcome: Box::new(PathOutcome::NotDialled(why)),
            };
        }
        return obs;
    };
    if settings.loopback_only && !addr.ip().is_loopback() {
        obs.outcome = PathOutcome::NotDialled(format!("{addr} is not a loopback address and --loopback-only is set"));
        return obs;
    }
    // A probe's time starts when it gets its slot, not when it was queued.
    let started = std::sync::OnceLock::new();
    let work = async {
        let _slot = schedule.dial_slot(addr.ip()).await;
        let _ = started.set(Instant::now());
        dial(settings, schedule, &name.host, &spec, addr, proxy).await
    };
    match bound.run(work).await {
        Ok(seen) => {
            obs.outcome = seen.outcome;
            obs.tls = seen.tls;
            obs.http = seen.http;
            obs.udp_wait = seen.udp_wait;
        }
        Err(Cut::Deadline) => obs.outcome = PathOutcome::DeadlineExceeded,
        Err(Cut::Interrupt) => obs.outcome = PathOutcome::Interrupted,
    }
    obs.elapsed = started.get().copied().unwrap_or(queued).elapsed();
    obs
}

/// What one dial saw.
struct Dialled {
    outcome: PathOutcome,
    tls: Option<TlsObservation>,
    http: Option<HttpObservation>,
    udp_wait: Option<Duration>,
}

/// Dials `addr` (or the proxy), then shakes hands and sends the request
/// where the plan asks for them.
async fn dial(
    settings: &RunSettings,
    schedule: &Schedule,
    host: &str,
    spec: &PathSpec,
    addr: SocketAddr,
    proxy: Option<&ProxyRoute>,
) -> Dialled {
    let seen = |outcome| Dialled { outcome, tls: None, http: None, udp_wait: None };
    if spec.protocol == Protocol::Udp {
        let (outcome, waited) = udp::probe(addr, settings.timeout, schedule.round_trips()).await;
        return Dialled { udp_wait: Some(waited), ..seen(outcome) };
    }
    let (outcome, stream) = match proxy {
        Some(route) => match proxy::connect(addr, &route.url, host, spec.port, settings.timeout).await {
            Ok(stream) => (PathOutcome::Open, Some(stream)),
            Err(outcome) => (outcome, None),
        },
        None => {
            let began = Instant::now();
            let (outcome, stream) = tcp::connect(addr, settings.timeout).await;
            if matches!(outcome, PathOutcome::Open | PathOutcome::Refused) {
                schedule.round_trips().record(began.elapsed());
            }
            (outcome, stream)
        }
    };
    let (Some(stream), Some(trust)) = (stream.filter(|_| spec.tls), settings.trust.as_ref()) else {
        return seen(outcome);
    };
    let (tls, stream) = tls::handshake(stream, host, trust, settings.timeout).await;
    let http = match (&spec.http_path, stream) {
        (Some(path), Some(stream)) => Some(http::get(stream, host, path, proxy.is_some(), settings.timeout).await),
        _ => None,
    };
    Dialled { tls: Some(tls), http, ..seen(outcome) }
}

/// An error and its causes on one line (hyper -> io -> rustls),
/// since the outermost message rarely says what happened.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_probe_stuck_in_a_poll_is_left_behind_after_the_deadline() {
        let deadline = tokio::time::Instant::now() + Duration::from_millis(200);
        let bound = Bound { deadline, interrupt: Interrupt::listen() };
        let mut tasks = JoinSet::new();
        tasks.spawn(async { 1 });
        // Blocks its worker and never returns to the scheduler, as a read
        // whose readiness lies does: no timeout inside it can fire.
        tasks.spawn(async {
            std::thread::sleep(Duration::from_secs(3));
            2
        });
        let started = Instant::now();
        let done = collect(tasks, &bound).await;
        assert_eq!(done, vec![1]);
        assert!(started.elapsed() < Duration::from_millis(1500), "{:?}", started.elapsed());
        let (name, paths) = unfinished(
            "h.example",
            &[PathSpec { port: 443, protocol: Protocol::Tcp, tls: true, http_path: None }],
            &Cut::Deadline,
        );
        assert_eq!(name.outcome, NameOutcome::DeadlineExceeded);
        assert_eq!(paths[0].outcome, PathOutcome::DeadlineExceeded);
    }
}
