//! Whole-stage tests: observations of the lab workspace in, the findings
//! out; the per-rule tests live beside each rule.

use std::time::Duration;

use super::*;
use crate::catalogue::Catalogue;
use crate::lab::lab_target;
use crate::probe::{NameOutcome, PathOutcome};

fn plan() -> Plan {
    Plan::build(Catalogue::builtin(), &lab_target())
}

fn name(host: &str, addr: &str, chain: &[&str]) -> NameObservation {
    NameObservation {
        host: host.into(),
        resolver: Some("127.0.0.1:53".parse().unwrap()),
        outcome: NameOutcome::Resolved,
        cname_chain: chain.iter().map(|s| s.to_string()).collect(),
        addresses: vec![addr.parse().unwrap()],
        elapsed: Duration::from_millis(1),
        problems: vec![],
        pinned: None,
        azure_answer: None,
    }
}

fn obs_for(plan: &Plan, host: &str, addr: &str, chain: &[&str], outcome: PathOutcome) -> Observations {
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
        udp_wait: None,
    };
    Observations { names: vec![name(host, addr, chain)], paths: vec![path], ..Observations::default() }
}

fn settings(judge_dns: bool) -> DiagnoseSettings {
    DiagnoseSettings {
        policy: AddressPolicy::new(vec![]),
        judge_dns,
        machine: Default::default(),
        proxy: Default::default(),
        judge_local: false,
    }
}

fn codes(d: &Diagnosis) -> Vec<Code> {
    d.findings.iter().map(|f| f.code).collect()
}

const KV: &str = "kv-contoso-ml-lab.vault.azure.net";
const KV_LINK: &str = "kv-contoso-ml-lab.privatelink.vaultcore.azure.net";

#[test]
fn a_failed_name_gets_no_path_finding_on_top() {
    let plan = plan();
    let obs = obs_for(&plan, KV, "203.0.113.9", &[KV_LINK], PathOutcome::TimedOut);
    let d = diagnose(&plan, &obs, &settings(true));
    assert_eq!(codes(&d), vec![Code::DnsPublicAnswer]);
    let tcp = d.checks.iter().find(|c| c.area() == Area::Tcp).unwrap();
    assert_eq!(tcp.status(), Status::Skip);
}

#[test]
fn with_dns_not_judged_the_path_finding_stands() {
    let plan = plan();
    let obs = obs_for(&plan, KV, "203.0.113.9", &[], PathOutcome::TimedOut);
    let d = diagnose(&plan, &obs, &settings(false));
    assert_eq!(codes(&d), vec![Code::TcpTimeout]);
    assert_eq!(d.findings[0].hosts, vec![format!("{KV}:443")]);
}

#[test]
fn a_private_answer_through_privatelink_passes() {
    let plan = plan();
    let obs = obs_for(&plan, KV, "10.0.1.9", &[KV_LINK], PathOutcome::Open);
    let d = diagnose(&plan, &obs, &settings(true));
    assert!(d.findings.is_empty());
    assert!(d.checks.iter().all(|c| c.status() == Status::Pass));
}

#[test]
fn an_unfinished_required_probe_is_an_error() {
    let plan = plan();
    let obs = obs_for(&plan, KV, "10.0.1.9", &[KV_LINK], PathOutcome::DeadlineExceeded);
    let d = diagnose(&plan, &obs, &settings(true));
    assert_eq!(codes(&d), vec![Code::RunDeadlineExceeded]);
    assert_eq!(d.findings[0].severity, Severity::Error, "a required check that was not judged cannot pass");
    assert_eq!(d.checks[1].status(), Status::Skip);
}

