//! Tests that need a network namespace of their own: a namespace with only
//! loopback up has no route anywhere, which is the one honest way to see
//! "no route to host" without sending a packet out.
//!
//! Each test runs as root of a user namespace it creates (tests/sandbox), so
//! no root is needed; it needs iproute2 and user namespaces, and is skipped
//! loudly without them (a failure under `AMLNET_E2E=required`, as in CI).

mod sandbox;
mod util;

use std::process::Command;
use std::time::Duration;

use util::*;

const SUITE: sandbox::Suite =
    sandbox::Suite { file: "tests/netns.rs", tools: &[sandbox::IP], timeout: Duration::from_secs(120) };

/// Says whether this file's tests run here; fails only when they cannot and
/// `AMLNET_E2E=required`.
#[test]
fn suite_status() {
    sandbox::status(&SUITE);
}

/// A network namespace that is deleted when dropped.
struct Netns(String);

impl Netns {
    fn new(tag: &str) -> Netns {
        let name = format!("amlnet-{tag}-{}", std::process::id());
        let ok = |args: &[&str]| {
            let o = Command::new("ip").args(args).output().expect("iproute2 is installed");
            assert!(o.status.success(), "ip {args:?}: {}", String::from_utf8_lossy(&o.stderr));
        };
        ok(&["netns", "add", &name]);
        ok(&["-n", &name, "link", "set", "lo", "up"]);
        Netns(name)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).output();
    }
}

#[test]
fn no_route_is_tcp_unreachable() {
    sandbox::run(&SUITE, no_route_is_tcp_unreachable_body);
}

fn no_route_is_tcp_unreachable_body() {
    let ns = Netns::new("noroute");
    // 192.0.2.10 (TEST-NET-1) has no route in a namespace with only loopback:
    // connect() fails at once with ENETUNREACH and nothing is sent.
    let rule = format!("{WS}:443:192.0.2.10:443");
    let o = Command::new("ip")
        .args(["netns", "exec", &ns.0, env!("CARGO_BIN_EXE_amlnet")])
        .args(["check", "--workspace-id", "3f6c2a51-8e4b-4d2a-9b7e-5c1d0a9e7f42", "--region", "eastus"])
        .args([
            "--only",
            "tcp",
            "--dns-server",
            "127.0.0.1:9",
            "--connect-to",
            &rule,
            "--timeout",
            "1s",
            "--output",
            "json",
        ])
        .env("NO_COLOR", "1")
        .env_remove("AMLNET_LOOPBACK_ONLY")
        .output()
        .unwrap();
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let r = report(&o);
    let unreachable = amlnet::diagnose::Code::TcpUnreachable.as_str().to_string();
    assert_eq!(findings(&r), vec![("error".to_string(), unreachable, vec![format!("{WS}:443")])]);
    let c = check(&r, &format!("tcp:{WS}:443"));
    assert_eq!(c["tcp_state"], "unreachable");
    assert_eq!(c["dialled"], "192.0.2.10:443");
}

#[test]
fn docker_s_bridge_is_judged_where_containers_run() {
    sandbox::run(&SUITE, docker_s_bridge_body);
}

