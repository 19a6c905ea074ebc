//! Differential tests: amlnet's model of how each client reads the proxy
//! variables (src/local/proxy.rs) against the real clients on this machine.
//!
//! The same generated cases (a URL and a set of proxy variables) go to:
//! - curl, run once per case inside a network namespace of the test's own
//!   (tests/sandbox) with only loopback up. `--connect-to ::127.0.0.1:PORT`
//!   sends every direct connection to a listener of the test, the proxy
//!   variables name two other listeners, and the listener that is dialled is
//!   the answer. Nothing can leave: the namespace has no route but
//!   loopback, and every `Trying` line of `curl -v` is checked to be one of
//!   the three listeners.
//! - Python requests (and urllib, and the requests that pip vendors), in
//!   one process for all cases (tests/clients/proxy_env.py); it opens no
//!   socket.
//! - Go's net/http, built once per run from tests/clients/proxy_env.go and
//!   started once per environment (it reads the variables once per process);
//!   it opens no socket.
//!
//! A disagreement fails the test and prints the case. A client that is not
//! installed skips the test with a SKIPPED line, or fails it in CI
//! (`CI=true` or `AMLNET_E2E=required`).

mod sandbox;

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use amlnet::local::proxy::{self, Client};
use serde_json::{Value, json};

const CURL: sandbox::Tool = sandbox::Tool { bin: "curl", package: "curl" };
const SUITE: sandbox::Suite = sandbox::Suite {
    file: "tests/no_proxy_clients.rs",
    tools: &[sandbox::IP, CURL],
    timeout: Duration::from_secs(300),
};

/// Says whether the curl tests run here; fails only when they cannot and
/// `AMLNET_E2E=required`.
#[test]
fn suite_status() {
    sandbox::status(&SUITE);
}

// ---------------------------------------------------------------- cases

/// One request: `scheme://host[:port]/` under the proxy variables `env`,
/// whose values may name proxy `{A}` or `{B}`.
#[derive(Clone, Debug)]
struct Case {
    id: usize,
    scheme: &'static str,
    host: &'static str,
    port: Option<u16>,
    env: Vec<(&'static str, &'static str)>,
}

impl Case {
    fn url(&self) -> String {
        match self.port {
            Some(p) => format!("{}://{}:{p}/amlnet-noproxy", self.scheme, self.host),
            None => format!("{}://{}/amlnet-noproxy", self.scheme, self.host),
        }
    }

    /// The variables with `{A}` and `{B}` replaced.
    fn env_with(&self, a: &str, b: &str) -> Vec<(String, String)> {
        self.env.iter().map(|(k, v)| (k.to_string(), v.replace("{A}", a).replace("{B}", b))).collect()
    }
}

/// Where a request went.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Route {
    Direct,
    /// To proxy `A` or `B`.
    Proxy(char),
    /// The client failed before choosing (never expected).
    Failed(String),
}

/// URL hosts (with an explicit port or not) crossed with NO_PROXY values.
const HOSTS: &[(&str, Option<u16>)] = &[
    ("example.com", None),
    ("www.example.com", None),
    ("badexample.com", None),
    ("WWW.Example.COM", None),
    ("example.com.", None),
    ("www.example.com", Some(8080)),
    ("x.api.azureml.ms", None),
    ("azureml.ms", None),
    ("kv.vault.azure.net", None),
    ("st.blob.core.windows.net", None),
    ("10.1.2.3", None),
    ("10.1.2.3", Some(8080)),
    ("1.2.3.4", None),
    ("168.63.129.16", None),
    ("169.254.169.254", None),
    ("[2001:db8::1]", None),
    ("[2001:db8::1]", Some(8080)),
    ("[::1]", None),
    ("localhost", None),
    ("127.0.0.1", None),
];

