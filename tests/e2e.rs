//! End-to-end tests with real third-party parts, in network namespaces that
//! each test creates (no route out): dnsmasq as the customer's DNS and as
//! "Azure DNS", tinyproxy as the corporate proxy (an allow-list, and basic
//! authentication), the lab's TLS servers behind them, and the real binary
//! in a client namespace whose /etc/netns/NAME/resolv.conf points at the
//! DNS, so amlnet takes its ordinary system-resolver path.
//!
//! Each test runs as root of a user namespace it creates (tests/sandbox), so
//! no root is needed. It needs iproute2, dnsmasq and tinyproxy, and user
//! namespaces; without them it is skipped loudly, and under
//! `AMLNET_E2E=required` (set by `.ci/run`, which installs them) it fails.
//! dnsmasq and tinyproxy run as the namespace's root, without changing user:
//! the user namespace maps no other user or group.

mod sandbox;
mod util;

use std::fs;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use amlnet::catalogue::{Catalogue, Expect};
use amlnet::lab::tls::{self, LabCa, Responder};
use amlnet::plan::Plan;
use amlnet::target::Target;
use serde_json::Value;
use util::*;

const GUID: &str = "3f6c2a51-8e4b-4d2a-9b7e-5c1d0a9e7f42";
const CUSTOMER_DNS: &str = "10.231.0.53";
const AZURE_DNS: &str = "10.231.0.54";
const PROXY: &str = "10.231.0.3";
const SECRET: &str = "Sup3rSecretPw";

const SUITE: sandbox::Suite = sandbox::Suite {
    file: "tests/e2e.rs",
    tools: &[sandbox::IP, sandbox::BASH, sandbox::DNSMASQ, sandbox::TINYPROXY],
    timeout: Duration::from_secs(300),
};

/// Says whether this file's tests run here; fails only when they cannot and
/// `AMLNET_E2E=required`.
#[test]
fn suite_status() {
    sandbox::status(&SUITE);
}

fn target() -> Target {
    Target {
        workspace_id: Some(GUID.into()),
        workspace_name: Some("mlw-e2e".into()),
        region: Some("eastus".into()),
        storage_accounts: vec!["stcontosoe2e".into()],
        key_vault: Some("kv-contoso-e2e".into()),
        ..Target::default()
    }
}