/// amlnet reads the namespace's own interfaces and /proc/net/route.
fn docker_s_bridge_body() {
    let ns = Netns::new("bridge");
    let ip = |args: &[&str]| {
        let o = Command::new("ip").args(["-n", &ns.0]).args(args).output().unwrap();
        assert!(o.status.success(), "ip {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    };
    let local_findings = || {
        let o = Command::new("ip")
            .args(["netns", "exec", &ns.0, env!("CARGO_BIN_EXE_amlnet")])
            .args(["check", "--workspace-id", "3f6c2a51-8e4b-4d2a-9b7e-5c1d0a9e7f42", "--region", "eastus"])
            .args(["--only", "local", "--dns-server", "127.0.0.1:9", "--output", "json"])
            .env("NO_COLOR", "1")
            .env_remove("HTTPS_PROXY")
            .env_remove("https_proxy")
            .output()
            .unwrap();
        let r = report(&o);
        findings(&r).into_iter().filter(|(_, c, _)| c == "docker-bridge-overlap").collect::<Vec<_>>()
    };
    // Inside a container on Docker's default bridge: eth0 172.17.0.2/16, no docker0.
    // (veth pairs: a user namespace cannot load the dummy module.)
    ip(&["link", "add", "eth0", "type", "veth", "peer", "name", "eth0-peer"]);
    ip(&["link", "set", "eth0-peer", "up"]);
    ip(&["addr", "add", "172.17.0.2/16", "dev", "eth0"]);
    ip(&["link", "set", "eth0", "up"]);
    // A VPN's route broader than the bridge.
    ip(&["link", "add", "vpn0", "type", "veth", "peer", "name", "vpn0-peer"]);
    ip(&["link", "set", "vpn0-peer", "up"]);
    ip(&["addr", "add", "10.8.0.2/24", "dev", "vpn0"]);
    ip(&["link", "set", "vpn0", "up"]);
    ip(&["route", "add", "172.16.0.0/12", "dev", "vpn0"]);
    assert_eq!(local_findings(), vec![], "a container and a broader route are not overlaps");
    // A host with docker0 and a VPN route inside its subnet: that is one.
    ip(&["link", "add", "docker0", "type", "veth", "peer", "name", "docker0-peer"]);
    ip(&["link", "set", "docker0-peer", "up"]);
    ip(&["addr", "add", "172.18.0.1/16", "dev", "docker0"]);
    ip(&["link", "set", "docker0", "up"]);
    ip(&["route", "add", "172.18.8.0/24", "dev", "vpn0"]);
    let found = local_findings();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].2, vec!["route 172.18.8.0/24 (vpn0)".to_string()], "{found:?}");
}

/// nftables, for a local firewall rule inside the namespace.
const NFT: sandbox::Tool = sandbox::Tool { bin: "nft", package: "nftables" };
const FIREWALL_SUITE: sandbox::Suite =
    sandbox::Suite { file: "tests/netns.rs", tools: &[sandbox::IP, NFT], timeout: Duration::from_secs(120) };

#[test]
fn a_local_firewall_rule_is_this_machine_s_failure() {
    sandbox::run(&FIREWALL_SUITE, local_firewall_body);
}

/// An nftables OUTPUT rule drops DNS: the kernel refuses the datagram with
/// EPERM before it leaves, which is this machine's doing, not a silent server.
fn local_firewall_body() {
    let ns = Netns::new("nft");
    let nft = |rule: &str| {
        let o = Command::new("ip").args(["netns", "exec", &ns.0, "sh", "-c", &format!("nft {rule}")]).output().unwrap();
        assert!(o.status.success(), "nft {rule}: {}", String::from_utf8_lossy(&o.stderr));
    };
    nft("add table inet amlnet");
    nft("add chain inet amlnet out '{ type filter hook output priority 0; }'");
    nft("add rule inet amlnet out udp dport 53 drop");
    let o = Command::new("ip")
        .args(["netns", "exec", &ns.0, env!("CARGO_BIN_EXE_amlnet")])
        .args(["check", "--workspace-id", "3f6c2a51-8e4b-4d2a-9b7e-5c1d0a9e7f42", "--region", "eastus"])
        .args(["--only", "dns", "--dns-server", "127.0.0.1:53", "--timeout", "1s", "--output", "json"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let r = report(&o);
    let local = amlnet::diagnose::Code::LocalDialFailed.as_str();
    let found: Vec<_> = findings(&r).into_iter().filter(|f| f.1 == local).collect();
    assert!(!found.is_empty(), "{:?}\n{}", findings(&r), stderr(&o));
    assert!(findings(&r).iter().all(|f| f.1 != "dns-timeout"), "{:?}", findings(&r));
    let ws = check(&r, &format!("dns:{WS}"));
    assert!(ws["error"].as_str().unwrap_or("").contains("refused by this machine"), "{ws}");
    assert_eq!(code(&o), 1);
}
