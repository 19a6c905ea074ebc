//! TLS and HTTP against the lab: real handshakes with certificates from a
//! lab CA, an "inspection" CA, a listener that resets after the ClientHello,
//! one that never answers, expired certificates and a block page.

mod util;

use util::*;

const ENTRA: &str = "login.microsoftonline.com:443";
const ARM: &str = "management.azure.com:443";
const MCR: &str = "mcr.microsoft.com:443";
const MCR_DATA: &str = "eastus.data.mcr.microsoft.com:443";

fn sorted(v: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

#[test]
fn healthy_handshakes_record_the_certificate_and_http_status() {
    let (code, r) = demo("healthy");
    assert_eq!(code, 0);
    let ws = check(&r, &format!("tcp:{WS}:443"));
    let tls = &ws["tls"];
    assert_eq!(tls["verified"], true);
    assert_eq!(tls["version"], "TLSv1.3");
    assert_eq!(tls["alpn"], "http/1.1");
    assert!(tls["issuer"].as_str().unwrap().contains("Microsoft Azure RSA TLS Issuing CA"));
    assert_eq!(tls["names"], serde_json::json!([WS]));
    assert_eq!(ws["http"]["status"], 401, "the workspace API answers 401 without a token: reachable");
    assert_eq!(check(&r, "tcp:pypi.org:443")["http"]["url"], "https://pypi.org/simple/");
    assert_eq!(check(&r, "tcp:pypi.org:443")["http"]["status"], 200);
    // Plain TCP ports get no handshake.
    assert!(check(&r, "tcp:login.microsoftonline.com:80")["tls"].is_null());
    assert!(check(&r, "tcp:stcontosomllab.file.core.windows.net:445")["tls"].is_null());
}

#[test]
fn inspection_with_an_untrusted_ca_is_tls_untrusted_naming_the_issuer() {
    let (code, r) = demo("tls-inspection");
    assert_eq!(code, 1);
    assert_eq!(findings(&r).len(), 1, "{:?}", findings(&r));
    assert_eq!(hosts_of(&r, "tls-untrusted"), sorted(&[ENTRA, ARM, MCR, MCR_DATA]));
    let f = &r["findings"][0];
    assert_eq!(f["severity"], "error");
    let detail = f["detail"].as_str().unwrap();
    assert!(detail.contains("TLS inspection: certificate issued by Contoso Firewall TLS Inspection CA"), "{detail}");
    let c = check(&r, &format!("tcp:{ARM}"));
    assert_eq!(c["tcp_state"], "open");
    assert_eq!(c["tls"]["verified"], false);
    assert!(c["tls"]["issuer"].as_str().unwrap().contains("Contoso"));
    assert!(c["http"].is_null(), "no HTTP over a handshake that failed");
}

#[test]
fn inspection_with_a_trusted_ca_is_an_info_and_exits_0() {
    let (code, r) = demo("tls-inspection-trusted");
    assert_eq!(code, 0);
    assert_eq!(
        findings(&r),
        vec![("info".to_string(), "tls-inspected".to_string(), sorted(&[ENTRA, ARM, MCR, MCR_DATA]))]
    );
    let c = check(&r, &format!("tcp:{MCR}"));
    assert_eq!(c["status"], "pass");
    assert_eq!(c["tls"]["verified"], true);
    assert_eq!(c["code"], "tls-inspected");
    assert!(r["findings"][0]["remedy"].as_str().unwrap().contains("REQUESTS_CA_BUNDLE"));
}

#[test]
fn reset_after_client_hello_is_tls_reset() {
    let (code, r) = demo("sni-filtered");
    assert_eq!(code, 1);
    assert_eq!(findings(&r).len(), 1, "{:?}", findings(&r));
    assert_eq!(hosts_of(&r, "tls-reset"), sorted(&[MCR, MCR_DATA]));
    assert_eq!(check(&r, &format!("tcp:{MCR}"))["tcp_state"], "open");
}

#[test]
fn handshake_that_never_completes_is_tls_timeout() {
    let (code, r) = demo("vpn-mtu-blackhole");
    assert_eq!(code, 1);
    let errors: Vec<_> = findings(&r).into_iter().filter(|f| f.0 == "error").collect();
    assert_eq!(
        errors,
        vec![(
            "error".to_string(),
            "tls-timeout".to_string(),
            sorted(&[&format!("{WS}:443"), "stcontosomllab.blob.core.windows.net:443"])
        )]
    );
    let detail = r["findings"][0]["detail"].as_str().unwrap();
    assert!(detail.contains("MTU"), "{detail}");
    assert_eq!(check(&r, "tcp:stcontosomllab.blob.core.windows.net:443")["tcp_state"], "open");
}

#[test]
fn expired_certificates_hint_at_the_clock() {
    let (code, r) = demo("clock-skew");
    assert_eq!(code, 1);
    let codes: Vec<String> = findings(&r).into_iter().map(|f| f.1).collect();
    assert!(codes.iter().all(|c| c == "tls-clock-skew"), "{codes:?}");
    assert!(hosts_of(&r, "tls-clock-skew").contains(&format!("{WS}:443")));
    let detail = r["findings"][0]["detail"].as_str().unwrap();
    assert!(detail.contains("valid from 2020-01-01T00:00:00Z to 2020-12-31T00:00:00Z"), "{detail}");
    assert!(detail.contains("this machine's clock reads"), "{detail}");
}

#[test]
fn block_page_is_http_blocked_naming_what_answered() {
    let (code, r) = demo("pypi-blocked");
    assert_eq!(code, 0, "package repositories are situational: a warning");
    assert_eq!(
        findings(&r),
        vec![(
            "warning".to_string(),
            "http-blocked".to_string(),
            sorted(&["pypi.org:443", "files.pythonhosted.org:443"])
        )]
    );
    let detail = r["findings"][0]["detail"].as_str().unwrap();
    assert!(
        detail.contains("answered \"HTTP/1.1 403 Forbidden\" by Server: Contoso-Firewall: \"Access Denied\""),
        "the status line and the first line of the body: {detail}"
    );
    let c = check(&r, "tcp:pypi.org:443");
    assert_eq!(c["http"]["status"], 403);
    assert_eq!(c["http"]["server"], "Contoso-Firewall");
    assert_eq!(c["tls"]["verified"], true);
}

#[test]
fn skip_tls_sends_no_handshake_and_bad_ca_file_is_exit_2() {
    let lab = LabHandle::start("tls-inspection");
    let o = lab.run(&[
        "check",
        "--workspace-id",
        "3f6c2a51-8e4b-4d2a-9b7e-5c1d0a9e7f42",
        "--region",
        "eastus",
        "--skip",
        "tls",
        "--output",
        "json",
    ]);
    let r = report(&o);
    assert!(hosts_of(&r, "tls-untrusted").is_empty());
    assert!(check(&r, &format!("tcp:{ARM}"))["tls"].is_null());

    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    let o = run(&["check", "--region", "eastus", "--dns-server", "127.0.0.1:9", "--ca-file", junk.to_str().unwrap()]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("junk.pem"), "{}", stderr(&o));
}

#[test]
fn ssl_cert_file_is_honoured_like_the_system_store() {
    let lab = LabHandle::start("healthy");
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle.pem");
    std::fs::write(&bundle, lab.lab.trusted_pem.join("")).unwrap();
    let mut args: Vec<String> =
        ["check", "--workspace-id", "3f6c2a51-8e4b-4d2a-9b7e-5c1d0a9e7f42", "--region", "eastus", "--output", "json"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    // The lab's arguments without its --ca-file: trust must come from SSL_CERT_FILE.
    let net = lab.network_args();
    let mut i = 0;
    while i < net.len() {
        if net[i] == "--ca-file" {
            i += 2;
            continue;
        }
        args.push(net[i].clone());
        i += 1;
    }
    let o = amlnet().env("SSL_CERT_FILE", &bundle).args(&args).output().unwrap();
    let r = report(&o);
    assert_eq!(code(&o), 0, "{:?}", findings(&r));
    assert_eq!(check(&r, &format!("tcp:{WS}:443"))["tls"]["verified"], true);
    // Without it, the same lab certificate is untrusted.
    let o = amlnet().env("SSL_CERT_FILE", dir.path().join("missing.pem")).args(&args).output().unwrap();
    let r = report(&o);
    assert!(hosts_of(&r, "tls-untrusted").contains(&format!("{WS}:443")), "{:?}", findings(&r));
}

/// A TCP forwarder in front of `to` that counts the connections it accepts.
fn counting_forwarder(
    to: std::net::SocketAddr,
) -> (std::net::SocketAddr, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let count = std::sync::Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            seen.fetch_add(1, Ordering::SeqCst);
            let Ok(server) = std::net::TcpStream::connect(to) else { continue };
            let (mut c1, mut s1) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let (mut c2, mut s2) = (client, server);
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut c1, &mut s1);
                let _ = s1.shutdown(std::net::Shutdown::Write);
            });
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut s2, &mut c2);
                let _ = c2.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    (addr, count)
}

/// The HTTP request goes over the connection whose handshake was recorded:
/// one TCP connection and one handshake per HTTPS endpoint.
#[test]
fn one_connection_per_https_endpoint() {
    let lab = LabHandle::start("healthy");
    let ip = lab.lab.addresses["pypi.org"].to_string();
    let genuine =
        lab.lab.connect_to.iter().find(|r| r.host.as_deref() == Some(ip.as_str()) && r.port == Some(443)).unwrap().to;
    let (forwarder, connections) = counting_forwarder(genuine);
    let mut cmd = amlnet();
    cmd.args(["check", "--output", "json", "--timeout", "2s", "--workspace-json"]).arg(fixture("workspace-arm.json"));
    cmd.arg("--connect-to").arg(format!("pypi.org:443:{forwarder}"));
    cmd.args(lab.network_args());
    let r = report(&cmd.output().unwrap());
    let pypi = check(&r, "tcp:pypi.org:443");
    assert_eq!(pypi["dialled"], forwarder.to_string(), "the forwarder was dialled");
    assert_eq!(pypi["tls"]["verified"], true);
    assert_eq!(pypi["http"]["status"], 200);
    assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 1, "TLS and HTTP shared one connection");
}