fn target_args() -> Vec<String> {
    [
        "--workspace-id",
        GUID,
        "--workspace-name",
        "mlw-e2e",
        "--region",
        "eastus",
        "--storage",
        "stcontosoe2e",
        "--key-vault",
        "kv-contoso-e2e",
        "--skip",
        "vscode",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn sh(args: &[&str]) {
    let o = Command::new(args[0]).args(&args[1..]).output().unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
}

/// Two namespaces joined by a veth pair: the client, and the services
/// (DNS, proxy, endpoints). Neither has a default route.
struct Net {
    cli: String,
    svc: String,
    dir: tempfile::TempDir,
    children: Vec<Child>,
    servers: Vec<(std::thread::JoinHandle<()>, tokio::sync::oneshot::Sender<()>)>,
    extra_ns: Vec<String>,
}

impl Net {
    fn new(tag: &str) -> Net {
        let pid = std::process::id();
        let (cli, svc) = (format!("amlc-{tag}-{pid}"), format!("amls-{tag}-{pid}"));
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let net = Net {
            cli: cli.clone(),
            svc: svc.clone(),
            dir,
            children: Vec::new(),
            servers: Vec::new(),
            extra_ns: Vec::new(),
        };
        sh(&["ip", "netns", "add", &cli]);
        sh(&["ip", "netns", "add", &svc]);
        sh(&["ip", "-n", &cli, "link", "add", "vc", "type", "veth", "peer", "name", "vs", "netns", &svc]);
        sh(&["ip", "-n", &cli, "addr", "add", "10.231.0.1/24", "dev", "vc"]);
        sh(&["ip", "-n", &svc, "addr", "add", "10.231.0.2/24", "dev", "vs"]);
        for extra in [CUSTOMER_DNS, AZURE_DNS, PROXY] {
            sh(&["ip", "-n", &svc, "addr", "add", &format!("{extra}/32"), "dev", "vs"]);
        }
        // Every private-endpoint and "public" address is local to the services namespace.
        sh(&["ip", "-n", &svc, "addr", "add", "10.231.1.1/24", "dev", "lo"]);
        sh(&["ip", "-n", &svc, "addr", "add", "203.0.113.1/24", "dev", "lo"]);
        for ns in [&cli, &svc] {
            sh(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        }
        sh(&["ip", "-n", &cli, "link", "set", "vc", "up"]);
        sh(&["ip", "-n", &svc, "link", "set", "vs", "up"]);
        for net_range in ["10.231.1.0/24", "203.0.113.0/24"] {
            sh(&["ip", "-n", &cli, "route", "add", net_range, "via", "10.231.0.2"]);
        }
        // `ip netns exec` bind-mounts these over /etc/resolv.conf and /etc/hosts.
        for ns in [&cli, &svc] {
            let etc = PathBuf::from("/etc/netns").join(ns);
            fs::create_dir_all(&etc).unwrap();
            fs::write(etc.join("resolv.conf"), format!("nameserver {CUSTOMER_DNS}\noptions timeout:1\n")).unwrap();
            fs::write(etc.join("hosts"), "127.0.0.1 localhost\n").unwrap();
        }
        net
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        fs::write(&p, text).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        p
    }

    /// Starts `args` in the services namespace, its output in `LABEL.log`.
    fn spawn_in_svc(&mut self, label: &str, args: &[&str]) {
        let log = fs::File::create(self.path(&format!("{label}.log"))).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &self.svc])
            .args(args)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("{args:?}: {e}"));
        self.children.push(child);
    }

    /// What the daemons started here have said.
    fn logs(&self) -> String {
        let mut out = String::new();
        for entry in fs::read_dir(self.dir.path()).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".log") {
                out.push_str(&format!("--- {name}\n{}", fs::read_to_string(entry.path()).unwrap_or_default()));
            }
        }
        out
    }

    /// dnsmasq answering `records` at `addr`.
    fn dnsmasq(&mut self, addr: &str, name: &str, records: &[String]) {
        let conf = self.write(&format!("{name}.conf"), &(records.join("\n") + "\n"));
        let conf = conf.display().to_string();
        // Root (of the namespace) stays root: `--user=root` keeps the user and
        // an empty `--group=` the groups (setgroups is denied in a user namespace).
        self.spawn_in_svc(
            &format!("dnsmasq-{name}"),
            &[
                "dnsmasq",
                "--keep-in-foreground",
                "--no-resolv",
                "--no-hosts",
                "--bind-interfaces",
                &format!("--listen-address={addr}"),
                "--user=root",
                "--group=",
                "--pid-file=",
                "--log-facility=-",
                &format!("--conf-file={conf}"),
            ],
        );
    }

    /// tinyproxy on PROXY:`port` allowing only `allow`, optionally with basic auth.
    fn tinyproxy(&mut self, port: u16, allow: &[&str], auth: Option<(&str, &str)>) {
        let filter = self.write(
            &format!("filter-{port}"),
            &(allow.iter().map(|a| format!("^{}$", a.replace('.', "\\."))).collect::<Vec<_>>().join("\n") + "\n"),
        );
        // No User/Group: it stays the namespace's root (no other user is mapped).
        let mut conf = format!(
            "Port {port}\nListen {PROXY}\nTimeout 10\nMaxClients 50\nLogLevel Error\nFilter \"{}\"\nFilterDefaultDeny Yes\nFilterType ere\nConnectPort 443\n",
            filter.display()
        );
        if let Some((u, p)) = auth {
            conf.push_str(&format!("BasicAuth {u} {p}\n"));
        }
        let conf = self.write(&format!("tinyproxy-{port}.conf"), &conf).display().to_string();
        self.spawn_in_svc(&format!("tinyproxy-{port}"), &["tinyproxy", "-d", "-c", &conf]);
    }

    /// Runs `start` on a runtime in a thread that has entered namespace `ns`:
    /// sockets belong to the namespace of the thread that creates them. The
    /// servers it spawns run until the net is dropped.
    fn serve_in<F, Fut>(&mut self, ns: &str, start: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()>,
    {
        let ns_path = sandbox::netns_file(ns);
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let handle = std::thread::spawn(move || {
            let f = fs::File::open(&ns_path).unwrap();
            use std::os::fd::AsRawFd;
            assert_eq!(unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) }, 0, "setns");
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                start().await;
                ready_tx.send(()).unwrap();
                let _ = stop_rx.await;
            });
        });
        ready_rx.recv_timeout(Duration::from_secs(30)).expect("servers start");
        self.servers.push((handle, stop_tx));
    }

    /// The lab's TLS servers and plain listeners, inside the services
    /// namespace; returns the path of the CA file the client should trust.
    fn endpoints(&mut self, hosts: Vec<String>) -> String {
        self.endpoints_answering(hosts, Responder::Service)
    }

    /// [`Net::endpoints`] whose HTTPS servers answer as `responder` says.
    fn endpoints_answering(&mut self, hosts: Vec<String>, responder: Responder) -> String {
        let ca = LabCa::new(tls::LAB_CA_NAME, "Microsoft Corporation (amlnet lab)").unwrap();
        let pem = self.write("lab-ca.pem", &ca.pem).display().to_string();
        let svc = self.svc.clone();
        self.serve_in(&svc, move || async move {
            let any = |port| SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port);
            tls::serve_on(any(443), &ca, &hosts, false, responder).await.unwrap();
            for port in [80u16, 445, 18881] {
                let l = tokio::net::TcpListener::bind(any(port)).await.unwrap();
                tokio::spawn(async move {
                    while let Ok((s, _)) = l.accept().await {
                        drop(s);
                    }
                });
            }
            let udp = tokio::net::UdpSocket::bind(any(5831)).await.unwrap();
            tokio::spawn(async move {
                let mut buf = [0u8; 512];
                while udp.recv_from(&mut buf).await.is_ok() {}
            });
        });
        pem
    }

    /// A third namespace behind the client, for endpoints that misbehave:
    /// 198.51.100.0/24 is routed to it. Returns its name.
    fn faulty_namespace(&mut self) -> String {
        let flt = format!("amlf-{}", &self.cli[5..]);
        sh(&["ip", "netns", "add", &flt]);
        self.extra_ns.push(flt.clone());
        sh(&["ip", "-n", &self.cli, "link", "add", "vxc", "type", "veth", "peer", "name", "vxf", "netns", &flt]);
        sh(&["ip", "-n", &self.cli, "addr", "add", "10.232.0.1/24", "dev", "vxc"]);
        sh(&["ip", "-n", &flt, "addr", "add", "10.232.0.2/24", "dev", "vxf"]);
        sh(&["ip", "-n", &flt, "addr", "add", "198.51.100.1/24", "dev", "lo"]);
        sh(&["ip", "-n", &flt, "link", "set", "lo", "up"]);
        sh(&["ip", "-n", &flt, "link", "set", "vxf", "up"]);
        sh(&["ip", "-n", &self.cli, "link", "set", "vxc", "up"]);
        sh(&["ip", "-n", &self.cli, "route", "add", "198.51.100.0/24", "via", "10.232.0.2"]);
        flt
    }

    /// Waits until something listens on `addr` (dnsmasq and tinyproxy start asynchronously).
    fn wait_for(&self, addr: &str) {
        let (host, port) = addr.split_once(':').expect("host:port");
        let probe = format!("exec 3<>/dev/tcp/{host}/{port}");
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(15) {
            let ok = Command::new("ip")
                .args(["netns", "exec", &self.cli, "bash", "-c", &probe])
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false);
            if ok {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("nothing listens on {addr}\n{}", self.logs());
    }

    /// Runs amlnet in the client namespace with `env` as its whole proxy environment.
    fn amlnet(&self, env: &[(&str, &str)], args: &[String]) -> Output {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.cli, env!("CARGO_BIN_EXE_amlnet")]).args(args);
        for var in INHERITED.iter().chain(&["AMLNET_LOOPBACK_ONLY"]) {
            cmd.env_remove(var);
        }
        cmd.env("HOME", self.dir.path()).env("NO_COLOR", "1");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for (handle, stop) in self.servers.drain(..) {
            let _ = stop.send(());
            let _ = handle.join();
        }
        for ns in self.extra_ns.iter().chain([&self.cli, &self.svc]) {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
            let _ = fs::remove_dir_all(Path::new("/etc/netns").join(ns));
        }
    }
}

