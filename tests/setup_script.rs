//! packaging/ci-setup.sh, the compute-instance setup script: it installs
//! amlnet from a path or a URL, checks the workspace named by the
//! instance's environment, writes JSON and Markdown reports, and fails the
//! instance's creation on findings only with --strict. The check runs
//! against a lab network on loopback.

mod util;

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use util::*;

fn script() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/ci-setup.sh")
}

/// The setup script as an instance would run it, with this lab and dir.
fn setup(lab: &LabHandle, dir: &Path, from: &str, extra: &[&str]) -> std::process::Output {
    let mut cmd = Command::new("bash");
    cmd.arg(script()).args(["--from", from, "--install-dir"]).arg(dir.join("bin"));
    cmd.arg("--report-dir").arg(dir.join("reports")).args(extra).arg("--").args(lab.network_args());
    cmd.args(["--timeout", "2s"]);
    for var in INHERITED {
        cmd.env_remove(var);
    }
    // What Azure ML sets on a compute instance (FACTS.md, [CI]).
    cmd.env(
        "MLFLOW_TRACKING_URI",
        "azureml://eastus.api.azureml.ms/mlflow/v1.0/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/mlw-contoso-lab",
    );
    cmd.env("CI_NAME", "ci-anna").env("AMLNET_LOOPBACK_ONLY", "1").env("NO_COLOR", "1");
    cmd.output().unwrap()
}

fn latest(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("reports/amlnet-latest.json")).unwrap()).unwrap()
}

#[test]
fn installs_checks_the_instances_workspace_and_never_fails_on_findings() {
    let lab = LabHandle::start("firewall-rejects");
    let dir = tempfile::tempdir().unwrap();
    let o = setup(&lab, dir.path(), env!("CARGO_BIN_EXE_amlnet"), &[]);
    let log = stdout(&o);
    assert_eq!(code(&o), 0, "findings do not fail the creation: {log}{}", stderr(&o));
    assert!(log.contains("amlnet-setup: findings (exit status 1)"), "{log}");
    assert!(dir.path().join("bin/amlnet").is_file());
    let r = latest(dir.path());
    assert_eq!(r["target"]["workspace_name"], "mlw-contoso-lab");
    assert_eq!(r["target"]["region"], "eastus");
    assert_eq!(r["target"]["compute_instance"], "ci-anna");
    assert_eq!(hosts_of(&r, "tcp-refused"), ["management.azure.com:443"]);
    let md = std::fs::read_to_string(dir.path().join("reports/amlnet-latest.md")).unwrap();
    assert!(md.starts_with("# amlnet report") && md.contains("tcp-refused"));
    let stamped = std::fs::read_dir(dir.path().join("reports")).unwrap().filter_map(|e| e.ok()).count();
    assert_eq!(stamped, 4, "a time-stamped JSON and Markdown, and the latest of each");

    // --strict passes the findings on.
    let dir = tempfile::tempdir().unwrap();
    let o = setup(&lab, dir.path(), env!("CARGO_BIN_EXE_amlnet"), &["--strict"]);
    assert_eq!(code(&o), 1, "{}", stdout(&o));
}

#[test]
fn installs_from_a_url_and_a_dist_tarball_with_its_checksum() {
    let lab = LabHandle::start("healthy");
    let dir = tempfile::tempdir().unwrap();
    // A tarball shaped like dist.sh's.
    let stage = dir.path().join("amlnet-0.1.0-x86_64-unknown-linux-musl");
    std::fs::create_dir_all(&stage).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_amlnet"), stage.join("amlnet")).unwrap();
    let tarball = dir.path().join("amlnet.tar.gz");
    let ok = Command::new("tar")
        .arg("-czf")
        .arg(&tarball)
        .arg("-C")
        .arg(dir.path())
        .arg("amlnet-0.1.0-x86_64-unknown-linux-musl")
        .status()
        .unwrap();
    assert!(ok.success());
    let sum = Command::new("sha256sum").arg(&tarball).output().unwrap();
    let sum = String::from_utf8_lossy(&sum.stdout).split_whitespace().next().unwrap().to_string();
    let url = format!("file://{}", tarball.display());
    let o = setup(&lab, dir.path(), &url, &["--sha256", &sum]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("no findings at error level"), "{}", stdout(&o));
    assert_eq!(latest(dir.path())["summary"]["errors"], 0);

    // A wrong checksum installs nothing and, without --strict, still lets the instance come up.
    let other = tempfile::tempdir().unwrap();
    let o = setup(&lab, other.path(), &url, &["--sha256", &"0".repeat(64)]);
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).contains("SHA-256 is not"), "{}", stdout(&o));
    assert!(!other.path().join("bin/amlnet").exists());
    let o = setup(&lab, other.path(), &url, &["--sha256", &"0".repeat(64), "--strict"]);
    assert_eq!(code(&o), 2);
}
