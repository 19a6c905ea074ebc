//! The diagnose stage: observations in, checks and findings out. Every
//! judgement lives here; one root cause gives one finding listing its
//! hosts, and a host whose name fails gets no path finding on top.

pub mod address;
pub mod codes;

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Serialize;

use crate::catalogue::{Expect, Protocol};
use crate::plan::{Plan, PlannedEndpoint};
use crate::probe::{NameObservation, NameOutcome, Observations, PathObservation, PathOutcome};
pub use address::{AddressClass, AddressPolicy};

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

/// One probed thing and what was seen, as the report shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Check {
    /// `dns:<host>`, `tcp:<host>:<port>` or `udp:<host>:<port>`.
    pub id: String,
    /// Area.
    pub area: Area,
    /// Host name.
    pub host: String,
    /// Port (paths only).
    pub port: Option<u16>,
    /// `tcp` or `udp` (paths only).
    pub protocol: Option<Protocol>,
    /// Verdict.
    pub status: Status,
    /// Time spent.
    pub elapsed_ms: u64,
    /// Final addresses (names only).
    pub addresses: Vec<IpAddr>,
    /// CNAME targets from the name on (names only).
    pub cname_chain: Vec<String>,
    /// The DNS server that answered.
    pub resolver: Option<String>,
    /// `open`, `refused`, `timeout`, `unreachable` (TCP paths).
    pub tcp_state: Option<&'static str>,
    /// `rejected`, `answered`, `no-rejection` (UDP paths).
    pub udp_state: Option<&'static str>,
    /// The address dialled, and whether `--connect-to` chose it.
    pub dialled: Option<String>,
    /// Set when a `--connect-to` rule chose the address.
    pub via_connect_to: bool,
    /// TLS details (reserved in schema v1; not probed yet).
    pub tls: Option<serde_json::Value>,
    /// HTTP details (reserved in schema v1; not probed yet).
    pub http: Option<serde_json::Value>,
    /// The finding code this check contributed to.
    pub code: Option<&'static str>,
    /// What went wrong, in words.
    pub error: Option<String>,
}

/// A problem, its cause and its fix.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Finding {
    /// Stable code (`amlnet explain CODE`).
    pub code: &'static str,
    /// Severity.
    pub severity: Severity,
    /// One-line title.
    pub title: String,
    /// Probable cause and the evidence, one line per host.
    pub detail: String,
    /// Affected hosts (`host` or `host:port`).
    pub hosts: Vec<String>,
    /// What to change.
    pub remedy: String,
    /// Documentation links.
    pub docs: Vec<String>,
}

/// The output of this stage.
#[derive(Debug, Clone, Default, Serialize)]
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
}

/// One affected host behind a finding.
struct Hit {
    label: String,
    evidence: String,
    zone: Option<String>,
    service_tag: Option<String>,
}

#[derive(Default)]
struct Collector {
    hits: BTreeMap<(Severity, usize), Vec<Hit>>,
}

impl Collector {
    fn add(&mut self, code: &'static str, severity: Severity, hit: Hit) {
        let order = codes::CODES
            .iter()
            .position(|c| c.code == code)
            .unwrap_or(usize::MAX);
        self.hits.entry((severity, order)).or_default().push(hit);
    }

    fn into_findings(self) -> Vec<Finding> {
        self.hits
            .into_iter()
            .filter_map(|((severity, order), hits)| {
                let info = codes::CODES.get(order)?;
                let mut hosts: Vec<String> = Vec::new();
                for h in &hits {
                    if !hosts.contains(&h.label) {
                        hosts.push(h.label.clone());
                    }
                }
                let mut detail = info.cause.to_string();
                detail.push('\n');
                for h in &hits {
                    detail.push_str(&format!("\n- {}", h.evidence));
                }
                let mut remedy = info.remedy.to_string();
                let zones = distinct(hits.iter().filter_map(|h| h.zone.clone()));
                if !zones.is_empty() {
                    remedy.push_str(&format!(" Zones: {}.", zones.join(", ")));
                }
                let tags = distinct(hits.iter().filter_map(|h| h.service_tag.clone()));
                if !tags.is_empty() {
                    remedy.push_str(&format!(" Service tags: {}.", tags.join(", ")));
                }
                Some(Finding {
                    code: info.code,
                    severity,
                    title: info.title.to_string(),
                    detail,
                    hosts,
                    remedy,
                    docs: info.docs.iter().map(|d| d.to_string()).collect(),
                })
            })
            .collect()
    }
}