/// DNS records for the plan: private names through their privatelink CNAME
/// to 10.231.1.x, public names to 203.0.113.x; `broken` private hosts end
/// on a public address instead (the zone is not forwarded).
fn records(plan: &Plan, broken: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for (i, host) in plan.hosts().iter().enumerate() {
        let e = plan.endpoints.iter().find(|e| &e.host == host).unwrap();
        let n = i + 4;
        match (e.expect, &e.privatelink_name) {
            (Expect::Private, Some(pl)) => {
                out.push(format!("cname={host},{pl}"));
                if broken.contains(host) {
                    let edge = format!("edge-{n}.lab.trafficmanager.net");
                    out.push(format!("cname={pl},{edge}"));
                    out.push(format!("host-record={edge},203.0.113.{n}"));
                } else {
                    out.push(format!("host-record={pl},10.231.1.{n}"));
                }
            }
            _ => out.push(format!("host-record={host},203.0.113.{n}")),
        }
    }
    out
}

fn plan() -> Plan {
    let mut plan = Plan::build(Catalogue::builtin(), &target());
    plan.retain(|e| e.group != "vscode");
    plan
}

fn codes(r: &Value) -> Vec<String> {
    let mut c: Vec<String> = findings(r).into_iter().map(|f| f.1).collect();
    c.sort();
    c.dedup();
    c
}

/// `check --ca-file CA --output json EXTRA... TARGET...`.
fn check_args(ca: &str, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = ["check", "--ca-file", ca, "--output", "json"].iter().map(|s| s.to_string()).collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(target_args());
    args
}

/// A network where everything works through the proxy.
fn healthy_net(tag: &str) -> (Net, String) {
    let plan = plan();
    let mut net = Net::new(tag);
    net.dnsmasq(CUSTOMER_DNS, "customer", &records(&plan, &[]));
    let ca = net.endpoints(plan.hosts().iter().map(|s| s.to_string()).collect());
    let public: Vec<&str> =
        plan.endpoints.iter().filter(|e| e.expect == Expect::Public).map(|e| e.host.as_str()).collect();
    let mut allowed: Vec<&str> = public.iter().copied().filter(|h| *h != "pypi.org").collect();
    allowed.dedup();
    net.tinyproxy(8888, &allowed, None);
    net.tinyproxy(8889, &allowed, Some(("amlnet", SECRET)));
    net.wait_for(&format!("{PROXY}:8888"));
    net.wait_for(&format!("{PROXY}:8889"));
    net.wait_for(&format!("{CUSTOMER_DNS}:53"));
    (net, ca)
}

const GOOD_NO_PROXY: &str =
    ".azureml.ms,.core.windows.net,.vault.azure.net,.notebooks.azure.net,10.231.0.0/16,168.63.129.16,169.254.169.254";

#[test]
fn healthy_setup_through_a_real_proxy_has_none_of_the_machine_codes() {
    sandbox::run(&SUITE, healthy_setup_through_a_real_proxy_has_none_of_the_machine_codes_body);
}

fn healthy_setup_through_a_real_proxy_has_none_of_the_machine_codes_body() {
    let (net, ca) = healthy_net("ok");
    let proxy = format!("http://{PROXY}:8888");
    net.write(
        ".bashrc",
        &format!(
            "# ~/.bashrc\nexport HTTPS_PROXY={proxy}\nexport HTTP_PROXY={proxy}\nexport NO_PROXY={GOOD_NO_PROXY}\n"
        ),
    );
    let args = check_args(&ca, &["--skip", "repos"]);
    let o = net.amlnet(&[("HTTPS_PROXY", &proxy), ("HTTP_PROXY", &proxy), ("NO_PROXY", GOOD_NO_PROXY)], &args);
    let r = report(&o);
    assert_eq!(code(&o), 0, "{:?}\n{}", findings(&r), stderr(&o));
    assert_eq!(findings(&r), vec![], "{}", stderr(&o));
    // The system resolver path: /etc/resolv.conf of the namespace.
    assert_eq!(r["environment"]["resolvers"], serde_json::json!([format!("{CUSTOMER_DNS}:53")]));
    assert_eq!(r["environment"]["resolvers_source"], "/etc/resolv.conf");
    assert_eq!(r["environment"]["uses_azure_dns"], false);
    // Public names through the proxy, private ones direct.
    let login = check(&r, "tcp:login.microsoftonline.com:443");
    assert_eq!(login["via_proxy"], proxy);
    assert_eq!(login["tls"]["verified"], true);
    let ws = check(&r, &format!("tcp:{GUID}.workspace.eastus.api.azureml.ms:443"));
    assert_eq!(ws["via_proxy"], Value::Null);
    assert_eq!(ws["http"]["status"], 401);
}

#[test]
fn proxy_variables_in_bashrc_and_environment() {
    sandbox::run(&SUITE, proxy_variables_in_bashrc_and_environment_body);
}

