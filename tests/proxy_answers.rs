//! What a proxy or firewall answered, told apart from what the service
//! answered, against real listeners on loopback (the lab's scenarios, and
//! proxies written here for answers the lab does not give): a proxy that
//! cannot reach the destination (502, 504, silence after CONNECT), one whose
//! header never ends, Azure Firewall's 470, the service's own 403 through a
//! CDN, a 600-certificate chain, and revocation endpoints that are blocked.

mod util;

use util::*;

fn detail_of(r: &serde_json::Value, code: &str) -> String {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == code)
        .map_or_else(|| panic!("no {code} in {:?}", findings(r)), |f| f["detail"].as_str().unwrap().to_string())
}

#[test]
fn a_proxy_that_cannot_reach_the_destination_is_not_a_block() {
    let (code, r) = demo("proxy-upstream-failed");
    assert_eq!(code, 1);
    assert_eq!(
        findings(&r),
        vec![(
            "error".to_string(),
            "proxy-upstream-failed".to_string(),
            vec![
                "eastus.data.mcr.microsoft.com:443".to_string(),
                "graph.microsoft.com:443".to_string(),
                "mcr.microsoft.com:443".to_string()
            ]
        )]
    );
    let detail = detail_of(&r, "proxy-upstream-failed");
    // The proxy's status line and the first line of its body, as it sent them.
    assert!(
        detail.contains(
            "the proxy answered CONNECT with \"HTTP/1.1 502 Bad Gateway\" (squid/5.7): \"ERROR: The requested URL could not be retrieved\""
        ),
        "{detail}"
    );
    assert!(
        detail.contains("the proxy answered CONNECT with \"HTTP/1.1 504 Gateway Timeout\" (squid/5.7)"),
        "{detail}"
    );
    assert!(detail.contains("gave no answer in"), "{detail}");
    assert_eq!(check(&r, "tcp:mcr.microsoft.com:443")["code"], "proxy-upstream-failed");
}

#[test]
fn a_header_without_end_is_a_protocol_error_read_within_bounds() {
    let started = std::time::Instant::now();
    let (code, r) = demo("proxy-protocol-error");
    assert_eq!(code, 1);
    assert_eq!(hosts_of(&r, "proxy-protocol-error"), vec!["management.azure.com:443"]);
    assert!(hosts_of(&r, "http-blocked").is_empty(), "{:?}", findings(&r));
    let detail = detail_of(&r, "proxy-protocol-error");
    assert!(detail.contains("a header that did not end within 16384 bytes"), "{detail}");
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "bounded: {:?}", started.elapsed());
}

#[test]
fn azure_firewall_470_names_its_action_and_reason() {
    let (code, r) = demo("azure-firewall-denies-pypi");
    assert_eq!(code, 0, "package repositories are situational");
    assert_eq!(hosts_of(&r, "http-blocked"), vec!["files.pythonhosted.org:443", "pypi.org:443"]);
    let detail = detail_of(&r, "http-blocked");
    assert!(
        detail.contains(
            "answered \"HTTP/1.1 470 status code 470\" by Azure Firewall: action \"Deny\", reason \"No rule matched. Proceeding with default action\""
        ),
        "{detail}"
    );
    assert_eq!(check(&r, "tcp:pypi.org:443")["http"]["status"], 470);
}

#[test]
fn the_services_own_403_through_a_cdn_is_no_block() {
    let (code, r) = demo("pypi-cdn-forbidden");
    assert_eq!(code, 0);
    assert_eq!(findings(&r), vec![], "Via: 1.1 varnish is Fastly's, on every answer");
    let pypi = check(&r, "tcp:pypi.org:443");
    assert_eq!(pypi["http"]["status"], 403);
    assert_eq!(pypi["http"]["via"], "1.1 varnish");
    assert!(pypi["via_proxy"].as_str().unwrap().starts_with("http://127.0.0.1:"), "through the proxy's tunnel");
    assert_eq!(pypi["status"], "pass");
}

#[test]
fn a_600_certificate_chain_is_named_not_taken_for_silence() {
    let (code, r) = demo("huge-chain");
    assert_eq!(code, 1);
    assert_eq!(findings(&r).len(), 1, "{:?}", findings(&r));
    assert_eq!(hosts_of(&r, "tls-failed"), vec!["management.azure.com:443"]);
    let detail = detail_of(&r, "tls-failed");
    let line = detail.lines().find(|l| l.starts_with("- tls management.azure.com:443")).expect("its line");
    assert!(line.contains("the ServerHello came, then a certificate message larger than the 64 KiB"), "{line}");
    assert_eq!(check(&r, "tcp:management.azure.com:443")["tls"]["error"], "certificate message larger than 64 KiB");
}

