//! Tests that need a network namespace of their own (root, iproute2):
//! a namespace with only loopback up has no route anywhere, which is the
//! one honest way to see "no route to host" without sending a packet out.

mod util;

use std::process::Command;

use util::*;

/// A network namespace that is deleted when dropped.
struct Netns(String);

impl Netns {
    fn new(tag: &str) -> Netns {
        let name = format!("amlnet-{tag}-{}", std::process::id());
        let ok = |args: &[&str]| {
            let o = Command::new("ip").args(args).output().expect("iproute2 is installed (.ci/run installs it)");
            assert!(o.status.success(), "ip {args:?}: {} (these tests need root)", String::from_utf8_lossy(&o.stderr));
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
    assert_eq!(findings(&r), vec![("error".to_string(), "tcp-unreachable".to_string(), vec![format!("{WS}:443")])]);
    let c = check(&r, &format!("tcp:{WS}:443"));
    assert_eq!(c["tcp_state"], "unreachable");
    assert_eq!(c["dialled"], "192.0.2.10:443");
}
