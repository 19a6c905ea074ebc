//! Every finding code, produced for real and asserted by value: a code is
//! mapped to the run that shows it (a lab scenario, or a check with this
//! machine's settings simulated by files and variables). The match is
//! exhaustive, so a new code does not compile until it has its producer.

mod util;

use std::collections::BTreeMap;

use amlnet::diagnose::Code;
use serde_json::Value;
use util::*;

/// How a code is produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Producer {
    /// `amlnet demo --scenario NAME` (with a short timeout).
    Demo(&'static str),
    /// `amlnet demo` with a deadline far shorter than the probes' timeout.
    DemoUnfinished,
    /// `amlnet demo` given Ctrl-C while probes wait.
    DemoInterrupted,
    /// `amlnet check` against the healthy lab, with this machine's settings
    /// given as a proxy environment, a ~/.bashrc and a hosts file.
    Local(Machine),
    /// `amlnet check` against the healthy lab with too few file descriptors
    /// (a hard RLIMIT_NOFILE it cannot raise) for the sockets it needs.
    FewDescriptors,
    /// Needs a network namespace; asserted by value in the named test file.
    Namespace(&'static str),
}

/// This machine's settings for a [`Producer::Local`] run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Machine {
    env: &'static [(&'static str, &'static str)],
    bashrc: &'static str,
    hosts: &'static str,
}

/// Enough descriptors to start and read the inputs, too few for every socket at once.
const FEW_DESCRIPTORS: libc::rlim_t = 24;

const PLAIN: Machine = Machine { env: &[], bashrc: "", hosts: "" };

fn producer(code: Code) -> Producer {
    use Producer::*;
    match code {
        Code::DnsNxdomain => Demo("acr-record-missing"),
        Code::DnsTimeout => Demo("dns-down"),
        Code::DnsServerError => Demo("dns-refused"),
        Code::DnsNoAddress => Demo("cname-loop"),
        Code::DnsPublicAnswer => Demo("storage-zone-unlinked"),
        Code::DnsNoPrivatelink => Demo("keyvault-no-private-endpoint"),
        Code::DnsZoneOverride => Demo("public-zone-override"),
        Code::DnsOutsideVnet => Demo("stale-record"),
        Code::DockerBridgeOverlap => Demo("docker-bridge"),
        Code::TcpTimeout => Demo("workspace-port-filtered"),
        Code::TcpRefused | Code::UdpRejected => Demo("firewall-rejects"),
        Code::TcpUnreachable => Namespace("tests/netns.rs"),
        Code::TlsUntrusted => Demo("tls-inspection"),
        Code::TlsInspected => Demo("tls-inspection-trusted"),
        Code::TlsReset => Demo("sni-filtered"),
        Code::TlsTimeout => Demo("vpn-mtu-blackhole"),
        Code::TlsClockSkew => Demo("clock-skew"),
        Code::TlsFailed => Demo("not-tls"),
        Code::HttpBlocked => Demo("pypi-blocked"),
        Code::HttpFailed => Demo("http-no-answer"),
        Code::DnsCustomNoForwarder => Demo("custom-dns-no-forwarder"),
        Code::ProxyUnreachable => Demo("proxy-down"),
        Code::HttpProxyAuth => Demo("proxy-auth-required"),
        Code::ProxyUpstreamFailed => Demo("proxy-upstream-failed"),
        Code::ProxyProtocolError => Demo("proxy-protocol-error"),
        Code::TlsRevocationUnreachable => Demo("revocation-blocked"),
        Code::NoProxyMissingPrivate => Demo("no-proxy-incomplete"),
        Code::RunDeadlineExceeded => DemoUnfinished,
        Code::RunInterrupted => DemoInterrupted,
        Code::LocalDialFailed => FewDescriptors,
        Code::DnsHostsOverride => Local(Machine { hosts: "10.0.1.4 kv-contoso-ml-lab.vault.azure.net\n", ..PLAIN }),
        Code::ProxyNotExported => Local(Machine { bashrc: "HTTPS_PROXY=http://127.0.0.1:9\n", ..PLAIN }),
        Code::ProxyEnvMismatch => Local(Machine {
            env: &[("NO_PROXY", ".env.example")],
            bashrc: "export NO_PROXY=.bashrc.example\n",
            ..PLAIN
        }),
        Code::ProxyMalformed => Local(Machine { env: &[("HTTP_PROXY", "http://proxy.corp.example:99999")], ..PLAIN }),
        Code::ProxyCredentialsInClear | Code::NoProxyMissingMetadata => {
            Local(Machine { env: &[("HTTP_PROXY", "http://amlnet:marker-secret@127.0.0.1:9")], ..PLAIN })
        }
    }
}