#[test]
fn revocation_endpoints_are_probed_once_each_and_blocked_ones_are_a_warning() {
    let (code, healthy) = demo("healthy");
    assert_eq!(code, 0);
    assert_eq!(findings(&healthy), vec![]);
    for (id, url) in [
        ("tcp:crl.lab.test:80", "http://crl.lab.test/amlnet-lab.crl"),
        ("tcp:ocsp.lab.test:80", "http://ocsp.lab.test/"),
    ] {
        let c = check(&healthy, id);
        assert_eq!(c["status"], "pass", "{c}");
        assert_eq!(c["http"]["url"], url);
        assert_eq!(c["http"]["status"], 200);
        assert_eq!(healthy["checks"].as_array().unwrap().iter().filter(|c| c["id"] == id).count(), 1, "once per run");
    }

    let (code, r) = demo("revocation-blocked");
    assert_eq!(code, 0, "a warning: the services themselves work");
    assert_eq!(
        findings(&r),
        vec![(
            "warning".to_string(),
            "tls-revocation-unreachable".to_string(),
            vec!["http://crl.lab.test/amlnet-lab.crl".to_string(), "http://ocsp.lab.test/".to_string()]
        )]
    );
    let detail = detail_of(&r, "tls-revocation-unreachable");
    assert!(detail.contains("no answer to SYN after"), "{detail}");
    assert!(detail.contains("named by the certificate of"), "{detail}");
    assert_eq!(check(&r, "tcp:crl.lab.test:80")["status"], "warn");
}

#[test]
fn a_handshake_that_stalls_after_the_server_hello_says_so() {
    let (code, r) = demo("vpn-mtu-stall");
    assert_eq!(code, 1);
    assert_eq!(findings(&r).len(), 1, "{:?}", findings(&r));
    assert_eq!(hosts_of(&r, "tls-timeout"), vec!["management.azure.com:443"]);
    let detail = detail_of(&r, "tls-timeout");
    let line = detail.lines().find(|l| l.starts_with("- tls management.azure.com:443")).expect("its line");
    assert!(line.contains("the ServerHello came, but the handshake did not complete in"), "{line}");
    // The ServerHello record alone (127 bytes with rustls' TLS 1.3 and x25519).
    let received: u64 =
        line.split(" bytes received").next().and_then(|l| l.rsplit('(').next()).unwrap().parse().unwrap();
    assert!((50..1000).contains(&received), "{line}");
    assert!(!line.contains("no ServerHello"), "{line}");
    let tls = &check(&r, "tcp:management.azure.com:443")["tls"];
    assert!(tls["error"].as_str().unwrap().starts_with("ServerHello received, handshake incomplete"), "{tls}");
}

#[test]
fn revocation_through_a_proxy_that_denies_it() {
    let (code, r) = demo("proxy-blocks-revocation");
    assert_eq!(code, 0);
    assert_eq!(
        findings(&r),
        vec![(
            "warning".to_string(),
            "tls-revocation-unreachable".to_string(),
            vec!["http://crl.lab.test/amlnet-lab.crl".to_string(), "http://ocsp.lab.test/".to_string()]
        )]
    );
    let detail = detail_of(&r, "tls-revocation-unreachable");
    assert!(
        detail.contains("answered \"HTTP/1.1 403 Forbidden\" by Server: squid/5.7: \"ERROR: The requested URL could not be retrieved\""),
        "{detail}"
    );
    let crl = check(&r, "tcp:crl.lab.test:80");
    assert!(crl["via_proxy"].as_str().unwrap().starts_with("http://127.0.0.1:"), "{crl}");
    assert_eq!(crl["http"]["status"], 403);
    assert_eq!(crl["http"]["via_proxy"], true);
}

/// A one-shot proxy on loopback that reads the CONNECT and answers `bytes`,
/// then closes; what `connect` made of it.
fn connect_through(bytes: &'static [u8]) -> amlnet::probe::PathOutcome {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).await;
            let _ = s.write_all(bytes).await;
        });
        let url = amlnet::local::proxy::parse_proxy_url(&format!("http://{addr}")).unwrap();
        let timeout = std::time::Duration::from_secs(2);
        match amlnet::probe::proxy::connect(addr, &url, "pypi.org", 443, timeout).await {
            Ok(_) => amlnet::probe::PathOutcome::Open,
            Err(outcome) => outcome,
        }
    })
}

#[test]
fn a_connect_answer_cut_short_is_no_tunnel_and_a_refusal_keeps_its_body_line() {
    use amlnet::probe::PathOutcome;
    let cut = connect_through(b"HTTP/1.1 200 Connection established\r\n");
    assert!(
        matches!(&cut, PathOutcome::ProxyFailed(m) if m.contains("in the middle of its answer")),
        "a 200 without its blank line is no tunnel: {cut:?}"
    );
    let chunked = connect_through(
        b"HTTP/1.1 504 Gateway Timeout\r\nServer: Zscaler/6.2\r\nTransfer-Encoding: chunked\r\n\r\n1a\r\n<h1>Gateway \x1b[31mTimeout</h1>\r\n0\r\n\r\n",
    );
    assert_eq!(
        chunked,
        PathOutcome::ProxyAnswered {
            status: 504,
            line: "HTTP/1.1 504 Gateway Timeout".into(),
            server: Some("Zscaler/6.2".into()),
            body: Some("Gateway \\x1b[31mTimeout".into()),
        }
    );
    assert_eq!(connect_through(b"HTTP/1.1 200 OK\r\n\r\n"), PathOutcome::Open);
}

#[test]
fn the_plan_says_revocation_checks_are_derived_at_run_time() {
    let o = run(&["plan", "--workspace-id", "3f6c2a51-8e4b-4d2a-9b7e-5c1d0a9e7f42", "--region", "eastus"]);
    assert_eq!(code(&o), 0);
    let text = stdout(&o);
    assert!(text.contains("derived at run time\n  tcp/80 the CRL distribution points and OCSP responders"), "{text}");
}