/// The name observation that makes the name rules produce `code`, where
/// one exists: one case per DNS code, asserted by value.
#[test]
fn every_name_code_comes_from_its_rule() {
    let plan = plan();
    let kv = plan.endpoints.iter().find(|e| e.host == KV).unwrap();
    let vnet = DiagnoseSettings { policy: AddressPolicy::new(vec!["10.0.0.0/16".parse().unwrap()]), ..settings(true) };
    let with =
        |outcome: NameOutcome| NameObservation { outcome, addresses: vec![], ..name(KV, "10.0.1.9", &[KV_LINK]) };
    let cases: Vec<(Code, NameObservation)> = vec![
        (Code::DnsNxdomain, with(NameOutcome::NxDomain { missing: KV_LINK.into() })),
        (Code::DnsTimeout, with(NameOutcome::Timeout)),
        (Code::DnsServerError, with(NameOutcome::ServerError("REFUSED".into()))),
        (Code::DnsNoAddress, with(NameOutcome::NoAddress)),
        (Code::DnsNoAddress, with(NameOutcome::CnameLoop)),
        (Code::DnsNoAddress, with(NameOutcome::ChainTooLong(16))),
        (Code::DnsServerError, with(NameOutcome::ServerError("RCODE 11".into()))),
        (Code::DnsServerError, with(NameOutcome::Malformed("127.0.0.1:53: a reply without the question".into()))),
        (Code::DnsPublicAnswer, name(KV, "203.0.113.9", &[KV_LINK])),
        (Code::DnsNoPrivatelink, name(KV, "203.0.113.9", &["edge.example.net"])),
        (Code::DnsZoneOverride, name(KV, "10.0.1.9", &[])),
        (Code::DnsOutsideVnet, name(KV, "10.9.0.4", &[KV_LINK])),
        (Code::DockerBridgeOverlap, name(KV, "172.17.0.9", &[KV_LINK])),
        (Code::RunDeadlineExceeded, with(NameOutcome::DeadlineExceeded)),
        (
            Code::DnsCustomNoForwarder,
            NameObservation {
                azure_answer: Some(Box::new(name(KV, "10.0.1.9", &[KV_LINK]))),
                ..name(KV, "203.0.113.9", &[KV_LINK])
            },
        ),
        (
            Code::DnsHostsOverride,
            NameObservation {
                pinned: Some(crate::local::hosts::HostsEntry {
                    address: "10.0.1.9".parse().unwrap(),
                    name: KV.into(),
                    file: "/etc/hosts".into(),
                    line: 3,
                }),
                ..name(KV, "10.0.1.9", &[])
            },
        ),
    ];
    for (code, seen) in cases {
        let verdict = names::judge_name(&seen, Some(kv), &vnet);
        assert_eq!(verdict.map(|v| v.code), Some(code), "{seen:?}");
    }
}

/// Several addresses: servers rotate their order, so a mixed answer is a
/// warning (some connections leave the private endpoint), all public an error.
#[test]
fn a_mixed_answer_is_a_warning_and_names_each_address() {
    let plan = plan();
    let kv = plan.endpoints.iter().find(|e| e.host == KV).unwrap();
    let s = settings(true);
    let with = |addrs: &[&str]| NameObservation {
        addresses: addrs.iter().map(|a| a.parse().unwrap()).collect(),
        ..name(KV, "10.0.1.9", &[KV_LINK])
    };
    let v6_private = names::judge_name(&with(&["fd00::9"]), Some(kv), &s);
    assert_eq!(v6_private, None, "an AAAA-only private answer is fine");
    for order in [["10.0.1.9", "203.0.113.9"], ["203.0.113.9", "10.0.1.9"]] {
        let mixed = names::judge_name(&with(&order), Some(kv), &s).unwrap();
        assert_eq!((mixed.code, mixed.works_today), (Code::DnsPublicAnswer, true), "{order:?}");
        assert!(mixed.evidence.contains("10.0.1.9 (private), ") || mixed.evidence.contains("10.0.1.9 (private);"));
        assert!(mixed.evidence.contains("203.0.113.9 (public)"), "{}", mixed.evidence);
    }
    let public = names::judge_name(&with(&["203.0.113.9", "203.0.113.10"]), Some(kv), &s).unwrap();
    assert_eq!((public.code, public.works_today), (Code::DnsPublicAnswer, false));
}

/// A custom server that is down is a dead server, not a missing forwarder,
/// even where Azure DNS knows the private answer.
#[test]
fn a_silent_custom_server_is_not_a_missing_forwarder() {
    let plan = plan();
    let kv = plan.endpoints.iter().find(|e| e.host == KV).unwrap();
    let s = settings(true);
    for outcome in [NameOutcome::Timeout, NameOutcome::ServerError("SERVFAIL".into())] {
        let seen = NameObservation {
            outcome: outcome.clone(),
            addresses: vec![],
            azure_answer: Some(Box::new(name(KV, "10.0.1.9", &[KV_LINK]))),
            ..name(KV, "10.0.1.9", &[KV_LINK])
        };
        let v = names::judge_name(&seen, Some(kv), &s).unwrap();
        assert_ne!(v.code, Code::DnsCustomNoForwarder, "{outcome:?}");
        assert!(v.evidence.contains("the configured server is not answering"), "{}", v.evidence);
    }
}
