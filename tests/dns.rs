//! The resolver against servers that misbehave: on loopback, amlnet's DNS
//! client must end where glibc's stub resolver ends; and in a namespace of
//! its own (tests/sandbox), the same resolv.conf is given to real glibc
//! (`getent ahosts`, and Python's `socket.getaddrinfo` for the error kind)
//! and to amlnet, and they must agree.

mod dnsfaults;
mod sandbox;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use amlnet::local::resolv::ResolvConf;
use amlnet::net::ResolverRules;
use amlnet::probe::{DnsClient, NameObservation, NameOutcome};
use dnsfaults::{Fault, FaultyServer, loopback, start};

fn resolve(servers: &[&FaultyServer], rules: ResolverRules, host: &str) -> NameObservation {
    let client = DnsClient::new(servers.iter().map(|s| s.addr).collect(), rules, Duration::from_secs(2));
    tokio::runtime::Runtime::new().unwrap().block_on(client.resolve(host))
}

fn quick() -> ResolverRules {
    ResolverRules { timeout: Duration::from_secs(1), attempts: 1, ..ResolverRules::default() }
}

fn addrs(obs: &NameObservation) -> Vec<String> {
    obs.addresses.iter().map(|a| a.to_string()).collect()
}

#[test]
fn refused_servfail_notimp_and_lame_pass_to_the_next_server() {
    let healthy = start(loopback(1, 0), Fault::Healthy);
    for fault in [Fault::Rcode(5), Fault::Rcode(2), Fault::Rcode(4), Fault::Lame] {
        let bad = start(loopback(1, 0), fault);
        let obs = resolve(&[&bad, &healthy], quick(), "ok.t.test");
        assert_eq!(obs.outcome, NameOutcome::Resolved, "{fault:?}: {obs:?}");
        assert_eq!(obs.resolver, Some(healthy.addr), "{fault:?}");
        assert_eq!(addrs(&obs), ["10.1.0.5"]);
        assert_eq!(obs.problems.len(), 1, "the first server's answer is told: {obs:?}");
        let alone = resolve(&[&bad], quick(), "ok.t.test");
        assert!(matches!(alone.outcome, NameOutcome::ServerError(_)), "{fault:?}: {alone:?}");
    }
}

#[test]
fn other_rcodes_are_taken_and_named() {
    let healthy = start(loopback(1, 0), Fault::Healthy);
    for (code, words) in [(1u8, "FORMERR"), (11, "RCODE 11"), (9, "NOTAUTH")] {
        let bad = start(loopback(1, 0), Fault::Rcode(code));
        let obs = resolve(&[&bad, &healthy], quick(), "ok.t.test");
        assert_eq!(obs.outcome, NameOutcome::ServerError(words.into()), "{obs:?}");
        assert_eq!(obs.resolver, Some(bad.addr));
        assert_eq!(healthy.queries.load(std::sync::atomic::Ordering::SeqCst), 0, "glibc does not ask on");
    }
}

#[test]
fn silence_and_unreadable_replies_move_on_and_are_told_apart() {
    let healthy = start(loopback(1, 0), Fault::Healthy);
    let silent = start(loopback(1, 0), Fault::Silent);
    let obs = resolve(&[&silent, &healthy], quick(), "ok.t.test");
    assert_eq!((obs.outcome.clone(), obs.resolver), (NameOutcome::Resolved, Some(healthy.addr)));
    assert_eq!(resolve(&[&silent], quick(), "ok.t.test").outcome, NameOutcome::Timeout);
    for fault in [Fault::Undersized, Fault::HeaderOnly] {
        let bad = start(loopback(1, 0), fault);
        let obs = resolve(&[&bad, &healthy], quick(), "ok.t.test");
        assert_eq!(obs.outcome, NameOutcome::Resolved, "{fault:?}: {obs:?}");
        let alone = resolve(&[&bad], quick(), "ok.t.test");
        assert!(matches!(&alone.outcome, NameOutcome::Malformed(w) if w.contains("unreadable")), "{alone:?}");
    }
}

