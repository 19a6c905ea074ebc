//! Test harness: run the real binary, read its JSON report, start the lab
//! in-process. Every run is confined to loopback (AMLNET_LOOPBACK_ONLY).

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

use amlnet::catalogue::Catalogue;
use amlnet::lab::{self, Lab};
use amlnet::plan::Plan;
use serde_json::Value;

/// Variables a test's amlnet must not inherit from the machine running the tests.
pub const INHERITED: &[&str] = &[
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
    "MLFLOW_TRACKING_URI",
    "CI_NAME",
];

/// The built `amlnet` binary with a clean, loopback-only environment.
pub fn amlnet() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_amlnet"));
    for var in INHERITED {
        cmd.env_remove(var);
    }
    cmd.env("AMLNET_LOOPBACK_ONLY", "1");
    cmd.env("NO_COLOR", "1");
    cmd
}

/// Runs `amlnet` with `args`.
pub fn run(args: &[&str]) -> Output {
    amlnet().args(args).output().expect("the binary runs")
}

/// Standard output as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The exit status (panics on a signal, which is itself a failure).
pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or_else(|| panic!("killed by a signal; stderr: {}", stderr(o)))
}

/// Parses the JSON report on standard output.
pub fn report(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", stdout(o), stderr(o)))
}

/// `amlnet demo --scenario NAME --output json` with a short timeout.
pub fn demo(scenario: &str) -> (i32, Value) {
    let o = run(&["demo", "--scenario", scenario, "--output", "json", "--timeout", "2s"]);
    (code(&o), report(&o))
}

/// Findings as (severity, code, sorted hosts).
pub fn findings(r: &Value) -> Vec<(String, String, Vec<String>)> {
    r["findings"]
        .as_array()
        .expect("findings array")
        .iter()
        .map(|f| {
            let mut hosts: Vec<String> =
                f["hosts"].as_array().unwrap().iter().map(|h| h.as_str().unwrap().to_string()).collect();
            hosts.sort();
            (f["severity"].as_str().unwrap().to_string(), f["code"].as_str().unwrap().to_string(), hosts)
        })
        .collect()
}

/// The hosts of every finding with `code`, sorted.
pub fn hosts_of(r: &Value, code: &str) -> Vec<String> {
    let mut out: Vec<String> = findings(r).into_iter().filter(|f| f.1 == code).flat_map(|f| f.2).collect();
    out.sort();
    out
}

/// The check with this id.
pub fn check<'a>(r: &'a Value, id: &str) -> &'a Value {
    r["checks"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap_or_else(|| panic!("no check {id}"))
}

/// The lab's workspace host names.
pub const WS: &str = "3f6c2a51-8e4b-4d2a-9b7e-5c1d0a9e7f42.workspace.eastus.api.azureml.ms";
pub const WS_CERT: &str = "3f6c2a51-8e4b-4d2a-9b7e-5c1d0a9e7f42.workspace.eastus.cert.api.azureml.ms";

/// A lab running in this test process, on its own runtime.
pub struct LabHandle {
    pub lab: Lab,
    ca_dir: tempfile::TempDir,
    _rt: tokio::runtime::Runtime,
}

impl LabHandle {
    /// Starts `scenario`'s network for the lab workspace.
    pub fn start(scenario: &str) -> LabHandle {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let plan = Plan::build(Catalogue::builtin(), &lab::lab_target());
        let lab = rt.block_on(Lab::start(lab::find(scenario).expect("scenario exists"), &plan)).expect("lab starts");
        let ca_dir = tempfile::tempdir().unwrap();
        std::fs::write(ca_dir.path().join("lab-ca.pem"), lab.trusted_pem.join("")).unwrap();
        std::fs::write(ca_dir.path().join("empty"), "").unwrap();
        LabHandle { lab, ca_dir, _rt: rt }
    }

    /// Runs amlnet with `args` and this lab's network arguments.
    pub fn run(&self, args: &[&str]) -> Output {
        amlnet().args(args).args(self.network_args()).output().expect("the binary runs")
    }

    /// `--dns-server`, `--ca-file` with the lab's CA, and one `--connect-to` per rule.
    pub fn network_args(&self) -> Vec<String> {
        // This machine's own bashrc and hosts file stay out of lab tests.
        let empty = self.ca_dir.path().join("empty");
        self.network_args_with(&empty, &empty)
    }

    /// [`Self::network_args`] with this bashrc and hosts file.
    pub fn network_args_with(&self, bashrc: &std::path::Path, hosts: &std::path::Path) -> Vec<String> {
        let ca = self.ca_dir.path().join("lab-ca.pem").display().to_string();
        let mut args = vec![
            "--dns-server".to_string(),
            self.lab.dns.to_string(),
            "--ca-file".into(),
            ca,
            "--bashrc".into(),
            bashrc.display().to_string(),
            "--hosts-file".into(),
            hosts.display().to_string(),
        ];
        // Nor do its other startup files: an empty file and a directory without them.
        let empty = self.ca_dir.path().join("empty").display().to_string();
        let dir = self.ca_dir.path().display().to_string();
        for (flag, path) in [
            ("--etc-environment", &empty),
            ("--etc-profile", &empty),
            ("--etc-bashrc", &empty),
            ("--profile-dir", &dir),
            ("--home", &dir),
        ] {
            args.push(flag.to_string());
            args.push(path.clone());
        }
        for rule in &self.lab.connect_to {
            args.push("--connect-to".into());
            args.push(rule.to_string());
        }
        args
    }
}

/// A file under tests/fixtures.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// `amlnet demo` on a filtered network, sent `signal` while its probes wait:
/// the exit status and the report it still wrote.
pub fn interrupted_demo(signal: i32) -> (i32, Value) {
    let child = amlnet()
        .args(["demo", "--scenario", "workspace-port-filtered", "--output", "json", "--timeout", "20s"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary runs");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    // SAFETY: kill(2) on our own child's pid has no memory effects.
    unsafe { libc::kill(child.id() as i32, signal) };
    let o = child.wait_with_output().expect("the binary ends");
    (code(&o), report(&o))
}

/// `amlnet demo` on a filtered network with a deadline (1 s) far shorter
/// than the probes' timeout (20 s).
pub fn unfinished_demo() -> Output {
    run(&["demo", "--scenario", "workspace-port-filtered", "--output", "json", "--timeout", "20s", "--deadline", "1s"])
}