const NO_PROXIES: &[&str] = &[
    "*",
    "a.com,*",
    "*,a.com",
    " * ",
    "example.com",
    ".example.com",
    "*.example.com",
    "EXAMPLE.COM",
    "example.com.",
    "example.com:8080",
    ".example.com:80",
    "a.com, example.com",
    "a.com example.com",
    "a.com,,example.com,",
    "\texample.com",
    "azureml.ms",
    ".azureml.ms,core.windows.net,*.vault.azure.net",
    "10.0.0.0/8",
    "10.1.2.3",
    "10.1.2.3:8080",
    "10.0.0.0/0",
    "10.1.2.3/32",
    "10.1.2.0/33",
    "2.3.4",
    "168.63.129.16,169.254.169.254",
    "2001:db8::1",
    "[2001:db8::1]",
    "2001:db8::/32",
    "[2001:db8::1]:8080",
    "::1",
    "localhost",
    "127.0.0.1",
    "",
];

/// Which variable names carry the pairs' NO_PROXY value, in turn.
const NO_PROXY_NAMES: &[&[&str]] = &[&["no_proxy"], &["NO_PROXY"], &["no_proxy", "NO_PROXY"]];

/// Variable precedence: for the proxy itself and for NO_PROXY, with both
/// cases set, one empty, and ALL_PROXY.
const PRECEDENCE: &[&[(&str, &str)]] = &[
    &[("https_proxy", "{A}"), ("HTTPS_PROXY", "{B}")],
    &[("HTTPS_PROXY", "{B}")],
    &[("https_proxy", ""), ("HTTPS_PROXY", "{B}")],
    &[("https_proxy", "{A}"), ("HTTPS_PROXY", "")],
    &[("all_proxy", "{A}")],
    &[("ALL_PROXY", "{B}")],
    &[("all_proxy", "{A}"), ("HTTPS_PROXY", "{B}")],
    &[("https_proxy", ""), ("all_proxy", "{A}")],
    &[("http_proxy", "{A}"), ("HTTP_PROXY", "{B}")],
    &[("HTTP_PROXY", "{B}")],
    &[("http_proxy", ""), ("HTTP_PROXY", "{B}")],
    &[("https_proxy", "{A}"), ("http_proxy", "{A}"), ("no_proxy", "example.com"), ("NO_PROXY", "other.com")],
    &[("https_proxy", "{A}"), ("http_proxy", "{A}"), ("no_proxy", "other.com"), ("NO_PROXY", "example.com")],
    &[("https_proxy", "{A}"), ("http_proxy", "{A}"), ("no_proxy", ""), ("NO_PROXY", "example.com")],
    &[("https_proxy", "{A}"), ("http_proxy", "{A}"), ("no_proxy", "example.com"), ("NO_PROXY", "")],
    &[("https_proxy", "{A}"), ("http_proxy", "{A}"), ("NO_PROXY", "example.com")],
    &[("HTTPS_PROXY", "{A}"), ("HTTP_PROXY", "{A}"), ("no_proxy", "")],
];

fn cases() -> &'static [Case] {
    static CASES: OnceLock<Vec<Case>> = OnceLock::new();
    CASES.get_or_init(|| {
        let mut out = Vec::new();
        let mut id = 0;
        let mut push = |scheme, host, port, env| {
            out.push(Case { id, scheme, host, port, env });
            id += 1;
        };
        for (i, no_proxy) in NO_PROXIES.iter().enumerate() {
            let names = NO_PROXY_NAMES[i % NO_PROXY_NAMES.len()];
            for (host, port) in HOSTS {
                let mut env = vec![("http_proxy", "{A}"), ("HTTP_PROXY", "{A}")];
                env.extend(names.iter().map(|n| (*n, *no_proxy)));
                push("http", *host, *port, env);
            }
        }
        for env in PRECEDENCE {
            for scheme in ["http", "https"] {
                for host in ["www.example.com", "www.other.com"] {
                    push(scheme, host, None, env.to_vec());
                }
            }
        }
        out
    })
}