#[test]
fn a_truncated_answer_is_asked_again_over_tcp() {
    let tc = start(loopback(1, 0), Fault::Truncated);
    let obs = resolve(&[&tc], quick(), "both.t.test");
    assert_eq!(obs.outcome, NameOutcome::Resolved, "{obs:?}");
    assert_eq!(addrs(&obs), ["10.1.0.6", "fd00::6"]);
    let no_tcp = start(loopback(1, 0), Fault::TruncatedNoTcp);
    let obs = resolve(&[&no_tcp], quick(), "ok.t.test");
    assert!(matches!(&obs.outcome, NameOutcome::Failed(w) if w.contains("truncated")), "{obs:?}");
}

#[test]
fn attempts_are_rounds_over_every_server() {
    let late = start(loopback(1, 0), Fault::SilentFirst(2));
    let obs = resolve(&[&late], quick(), "ok.t.test");
    assert_eq!(obs.outcome, NameOutcome::Timeout, "one try: {obs:?}");
    let late = start(loopback(1, 0), Fault::SilentFirst(2));
    let rules = ResolverRules { attempts: 2, ..quick() };
    assert_eq!(resolve(&[&late], rules, "ok.t.test").outcome, NameOutcome::Resolved);
}

#[test]
fn aaaa_only_long_chains_and_several_addresses() {
    let healthy = start(loopback(1, 0), Fault::Healthy);
    let v6 = resolve(&[&healthy], quick(), "v6only.t.test");
    assert_eq!((v6.outcome.clone(), addrs(&v6)), (NameOutcome::Resolved, vec!["fd00::5".to_string()]));
    let long = resolve(&[&healthy], quick(), "long.t.test");
    assert_eq!(long.outcome, NameOutcome::Resolved, "{long:?}");
    assert_eq!(long.cname_chain.len(), 14);
    assert_eq!(addrs(&long), ["10.1.0.8"]);
    let mixed = resolve(&[&healthy], quick(), "mixed.t.test");
    assert_eq!(addrs(&mixed), ["10.1.0.7", "203.0.113.7"]);
    // The server stops at a CNAME: clients get no address, whatever its target has.
    let stub = resolve(&[&healthy], quick(), "stub.t.test");
    assert_eq!(stub.outcome, NameOutcome::NoAddress, "{stub:?}");
    assert!(
        stub.problems.iter().any(|p| p.contains("does not follow the CNAME") && p.contains("10.1.0.5")),
        "{stub:?}"
    );
    let nx = resolve(&[&healthy], quick(), "nx.t.test");
    assert_eq!(nx.outcome, NameOutcome::NxDomain { missing: "nx.t.test".into() });
}

#[test]
fn with_rotate_a_server_that_fails_some_lookups_is_the_verdict() {
    let healthy = start(loopback(1, 0), Fault::Healthy);
    let nx = start(loopback(1, 0), Fault::Rcode(3));
    let rules = ResolverRules { rotate: true, ..quick() };
    let obs = resolve(&[&healthy, &nx], rules, "ok.t.test");
    assert_eq!(obs.outcome, NameOutcome::NxDomain { missing: "ok.t.test".into() }, "{obs:?}");
    assert!(obs.problems.iter().any(|p| p.contains("rotate") && p.contains("NXDOMAIN for ok.t.test")), "{obs:?}");
    let obs = resolve(&[&healthy, &nx], quick(), "ok.t.test");
    assert_eq!(obs.outcome, NameOutcome::Resolved, "without rotate the first server decides");
}

// ---- glibc, side by side -------------------------------------------------

const SUITE: sandbox::Suite =
    sandbox::Suite { file: "tests/dns.rs", tools: &[sandbox::IP, GETENT, PYTHON], timeout: Duration::from_secs(240) };
const GETENT: sandbox::Tool = sandbox::Tool { bin: "getent", package: "libc-bin" };
const PYTHON: sandbox::Tool = sandbox::Tool { bin: "python3", package: "python3" };

#[test]
fn suite_status() {
    sandbox::status(&SUITE);
}

/// How a lookup ended, in the terms both sides share.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ending {
    Addresses(BTreeSet<IpAddr>),
    /// EAI_NONAME / EAI_NODATA: the name (or its address) does not exist.
    NoSuchName,
    /// EAI_AGAIN: no server gave a usable answer (errors or silence).
    TryAgain,
    /// EAI_FAIL: a server gave an answer that ends the lookup.
    Fail,
    /// getent failed and the next getaddrinfo succeeded (only with `rotate`).
    Varies,
}

