//! Many machines: `amlnet diff`, `amlnet merge` and `amlnet job`, on JSON
//! reports that the real binary wrote (`amlnet demo --output json`).

mod util;

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use util::*;

/// Writes `scenario`'s demo report to DIR/NAME and returns its path.
fn save(dir: &Path, name: &str, scenario: &str) -> PathBuf {
    let path = dir.join(name);
    let o =
        run(&["demo", "--scenario", scenario, "--output", "json", "--timeout", "2s", "--out", path.to_str().unwrap()]);
    assert!(path.is_file(), "{scenario}: {}", stderr(&o));
    path
}

fn edit(path: &Path, f: impl FnOnce(&mut Value)) {
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn diff_exits_1_when_findings_were_added_and_names_one_sided_checks() {
    let dir = tempfile::tempdir().unwrap();
    let healthy = save(dir.path(), "healthy.json", "healthy");
    let broken = save(dir.path(), "broken.json", "firewall-rejects");
    let o = run(&["diff", s(&healthy), s(&broken), "--output", "json"]);
    assert_eq!(code(&o), 1, "findings were added: {}", stderr(&o));
    let d = report(&o);
    assert_eq!(d["added"][0], json!({"code": "tcp-refused", "severity": "error", "host": "management.azure.com:443"}));
    assert_eq!(d["added"][1]["code"], "udp-rejected");
    assert_eq!(d["fixed"], json!([]));
    assert!(
        d["changed"]
            .as_array()
            .unwrap()
            .contains(&json!({"id": "tcp:management.azure.com:443", "was": "pass", "now": "fail"}))
    );
    // The other way round, nothing was added: exit 0.
    let o = run(&["diff", s(&broken), s(&healthy)]);
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).contains("Fixed (2)") && stdout(&o).contains("New (0)"), "{}", stdout(&o));

    // A check only one report has (a run that skipped it).
    edit(&broken, |r| {
        let checks = r["checks"].as_array_mut().unwrap();
        checks.retain(|c| c["id"] != "udp:eastus.tundra.azureml.ms:5831");
    });
    let o = run(&["diff", s(&healthy), s(&broken), "--output", "json"]);
    let d = report(&o);
    assert_eq!(d["only_in_old"], json!([{"id": "udp:eastus.tundra.azureml.ms:5831", "status": "pass"}]));
    assert_eq!(d["only_in_new"], json!([]));
    let text = stdout(&run(&["diff", s(&healthy), s(&broken)]));
    assert!(
        text.contains(&format!("Only in {} (1)\n  udp:eastus.tundra.azureml.ms:5831 (pass)", healthy.display())),
        "{text}"
    );
}

#[test]
fn diff_and_merge_reject_what_is_not_a_report_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let healthy = save(dir.path(), "healthy.json", "healthy");
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, "{\"schema_version\": 1}").unwrap();
    let missing = dir.path().join("missing.json");
    for args in [
        vec!["diff", s(&healthy), s(&junk)],
        vec!["merge", s(&healthy), s(&junk)],
        vec!["merge", s(&missing)],
        vec!["diff", s(&missing), s(&healthy)],
    ] {
        let o = run(&args);
        assert_eq!(code(&o), 2, "{args:?}");
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("junk.json") || err.contains("missing.json"), "names the input: {err}");
        assert!(!err.contains("panicked"));
    }
    let o = run(&["merge"]);
    assert_eq!(code(&o), 2, "no report is bad usage");
}

