//! Rules about names: what the resolver answered (or the hosts file
//! pinned) against what the endpoint needs: a private address reached
//! through its privatelink CNAME, inside the VNet.

use super::{Code, Collector, DiagnoseSettings, Hit, NameCheck, PlannedEndpoint, Status, Verdict, any_required};
use crate::catalogue::Expect;
use crate::net::AddressClass;
use crate::probe::{NameObservation, NameOutcome};

/// What a rule concluded about a name.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct NameVerdict {
    pub code: Code,
    pub evidence: String,
    /// It works today (a private pin): judged as if only situationally needed.
    pub works_today: bool,
}

impl NameVerdict {
    fn new(code: Code, evidence: String) -> NameVerdict {
        NameVerdict { code, evidence, works_today: false }
    }
}

/// Judges one name and records its finding; `proxied` says every path of
/// the host goes through the proxy.
pub(super) fn judge(
    name: &NameObservation,
    endpoints: &[&PlannedEndpoint],
    settings: &DiagnoseSettings,
    proxied: bool,
    out: &mut Collector,
) -> NameCheck {
    let mut verdict = Verdict::pass(outcome_words(&name.outcome));
    if !settings.judge_dns {
        verdict.status = Status::Skip;
        verdict.error = Some("not judged (--skip dns); resolved only to dial".into());
        return NameCheck { seen: name.clone(), verdict };
    }
    let private = endpoints.iter().find(|e| e.expect == Expect::Private).copied();
    let Some(found) = judge_name(name, private, settings) else {
        return NameCheck { seen: name.clone(), verdict };
    };
    // A name the clients only ever send to the proxy is resolved by the
    // proxy: this machine's lookup failing is a note, and the proxy's
    // answer on the path is the verdict.
    if proxied && private.is_none() && is_lookup_failure(found.code) {
        verdict.error = Some(format!(
            "{}; not needed here: clients send {} to the proxy, which resolves it",
            found.evidence, name.host
        ));
        return NameCheck { seen: name.clone(), verdict };
    }
    let severity = found.code.severity(any_required(endpoints) && !found.works_today);
    verdict.code = Some(found.code);
    verdict.error = Some(found.evidence.clone());
    if matches!(found.code, Code::RunDeadlineExceeded | Code::RunInterrupted) {
        verdict.status = Status::Skip;
        let label = format!("dns {}", name.host);
        out.add(found.code, severity, Hit::new(&label, format!("{label}: {}", found.evidence)));
        return NameCheck { seen: name.clone(), verdict };
    }
    verdict.status = Status::of(severity);
    let evidence = if found.evidence.starts_with(&name.host) {
        found.evidence
    } else {
        format!("{}: {}", name.host, found.evidence)
    };
    let zone = private.and_then(|p| p.privatelink_zone.clone()).filter(|_| found.code.names_zone());
    out.add(found.code, severity, Hit { zone, ..Hit::new(&name.host, evidence) });
    NameCheck { seen: name.clone(), verdict }
}

/// The codes of a lookup that did not give an address.
fn is_lookup_failure(code: Code) -> bool {
    matches!(code, Code::DnsNxdomain | Code::DnsTimeout | Code::DnsServerError | Code::DnsNoAddress)
}