/// What amlnet says `client` does with `case`.
fn model(client: Client, case: &Case) -> Route {
    let env = case.env_with("A", "B");
    let get = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    match proxy::route_for(client, case.scheme, case.host, case.port, &get) {
        None => Route::Direct,
        Some((_, v)) if v == "A" => Route::Proxy('A'),
        Some((_, v)) if v == "B" => Route::Proxy('B'),
        Some((n, v)) => Route::Failed(format!("model chose {n}={v}")),
    }
}

/// Compares one client's answers with the model; panics listing every
/// disagreement.
fn compare(client: Client, label: &str, answers: &HashMap<usize, Route>) {
    let mut wrong = Vec::new();
    for case in cases() {
        let real = answers.get(&case.id).cloned().unwrap_or(Route::Failed("no answer".into()));
        let ours = model(client, case);
        if real != ours {
            wrong.push(format!("  {} with {:?}: {label} {real:?}, amlnet {ours:?}", case.url(), case.env));
        }
    }
    println!("{label}: {} cases compared, {} disagree", cases().len(), wrong.len());
    assert!(wrong.is_empty(), "{label} disagrees with amlnet's model on {} cases:\n{}", wrong.len(), wrong.join("\n"));
}

// ------------------------------------------------------- missing clients

/// In CI a missing client is a failure; elsewhere a loud skip.
fn unavailable(test: &str, why: &str, fix: &str) {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true") || sandbox::required();
    assert!(!ci, "tests/no_proxy_clients.rs::{test} cannot run: {why}; fix: {fix}");
    let _ = writeln!(std::io::stderr(), "SKIPPED tests/no_proxy_clients.rs::{test}: {why}; to run it: {fix}");
}

fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients")
}

// ------------------------------------------------------------- Python

/// Runs the Python helper on `input` (a JSON list); its answers by id, and
/// the versions line. `None` when python3 or requests is missing.
fn python(test: &str, input: &Value) -> Option<(HashMap<u64, Value>, Value)> {
    let probe = Command::new("python3").args(["-c", "import requests"]).output();
    if !probe.as_ref().is_ok_and(|o| o.status.success()) {
        unavailable(test, "python3 with requests is not installed", "pip install requests==2.34.2");
        return None;
    }
    let mut child = Command::new("python3")
        .arg(clients_dir().join("proxy_env.py"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 starts");
    child.stdin.take().unwrap().write_all(input.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "proxy_env.py failed: {}", String::from_utf8_lossy(&out.stderr));
    let mut answers = HashMap::new();
    let mut versions = Value::Null;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: Value = serde_json::from_str(line).expect("one JSON object a line");
        match v["id"].as_u64() {
            Some(id) => {
                answers.insert(id, v);
            }
            None => versions = v["versions"].clone(),
        }
    }
    Some((answers, versions))
}

fn python_route(v: &Value) -> Route {
    match v.as_str() {
        None => Route::Direct,
        Some("http://127.0.0.1:1") => Route::Proxy('A'),
        Some("http://127.0.0.1:2") => Route::Proxy('B'),
        Some(other) => Route::Failed(other.to_string()),
    }
}

const FAKE_A: &str = "http://127.0.0.1:1";
const FAKE_B: &str = "http://127.0.0.1:2";

#[test]
fn python_requests_routes_as_amlnet_models_it() {
    let input: Vec<Value> = cases()
        .iter()
        .map(|c| {
            let env: BTreeMap<String, String> = c.env_with(FAKE_A, FAKE_B).into_iter().collect();
            json!({"kind": "route", "id": c.id, "url": c.url(), "env": env})
        })
        .collect();
    let Some((answers, versions)) = python("python_requests_routes_as_amlnet_models_it", &Value::from(input)) else {
        return;
    };
    println!("Python: {versions}");
    let pick = |key: &str| -> HashMap<usize, Route> {
        answers.iter().map(|(id, v)| (*id as usize, python_route(&v[key]))).collect()
    };
    let requests = pick("requests");
    // urllib alone and pip's vendored requests are reported, not judged:
    // amlnet models the requests that az, the Azure SDK and conda install.
    for other in ["urllib", "pip"] {
        let theirs = pick(other);
        let differ: Vec<&Case> = cases().iter().filter(|c| theirs.get(&c.id) != requests.get(&c.id)).collect();
        println!("{other}: differs from requests on {} of {} cases, for example:", differ.len(), cases().len());
        for c in differ.iter().take(6) {
            println!("  {} {:?}: {other} {:?}, requests {:?}", c.url(), c.env, theirs[&c.id], requests[&c.id]);
        }
    }
    compare(Client::Requests, "Python requests", &requests);
}

// ----------------------------------------------------------------- Go

/// Proxy variables, names and values.
type Env = Vec<(String, String)>;

/// The Go helper, built once per run into the target directory.
fn go_helper(test: &str) -> Option<PathBuf> {
    static BUILT: OnceLock<Result<PathBuf, (String, String)>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let Ok(version) = Command::new("go").arg("version").env("GOTOOLCHAIN", "local").output() else {
            return Err(("go is not installed".into(), "sudo apt-get install golang-go".into()));
        };
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("no_proxy_clients");
        std::fs::create_dir_all(&dir).unwrap();
        let bin = dir.join("proxy_env");
        let out = Command::new("go")
            .args(["build", "-o"])
            .arg(&bin)
            .arg(clients_dir().join("proxy_env.go"))
            .env("GOTOOLCHAIN", "local")
            .env("GOFLAGS", "")
            .env("GO111MODULE", "off")
            .env("GOCACHE", dir.join("gocache"))
            .env("GOPATH", dir.join("gopath"))
            .output()
            .expect("go runs");
        assert!(out.status.success(), "go build: {}", String::from_utf8_lossy(&out.stderr));
        println!("Go: {}", String::from_utf8_lossy(&version.stdout).trim());
        Ok(bin)
    });
    match built {
        Ok(bin) => Some(bin.clone()),
        Err((why, fix)) => {
            unavailable(test, why, fix);
            None
        }
    }
}