#[test]
fn merge_gives_one_fleet_view() {
    let dir = tempfile::tempdir().unwrap();
    let nodes: Vec<PathBuf> =
        [("node-0.json", "healthy"), ("node-1.json", "firewall-rejects"), ("node-2.json", "firewall-rejects")]
            .iter()
            .map(|(name, scenario)| save(dir.path(), name, scenario))
            .collect();
    for (i, node) in nodes.iter().enumerate() {
        edit(node, |r| r["host"]["hostname"] = format!("aml-node-{i}").into());
    }
    let args: Vec<&str> = ["merge", "--output", "json"].into_iter().chain(nodes.iter().map(|p| s(p))).collect();
    let o = run(&args);
    assert_eq!(code(&o), 1, "an error finding on some machine: {}", stderr(&o));
    let f = report(&o);
    assert_eq!(f["schema_version"], 1);
    let names: Vec<&str> = f["machines"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["aml-node-0", "aml-node-1", "aml-node-2"]);
    assert_eq!(f["machines"][1]["file"], s(&nodes[1]));
    assert_eq!(f["machines"][1]["summary"], json!({"errors": 1, "warnings": 1, "passed": 112, "skipped": 0}));
    let first = &f["findings"][0];
    assert_eq!(first["code"], "tcp-refused");
    assert_eq!(first["severity"], "error");
    assert_eq!(first["title"], "Connection refused");
    assert_eq!(first["machines"], json!(["aml-node-1", "aml-node-2"]));
    assert_eq!(first["hosts"], json!(["management.azure.com:443"]));
    assert_eq!(first["summary"], "2 of 3 nodes cannot reach management.azure.com:443: tcp-refused");
    assert_eq!(f["findings"][1]["code"], "udp-rejected");
    assert_eq!(f["findings"].as_array().unwrap().len(), 2);
    let differing: Vec<&str> =
        f["differing_checks"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(differing, ["tcp:management.azure.com:443", "udp:eastus.tundra.azureml.ms:5831"]);
    assert_eq!(
        f["differing_checks"][0]["statuses"],
        json!({"aml-node-0": "pass", "aml-node-1": "fail", "aml-node-2": "fail"})
    );

    let text = stdout(&run(&["merge", s(&nodes[0]), s(&nodes[1]), s(&nodes[2])]));
    assert!(text.contains("ERROR    2 of 3 nodes cannot reach management.azure.com:443: tcp-refused"), "{text}");
    assert!(
        text.contains("tcp:management.azure.com:443: pass on aml-node-0; fail on aml-node-1, aml-node-2"),
        "{text}"
    );
    assert!(text.contains("aml-node-0  0 errors, 0 warnings, 114 passed"), "{text}");
    assert!(text.contains("aml-node-1  1 error, 1 warning, 112 passed"), "{text}");
    let md = stdout(&run(&["merge", "--output", "markdown", s(&nodes[0]), s(&nodes[1])]));
    assert!(md.contains("- **error** 1 of 2 nodes cannot reach management.azure.com:443: tcp-refused"), "{md}");
    assert!(
        md.contains("<details>")
            && md.contains("| `tcp:management.azure.com:443` | pass on aml-node-0; fail on aml-node-1 |")
    );

    // The exit status is check's, over all machines.
    assert_eq!(code(&run(&["merge", s(&nodes[0])])), 0);
    assert_eq!(code(&run(&["merge", "--fail-on", "never", s(&nodes[1])])), 0);
}

#[test]
fn merge_names_machines_by_file_where_host_names_repeat() {
    let dir = tempfile::tempdir().unwrap();
    let a = save(dir.path(), "a.json", "healthy");
    let b = save(dir.path(), "b.json", "storage-zone-unlinked");
    let c = save(dir.path(), "c.json", "healthy");
    edit(&c, |r| r["host"]["hostname"] = "jumpbox".into());
    let f = report(&run(&["merge", "-o", "json", s(&a), s(&b), s(&c)]));
    let names: Vec<&str> = f["machines"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["a.json", "b.json", "jumpbox"]);
    // One finding code at two severities stays two entries, each with its hosts.
    let public: Vec<&Value> =
        f["findings"].as_array().unwrap().iter().filter(|x| x["code"] == "dns-public-answer").collect();
    assert_eq!(public.len(), 2);
    assert_eq!(public[0]["severity"], "error");
    assert_eq!(public[0]["machines"], json!(["b.json"]));
    assert_eq!(
        public[0]["summary"],
        "1 of 3 nodes get a public answer for stcontosomllab.blob.core.windows.net and stcontosomllab.file.core.windows.net: dns-public-answer"
    );
    // A warning-only fleet fails only with --fail-on warning.
    let w = save(dir.path(), "w.json", "firewall-rejects");
    edit(&w, |r| {
        r["findings"].as_array_mut().unwrap().retain(|x| x["severity"] != "error");
    });
    assert_eq!(code(&run(&["merge", s(&w)])), 0);
    assert_eq!(code(&run(&["merge", "--fail-on", "warning", s(&w)])), 1);
}

fn job_yaml(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("job.yml")).unwrap();
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("job.yml is not YAML ({e}):\n{text}"))
}

