//! The diagnose stage: observations in, checks and findings out. Every
//! judgement lives here; one root cause gives one finding listing its
//! hosts, and a host whose name fails gets no path finding on top.

pub mod address;
pub mod codes;
mod local;

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Serialize;

use crate::catalogue::{Expect, Protocol};
use crate::plan::{Plan, PlannedEndpoint};
use crate::probe::{
    HttpObservation, NameObservation, NameOutcome, Observations, PathObservation, PathOutcome, TlsFailure,
    TlsObservation,
};
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
    /// The proxy the path went through (masked), if any.
    pub via_proxy: Option<String>,
    /// What Azure DNS answered for this name, when it was asked too (names only).
    pub azure_dns: Option<serde_json::Value>,
    /// TLS details of the handshake (TLS paths).
    pub tls: Option<serde_json::Value>,
    /// The HTTP request's answer (paths whose use is HTTP).
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
    /// This machine's setup, judged when `judge_local` is set.
    pub machine: crate::local::Machine,
    /// Judge the proxy variables, ~/.bashrc, /etc/hosts and local addresses.
    pub judge_local: bool,
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
        let order = codes::CODES.iter().position(|c| c.code == code).unwrap_or(usize::MAX);
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
        let endpoints: Vec<&PlannedEndpoint> = plan.endpoints.iter().filter(|e| e.host == name.host).collect();
        if endpoints.is_empty() {
            continue;
        }
        let private = endpoints.iter().find(|e| e.expect == Expect::Private).copied();
        let required = endpoints.iter().any(|e| e.required);
        let severity = if required { Severity::Error } else { Severity::Warning };
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
                        zone: private.and_then(|p| p.privatelink_zone.clone()).filter(|_| zone_relevant(code)),
                        service_tag: None,
                    },
                );
                // A warning (a private answer by an odd route) still gives an
                // address worth dialling; its path verdicts stand.
                if sev == Severity::Error {
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
        let severity = if required { Severity::Error } else { Severity::Warning };
        let service_tag = endpoints.first().map(|e| e.service_tag.clone());
        let mut check = path_check(path);
        let suppressed = failed_names.contains(&path.host);
        let mut verdicts: Vec<(&'static str, Severity, String)> = Vec::new();
        let tcp_code = match &path.outcome {
            PathOutcome::Refused => Some("tcp-refused"),
            PathOutcome::TimedOut => Some("tcp-timeout"),
            PathOutcome::Unreachable => Some("tcp-unreachable"),
            PathOutcome::UdpRejected => Some("udp-rejected"),
            PathOutcome::NotDialled(_) | PathOutcome::Failed(_) => {
                check.status = Status::Skip;
                None
            }
            PathOutcome::DeadlineExceeded => {
                check.status = Status::Skip;
                deadline_hits.push(format!("{} {}:{}", path.protocol, path.host, path.port));
                None
            }
            PathOutcome::Open | PathOutcome::UdpAnswered | PathOutcome::UdpNoRejection => None,
            PathOutcome::ProxyUnreachable { .. } => Some("proxy-unreachable"),
            PathOutcome::ProxyAuthRequired { .. } => Some("http-proxy-auth"),
            PathOutcome::ProxyDenied { .. } | PathOutcome::ProxyFailed(_) => Some("http-blocked"),
        };
        if let (Some(code), Some(proxy)) = (tcp_code, &path.via_proxy) {
            let what = match &path.outcome {
                PathOutcome::ProxyUnreachable { outcome, .. } => {
                    format!("the proxy did not accept the connection ({})", path_words(outcome))
                }
                PathOutcome::ProxyAuthRequired { line, authenticate } => format!(
                    "the proxy answered CONNECT with \"{line}\"{}",
                    authenticate.as_deref().map(|a| format!(" (Proxy-Authenticate: {a})")).unwrap_or_default()
                ),
                PathOutcome::ProxyDenied { line, server, .. } => format!(
                    "the proxy answered CONNECT with \"{line}\"{}",
                    server.as_deref().map(|s| format!(" ({s})")).unwrap_or_default()
                ),
                PathOutcome::ProxyFailed(m) => m.clone(),
                other => path_words(other),
            };
            // One proxy down is one root cause: one error, whatever each path's need.
            let severity = if code == "proxy-unreachable" { Severity::Error } else { severity };
            verdicts.push((code, severity, format!("{}:{} through proxy {proxy}: {what}", path.host, path.port)));
        } else if let Some(code) = tcp_code {
            let dialled = path.dialled.map(|a| a.to_string()).unwrap_or_default();
            let how = if path.via_connect_to { " (via --connect-to)" } else { "" };
            verdicts.push((
                code,
                severity,
                format!(
                    "{} {}:{} dialled at {dialled}{how}: {} after {} ms",
                    path.protocol,
                    path.host,
                    path.port,
                    check.error.clone().unwrap_or_default(),
                    path.elapsed.as_millis()
                ),
            ));
        }
        let expected: Vec<String> = endpoints.iter().flat_map(|e| e.expected_issuers.clone()).collect();
        if let Some(tls) = &path.tls {
            verdicts.extend(judge_tls(&path.host, path.port, tls, &expected, severity));
        }
        if let Some(http) = &path.http {
            verdicts.extend(judge_http(&path.host, http, severity));
        }
        if !verdicts.is_empty() && suppressed {
            check.status = Status::Skip;
            check.error = Some("not judged because the name itself failed".to_string());
        } else if !verdicts.is_empty() {
            let worst = verdicts.iter().map(|v| v.1).min().unwrap_or(Severity::Info);
            check.status = match worst {
                Severity::Error => Status::Fail,
                Severity::Warning => Status::Warn,
                Severity::Info => check.status,
            };
            let main = verdicts.iter().find(|v| v.1 == worst).unwrap_or(&verdicts[0]);
            check.code = Some(main.0);
            if worst != Severity::Info || check.error.is_none() {
                check.error = Some(strip_host(&main.2, &path.host));
            }
            for (code, sev, evidence) in verdicts {
                let label = match (&path.via_proxy, code) {
                    (Some(proxy), "proxy-unreachable") => proxy.clone(),
                    _ => format!("{}:{}", path.host, path.port),
                };
                collector.add(code, sev, Hit { label, evidence, zone: None, service_tag: service_tag.clone() });
            }
        }
        checks.push(check);
    }

    if settings.judge_local {
        local::judge(&settings.machine, plan, &mut collector);
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
    Diagnosis { checks, findings: collector.into_findings() }
}

/// Evidence lines start with `tcp host:port`; the check already names its host.
fn strip_host(evidence: &str, host: &str) -> String {
    match evidence.find(host) {
        Some(i) if i < 8 => evidence[i + host.len()..]
            .trim_start_matches(|c: char| c == ':' || c.is_ascii_digit() || c == ' ')
            .to_string(),
        _ => evidence.to_string(),
    }
}

/// The CN of a DN, or the DN when it has none.
fn common_name(dn: &str) -> String {
    dn.split(',')
        .map(str::trim)
        .find_map(|part| part.strip_prefix("CN="))
        .map(str::to_string)
        .unwrap_or_else(|| dn.to_string())
}

type PathVerdict = (&'static str, Severity, String);

fn judge_tls(host: &str, port: u16, tls: &TlsObservation, expected: &[String], severity: Severity) -> Vec<PathVerdict> {
    let issuer = tls.chain.first().map(|c| c.issuer.clone());
    let inspected = match &issuer {
        Some(i) if !expected.is_empty() => {
            let lower = i.to_ascii_lowercase();
            !expected.iter().any(|x| lower.contains(&x.to_ascii_lowercase()))
        }
        _ => false,
    };
    let by = issuer.as_deref().map(common_name).unwrap_or_else(|| "an unknown issuer".into());
    let at = format!("tls {host}:{port}");
    let verdict = match &tls.failure {
        None if inspected => (
            "tls-inspected",
            Severity::Info,
            format!(
                "{at}: TLS inspection: certificate issued by {by}, not by the service's CA ({}); trusted by this machine",
                expected.join(" or ")
            ),
        ),
        None => return Vec::new(),
        Some(TlsFailure::Untrusted(reason)) if inspected => {
            ("tls-untrusted", severity, format!("{at}: TLS inspection: certificate issued by {by} ({reason})"))
        }
        Some(TlsFailure::Untrusted(reason)) => ("tls-untrusted", severity, format!("{at}: {reason}; issued by {by}")),
        Some(TlsFailure::Expired(reason)) => {
            let validity = tls
                .chain
                .first()
                .map(|c| format!("valid from {} to {}", c.not_before, c.not_after))
                .unwrap_or_default();
            (
                "tls-clock-skew",
                severity,
                format!(
                    "{at}: {reason}: {validity}, this machine's clock reads {}; issued by {by}",
                    crate::probe::tls::now_rfc3339()
                ),
            )
        }
        Some(TlsFailure::Reset) => {
            ("tls-reset", severity, format!("{at}: TCP opened, reset right after the ClientHello (SNI {host})"))
        }
        Some(TlsFailure::Closed) => (
            "tls-reset",
            severity,
            format!("{at}: TCP opened, closed without an answer right after the ClientHello (SNI {host})"),
        ),
        Some(TlsFailure::TimedOut) => (
            "tls-timeout",
            severity,
            format!(
                "{at}: TCP opened, no ServerHello after {} ms (filtering, or an MTU black hole on a VPN)",
                tls.elapsed.as_millis()
            ),
        ),
        Some(TlsFailure::Other(message)) => ("tls-failed", severity, format!("{at}: {message}")),
    };
    vec![verdict]
}

/// Words of proxies and firewalls in `Server` headers and block pages.
const DENIAL_SERVERS: &[&str] = &[
    "squid",
    "zscaler",
    "fortigate",
    "bluecoat",
    "palo alto",
    "pan-os",
    "firewall",
    "proxy",
    "netskope",
    "forcepoint",
    "sophos",
    "mcafee",
];
const DENIAL_WORDS: &[&str] =
    &["access denied", "blocked", "action: deny", "web policy", "url filtering", "not allowed by", "policy violation"];

fn judge_http(host: &str, http: &HttpObservation, severity: Severity) -> Vec<PathVerdict> {
    let Some(status) = http.status else {
        let why = http.error.clone().unwrap_or_else(|| "no answer".into());
        return vec![("http-failed", severity, format!("http {host}: GET {}: {why}", http.url))];
    };
    let server = http.server.clone().unwrap_or_default();
    let lower_server = server.to_ascii_lowercase();
    let body = http.body_start.to_ascii_lowercase();
    let service_itself = lower_server.contains("microsoft") || lower_server.contains("windows-azure");
    let denial_status = matches!(status, 403 | 407 | 451 | 502 | 503);
    let named_by = if status == 470 {
        Some("Azure Firewall (status 470)".to_string())
    } else if denial_status && !service_itself {
        if let Some(s) = DENIAL_SERVERS.iter().find(|s| lower_server.contains(*s)) {
            let _ = s;
            Some(format!("Server: {server}"))
        } else if let Some(via) = &http.via {
            Some(format!("Via: {via}"))
        } else if DENIAL_WORDS.iter().any(|w| body.contains(w)) {
            Some(if server.is_empty() {
                "a block page".to_string()
            } else {
                format!("a block page (Server: {server})")
            })
        } else {
            None
        }
    } else {
        None
    };
    match named_by {
        Some(who) => {
            let title = page_title(&http.body_start).map(|t| format!(" \"{t}\"")).unwrap_or_default();
            vec![("http-blocked", severity, format!("http {host}: GET {} answered {status} by {who}{title}", http.url))]
        }
        None => Vec::new(),
    }
}

fn page_title(body: &str) -> Option<String> {
    let lower = body.to_ascii_lowercase();
    let start = lower.find("<title>")? + "<title>".len();
    let end = lower[start..].find("</title>")? + start;
    Some(body[start..end].trim().chars().take(80).collect())
}

fn zone_relevant(code: &str) -> bool {
    matches!(
        code,
        "dns-public-answer"
            | "dns-nxdomain"
            | "dns-no-privatelink"
            | "dns-outside-vnet"
            | "dns-no-address"
            | "dns-custom-no-forwarder"
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

fn judge_name(name: &NameObservation, private: Option<&PlannedEndpoint>, settings: &DiagnoseSettings) -> NameVerdict {
    if let Some(entry) = &name.pinned {
        let class = settings.policy.classify(entry.address);
        let severity = if class == AddressClass::Private { Some(Severity::Warning) } else { None };
        let code = if class == AddressClass::DockerBridge { "docker-bridge-overlap" } else { "dns-hosts-override" };
        return Some((
            code,
            severity,
            format!("{} -> {} pinned by {} line {} (DNS not asked)", name.host, entry.address, entry.file, entry.line),
        ));
    }
    let verdict = judge_dns_answer(name, private, settings);
    // Where Azure DNS knows the private answer the configured server lacks,
    // the cause is the server's forwarding, not the zone.
    if let (Some((code, _, evidence)), Some(azure)) = (&verdict, &name.azure_answer)
        && matches!(
            *code,
            "dns-public-answer" | "dns-no-privatelink" | "dns-nxdomain" | "dns-timeout" | "dns-server-error"
        )
        && azure.outcome == NameOutcome::Resolved
        && judge_dns_answer(azure, private, settings).is_none()
    {
        return Some((
            "dns-custom-no-forwarder",
            None,
            format!(
                "{evidence}; Azure DNS ({}) answers {}",
                azure.resolver.map(|r| r.to_string()).unwrap_or_default(),
                chain_text(azure)
            ),
        ));
    }
    verdict
}

fn judge_dns_answer(
    name: &NameObservation,
    private: Option<&PlannedEndpoint>,
    settings: &DiagnoseSettings,
) -> NameVerdict {
    let by = name.resolver.map(|r| format!(" (answered by {r})")).unwrap_or_default();
    match &name.outcome {
        NameOutcome::Timeout => Some(("dns-timeout", None, format!("no answer from {}", name.problems.join("; ")))),
        NameOutcome::Failed(e) => Some(("dns-timeout", None, e.clone())),
        NameOutcome::DeadlineExceeded => {
            Some(("run-deadline-exceeded", Some(Severity::Warning), "unfinished at the deadline".into()))
        }
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
        NameOutcome::NoAddress => Some(("dns-no-address", None, format!("{}: no A record{by}", chain_text(name)))),
        NameOutcome::CnameLoop => {
            Some(("dns-no-address", None, format!("{}: CNAME loop, no address{by}", chain_text(name))))
        }
        NameOutcome::Resolved => {
            let chain = chain_text(name);
            let classes: Vec<AddressClass> = name.addresses.iter().map(|a| settings.policy.classify(*a)).collect();
            if classes.contains(&AddressClass::DockerBridge) {
                return Some(("docker-bridge-overlap", None, format!("{chain}{by}: inside 172.17.0.0/16")));
            }
            let private = private?;
            let zone = private.privatelink_zone.as_deref().unwrap_or("privatelink");
            let through_zone = name.cname_chain.iter().any(|c| c == zone || c.ends_with(&format!(".{zone}")));
            let through_any = through_zone || name.cname_chain.iter().any(|c| c.split('.').any(|l| l == "privatelink"));
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
                Some(("dns-outside-vnet", None, format!("{chain}{by}: private, but outside every --vnet-cidr")))
            } else if all_private && !through_any {
                Some((
                    "dns-zone-override",
                    Some(Severity::Warning),
                    format!("{chain}{by}: private address without the privatelink CNAME (expected {zone})"),
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
        NameOutcome::CnameLoop => Some("CNAME loop".into()),
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
        via_proxy: None,
        azure_dns: name.azure_answer.as_ref().map(|a| {
            serde_json::json!({
                "resolver": a.resolver.map(|r| r.to_string()),
                "addresses": a.addresses,
                "cname_chain": a.cname_chain,
                "answered": a.resolver.is_some(),
            })
        }),
        tls: None,
        http: None,
        code: None,
        error,
    }
}

fn path_check(path: &PathObservation) -> Check {
    let (tcp_state, udp_state, error) = match &path.outcome {
        PathOutcome::Open => (Some("open"), None, None),
        PathOutcome::Refused => (Some("refused"), None, Some("connection refused".to_string())),
        PathOutcome::TimedOut => (Some("timeout"), None, Some("no answer to SYN".to_string())),
        PathOutcome::Unreachable => (Some("unreachable"), None, Some("no route to host".to_string())),
        PathOutcome::UdpRejected => (None, Some("rejected"), Some("ICMP port unreachable".to_string())),
        PathOutcome::UdpAnswered => (None, Some("answered"), None),
        PathOutcome::UdpNoRejection => {
            (None, Some("no-rejection"), Some("no rejection seen (open or filtered)".to_string()))
        }
        PathOutcome::NotDialled(why) => (None, None, Some(format!("not dialled: {why}"))),
        PathOutcome::Failed(e) => (None, None, Some(e.clone())),
        PathOutcome::DeadlineExceeded => (None, None, Some("deadline reached".to_string())),
        other => (None, None, Some(path_words(other))),
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
        via_proxy: path.via_proxy.clone(),
        azure_dns: None,
        tls: path.tls.as_ref().map(tls_json),
        http: path.http.as_ref().map(http_json),
        code: None,
        error,
    }
}

/// A path outcome in a few words.
fn path_words(outcome: &PathOutcome) -> String {
    match outcome {
        PathOutcome::Open => "open".into(),
        PathOutcome::Refused => "connection refused".into(),
        PathOutcome::TimedOut => "no answer to SYN".into(),
        PathOutcome::Unreachable => "no route to host".into(),
        PathOutcome::UdpRejected => "ICMP port unreachable".into(),
        PathOutcome::UdpAnswered => "answered".into(),
        PathOutcome::UdpNoRejection => "no rejection seen (open or filtered)".into(),
        PathOutcome::NotDialled(why) => format!("not dialled: {why}"),
        PathOutcome::Failed(e) | PathOutcome::ProxyFailed(e) => e.clone(),
        PathOutcome::DeadlineExceeded => "deadline reached".into(),
        PathOutcome::ProxyUnreachable { proxy, outcome } => format!("proxy {proxy}: {}", path_words(outcome)),
        PathOutcome::ProxyAuthRequired { line, .. } => format!("proxy asks for authentication: {line}"),
        PathOutcome::ProxyDenied { line, .. } => format!("proxy refused CONNECT: {line}"),
    }
}

fn tls_json(tls: &TlsObservation) -> serde_json::Value {
    let leaf = tls.chain.first();
    let error = match &tls.failure {
        None => None,
        Some(TlsFailure::Untrusted(r) | TlsFailure::Expired(r) | TlsFailure::Other(r)) => Some(r.clone()),
        Some(TlsFailure::Reset) => Some("reset after the ClientHello".to_string()),
        Some(TlsFailure::Closed) => Some("closed after the ClientHello".to_string()),
        Some(TlsFailure::TimedOut) => Some("no ServerHello before the timeout".to_string()),
    };
    serde_json::json!({
        "version": tls.version,
        "alpn": tls.alpn,
        "issuer": leaf.map(|c| c.issuer.clone()),
        "subject": leaf.map(|c| c.subject.clone()),
        "names": leaf.map(|c| c.names.clone()).unwrap_or_default(),
        "not_before": leaf.map(|c| c.not_before.clone()),
        "not_after": leaf.map(|c| c.not_after.clone()),
        "chain_issuers": tls.chain.iter().map(|c| c.issuer.clone()).collect::<Vec<_>>(),
        "verified": tls.verified,
        "error": error,
        "elapsed_ms": tls.elapsed.as_millis() as u64,
    })
}

fn http_json(http: &HttpObservation) -> serde_json::Value {
    serde_json::json!({
        "url": http.url,
        "status": http.status,
        "server": http.server,
        "via": http.via,
        "location": http.location,
        "via_proxy": http.via_proxy,
        "error": http.error,
        "elapsed_ms": http.elapsed.as_millis() as u64,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::catalogue::Catalogue;
    use crate::lab::lab_target;

    fn obs_for(plan: &Plan, host: &str, addr: &str, chain: &[&str], outcome: PathOutcome) -> Observations {
        let name = NameObservation {
            host: host.into(),
            resolver: Some("127.0.0.1:53".parse().unwrap()),
            outcome: NameOutcome::Resolved,
            cname_chain: chain.iter().map(|s| s.to_string()).collect(),
            addresses: vec![addr.parse().unwrap()],
            elapsed: Duration::from_millis(1),
            problems: vec![],
            pinned: None,
            azure_answer: None,
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
            tls: None,
            http: None,
            via_proxy: None,
        };
        Observations { names: vec![name], paths: vec![path] }
    }

    fn settings(judge_dns: bool) -> DiagnoseSettings {
        DiagnoseSettings {
            policy: AddressPolicy::new(vec![]),
            judge_dns,
            machine: Default::default(),
            judge_local: false,
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
        let settings = settings(true);
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
        let settings = settings(false);
        let d = diagnose(&plan, &obs, &settings);
        let codes: Vec<&str> = d.findings.iter().map(|f| f.code).collect();
        assert_eq!(codes, vec!["tcp-timeout"]);
        assert_eq!(d.findings[0].hosts, vec![format!("{host}:443")]);
    }

    #[test]
    fn a_private_answer_through_privatelink_passes() {
        let plan = Plan::build(Catalogue::builtin(), &lab_target());
        let host = "kv-contoso-ml-lab.vault.azure.net";
        let obs =
            obs_for(&plan, host, "10.0.1.9", &["kv-contoso-ml-lab.privatelink.vaultcore.azure.net"], PathOutcome::Open);
        let settings = settings(true);
        let d = diagnose(&plan, &obs, &settings);
        assert!(d.findings.is_empty());
        assert!(d.checks.iter().all(|c| c.status == Status::Pass));
    }
}

#[cfg(test)]
mod http_tests {
    use super::*;

    fn answer(status: u16, server: Option<&str>, via: Option<&str>, body: &str) -> HttpObservation {
        HttpObservation {
            url: "https://pypi.org/simple/".into(),
            status: Some(status),
            server: server.map(str::to_string),
            via: via.map(str::to_string),
            body_start: body.into(),
            ..HttpObservation::default()
        }
    }

    fn code_of(http: &HttpObservation) -> Option<&'static str> {
        judge_http("pypi.org", http, Severity::Warning).first().map(|v| v.0)
    }

    #[test]
    fn tells_a_denial_from_the_service() {
        assert_eq!(code_of(&answer(470, None, None, "Action: Deny. No rule matched.")), Some("http-blocked"));
        assert_eq!(code_of(&answer(403, Some("squid/5.7"), None, "")), Some("http-blocked"));
        assert_eq!(code_of(&answer(403, None, Some("1.1 proxy.corp"), "")), Some("http-blocked"));
        assert_eq!(
            code_of(&answer(403, Some("nginx"), None, "<title>Blocked</title> access denied")),
            Some("http-blocked")
        );
        // The service's own answers, even refusals, mean the path works.
        assert_eq!(code_of(&answer(403, Some("Microsoft-HTTPAPI/2.0"), None, "access denied")), None);
        assert_eq!(code_of(&answer(404, Some("nginx"), None, "not found")), None);
        assert_eq!(code_of(&answer(200, None, None, "")), None);
        let failed = HttpObservation { error: Some("operation timed out".into()), ..HttpObservation::default() };
        assert_eq!(code_of(&failed), Some("http-failed"));
    }
}