/// Runs the Go helper once with `env` (and no other proxy variable) on
/// `queries`; its answers by id.
fn go_run(bin: &Path, env: &[(String, String)], queries: &[(usize, String)]) -> HashMap<usize, Value> {
    let input: Vec<Value> = queries.iter().map(|(id, url)| json!({"id": id, "url": url})).collect();
    let mut cmd = Command::new(bin);
    cmd.env_clear().envs(env.iter().map(|(k, v)| (k, v)));
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(Value::from(input).to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "proxy_env (Go) failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("JSON line");
            (v["id"].as_u64().unwrap() as usize, v)
        })
        .collect()
}

#[test]
fn go_routes_as_amlnet_models_it() {
    let Some(bin) = go_helper("go_routes_as_amlnet_models_it") else { return };
    let mut groups: BTreeMap<Env, Vec<(usize, String)>> = BTreeMap::new();
    for c in cases() {
        groups.entry(c.env_with(FAKE_A, FAKE_B)).or_default().push((c.id, c.url()));
    }
    let mut answers = HashMap::new();
    for (env, queries) in &groups {
        for (id, v) in go_run(&bin, env, queries) {
            let route = match (v["error"].as_str(), v["proxy"].as_str()) {
                (Some(e), _) if !e.is_empty() => Route::Failed(e.to_string()),
                (_, Some("")) | (_, None) => Route::Direct,
                (_, Some(p)) => python_route(&Value::from(p)),
            };
            answers.insert(id, route);
        }
    }
    println!("Go: {} processes for {} cases", groups.len(), cases().len());
    compare(Client::Go, "Go net/http", &answers);
}

// --------------------------------------------------------------- curl

#[test]
fn curl_routes_as_amlnet_models_it() {
    sandbox::run(&SUITE, curl_routes_body);
}

/// Brings up loopback in the sandbox's own network namespace.
fn loopback_up() {
    let o = Command::new("ip").args(["link", "set", "lo", "up"]).output().expect("ip runs");
    assert!(o.status.success(), "ip link set lo up: {}", String::from_utf8_lossy(&o.stderr));
}

