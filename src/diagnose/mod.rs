//! The diagnose stage: observations in, checks and findings out. Every
//! judgement lives here, one subject a file: names (`names.rs`), paths
//! (`paths.rs`, with `tls.rs` and `http.rs`), the revocation endpoints the
//! certificates name (`revocation.rs`), the proxy (`proxy.rs`) and the
//! rest of this machine (`local.rs`). One root cause gives one finding
//! listing its hosts (`findings.rs`), and a host whose name fails gets no
//! path finding on top.

pub mod codes;
mod findings;
mod http;
mod local;
mod names;
mod paths;
mod proxy;
mod revocation;
mod tls;

use std::collections::HashMap;

use serde::Serialize;

use crate::catalogue::Protocol;
use crate::local::{Machine, ProxySettings};
use crate::net::AddressPolicy;
use crate::plan::{Plan, PlannedEndpoint};
use crate::probe::{NameObservation, Observations, PathObservation};
pub use codes::Code;
pub use findings::Finding;
use findings::{Collector, Hit};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Something required is broken.
    Error,
    /// Something situational is broken, or something works by luck.
    Warning,
    /// Worth knowing.
    Info,
}

/// The verdict of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// As expected.
    Pass,
    /// Broken, but only situationally needed (or works by luck).
    Warn,
    /// Broken.
    Fail,
    /// Not probed (no address, deadline, guard, or skipped area).
    Skip,
}

impl Status {
    /// The status a finding of `severity` gives its check.
    fn of(severity: Severity) -> Status {
        match severity {
            Severity::Error => Status::Fail,
            Severity::Warning | Severity::Info => Status::Warn,
        }
    }
}

/// The area a check belongs to (`--skip`/`--only` use the same names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Area {
    /// Name resolution.
    Dns,
    /// TCP reachability.
    Tcp,
    /// UDP reachability.
    Udp,
}

/// What diagnosis concluded about one check.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// Pass, warn, fail or skip.
    pub status: Status,
    /// The finding code this check contributed to.
    pub code: Option<Code>,
    /// What went wrong (or what is worth knowing), in words.
    pub error: Option<String>,
}

impl Verdict {
    fn pass(error: Option<String>) -> Verdict {
        Verdict { status: Status::Pass, code: None, error }
    }
}

/// One name: what DNS said and the verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct NameCheck {
    /// What the resolvers answered.
    pub seen: NameObservation,
    /// The verdict.
    pub verdict: Verdict,
}

/// One path (host, port, protocol): what the dial saw and the verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct PathCheck {
    /// What the dial, the handshake and the request saw.
    pub seen: PathObservation,
    /// The verdict.
    pub verdict: Verdict,
}

/// One probed thing, as the report lists it.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    /// A name lookup.
    Name(Box<NameCheck>),
    /// A TCP or UDP path.
    Path(Box<PathCheck>),
}

impl Check {
    /// `dns:<host>`, `tcp:<host>:<port>` or `udp:<host>:<port>`.
    pub fn id(&self) -> String {
        match self {
            Check::Name(n) => format!("dns:{}", n.seen.host),
            Check::Path(p) => format!("{}:{}:{}", p.seen.protocol, p.seen.host, p.seen.port),
        }
    }

    /// The area.
    pub fn area(&self) -> Area {
        match self {
            Check::Name(_) => Area::Dns,
            Check::Path(p) => match p.seen.protocol {
                Protocol::Tcp => Area::Tcp,
                Protocol::Udp => Area::Udp,
            },
        }
    }

    /// The host name.
    pub fn host(&self) -> &str {
        match self {
            Check::Name(n) => &n.seen.host,
            Check::Path(p) => &p.seen.host,
        }
    }

    /// The verdict.
    pub fn verdict(&self) -> &Verdict {
        match self {
            Check::Name(n) => &n.verdict,
            Check::Path(p) => &p.verdict,
        }
    }

    /// The status.
    pub fn status(&self) -> Status {
        self.verdict().status
    }

    /// Time spent, in milliseconds.
    pub fn elapsed_ms(&self) -> u64 {
        match self {
            Check::Name(n) => n.seen.elapsed.as_millis() as u64,
            Check::Path(p) => p.seen.elapsed.as_millis() as u64,
        }
    }
}