fn distinct(items: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for i in items {
        if !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

/// Turns observations into checks and findings.
pub fn diagnose(plan: &Plan, obs: &Observations, settings: &DiagnoseSettings) -> Diagnosis {
    let mut collector = Collector::default();
    let mut checks = Vec::new();
    let mut failed_names = Vec::new();
    let mut deadline_hits = Vec::new();

    for name in &obs.names {
        let endpoints: Vec<&PlannedEndpoint> = plan
            .endpoints
            .iter()
            .filter(|e| e.host == name.host)
            .collect();
        if endpoints.is_empty() {
            continue;
        }
        let private = endpoints
            .iter()
            .find(|e| e.expect == Expect::Private)
            .copied();
        let required = endpoints.iter().any(|e| e.required);
        let severity = if required {
            Severity::Error
        } else {
            Severity::Warning
        };
        let mut check = name_check(name);
        if !settings.judge_dns {
            check.status = Status::Skip;
            check.error = Some("not judged (--skip dns); resolved only to dial".into());
            checks.push(check);
            continue;
        }
        let verdict = judge_name(name, private, settings);
        if let Some((code, sev_override, evidence)) = verdict {
            let sev = sev_override.unwrap_or(severity);
            check.status = match sev {
                Severity::Error => Status::Fail,
                _ => Status::Warn,
            };
            check.code = Some(code);
            check.error = Some(evidence.clone());
            if code == "run-deadline-exceeded" {
                check.status = Status::Skip;
                deadline_hits.push(format!("dns {}", name.host));
            } else {
                collector.add(
                    code,
                    sev,
                    Hit {
                        label: name.host.clone(),
                        evidence: if evidence.starts_with(&name.host) {
                            evidence.clone()
                        } else {
                            format!("{}: {evidence}", name.host)
                        },
                        zone: private
                            .and_then(|p| p.privatelink_zone.clone())
                            .filter(|_| zone_relevant(code)),
                        service_tag: None,
                    },
                );
                if code != "dns-zone-override" {
                    failed_names.push(name.host.clone());
                }
            }
        }
        checks.push(check);
    }

    for path in &obs.paths {
        let endpoints: Vec<&PlannedEndpoint> = plan
            .endpoints
            .iter()
            .filter(|e| e.host == path.host && e.port == path.port && e.protocol == path.protocol)
            .collect();
        let required = endpoints.iter().any(|e| e.required);
        let severity = if required {
            Severity::Error
        } else {
            Severity::Warning
        };
        let service_tag = endpoints.first().map(|e| e.service_tag.clone());
        let mut check = path_check(path);
        let suppressed = failed_names.contains(&path.host);
        let verdict: Option<(&'static str, Status)> = match &path.outcome {
            PathOutcome::Open | PathOutcome::UdpAnswered | PathOutcome::UdpNoRejection => None,
            PathOutcome::Refused => Some(("tcp-refused", fail_or_warn(severity))),
            PathOutcome::TimedOut => Some(("tcp-timeout", fail_or_warn(severity))),
            PathOutcome::Unreachable => Some(("tcp-unreachable", fail_or_warn(severity))),
            PathOutcome::UdpRejected => Some(("udp-rejected", fail_or_warn(severity))),
            PathOutcome::NotDialled(_) | PathOutcome::Failed(_) => {
                check.status = Status::Skip;
                None
            }
            PathOutcome::DeadlineExceeded => {
                check.status = Status::Skip;
                deadline_hits.push(format!("{} {}:{}", path.protocol, path.host, path.port));
                None
            }
        };
        if let Some((code, status)) = verdict {
            if suppressed {
                check.status = Status::Skip;
                check.error = Some(format!(
                    "{}; not judged because the name itself failed",
                    check.error.clone().unwrap_or_default()
                ));
            } else {
                check.status = status;
                check.code = Some(code);
                let dialled = path.dialled.map(|a| a.to_string()).unwrap_or_default();
                let how = if path.via_connect_to {
                    " (via --connect-to)"
                } else {
                    ""
                };
                collector.add(
                    code,
                    severity,
                    Hit {
                        label: format!("{}:{}", path.host, path.port),
                        evidence: format!(
                            "{} {}:{} dialled at {dialled}{how}: {} after {} ms",
                            path.protocol,
                            path.host,
                            path.port,
                            check.error.clone().unwrap_or_default(),
                            path.elapsed.as_millis()
                        ),
                        zone: None,
                        service_tag: service_tag.clone(),
                    },
                );
            }
        }
        checks.push(check);
    }

    if !deadline_hits.is_empty() {
        for h in deadline_hits {
            collector.add(
                "run-deadline-exceeded",
                Severity::Warning,
                Hit {
                    label: h.clone(),
                    evidence: format!("{h}: unfinished at the deadline"),
                    zone: None,
                    service_tag: None,
                },
            );
        }
    }
    Diagnosis {
        checks,
        findings: collector.into_findings(),
    }
}

fn fail_or_warn(severity: Severity) -> Status {
    if severity == Severity::Error {
        Status::Fail
    } else {
        Status::Warn
    }
}

fn zone_relevant(code: &str) -> bool {
    matches!(
        code,
        "dns-public-answer"
            | "dns-nxdomain"
            | "dns-no-privatelink"
            | "dns-outside-vnet"
            | "dns-no-address"
    )
}

/// `host -> cname -> cname -> addresses`.
pub fn chain_text(name: &NameObservation) -> String {
    let mut parts = vec![name.host.clone()];
    parts.extend(name.cname_chain.iter().cloned());
    let addrs: Vec<String> = name.addresses.iter().map(|a| a.to_string()).collect();
    if !addrs.is_empty() {
        parts.push(addrs.join(", "));
    }
    parts.join(" -> ")
}

type NameVerdict = Option<(&'static str, Option<Severity>, String)>;

fn judge_name(
    name: &NameObservation,
    private: Option<&PlannedEndpoint>,
    settings: &DiagnoseSettings,
) -> NameVerdict {
    let by = name
        .resolver
        .map(|r| format!(" (answered by {r})"))
        .unwrap_or_default();
    match &name.outcome {
        NameOutcome::Timeout => Some((
            "dns-timeout",
            None,
            format!("no answer from {}", name.problems.join("; ")),
        )),
        NameOutcome::Failed(e) => Some(("dns-timeout", None, e.clone())),
        NameOutcome::DeadlineExceeded => Some((
            "run-deadline-exceeded",
            Some(Severity::Warning),
            "unfinished at the deadline".into(),
        )),
        NameOutcome::ServerError(code) => Some(("dns-server-error", None, format!("{code}{by}"))),
        NameOutcome::NxDomain { missing } => {
            let chain = chain_text(name);
            let what = if missing == &name.host {
                format!("{missing} does not exist{by}")
            } else {
                format!("{chain}: {missing} does not exist{by}")
            };
            Some(("dns-nxdomain", None, what))
        }
        NameOutcome::NoAddress => Some((
            "dns-no-address",
            None,
            format!("{}: no A record{by}", chain_text(name)),
        )),
        NameOutcome::Resolved => {
            let chain = chain_text(name);
            let classes: Vec<AddressClass> = name
                .addresses
                .iter()
                .map(|a| settings.policy.classify(*a))
                .collect();
            if classes.contains(&AddressClass::DockerBridge) {
                return Some((
                    "docker-bridge-overlap",
                    None,
                    format!("{chain}{by}: inside 172.17.0.0/16"),
                ));
            }
            let private = private?;
            let zone = private.privatelink_zone.as_deref().unwrap_or("privatelink");
            let through_zone = name
                .cname_chain
                .iter()
                .any(|c| c == zone || c.ends_with(&format!(".{zone}")));
            let through_any = through_zone
                || name
                    .cname_chain
                    .iter()
                    .any(|c| c.split('.').any(|l| l == "privatelink"));
            let all_private = classes.iter().all(|c| *c == AddressClass::Private);
            if classes.contains(&AddressClass::Public) {
                if through_any {
                    Some((
                        "dns-public-answer",
                        None,
                        format!("{chain}{by}: went through the privatelink CNAME, ended public"),
                    ))
                } else {
                    Some((
                        "dns-no-privatelink",
                        None,
                        format!("{chain}{by}: no privatelink CNAME (expected one in {zone})"),
                    ))
                }
            } else if classes.contains(&AddressClass::OutsideVnet) {
                Some((
                    "dns-outside-vnet",
                    None,
                    format!("{chain}{by}: private, but outside every --vnet-cidr"),
                ))
            } else if all_private && !through_any {
                Some((
                    "dns-zone-override",
                    Some(Severity::Warning),
                    format!(
                        "{chain}{by}: private address without the privatelink CNAME (expected {zone})"
                    ),
                ))
            } else {
                None
            }
        }
    }
}

fn name_check(name: &NameObservation) -> Check {
    let error = match &name.outcome {
        NameOutcome::Resolved => None,
        NameOutcome::NxDomain { missing } => Some(format!("NXDOMAIN for {missing}")),
        NameOutcome::NoAddress => Some("no address record".into()),
        NameOutcome::ServerError(c) => Some(format!("server answered {c}")),
        NameOutcome::Timeout => Some("no DNS server answered".into()),
        NameOutcome::Failed(e) => Some(e.clone()),
        NameOutcome::DeadlineExceeded => Some("deadline reached".into()),
    };
    Check {
        id: format!("dns:{}", name.host),
        area: Area::Dns,
        host: name.host.clone(),
        port: None,
        protocol: None,
        status: Status::Pass,
        elapsed_ms: name.elapsed.as_millis() as u64,
        addresses: name.addresses.clone(),
        cname_chain: name.cname_chain.clone(),
        resolver: name.resolver.map(|r| r.to_string()),
        tcp_state: None,
        udp_state: None,
        dialled: None,
        via_connect_to: false,
        tls: None,
        http: None,
        code: None,
        error,
    }
}

fn path_check(path: &PathObservation) -> Check {
    let (tcp_state, udp_state, error) = match &path.outcome {
        PathOutcome::Open => (Some("open"), None, None),
        PathOutcome::Refused => (
            Some("refused"),
            None,
            Some("connection refused".to_string()),
        ),
        PathOutcome::TimedOut => (Some("timeout"), None, Some("no answer to SYN".to_string())),
        PathOutcome::Unreachable => (
            Some("unreachable"),
            None,
            Some("no route to host".to_string()),
        ),
        PathOutcome::UdpRejected => (
            None,
            Some("rejected"),
            Some("ICMP port unreachable".to_string()),
        ),
        PathOutcome::UdpAnswered => (None, Some("answered"), None),
        PathOutcome::UdpNoRejection => (
            None,
            Some("no-rejection"),
            Some("no rejection seen (open or filtered)".to_string()),
        ),
        PathOutcome::NotDialled(why) => (None, None, Some(format!("not dialled: {why}"))),
        PathOutcome::Failed(e) => (None, None, Some(e.clone())),
        PathOutcome::DeadlineExceeded => (None, None, Some("deadline reached".to_string())),
    };
    let area = match path.protocol {
        Protocol::Tcp => Area::Tcp,
        Protocol::Udp => Area::Udp,
    };
    Check {
        id: format!("{}:{}:{}", path.protocol, path.host, path.port),
        area,
        host: path.host.clone(),
        port: Some(path.port),
        protocol: Some(path.protocol),
        status: Status::Pass,
        elapsed_ms: path.elapsed.as_millis() as u64,
        addresses: Vec::new(),
        cname_chain: Vec::new(),
        resolver: None,
        tcp_state,
        udp_state,
        dialled: path.dialled.map(|a| a.to_string()),
        via_connect_to: path.via_connect_to,
        tls: None,
        http: None,
        code: None,
        error,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::catalogue::Catalogue;
    use crate::lab::lab_target;

    fn obs_for(
        plan: &Plan,
        host: &str,
        addr: &str,
        chain: &[&str],
        outcome: PathOutcome,
    ) -> Observations {
        let name = NameObservation {
            host: host.into(),
            resolver: Some("127.0.0.1:53".parse().unwrap()),
            outcome: NameOutcome::Resolved,
            cname_chain: chain.iter().map(|s| s.to_string()).collect(),
            addresses: vec![addr.parse().unwrap()],
            elapsed: Duration::from_millis(1),
            problems: vec![],
        };
        let e = plan.endpoints.iter().find(|e| e.host == host).unwrap();
        let path = PathObservation {
            host: host.into(),
            port: e.port,
            protocol: e.protocol,
            dialled: Some(format!("{addr}:{}", e.port).parse().unwrap()),
            via_connect_to: false,
            outcome,
            elapsed: Duration::from_millis(3000),
        };
        Observations {
            names: vec![name],
            paths: vec![path],
        }
    }

    #[test]
    fn a_failed_name_gets_no_path_finding_on_top() {
        let plan = Plan::build(Catalogue::builtin(), &lab_target());
        let host = "kv-contoso-ml-lab.vault.azure.net";
        let obs = obs_for(
            &plan,
            host,
            "203.0.113.9",
            &["kv-contoso-ml-lab.privatelink.vaultcore.azure.net"],
            PathOutcome::TimedOut,
        );
        let settings = DiagnoseSettings {
            policy: AddressPolicy::new(vec![]),
            judge_dns: true,
        };
        let d = diagnose(&plan, &obs, &settings);
        let codes: Vec<&str> = d.findings.iter().map(|f| f.code).collect();
        assert_eq!(codes, vec!["dns-public-answer"]);
        let tcp = d.checks.iter().find(|c| c.area == Area::Tcp).unwrap();
        assert_eq!(tcp.status, Status::Skip);
    }

    #[test]
    fn with_dns_not_judged_the_path_finding_stands() {
        let plan = Plan::build(Catalogue::builtin(), &lab_target());
        let host = "kv-contoso-ml-lab.vault.azure.net";
        let obs = obs_for(&plan, host, "203.0.113.9", &[], PathOutcome::TimedOut);
        let settings = DiagnoseSettings {
            policy: AddressPolicy::new(vec![]),
            judge_dns: false,
        };
        let d = diagnose(&plan, &obs, &settings);
        let codes: Vec<&str> = d.findings.iter().map(|f| f.code).collect();
        assert_eq!(codes, vec!["tcp-timeout"]);
        assert_eq!(d.findings[0].hosts, vec![format!("{host}:443")]);
    }

    #[test]
    fn a_private_answer_through_privatelink_passes() {
        let plan = Plan::build(Catalogue::builtin(), &lab_target());
        let host = "kv-contoso-ml-lab.vault.azure.net";
        let obs = obs_for(
            &plan,
            host,
            "10.0.1.9",
            &["kv-contoso-ml-lab.privatelink.vaultcore.azure.net"],
            PathOutcome::Open,
        );
        let settings = DiagnoseSettings {
            policy: AddressPolicy::new(vec![]),
            judge_dns: true,
        };
        let d = diagnose(&plan, &obs, &settings);
        assert!(d.findings.is_empty());
        assert!(d.checks.iter().all(|c| c.status == Status::Pass));
    }
}