fn curl_routes_body() {
    loopback_up();
    let next = Mutex::new(0usize);
    let answers = Mutex::new(HashMap::new());
    std::thread::scope(|s| {
        for _ in 0..6 {
            s.spawn(|| {
                loop {
                    let i = {
                        let mut n = next.lock().unwrap();
                        *n += 1;
                        *n - 1
                    };
                    let Some(case) = cases().get(i) else { break };
                    let route = curl_route(case);
                    answers.lock().unwrap().insert(case.id, route);
                }
            });
        }
    });
    compare(Client::Curl, "curl", &answers.into_inner().unwrap());
}

/// A listener on a loopback address that counts who dialled it.
struct Listener {
    socket: TcpListener,
    port: u16,
    hits: usize,
}

impl Listener {
    fn bind(addr: SocketAddr) -> Listener {
        let socket = TcpListener::bind(addr).unwrap_or_else(|e| panic!("bind {addr}: {e}"));
        socket.set_nonblocking(true).unwrap();
        let port = socket.local_addr().unwrap().port();
        Listener { socket, port, hits: 0 }
    }

    /// Accepts what is waiting, and closes it at once: curl gives up.
    fn drain(&mut self) {
        while let Ok((stream, _)) = self.socket.accept() {
            self.hits += 1;
            drop(stream);
        }
    }
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// Runs curl for one case: which of three listeners (proxy A, proxy B,
/// direct) it dialled.
fn curl_route(case: &Case) -> Route {
    let mut listeners = [loopback(0), loopback(0), loopback(0)].map(Listener::bind);
    let [a, b, direct] = [0, 1, 2].map(|i| listeners[i].port);
    let env = case.env_with(&format!("http://127.0.0.1:{a}"), &format!("http://127.0.0.1:{b}"));
    let (out, status) =
        run_curl(&env, &["--connect-to", &format!("::127.0.0.1:{direct}"), &case.url()], &mut listeners);
    check_trying_lines(&out, &[loopback(a), loopback(b), loopback(direct)]);
    let hits: Vec<usize> = listeners.iter().map(|l| l.hits).collect();
    match hits.as_slice() {
        [1, 0, 0] => Route::Proxy('A'),
        [0, 1, 0] => Route::Proxy('B'),
        [0, 0, 1] => Route::Direct,
        _ => Route::Failed(format!("listeners hit {hits:?}, curl {status}: {}", out.lines().last().unwrap_or(""))),
    }
}

/// Runs curl (no ~/.curlrc, verbose, short timeouts) with only `env`,
/// draining `listeners` while it runs; its stderr and exit status.
fn run_curl(env: &[(String, String)], args: &[&str], listeners: &mut [Listener]) -> (String, String) {
    let mut child = Command::new("curl")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .args(["-q", "-sS", "-v", "--max-time", "5", "--connect-timeout", "3", "-o", "/dev/null"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("curl starts");
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        listeners.iter_mut().for_each(Listener::drain);
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    listeners.iter_mut().for_each(Listener::drain);
    (reader.join().unwrap(), status.to_string())
}

/// Every address curl tried is one of `allowed`: nothing else was dialled.
fn check_trying_lines(out: &str, allowed: &[SocketAddr]) {
    for line in out.lines().filter(|l| l.contains("Trying ")) {
        let addr = line.split("Trying ").nth(1).unwrap_or("").trim_end_matches("...").trim();
        let addr: SocketAddr =
            addr.parse().unwrap_or_else(|_| panic!("curl tried an address it did not print: {line}"));
        assert!(allowed.contains(&addr), "curl dialled {addr}, which is not a listener of this test:\n{out}");
    }
}

// ------------------------------------------------- proxy URLs (issue 9)

/// Proxy values as people write them; each client's reading is compared
/// with [`proxy::read_proxy_value`]. Hosts are loopback or `proxy.test`
/// (resolved by curl's `--resolve` to loopback).
const PROXY_VALUES: &[&str] = &[
    "127.0.0.1:7890",
    "localhost:3128",
    "proxy.test:3128",
    "localhost",
    "127.0.0.1",
    "http://127.0.0.1:3128",
    "http://127.0.0.1:3128/",
    "http://127.0.0.1:3128/path",
    "http://127.0.0.1:3128?x=1",
    "HTTP://127.0.0.1:3128",
    "http://proxy.test",
    "https://127.0.0.1",
    "https://127.0.0.1:443",
    "socks5://127.0.0.1:1080",
    "socks5h://127.0.0.1:1080",
    "socks4://127.0.0.1:1080",
    "socks5://127.0.0.1",
    "ftp://127.0.0.1:3128",
    "http://127.0.0.1:99999",
    "http://127.0.0.1:0",
    "http://127.0.0.1:abc",
    "http://127.0.0.1:",
    "http://127.0.0.1:03128",
    "http://:3128",
    "http://[::1]:3128",
    "[::1]:3128",
    "http://user:pass@127.0.0.1:3128",
    "http://user@127.0.0.1:3128",
    "http://user:p%40ss@127.0.0.1:3128",
    "http://user:p@ss@127.0.0.1:3128",
    "http://user:pa:ss@127.0.0.1:3128",
    "http://user:p#ss@127.0.0.1:3128",
    "http://user:pass@127.0.0.1:99999/",
    "user:pass@127.0.0.1:3128",
    "http://proxy.test:3128 ",
    " http://proxy.test:3128",
    "http://proxy test:3128",
];

/// A client's reading reduced to what the tests can see of it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seen {
    /// It dialled (or would dial) this host and port.
    Uses(String, u16),
    Rejects,
    Ignores,
}

fn seen(reading: &proxy::ProxyReading) -> Seen {
    match reading {
        proxy::ProxyReading::Uses { host, port, .. } => Seen::Uses(host.clone(), *port),
        proxy::ProxyReading::Rejects(_) => Seen::Rejects,
        proxy::ProxyReading::Ignores(_) => Seen::Ignores,
    }
}

fn compare_values(label: &str, answers: &[(&str, Seen, Seen)]) {
    let wrong: Vec<String> = answers
        .iter()
        .filter(|(_, real, ours)| real != ours)
        .map(|(v, real, ours)| format!("  {v:?}: {label} {real:?}, amlnet {ours:?}"))
        .collect();
    println!("{label}: {} proxy values compared, {} disagree", answers.len(), wrong.len());
    assert!(wrong.is_empty(), "{label} reads proxy values unlike amlnet's model:\n{}", wrong.join("\n"));
}

#[test]
fn python_requests_reads_proxy_urls_as_amlnet_models_it() {
    let input: Vec<Value> =
        PROXY_VALUES.iter().enumerate().map(|(id, v)| json!({"kind": "parse", "id": id, "value": v})).collect();
    let test = "python_requests_reads_proxy_urls_as_amlnet_models_it";
    let Some((answers, versions)) = python(test, &Value::from(input)) else { return };
    let socks = versions["socks"].as_bool().unwrap_or(false);
    let mut compared = Vec::new();
    for (id, value) in PROXY_VALUES.iter().enumerate() {
        let a = &answers[&(id as u64)]["requests"];
        let real = match (a["host"].as_str(), a["port"].as_u64()) {
            (Some(h), Some(p)) => Seen::Uses(h.trim_matches(['[', ']']).to_ascii_lowercase(), p as u16),
            _ => Seen::Rejects,
        };
        let model = proxy::read_proxy_value(Client::Requests, value);
        let ours = match &model {
            // Where PySocks is installed, requests speaks SOCKS.
            proxy::ProxyReading::Rejects(why) if socks && why.contains("PySocks") => real.clone(),
            other => seen(other),
        };
        compared.push((*value, real, ours));
    }
    compare_values("Python requests", &compared);
}

#[test]
fn go_reads_proxy_urls_as_amlnet_models_it() {
    let Some(bin) = go_helper("go_reads_proxy_urls_as_amlnet_models_it") else { return };
    let mut compared = Vec::new();
    for value in PROXY_VALUES {
        let env = vec![("HTTPS_PROXY".to_string(), value.to_string())];
        let answer = &go_run(&bin, &env, &[(0, "https://target.test/".to_string())])[&0];
        let host = answer["host"].as_str().unwrap_or_default();
        let port: u32 = answer["port"].as_str().and_then(|p| p.parse().ok()).unwrap_or(0);
        let real = match answer["proxy"].as_str() {
            Some("") | None => Seen::Ignores,
            // No host, a port Dial refuses, or port 0: every request fails.
            Some(_) if host.is_empty() || answer["port_error"].is_string() || port == 0 => Seen::Rejects,
            Some(_) => Seen::Uses(host.to_ascii_lowercase(), port as u16),
        };
        compared.push((*value, real, seen(&proxy::read_proxy_value(Client::Go, value))));
    }
    compare_values("Go net/http", &compared);
}

#[test]
fn curl_reads_proxy_urls_as_amlnet_models_it() {
    sandbox::run(&SUITE, curl_proxy_urls_body);
}

/// The ports the proxy values name or default to, listened on at
/// 127.0.0.1 and ::1 (the namespace is the test's own: no port is taken).
const PROXY_PORTS: &[u16] = &[80, 443, 1080, 3128, 7890];

fn curl_proxy_urls_body() {
    loopback_up();
    let mut listeners: Vec<Listener> = PROXY_PORTS
        .iter()
        .flat_map(|p| [SocketAddr::from((Ipv4Addr::LOCALHOST, *p)), SocketAddr::from((Ipv6Addr::LOCALHOST, *p))])
        .map(Listener::bind)
        .collect();
    let addrs: Vec<SocketAddr> = listeners.iter().map(|l| l.socket.local_addr().unwrap()).collect();
    listeners.push(Listener::bind(loopback(0)));
    let direct = listeners.last().unwrap().port;
    let mut args = vec!["--connect-to".to_string(), format!("::127.0.0.1:{direct}")];
    for p in PROXY_PORTS {
        args.extend(["--resolve".to_string(), format!("proxy.test:{p}:127.0.0.1")]);
    }
    args.push("http://target.test/amlnet-noproxy".to_string());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut compared = Vec::new();
    for value in PROXY_VALUES {
        listeners.iter_mut().for_each(|l| l.hits = 0);
        let env = vec![("http_proxy".to_string(), value.to_string())];
        let (out, _) = run_curl(&env, &args, &mut listeners);
        for line in out.lines().filter(|l| l.contains("Trying ")) {
            let addr: Option<SocketAddr> =
                line.split("Trying ").nth(1).and_then(|a| a.trim_end_matches("...").parse().ok());
            assert!(addr.is_some_and(|a| a.ip().is_loopback()), "curl dialled beyond loopback: {line}");
        }
        let hit: Vec<usize> = (0..listeners.len()).filter(|i| listeners[*i].hits > 0).collect();
        let real = match hit.as_slice() {
            [] => Seen::Rejects,
            [i] if *i == listeners.len() - 1 => Seen::Ignores,
            [i] => Seen::Uses(addrs[*i].ip().to_string(), addrs[*i].port()),
            _ => panic!("curl dialled several listeners for {value:?}:\n{out}"),
        };
        // curl resolved the names to 127.0.0.1 (--resolve, and localhost
        // is 127.0.0.1 first): compare the address it dialled.
        let ours = match seen(&proxy::read_proxy_value(Client::Curl, value)) {
            Seen::Uses(h, p) if h == "proxy.test" || h == "localhost" => Seen::Uses("127.0.0.1".into(), p),
            other => other,
        };
        compared.push((*value, real, ours));
    }
    compare_values("curl", &compared);
}