/// The output of this stage.
#[derive(Debug, Clone, Default)]
pub struct Diagnosis {
    /// Every check, in plan order: names first, then paths.
    pub checks: Vec<Check>,
    /// Findings, errors first.
    pub findings: Vec<Finding>,
}

/// What the rules need besides the observations.
#[derive(Debug, Clone)]
pub struct DiagnoseSettings {
    /// What counts as private.
    pub policy: AddressPolicy,
    /// Judge DNS answers (`--skip dns` turns this off; names are still resolved to dial).
    pub judge_dns: bool,
    /// This machine's setup, judged when `judge_local` is set.
    pub machine: Machine,
    /// The proxy variables in force: the same the probes used.
    pub proxy: ProxySettings,
    /// Judge the proxy variables, ~/.bashrc, /etc/hosts and local addresses.
    pub judge_local: bool,
}

/// The plan's endpoints by host, so that each observation finds its own in
/// constant time instead of scanning the plan.
struct PlanIndex<'a> {
    by_host: HashMap<&'a str, Vec<&'a PlannedEndpoint>>,
}

impl<'a> PlanIndex<'a> {
    fn new(plan: &'a Plan) -> Self {
        let mut by_host: HashMap<&str, Vec<&PlannedEndpoint>> = HashMap::new();
        for e in &plan.endpoints {
            by_host.entry(e.host.as_str()).or_default().push(e);
        }
        PlanIndex { by_host }
    }

    fn of_host(&self, host: &str) -> &[&'a PlannedEndpoint] {
        self.by_host.get(host).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// Turns observations into checks and findings.
pub fn diagnose(plan: &Plan, obs: &Observations, settings: &DiagnoseSettings) -> Diagnosis {
    let index = PlanIndex::new(plan);
    let mut out = Collector::default();
    let mut checks = Vec::with_capacity(obs.names.len() + obs.paths.len());
    let mut failed_names = std::collections::HashSet::new();
    // Hosts the clients only reach through a proxy: HTTPS paths that went
    // through it, and plain HTTP on port 80, which clients send to
    // HTTP_PROXY when one is set. One direct or UDP path needs this
    // machine's lookup.
    let mut proxied: std::collections::HashMap<&str, bool> = std::collections::HashMap::new();
    for path in &obs.paths {
        let plain_http = settings.proxy.http_set && path.protocol == crate::catalogue::Protocol::Tcp && path.port == 80;
        *proxied.entry(path.host.as_str()).or_insert(true) &= path.via_proxy.is_some() || plain_http;
    }
    proxied.retain(|host, all| *all && obs.paths.iter().any(|p| p.host == *host && p.via_proxy.is_some()));
    for name in &obs.names {
        let endpoints = index.of_host(&name.host);
        if endpoints.is_empty() {
            continue;
        }
        let through_proxy = proxied.get(name.host.as_str()).copied().unwrap_or(false);
        let check = names::judge(name, endpoints, settings, through_proxy, &mut out);
        if check.verdict.status == Status::Fail {
            failed_names.insert(name.host.as_str());
        }
        checks.push(Check::Name(Box::new(check)));
    }
    for path in &obs.paths {
        let endpoints: Vec<&PlannedEndpoint> = index
            .of_host(&path.host)
            .iter()
            .copied()
            .filter(|e| e.port == path.port && e.protocol == path.protocol)
            .collect();
        let name_failed = failed_names.contains(path.host.as_str());
        checks.push(Check::Path(Box::new(paths::judge(path, &endpoints, name_failed, &mut out))));
    }
    for seen in &obs.revocation {
        checks.push(Check::Path(Box::new(revocation::judge(seen, &mut out))));
    }
    if settings.judge_local {
        proxy::judge_variables(&settings.machine, &settings.proxy, plan, &mut out);
        local::judge(&settings.machine, settings.policy.vnet(), &mut out);
    }
    Diagnosis { checks, findings: out.into_findings() }
}

/// Whether any endpoint behind a check is required.
fn any_required(endpoints: &[&PlannedEndpoint]) -> bool {
    endpoints.iter().any(|e| e.required)
}

#[cfg(test)]
mod tests;