fn amlnet_ending(obs: &NameObservation) -> Ending {
    match &obs.outcome {
        NameOutcome::Resolved => Ending::Addresses(obs.addresses.iter().copied().collect()),
        NameOutcome::NxDomain { .. } | NameOutcome::NoAddress => Ending::NoSuchName,
        NameOutcome::ServerError(c) if obs.resolver.is_some() && !c.contains("lame") => {
            // An RCODE the client took (not one it passed on): NO_RECOVERY.
            Ending::Fail
        }
        _ => Ending::TryAgain,
    }
}

/// glibc's answer: `getent ahosts` for the addresses, Python's getaddrinfo for the error kind.
fn glibc_ending(host: &str) -> (Ending, Duration) {
    let started = Instant::now();
    let o = Command::new("getent").args(["ahosts", host]).output().unwrap();
    let took = started.elapsed();
    if o.status.success() {
        let set = String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter_map(|l| l.split_whitespace().next()?.parse().ok())
            .collect();
        return (Ending::Addresses(set), took);
    }
    let py = "import socket,sys\ntry:\n socket.getaddrinfo(sys.argv[1], None)\n print('ok')\nexcept socket.gaierror as e:\n print({socket.EAI_NONAME:'noname',socket.EAI_AGAIN:'again',socket.EAI_FAIL:'fail'}.get(e.errno, 'noname' if e.errno == -5 else str(e.errno)))";
    let o = Command::new("python3").args(["-c", py, host]).output().unwrap();
    let kind = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let ending = match kind.as_str() {
        "noname" => Ending::NoSuchName,
        "again" => Ending::TryAgain,
        "fail" => Ending::Fail,
        "ok" => Ending::Varies,
        other => panic!("getent failed but getaddrinfo says {other:?}"),
    };
    (ending, took)
}

#[test]
fn glibc_and_amlnet_end_alike_on_the_same_resolv_conf() {
    sandbox::run(&SUITE, glibc_and_amlnet_end_alike_body);
}