#[test]
fn job_writes_a_command_job_with_one_process_per_node() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fleet");
    let ws = fixture("workspace-cli.json");
    let o = run(&[
        "job",
        "--compute",
        "cpu-cluster",
        "--nodes",
        "8",
        "--out-dir",
        s(&out),
        "--workspace-json",
        s(&ws),
        "--workspace-id",
        "3f6c2a51-8e4b-4d2a-9b7e-5c1d0a9e7f42",
        "--",
        "--vnet-cidr",
        "10.0.0.0/16",
        "--timeout",
        "5s",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains(&format!("az ml job create -f {}", out.join("job.yml").display())), "{}", stdout(&o));
    let job = job_yaml(&out);
    assert_eq!(job["$schema"], "https://azuremlschemas.azureedge.net/latest/commandJob.schema.json");
    assert_eq!(job["type"], "command");
    assert_eq!(job["compute"], "azureml:cpu-cluster");
    assert_eq!(job["resources"]["instance_count"], 8);
    assert_eq!(job["distribution"], json!({"type": "pytorch", "process_count_per_instance": 1}));
    assert_eq!(job["code"], "code");
    let command = job["command"].as_str().unwrap();
    assert!(
        command.contains(
            "./amlnet check --workspace-json workspace.json --workspace-id 3f6c2a51-8e4b-4d2a-9b7e-5c1d0a9e7f42 --vnet-cidr 10.0.0.0/16 --timeout 5s"
        ),
        "{command}"
    );
    assert!(command.contains("--save \"json:outputs/$node.json\" --save \"markdown:outputs/$node.md\""), "{command}");
    assert!(command.trim_end().ends_with("exit 0;"), "one node's findings must not fail the job: {command}");

    // Against the command job's documented keys.
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("command-job.documented.schema.json")).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let errors: Vec<String> = validator.iter_errors(&job).map(|e| format!("{e} at {}", e.instance_path())).collect();
    assert!(errors.is_empty(), "{errors:?}");
    let mut bad = job.clone();
    bad["resources"]["node_count"] = 8.into();
    assert!(!validator.is_valid(&bad), "the fixture schema rejects undocumented keys");

    // code/ holds this executable and the workspace document.
    let shipped = out.join("code/amlnet");
    assert_eq!(std::fs::read(&shipped).unwrap(), std::fs::read(env!("CARGO_BIN_EXE_amlnet")).unwrap());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&shipped).unwrap().permissions().mode() & 0o111, 0o111);
    }
    assert_eq!(std::fs::read(out.join("code/workspace.json")).unwrap(), std::fs::read(&ws).unwrap());

    // MPI instead, and a rerun into the same directory replaces it.
    let o = run(&[
        "job",
        "--compute",
        "gpu",
        "--nodes",
        "2",
        "--out-dir",
        s(&out),
        "--distribution",
        "mpi",
        "--environment",
        "azureml:amlnet-env@latest",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let job = job_yaml(&out);
    assert_eq!(job["distribution"], json!({"type": "mpi", "process_count_per_instance": 1}));
    assert_eq!(job["environment"], "azureml:amlnet-env@latest");
    assert!(validator.is_valid(&job));
    assert!(!out.join("code/workspace.json").exists(), "the old inputs are gone");
}

#[test]
fn job_refuses_bad_input_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fleet");
    for (args, names) in [
        (vec!["--compute", "cpu cluster", "--nodes", "2"], "--compute"),
        (vec!["--compute", "cpu", "--nodes", "0"], "--nodes"),
        (vec!["--compute", "cpu", "--nodes", "2", "--", "--no-such-flag"], "--no-such-flag"),
        (vec!["--compute", "cpu", "--nodes", "2", "--workspace-json", "/nonexistent/ws.json"], "/nonexistent/ws.json"),
        (vec!["--compute", "cpu", "--nodes", "2", "--image", "not an image"], "--image"),
    ] {
        let mut all = vec!["job", "--out-dir", s(&out)];
        all.extend(args);
        let o = run(&all);
        assert_eq!(code(&o), 2, "{all:?}");
        assert!(stderr(&o).contains(names) && stderr(&o).lines().count() == 1, "{}", stderr(&o));
        assert!(!out.exists(), "nothing written for {all:?}");
    }
    // A directory with someone else's files is left alone.
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    let o = run(&["job", "--out-dir", s(&out), "--compute", "cpu", "--nodes", "2"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("not empty"), "{}", stderr(&o));
}

/// The job's command, run here as one node would run it (a lab network on
/// loopback stands in for the workspace): the reports and the exit status
/// are written although amlnet found errors, and the command succeeds.
#[test]
fn the_node_command_writes_reports_whatever_the_exit_status() {
    let lab = LabHandle::start("firewall-rejects");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fleet");
    let mut args = vec![
        "job".to_string(),
        "--compute".into(),
        "cpu-cluster".into(),
        "--nodes".into(),
        "3".into(),
        "--out-dir".into(),
        out.display().to_string(),
        "--workspace-json".into(),
        fixture("workspace-arm.json").display().to_string(),
        "--".into(),
        "--timeout".into(),
        "2s".into(),
    ];
    args.extend(lab.network_args());
    let o = amlnet().args(&args).output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let command = job_yaml(&out)["command"].as_str().unwrap().to_string();
    let mut sh = std::process::Command::new("sh");
    sh.arg("-c").arg(&command).current_dir(out.join("code")).env("NODE_RANK", "2");
    for var in INHERITED {
        sh.env_remove(var);
    }
    let o = sh.env("AMLNET_LOOPBACK_ONLY", "1").output().unwrap();
    assert_eq!(code(&o), 0, "the node's command succeeds: {}", stderr(&o));
    assert!(stdout(&o).contains("amlnet on node-2 ("), "{}", stdout(&o));
    let outputs = out.join("code/outputs");
    assert_eq!(std::fs::read_to_string(outputs.join("node-2.exit")).unwrap().trim(), "1");
    let r: Value = serde_json::from_str(&std::fs::read_to_string(outputs.join("node-2.json")).unwrap()).unwrap();
    assert_eq!(hosts_of(&r, "tcp-refused"), ["management.azure.com:443"]);
    let md = std::fs::read_to_string(outputs.join("node-2.md")).unwrap();
    assert!(md.starts_with("# amlnet report") && md.contains("tcp-refused"), "{md}");
    // And the fleet view of that one node.
    let o = run(&["merge", outputs.join("node-2.json").to_str().unwrap()]);
    assert!(stdout(&o).contains("1 of 1 node cannot reach management.azure.com:443: tcp-refused"), "{}", stdout(&o));
}