fn proxy_variables_in_bashrc_and_environment_body() {
    let (net, ca) = healthy_net("vars");
    let with_password = format!("http://amlnet:{SECRET}@{PROXY}:8889");
    net.write(
        ".bashrc",
        &format!(
            "# Ubuntu's guard\ncase $- in\n    *i*) ;;\n      *) return;;\nesac\nexport HTTPS_PROXY={with_password}\nhttp_proxy=http://{PROXY}:8888\nexport no_proxy=\"$no_proxy,localhost\"\n"
        ),
    );
    let mut args = vec!["check".to_string(), "--ca-file".into(), ca, "--skip".into(), "repos".into()];
    args.extend(target_args());
    let env = [
        ("HTTPS_PROXY", with_password.as_str()),
        ("https_proxy", "http://10.231.0.3:8888"),
        ("HTTP_PROXY", "http://:3128"),
        ("NO_PROXY", "localhost"),
    ];
    let mut outputs = Vec::new();
    for format in ["json", "text", "markdown", "junit"] {
        let mut a = args.clone();
        a.extend(["--output".to_string(), format.to_string(), "--verbose".to_string()]);
        outputs.push(net.amlnet(&env, &a));
    }
    assert!(
        stderr(&outputs[1]).contains("HTTPS goes through http://10.231.0.3:8888 (from https_proxy)"),
        "{}",
        stderr(&outputs[1])
    );
    assert!(stderr(&outputs[1]).contains("proxy variable HTTPS_PROXY=http://***@"), "{}", stderr(&outputs[1]));
    for o in &outputs {
        let all = format!("{}{}", stdout(o), stderr(o));
        assert!(!all.contains(SECRET), "the proxy password leaked:\n{all}");
    }
    let r = report(&outputs[0]);
    let c = codes(&r);
    for want in [
        "proxy-credentials-in-clear",
        "proxy-env-mismatch",
        "proxy-malformed",
        "proxy-not-exported",
        "no-proxy-missing-private",
        "no-proxy-missing-metadata",
    ] {
        assert!(c.contains(&want.to_string()), "{want} missing from {c:?}");
    }
    assert_eq!(hosts_of(&r, "proxy-not-exported"), vec!["http_proxy"]);
    assert_eq!(hosts_of(&r, "proxy-malformed"), vec!["HTTP_PROXY"]);
    assert!(hosts_of(&r, "no-proxy-missing-private").contains(&format!("{GUID}.workspace.eastus.api.azureml.ms")));
    assert_eq!(hosts_of(&r, "no-proxy-missing-metadata"), vec!["168.63.129.16", "169.254.169.254"]);
    let detail: String =
        r["findings"].as_array().unwrap().iter().map(|f| f["detail"].as_str().unwrap().to_string()).collect();
    assert!(detail.contains("line 6"), "the bashrc line is named: {detail}");
    assert!(detail.contains("non-interactive guard"), "{detail}");
    assert!(detail.contains("HTTPS_PROXY='http://***@10.231.0.3:8889'"), "{detail}");
}

#[test]
fn proxy_path_denial_authentication_and_unreachable() {
    sandbox::run(&SUITE, proxy_path_denial_authentication_and_unreachable_body);
}