fn produce(producer: Producer, lab: &LabHandle) -> Value {
    match producer {
        Producer::Demo(scenario) => demo(scenario).1,
        Producer::DemoUnfinished => report(&unfinished_demo()),
        Producer::DemoInterrupted => {
            let (status, r) = interrupted_demo(libc::SIGINT);
            assert_eq!(status, 130);
            r
        }
        Producer::Local(machine) => {
            let dir = tempfile::tempdir().unwrap();
            let (bashrc, hosts) = (dir.path().join("bashrc"), dir.path().join("hosts"));
            std::fs::write(&bashrc, machine.bashrc).unwrap();
            std::fs::write(&hosts, machine.hosts).unwrap();
            let ws = fixture("workspace-arm.json");
            let mut cmd = amlnet();
            cmd.args(["check", "--output", "json", "--timeout", "2s", "--workspace-json"]).arg(ws);
            cmd.args(lab.network_args_with(&bashrc, &hosts));
            cmd.envs(machine.env.iter().copied());
            report(&cmd.output().unwrap())
        }
        Producer::FewDescriptors => {
            use std::os::unix::process::CommandExt;
            let ws = fixture("workspace-arm.json");
            let mut cmd = amlnet();
            cmd.args(["check", "--output", "json", "--timeout", "2s", "--concurrency", "64", "--workspace-json"]);
            cmd.arg(ws).args(lab.network_args());
            // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
            unsafe {
                cmd.pre_exec(|| {
                    let limit = libc::rlimit { rlim_cur: FEW_DESCRIPTORS, rlim_max: FEW_DESCRIPTORS };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            let r = report(&cmd.output().unwrap());
            let f = r["findings"].as_array().unwrap().iter().find(|f| f["code"] == "local-dial-failed").cloned();
            let detail = f.map(|f| f["detail"].as_str().unwrap_or("").to_string()).unwrap_or_default();
            assert!(detail.contains("no file descriptors left"), "{detail}");
            r
        }
        Producer::Namespace(_) => unreachable!("not run here"),
    }
}

#[test]
fn every_code_is_produced_and_asserted_by_value() {
    let mut by_producer: BTreeMap<Producer, Vec<Code>> = BTreeMap::new();
    for code in Code::ALL {
        by_producer.entry(producer(*code)).or_default().push(*code);
    }
    let lab = LabHandle::start("healthy");
    let runs: Vec<(Producer, Vec<Code>)> = by_producer.into_iter().collect();
    // A few at a time: the lab scenarios time out on purpose, in parallel.
    for batch in runs.chunks(4) {
        std::thread::scope(|scope| {
            for (producer, codes) in batch {
                let lab = &lab;
                scope.spawn(move || check_produced(*producer, codes, lab));
            }
        });
    }
}

fn check_produced(producer: Producer, codes: &[Code], lab: &LabHandle) {
    if let Producer::Namespace(file) = producer {
        let text = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap();
        for code in codes {
            assert!(text.contains(&format!("Code::{code:?}")), "{file} asserts {code} by value");
        }
        return;
    }
    let r = produce(producer, lab);
    let found: Vec<String> = findings(&r).into_iter().map(|f| f.1).collect();
    for code in codes {
        assert!(found.iter().any(|f| f == code.as_str()), "{producer:?} gives {code}; it gave {found:?}");
    }
}

#[test]
fn explain_knows_every_code() {
    let o = run(&["explain"]);
    assert_eq!(code(&o), 0);
    let list = stdout(&o);
    for c in Code::ALL {
        assert!(list.contains(c.as_str()), "{c} missing from the list");
        let o = run(&["explain", c.as_str()]);
        assert_eq!(code(&o), 0);
        let text = stdout(&o);
        assert!(text.starts_with(&format!("{c}: {}", c.info().title)), "{text}");
        assert!(text.contains("Cause") && text.contains("Fix"), "{text}");
    }
}