/// A DNS outcome in a few words, for the check.
fn outcome_words(outcome: &NameOutcome) -> Option<String> {
    Some(match outcome {
        NameOutcome::Resolved => return None,
        NameOutcome::NxDomain { missing } => format!("NXDOMAIN for {missing}"),
        NameOutcome::NoAddress => "no address record".into(),
        NameOutcome::CnameLoop => "CNAME loop".into(),
        NameOutcome::Malformed(_) => "unreadable answer".into(),
        NameOutcome::ChainTooLong(n) => format!("CNAME chain longer than {n} links"),
        NameOutcome::ServerError(c) => format!("server answered {c}"),
        NameOutcome::Timeout => "no DNS server answered".into(),
        NameOutcome::Failed(e) | NameOutcome::LocalError(e) => e.clone(),
        NameOutcome::DeadlineExceeded => "deadline reached".into(),
        NameOutcome::Interrupted => "interrupted".into(),
    })
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

pub(super) fn judge_name(
    name: &NameObservation,
    private: Option<&PlannedEndpoint>,
    settings: &DiagnoseSettings,
) -> Option<NameVerdict> {
    if name.pinned.is_some() {
        return pinned_verdict(name, settings);
    }
    let verdict = judge_answer(name, private, settings);
    forwarder_verdict(name, private, settings, verdict.as_ref()).or(verdict)
}

/// A hosts-file entry decided the address; DNS was not asked.
fn pinned_verdict(name: &NameObservation, settings: &DiagnoseSettings) -> Option<NameVerdict> {
    let entry = name.pinned.as_ref()?;
    let class = settings.policy.classify(entry.address);
    let code = if class == AddressClass::DockerBridge { Code::DockerBridgeOverlap } else { Code::DnsHostsOverride };
    let evidence =
        format!("{} -> {} pinned by {} line {} (DNS not asked)", name.host, entry.address, entry.file, entry.line);
    Some(NameVerdict { code, evidence, works_today: class == AddressClass::Private })
}

/// Where Azure DNS knows the private answer the configured server lacks,
/// the cause is the server's forwarding, not the zone.
fn forwarder_verdict(
    name: &NameObservation,
    private: Option<&PlannedEndpoint>,
    settings: &DiagnoseSettings,
    verdict: Option<&NameVerdict>,
) -> Option<NameVerdict> {
    let (verdict, azure) = (verdict?, name.azure_answer.as_ref()?);
    // Only an answer can be a missing forwarder: a server that is silent
    // or failing is down or unreachable, whatever Azure DNS knows.
    let forwardable = matches!(verdict.code, Code::DnsPublicAnswer | Code::DnsNoPrivatelink | Code::DnsNxdomain);
    if azure.outcome != NameOutcome::Resolved || judge_answer(azure, private, settings).is_some() {
        return None;
    }
    if !forwardable {
        return Some(NameVerdict::new(
            verdict.code,
            format!(
                "{}; Azure DNS ({}) answers {}: the zone is fine, the configured server is not answering",
                verdict.evidence,
                azure.resolver.map(|r| r.to_string()).unwrap_or_default(),
                chain_text(azure)
            ),
        ));
    }
    Some(NameVerdict::new(
        Code::DnsCustomNoForwarder,
        format!(
            "{}; Azure DNS ({}) answers {}",
            verdict.evidence,
            azure.resolver.map(|r| r.to_string()).unwrap_or_default(),
            chain_text(azure)
        ),
    ))
}

/// The verdict on what the resolver answered.
fn judge_answer(
    name: &NameObservation,
    private: Option<&PlannedEndpoint>,
    settings: &DiagnoseSettings,
) -> Option<NameVerdict> {
    let by = name.resolver.map(|r| format!(" (answered by {r})")).unwrap_or_default();
    let (code, evidence) = match &name.outcome {
        NameOutcome::Resolved => return resolved_verdict(name, private, settings, &by),
        NameOutcome::Timeout => (Code::DnsTimeout, format!("no answer from {}", name.problems.join("; "))),
        NameOutcome::Failed(e) => (Code::DnsTimeout, e.clone()),
        NameOutcome::LocalError(e) => (Code::LocalDialFailed, format!("DNS query not sent: {e}")),
        NameOutcome::DeadlineExceeded => (Code::RunDeadlineExceeded, "unfinished at the deadline".into()),
        NameOutcome::Interrupted => (Code::RunInterrupted, "interrupted before it finished".into()),
        NameOutcome::ServerError(code) => (Code::DnsServerError, server_error_words(name, code, &by)),
        NameOutcome::Malformed(words) => (Code::DnsServerError, words.clone()),
        NameOutcome::ChainTooLong(n) => (
            Code::DnsNoAddress,
            format!("{}: CNAME chain longer than {n} links, not followed further{by}", chain_text(name)),
        ),
        NameOutcome::NxDomain { missing } if missing == &name.host => {
            (Code::DnsNxdomain, format!("{missing} does not exist{by}"))
        }
        NameOutcome::NxDomain { missing } => {
            (Code::DnsNxdomain, format!("{}: {missing} does not exist{by}", chain_text(name)))
        }
        NameOutcome::NoAddress if name.problems.iter().any(|p| p.contains("does not follow the CNAME")) => {
            (Code::DnsNoAddress, format!("{}: no address{by}; {}", chain_text(name), name.problems.join("; ")))
        }
        NameOutcome::NoAddress => (Code::DnsNoAddress, format!("{}: no A or AAAA record{by}", chain_text(name))),
        NameOutcome::CnameLoop => (Code::DnsNoAddress, format!("{}: CNAME loop, no address{by}", chain_text(name))),
    };
    Some(NameVerdict::new(code, evidence))
}

/// An error RCODE, with what each server said when more than one was asked.
fn server_error_words(name: &NameObservation, code: &str, by: &str) -> String {
    if name.problems.len() > 1 { format!("{code}{by}: {}", name.problems.join("; ")) } else { format!("{code}{by}") }
}

/// Addresses came back: are they where the endpoint needs them, by the right route?
fn resolved_verdict(
    name: &NameObservation,
    private: Option<&PlannedEndpoint>,
    settings: &DiagnoseSettings,
    by: &str,
) -> Option<NameVerdict> {
    let chain = chain_text(name);
    let classes: Vec<AddressClass> = name.addresses.iter().map(|a| settings.policy.classify(*a)).collect();
    if classes.contains(&AddressClass::DockerBridge) {
        return Some(NameVerdict::new(
            Code::DockerBridgeOverlap,
            format!("{chain}{by}: inside 172.17.0.0/16, Docker's bridge on Azure ML compute"),
        ));
    }
    if let Some(bridge) = super::local::bridge_here(&settings.machine)
        && name.addresses.iter().any(|a| bridge.contains(a))
    {
        return Some(NameVerdict::new(
            Code::DockerBridgeOverlap,
            format!("{chain}{by}: inside {bridge}, docker0's subnet on this machine"),
        ));
    }
    let zone = private?.privatelink_zone.as_deref().unwrap_or("privatelink");
    let through_zone = name.cname_chain.iter().any(|c| c == zone || c.ends_with(&format!(".{zone}")));
    let through_any = through_zone || name.cname_chain.iter().any(|c| c.split('.').any(|l| l == "privatelink"));
    // A client connects to the first address of its answer (IPv4 before
    // IPv6 here; glibc's RFC 6724 sort ties on addresses of one family and
    // scope), and servers rotate that order (dnsmasq, Azure DNS): with
    // private and public addresses in one answer, some connections leave
    // the private endpoint. All public is an error; mixed is a warning.
    let public = classes.iter().filter(|c| **c == AddressClass::Public).count();
    let mixed = public > 0 && public < classes.len();
    let first = if public == classes.len() { AddressClass::Public } else { AddressClass::Private };
    let by = &if mixed {
        let listed: Vec<String> =
            name.addresses.iter().zip(&classes).map(|(a, c)| format!("{a} ({})", class_words(*c))).collect();
        format!("{by}; the answer mixes {}, and its order rotates", listed.join(", "))
    } else {
        by.to_string()
    };
    if mixed && through_any {
        let evidence = format!("{chain}{by}: some connections go to the public address");
        return Some(NameVerdict { code: Code::DnsPublicAnswer, evidence, works_today: true });
    }
    let (code, evidence) = if first == AddressClass::Public && through_any {
        (Code::DnsPublicAnswer, format!("{chain}{by}: went through the privatelink CNAME, ended public"))
    } else if first == AddressClass::Public {
        (Code::DnsNoPrivatelink, format!("{chain}{by}: no privatelink CNAME (expected one in {zone})"))
    } else if classes.contains(&AddressClass::OutsideVnet) {
        (Code::DnsOutsideVnet, format!("{chain}{by}: private, but outside every --vnet-cidr"))
    } else if !through_any {
        (Code::DnsZoneOverride, format!("{chain}{by}: private address without the privatelink CNAME (expected {zone})"))
    } else {
        return None;
    };
    Some(NameVerdict::new(code, evidence))
}

fn class_words(class: AddressClass) -> &'static str {
    match class {
        AddressClass::DockerBridge => "Docker's bridge",
        AddressClass::Private => "private",
        AddressClass::OutsideVnet => "private, outside the VNet",
        AddressClass::Public => "public",
    }
}