fn glibc_and_amlnet_end_alike_body() {
    let sh = |args: &[&str]| {
        let o = Command::new(args[0]).args(&args[1..]).output().unwrap();
        assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    };
    sh(&["ip", "link", "set", "lo", "up"]);
    // The files glibc reads, ours for the test: only DNS after an empty hosts file.
    let dir = std::env::temp_dir().join(format!("amlnet-glibc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (resolv, hosts, nss) = (dir.join("resolv.conf"), dir.join("hosts"), dir.join("nsswitch.conf"));
    std::fs::write(&resolv, "").unwrap();
    std::fs::write(&hosts, "127.0.0.1 localhost\n").unwrap();
    std::fs::write(&nss, "hosts: files dns\n").unwrap();
    for (file, over) in [(&resolv, "/etc/resolv.conf"), (&hosts, "/etc/hosts"), (&nss, "/etc/nsswitch.conf")] {
        sh(&["mount", "--bind", file.to_str().unwrap(), over]);
    }
    // One server per behaviour, each on its own loopback address at port 53.
    let faults = [
        (2, Fault::Healthy),
        (3, Fault::Rcode(5)),
        (4, Fault::Rcode(2)),
        (5, Fault::Rcode(4)),
        (6, Fault::Silent),
        (7, Fault::Undersized),
        (8, Fault::HeaderOnly),
        (9, Fault::Truncated),
        (10, Fault::Rcode(1)),
        (11, Fault::Rcode(11)),
        (12, Fault::Rcode(3)),
        (13, Fault::TruncatedNoTcp),
        (14, Fault::Lame),
    ];
    let _servers: Vec<FaultyServer> = faults.iter().map(|(last, f)| start(loopback(*last, 53), *f)).collect();
    let at = |last: u8| format!("nameserver 127.0.0.{last}\n");
    let healthy = at(2);
    let quick = "options timeout:1 attempts:1\n";
    let cases: Vec<(String, String)> = vec![
        ("refused then healthy".into(), format!("{}{healthy}{quick}", at(3))),
        ("servfail then healthy".into(), format!("{}{healthy}{quick}", at(4))),
        ("notimp then healthy".into(), format!("{}{healthy}{quick}", at(5))),
        ("lame then healthy".into(), format!("{}{healthy}{quick}", at(14))),
        ("refused alone".into(), format!("{}{quick}", at(3))),
        ("silent then healthy".into(), format!("{}{healthy}{quick}", at(6))),
        ("silent alone".into(), format!("{}{quick}", at(6))),
        ("undersized then healthy".into(), format!("{}{healthy}{quick}", at(7))),
        ("header only then healthy".into(), format!("{}{healthy}{quick}", at(8))),
        ("truncated, TCP answers".into(), format!("{}{quick}", at(9))),
        ("truncated, no TCP, then healthy".into(), format!("{}{healthy}{quick}", at(13))),
        ("formerr then healthy".into(), format!("{}{healthy}{quick}", at(10))),
        ("rcode 11 then healthy".into(), format!("{}{healthy}{quick}", at(11))),
        ("nxdomain then healthy".into(), format!("{}{healthy}{quick}", at(12))),
        ("three refusing, healthy fourth (MAXNS)".into(), format!("{}{}{}{healthy}{quick}", at(3), at(4), at(5))),
        ("two attempts over a silent server".into(), format!("{}options timeout:1 attempts:2\n", at(6))),
    ];
    let hosts =
        ["ok.t.test", "both.t.test", "v6only.t.test", "mixed.t.test", "long.t.test", "nx.t.test", "stub.t.test"];
    let mut compared = 0;
    let mut disagreements = Vec::new();
    for (label, text) in &cases {
        let case_started = Instant::now();
        std::fs::write(&resolv, text).unwrap();
        let rc = ResolvConf::parse("/etc/resolv.conf", text);
        let client = DnsClient::new(rc.servers(), rc.rules(None), Duration::from_secs(30));
        let runtime = tokio::runtime::Runtime::new().unwrap();
        // Slow cases are compared on one name: each costs whole timeouts.
        let slow = ["silent", "attempts", "undersized", "header only"].iter().any(|w| label.contains(w));
        let names: &[&str] = if slow { &hosts[..1] } else { &hosts };
        for host in names {
            let (glibc, glibc_took) = glibc_ending(host);
            let started = Instant::now();
            let obs = runtime.block_on(client.resolve(host));
            let ours = amlnet_ending(&obs);
            let took = started.elapsed();
            compared += 1;
            // glibc takes FORMERR or an unknown RCODE without asking on, and
            // getaddrinfo then says "not found"; amlnet names the RCODE.
            let alike = glibc == ours || (ours == Ending::Fail && glibc == Ending::NoSuchName);
            if !alike {
                disagreements.push(format!("{label} / {host}: glibc {glibc:?}, amlnet {ours:?} ({:?})", obs.outcome));
            }
            // Timeouts are waited alike: within half a second of each other.
            if glibc_took > Duration::from_millis(900) && glibc_took.abs_diff(took) > Duration::from_millis(500) {
                disagreements.push(format!("{label} / {host}: glibc took {glibc_took:?}, amlnet {took:?}"));
            }
        }
        eprintln!("{label}: {:?}", case_started.elapsed());
    }
    // rotate: each getent process starts at a random server, so over many
    // runs glibc shows both endings; amlnet reports the failing one.
    std::fs::write(&resolv, format!("{healthy}{}options rotate timeout:1 attempts:1\n", at(12))).unwrap();
    let seen: BTreeSet<String> = (0..16).map(|_| format!("{:?}", glibc_ending("ok.t.test").0)).collect();
    let rc = ResolvConf::parse("r", &std::fs::read_to_string(&resolv).unwrap());
    let obs = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(DnsClient::new(rc.servers(), rc.rules(None), Duration::from_secs(5)).resolve("ok.t.test"));
    compared += 1;
    let both = seen.iter().any(|e| e.starts_with("Addresses")) && seen.iter().any(|e| !e.starts_with("Addresses"));
    if !both || amlnet_ending(&obs) != Ending::NoSuchName {
        disagreements.push(format!("rotate: glibc's endings over 16 runs {seen:?}, amlnet {:?}", obs.outcome));
    }
    eprintln!("glibc differential: {compared} lookups compared over {} resolv.conf cases", cases.len() + 1);
    assert!(disagreements.is_empty(), "glibc and amlnet disagree:\n{}", disagreements.join("\n"));
}