fn proxy_path_denial_authentication_and_unreachable_body() {
    let (net, ca) = healthy_net("path");
    let base = check_args(&ca, &["--skip", "local"]);
    // The allow-list proxy denies pypi.org with its own 403.
    let proxy = format!("http://{PROXY}:8888");
    let r = report(&net.amlnet(&[("https_proxy", &proxy), ("no_proxy", GOOD_NO_PROXY)], &base));
    assert_eq!(hosts_of(&r, "http-blocked"), vec!["pypi.org:443"], "{:?}", findings(&r));
    let detail = r["findings"].as_array().unwrap().iter().find(|f| f["code"] == "http-blocked").unwrap()["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(detail.contains("403"), "{detail}");
    assert_eq!(check(&r, "tcp:pypi.org:443")["via_proxy"], proxy);
    let files = check(&r, "tcp:files.pythonhosted.org:443");
    assert_eq!(files["http"]["status"], 200, "{files}");
    assert_eq!(files["http"]["via_proxy"], true);

    // The authenticating proxy without credentials: 407.
    let auth = format!("http://{PROXY}:8889");
    let r = report(&net.amlnet(&[("https_proxy", &auth), ("no_proxy", GOOD_NO_PROXY)], &base));
    assert!(hosts_of(&r, "http-proxy-auth").contains(&"management.azure.com:443".to_string()), "{:?}", findings(&r));
    // With them: through.
    let creds = format!("http://amlnet:{SECRET}@{PROXY}:8889");
    let o = net.amlnet(&[("https_proxy", &creds), ("no_proxy", GOOD_NO_PROXY)], &base);
    assert!(!stdout(&o).contains(SECRET));
    let r = report(&o);
    assert!(hosts_of(&r, "http-proxy-auth").is_empty(), "{:?}", findings(&r));
    assert_eq!(check(&r, "tcp:management.azure.com:443")["tls"]["verified"], true);

    // Nothing listens on the proxy port.
    let dead = format!("http://{PROXY}:9999");
    let r = report(&net.amlnet(&[("https_proxy", &dead), ("no_proxy", GOOD_NO_PROXY)], &base));
    assert_eq!(hosts_of(&r, "proxy-unreachable"), vec![dead.clone()]);

    // A proxy whose name this machine's DNS does not know: every HTTPS path
    // through it is broken, which is an error, not a row of silent skips.
    let unnamed = "http://proxy.corp.example:3128";
    let o = net.amlnet(&[("https_proxy", unnamed), ("no_proxy", GOOD_NO_PROXY)], &base);
    let r = report(&o);
    assert_eq!(hosts_of(&r, "proxy-unreachable"), vec![unnamed.to_string()], "{:?}", findings(&r));
    assert_eq!(code(&o), 1);
    let through = check(&r, "tcp:management.azure.com:443");
    assert!(through["error"].as_str().unwrap_or("").contains("did not resolve"), "{through}");
}

#[test]
fn custom_dns_without_forwarder_and_a_pinned_name() {
    sandbox::run(&SUITE, custom_dns_without_forwarder_and_a_pinned_name_body);
}

fn custom_dns_without_forwarder_and_a_pinned_name_body() {
    let plan = plan();
    let blob = "stcontosoe2e.blob.core.windows.net";
    let mut net = Net::new("dns");
    net.dnsmasq(CUSTOMER_DNS, "customer", &records(&plan, &[blob]));
    net.dnsmasq(AZURE_DNS, "azure", &records(&plan, &[]));
    let ca = net.endpoints(plan.hosts().iter().map(|s| s.to_string()).collect());
    net.wait_for(&format!("{CUSTOMER_DNS}:53"));
    net.wait_for(&format!("{AZURE_DNS}:53"));
    fs::write(
        Path::new("/etc/netns").join(&net.cli).join("hosts"),
        "127.0.0.1 localhost\n10.231.1.99 kv-contoso-e2e.vault.azure.net\n",
    )
    .unwrap();
    let args = check_args(&ca, &["--skip", "repos", "--azure-dns", AZURE_DNS]);
    let o = net.amlnet(&[], &args);
    let r = report(&o);
    assert_eq!(hosts_of(&r, "dns-custom-no-forwarder"), vec![blob.to_string()], "{:?}", findings(&r));
    assert!(hosts_of(&r, "dns-public-answer").is_empty());
    let asked = &check(&r, &format!("dns:{blob}"))["azure_dns"];
    assert_eq!(asked["resolver"], format!("{AZURE_DNS}:53"));
    assert!(asked["addresses"][0].as_str().unwrap().starts_with("10.231.1."), "{asked}");
    let f = r["findings"].as_array().unwrap().iter().find(|f| f["code"] == "dns-custom-no-forwarder").unwrap();
    assert!(f["remedy"].as_str().unwrap().contains("privatelink.blob.core.windows.net"));
    assert_eq!(hosts_of(&r, "dns-hosts-override"), vec!["kv-contoso-e2e.vault.azure.net".to_string()]);
    assert_eq!(r["environment"]["hosts_overrides"][0]["line"], 2);
    assert_eq!(check(&r, "dns:kv-contoso-e2e.vault.azure.net")["addresses"][0], "10.231.1.99");
}

#[test]
fn a_dead_custom_dns_server_is_not_a_missing_forwarder() {
    sandbox::run(&SUITE, dead_custom_dns_body);
}

/// resolv.conf names a custom server where nothing answers; Azure DNS
/// (dnsmasq) knows every private answer. The cause is the dead server.
fn dead_custom_dns_body() {
    let plan = plan();
    let mut net = Net::new("dead");
    net.dnsmasq(AZURE_DNS, "azure", &records(&plan, &[]));
    net.wait_for(&format!("{AZURE_DNS}:53"));
    let ca = net.endpoints(plan.hosts().iter().map(|s| s.to_string()).collect());
    let o = net.amlnet(
        &[],
        &check_args(&ca, &["--skip", "tcp", "--skip", "udp", "--skip", "repos", "--azure-dns", AZURE_DNS]),
    );
    let r = report(&o);
    assert!(hosts_of(&r, "dns-custom-no-forwarder").is_empty(), "{:?}", findings(&r));
    let kv = check(&r, "dns:kv-contoso-e2e.vault.azure.net");
    assert_eq!(kv["code"], "dns-timeout", "{kv}");
    assert!(kv["error"].as_str().unwrap_or("").contains("the configured server is not answering"), "{kv}");
    assert_eq!(code(&o), 1);
}

#[test]
fn local_address_in_docker_bridge_range() {
    sandbox::run(&SUITE, local_address_in_docker_bridge_range_body);
}

fn local_address_in_docker_bridge_range_body() {
    let (net, ca) = healthy_net("dock");
    // A veth pair stands in for a second NIC (the dummy module may be absent).
    sh(&["ip", "-n", &net.cli, "link", "add", "ens9", "type", "veth", "peer", "name", "ens9p"]);
    sh(&["ip", "-n", &net.cli, "addr", "add", "172.17.5.1/24", "dev", "ens9"]);
    sh(&["ip", "-n", &net.cli, "link", "set", "ens9", "up"]);
    let args = check_args(&ca, &["--skip", "repos"]);
    // Without docker0 here, 172.17.5.1 is just an address (a container's, say).
    let r = report(&net.amlnet(&[], &args));
    assert_eq!(hosts_of(&r, "docker-bridge-overlap"), Vec::<String>::new());
    // With Docker's bridge on this machine, the NIC and its route fall inside it.
    sh(&["ip", "-n", &net.cli, "link", "add", "docker0", "type", "veth", "peer", "name", "docker0p"]);
    sh(&["ip", "-n", &net.cli, "addr", "add", "172.17.0.1/16", "dev", "docker0"]);
    sh(&["ip", "-n", &net.cli, "link", "set", "docker0", "up"]);
    let r = report(&net.amlnet(&[], &args));
    let hosts = hosts_of(&r, "docker-bridge-overlap");
    assert!(hosts.contains(&"172.17.5.1/24 (ens9)".to_string()), "{hosts:?}");
    assert!(hosts.contains(&"route 172.17.5.0/24 (ens9)".to_string()), "{hosts:?}");
    let ifaces = r["environment"]["interfaces"].as_array().unwrap();
    assert!(ifaces.iter().any(|i| i["interface"] == "ens9" && i["address"] == "172.17.5.1/24"));
}

#[test]
fn tls_faults_and_a_closed_udp_port_behind_real_dns() {
    sandbox::run(&SUITE, tls_faults_and_a_closed_udp_port_behind_real_dns_body);
}

fn tls_faults_and_a_closed_udp_port_behind_real_dns_body() {
    let plan = plan();
    let moved = [
        ("mcr.microsoft.com", "198.51.100.10"),
        ("graph.microsoft.com", "198.51.100.11"),
        ("management.azure.com", "198.51.100.12"),
        ("eastus.tundra.azureml.ms", "198.51.100.13"),
    ];
    let mut recs: Vec<String> = records(&plan, &[])
        .into_iter()
        .filter(|r| !moved.iter().any(|(h, _)| r.starts_with(&format!("host-record={h},"))))
        .collect();
    recs.extend(moved.iter().map(|(h, a)| format!("host-record={h},{a}")));
    let mut net = Net::new("tlsf");
    net.dnsmasq(CUSTOMER_DNS, "customer", &recs);
    let ca = net.endpoints(plan.hosts().iter().map(|s| s.to_string()).collect());
    let flt = net.faulty_namespace();
    net.serve_in(&flt, || async {
        let at = |last: u8| SocketAddr::new(IpAddr::V4(Ipv4Addr::new(198, 51, 100, last)), 443);
        tls::resetting_on(at(10)).await.unwrap();
        tls::silent_on(at(11)).await.unwrap();
        let inspection = LabCa::new(tls::INSPECTION_CA_NAME, "Contoso Ltd").unwrap();
        tls::serve_on(at(12), &inspection, &["management.azure.com".to_string()], false, Responder::Service)
            .await
            .unwrap();
        // Nothing on 198.51.100.13: UDP 5831 there gets ICMP port unreachable.
    });
    net.wait_for(&format!("{CUSTOMER_DNS}:53"));
    let mut args = check_args(&ca, &["--skip", "repos", "--timeout", "2s"]);
    args.push("--no-color".into());
    let o = net.amlnet(&[], &args);
    let r = report(&o);
    let mut got = findings(&r);
    got.sort();
    let f = |sev: &str, code: &str, host: &str| (sev.to_string(), code.to_string(), vec![host.to_string()]);
    let mut want = vec![
        f("error", "tls-reset", "mcr.microsoft.com:443"),
        f("error", "tls-timeout", "graph.microsoft.com:443"),
        f("error", "tls-untrusted", "management.azure.com:443"),
        f("warning", "udp-rejected", "eastus.tundra.azureml.ms:5831"),
    ];
    want.sort();
    assert_eq!(got, want, "{}", stderr(&o));
    let untrusted = r["findings"].as_array().unwrap().iter().find(|f| f["code"] == "tls-untrusted").unwrap();
    assert!(
        untrusted["detail"]
            .as_str()
            .unwrap()
            .contains("TLS inspection: certificate issued by Contoso Firewall TLS Inspection CA")
    );
    assert_eq!(check(&r, "tcp:mcr.microsoft.com:443")["tcp_state"], "open");
    assert_eq!(check(&r, "udp:eastus.tundra.azureml.ms:5831")["udp_state"], "rejected");
}

#[test]
fn a_real_proxy_that_cannot_reach_the_destination() {
    sandbox::run(&SUITE, a_real_proxy_that_cannot_reach_the_destination_body);
}

/// tinyproxy allows files.pythonhosted.org, whose name resolves (for the
/// proxy too) to 192.0.2.1, where the services namespace has no route: its
/// connect fails and it answers CONNECT with its own error. That is the
/// proxy's way out failing, not a denial.
fn a_real_proxy_that_cannot_reach_the_destination_body() {
    let plan = plan();
    let files = "files.pythonhosted.org";
    let mut recs: Vec<String> =
        records(&plan, &[]).into_iter().filter(|r| !r.starts_with(&format!("host-record={files},"))).collect();
    recs.push(format!("host-record={files},192.0.2.1"));
    let mut net = Net::new("upst");
    net.dnsmasq(CUSTOMER_DNS, "customer", &recs);
    let ca = net.endpoints(plan.hosts().iter().map(|s| s.to_string()).collect());
    let public: Vec<&str> =
        plan.endpoints.iter().filter(|e| e.expect == Expect::Public).map(|e| e.host.as_str()).collect();
    net.tinyproxy(8888, &public, None);
    net.wait_for(&format!("{PROXY}:8888"));
    net.wait_for(&format!("{CUSTOMER_DNS}:53"));
    let proxy = format!("http://{PROXY}:8888");
    let o = net.amlnet(&[("https_proxy", &proxy), ("no_proxy", GOOD_NO_PROXY)], &check_args(&ca, &["--skip", "local"]));
    let r = report(&o);
    let code = amlnet::diagnose::Code::ProxyUpstreamFailed.as_str();
    assert_eq!(hosts_of(&r, code), vec![format!("{files}:443")], "{:?}\n{}", findings(&r), net.logs());
    assert!(hosts_of(&r, "http-blocked").is_empty(), "{:?}", findings(&r));
    let f = r["findings"].as_array().unwrap().iter().find(|f| f["code"] == code).unwrap();
    let detail = f["detail"].as_str().unwrap();
    // tinyproxy's own answer (1.11: "HTTP/1.1 500 Unable to connect", Server:
    // tinyproxy/1.11.1): its status line, its Server and its page's first line.
    assert!(
        detail.contains("the proxy answered CONNECT with \"HTTP/1.1 500 Unable to connect\" (tinyproxy/"),
        "{detail}"
    );
    assert!(detail.contains(": \"500 Unable to connect\""), "the first line of its page: {detail}");
    assert_eq!(check(&r, &format!("tcp:{files}:443"))["via_proxy"], proxy);
    assert_eq!(check(&r, "tcp:pypi.org:443")["http"]["status"], 200, "the proxy reaches the others");
}

#[test]
fn proxy_only_network_public_names_are_the_proxy_s_to_resolve() {
    sandbox::run(&SUITE, proxy_only_network_body);
}

/// The customer's DNS knows only the private-endpoint zones; the proxy
/// resolves the Internet with a DNS server of its own.
fn proxy_only_network_body() {
    let plan = plan();
    let mut net = Net::new("ponly");
    let private_only: Vec<String> =
        records(&plan, &[]).into_iter().filter(|r| r.contains("privatelink") || r.contains("10.231.1.")).collect();
    net.dnsmasq(CUSTOMER_DNS, "customer", &private_only);
    net.dnsmasq(AZURE_DNS, "internet", &records(&plan, &[]));
    // The proxy's own resolver: `ip netns exec` gives tinyproxy this resolv.conf.
    fs::write(Path::new("/etc/netns").join(&net.svc).join("resolv.conf"), format!("nameserver {AZURE_DNS}\n")).unwrap();
    let ca = net.endpoints(plan.hosts().iter().map(|s| s.to_string()).collect());
    let mut public: Vec<&str> =
        plan.endpoints.iter().filter(|e| e.expect == Expect::Public).map(|e| e.host.as_str()).collect();
    public.dedup();
    net.tinyproxy(8888, &public, None);
    net.wait_for(&format!("{PROXY}:8888"));
    net.wait_for(&format!("{CUSTOMER_DNS}:53"));
    net.wait_for(&format!("{AZURE_DNS}:53"));
    let proxy = format!("http://{PROXY}:8888");
    // Exactly the private-endpoint names bypass the proxy.
    let mut bypass: Vec<String> = plan
        .endpoints
        .iter()
        .filter(|e| e.expect == Expect::Private)
        .map(|e| e.host.clone())
        .chain(["10.231.0.0/16".into(), "168.63.129.16".into(), "169.254.169.254".into()])
        .collect();
    bypass.dedup();
    let no_proxy = bypass.join(",");
    let env = [("HTTPS_PROXY", proxy.as_str()), ("HTTP_PROXY", proxy.as_str()), ("NO_PROXY", no_proxy.as_str())];
    let args = check_args(&ca, &["--skip", "repos", "--azure-dns", "127.0.0.1:9"]);
    let o = net.amlnet(&env, &args);
    let r = report(&o);
    // Every public name failed here, and that is no finding: the proxy reached each one.
    let login = check(&r, "dns:login.microsoftonline.com");
    let words = login["error"].as_str().unwrap_or("");
    assert!(words.contains("clients send login.microsoftonline.com to the proxy"), "{login}\n{:?}", findings(&r));
    assert_eq!(login["status"], "pass", "{login}");
    let path = check(&r, "tcp:login.microsoftonline.com:443");
    assert_eq!((path["via_proxy"].as_str(), path["tls"]["verified"].as_bool()), (Some(proxy.as_str()), Some(true)));
    // What is left: UDP to tundra, which no proxy carries and this DNS cannot resolve.
    let left: Vec<(String, String, Vec<String>)> = findings(&r);
    let tundra = vec![("warning".to_string(), "dns-server-error".to_string(), vec!["eastus.tundra.azureml.ms".into()])];
    assert_eq!(left, tundra, "{}", stderr(&o));
    assert_eq!(code(&o), 0);
    // Without HTTP_PROXY, plain HTTP to login's port 80 goes direct and needs this DNS.
    let o = net.amlnet(&[("HTTPS_PROXY", proxy.as_str()), ("NO_PROXY", no_proxy.as_str())], &args);
    let r = report(&o);
    assert_eq!(check(&r, "dns:login.microsoftonline.com")["code"], "dns-server-error", "{:?}", findings(&r));
}

#[test]
fn a_refusing_first_nameserver_is_passed_over_as_glibc_does() {
    sandbox::run(&SUITE, refusing_first_nameserver_body);
}

/// resolv.conf lists a dnsmasq with no data and no upstream (it answers
/// REFUSED) before the healthy one: clients move on, and so does amlnet.
fn refusing_first_nameserver_body() {
    let plan = plan();
    let mut net = Net::new("fail");
    net.dnsmasq(AZURE_DNS, "empty", &[]);
    net.dnsmasq(CUSTOMER_DNS, "customer", &records(&plan, &[]));
    let ca = net.endpoints(plan.hosts().iter().map(|s| s.to_string()).collect());
    net.wait_for(&format!("{CUSTOMER_DNS}:53"));
    net.wait_for(&format!("{AZURE_DNS}:53"));
    let resolv = Path::new("/etc/netns").join(&net.cli).join("resolv.conf");
    fs::write(&resolv, format!("nameserver {AZURE_DNS}\nnameserver {CUSTOMER_DNS}\noptions timeout:1\n")).unwrap();
    let args = check_args(&ca, &["--skip", "repos", "--azure-dns", "127.0.0.1:9"]);
    let o = net.amlnet(&[], &args);
    let r = report(&o);
    assert_eq!(findings(&r), vec![], "{}", stderr(&o));
    let kv = check(&r, "dns:kv-contoso-e2e.vault.azure.net");
    assert_eq!(kv["resolver"], format!("{CUSTOMER_DNS}:53"), "{kv}");
    // The same name, as glibc resolves it in this namespace.
    let getent = Command::new("ip")
        .args(["netns", "exec", &net.cli, "getent", "ahosts", "kv-contoso-e2e.vault.azure.net"])
        .output()
        .unwrap();
    let first = String::from_utf8_lossy(&getent.stdout).split_whitespace().next().unwrap_or("").to_string();
    assert_eq!(kv["addresses"][0], first.as_str(), "getent: {}", String::from_utf8_lossy(&getent.stderr));
    // With the refusing server alone, both fail, and amlnet says how.
    fs::write(&resolv, format!("nameserver {AZURE_DNS}\noptions timeout:1\n")).unwrap();
    let o = net.amlnet(
        &[],
        &check_args(&ca, &["--skip", "tcp", "--skip", "udp", "--skip", "repos", "--azure-dns", "127.0.0.1:9"]),
    );
    let r = report(&o);
    assert!(hosts_of(&r, "dns-server-error").contains(&"kv-contoso-e2e.vault.azure.net".to_string()));
    assert_eq!(check(&r, "dns:kv-contoso-e2e.vault.azure.net")["error"], "REFUSED");
}

#[test]
fn aaaa_answers_and_several_addresses_as_the_client_orders_them() {
    sandbox::run(&SUITE, aaaa_and_several_addresses_body);
}

/// Key Vault's privatelink name answers a private and a public address;
/// blob's answers only AAAA. The mixed answer is a warning naming both; an
/// AAAA-only private answer is no error; glibc sees the same addresses.
fn aaaa_and_several_addresses_body() {
    let plan = plan();
    let kv = "kv-contoso-e2e.vault.azure.net";
    let blob = "stcontosoe2e.blob.core.windows.net";
    let kv_link = "kv-contoso-e2e.privatelink.vaultcore.azure.net";
    let blob_link = "stcontosoe2e.privatelink.blob.core.windows.net";
    let mut recs: Vec<String> = records(&plan, &[])
        .into_iter()
        .filter(|r| {
            !r.starts_with(&format!("host-record={kv_link},")) && !r.starts_with(&format!("host-record={blob_link},"))
        })
        .collect();
    recs.push(format!("host-record={kv_link},203.0.113.250"));
    recs.push(format!("host-record={kv_link},10.231.1.250"));
    recs.push(format!("host-record={blob_link},fd00:231::9"));
    let mut net = Net::new("aaaa");
    net.dnsmasq(CUSTOMER_DNS, "customer", &recs);
    let ca = net.endpoints(plan.hosts().iter().map(|s| s.to_string()).collect());
    net.wait_for(&format!("{CUSTOMER_DNS}:53"));
    let o = net.amlnet(&[], &check_args(&ca, &["--skip", "repos", "--azure-dns", "127.0.0.1:9"]));
    let r = report(&o);
    let getent = |name: &str| {
        let o = Command::new("ip").args(["netns", "exec", &net.cli, "getent", "ahosts", name]).output().unwrap();
        let mut seen: Vec<String> = Vec::new();
        for line in String::from_utf8_lossy(&o.stdout).lines() {
            let addr = line.split_whitespace().next().unwrap_or("").to_string();
            if !seen.contains(&addr) {
                seen.push(addr);
            }
        }
        seen
    };
    // dnsmasq rotates the order of the two addresses, and glibc keeps the
    // server's order (they tie under RFC 6724): the client's first address
    // varies, so the two sets are compared, and amlnet dials its answer's first.
    let kv_check = check(&r, &format!("dns:{kv}"));
    let mut glibc = getent(kv);
    glibc.sort();
    let mut ours: Vec<String> =
        kv_check["addresses"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_string()).collect();
    let first = ours[0].clone();
    ours.sort();
    assert_eq!(ours, glibc, "{kv_check}");
    assert_eq!(check(&r, &format!("tcp:{kv}:443"))["dialled"], format!("{first}:443"));
    let words = kv_check["error"].as_str().unwrap_or("");
    assert!(words.contains("203.0.113.250 (public)") && words.contains("10.231.1.250 (private)"), "{kv_check}");
    let f: Vec<_> = findings(&r).into_iter().filter(|f| f.2.contains(&kv.to_string())).collect();
    assert_eq!(f, vec![("warning".into(), "dns-public-answer".into(), vec![kv.to_string()])]);
    let blob_check = check(&r, &format!("dns:{blob}"));
    assert_eq!(blob_check["addresses"], serde_json::json!(["fd00:231::9"]), "{blob_check}");
    assert_eq!(blob_check["status"], "pass", "{blob_check}");
    assert_eq!(getent(blob), vec!["fd00:231::9".to_string()]);
}

#[test]
fn the_services_own_403_through_a_cdn_and_a_real_proxy_is_no_block() {
    sandbox::run(&SUITE, the_services_own_403_through_a_cdn_and_a_real_proxy_is_no_block_body);
}

/// pypi.org answers 403 with Fastly's `Via: 1.1 varnish` (its own answer,
/// through its CDN), reached through real tinyproxy's tunnel: the path
/// works, nothing in between refused it.
fn the_services_own_403_through_a_cdn_and_a_real_proxy_is_no_block_body() {
    let plan = plan();
    let pypi = "pypi.org";
    let mut net = Net::new("cdn");
    net.dnsmasq(CUSTOMER_DNS, "customer", &records(&plan, &[]));
    let answers = [(pypi.to_string(), tls::CDN_FORBIDDEN_403.to_string())].into_iter().collect();
    let ca = net.endpoints_answering(plan.hosts().iter().map(|s| s.to_string()).collect(), Responder::Canned(answers));
    let public: Vec<&str> =
        plan.endpoints.iter().filter(|e| e.expect == Expect::Public).map(|e| e.host.as_str()).collect();
    net.tinyproxy(8888, &public, None);
    net.wait_for(&format!("{PROXY}:8888"));
    net.wait_for(&format!("{CUSTOMER_DNS}:53"));
    let proxy = format!("http://{PROXY}:8888");
    let o = net.amlnet(&[("https_proxy", &proxy), ("no_proxy", GOOD_NO_PROXY)], &check_args(&ca, &["--skip", "local"]));
    let r = report(&o);
    assert_eq!(findings(&r), vec![], "{}", net.logs());
    let c = check(&r, &format!("tcp:{pypi}:443"));
    assert_eq!(c["via_proxy"], proxy);
    assert_eq!(c["http"]["status"], 403, "{c}");
    assert_eq!(c["http"]["via"], "1.1 varnish");
    assert_eq!(c["status"], "pass");
}
