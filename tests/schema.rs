//! The JSON report against `schema/report-v1.json`: every golden report,
//! reports of runs that fill the optional parts, the code list and the
//! README's field list must all agree with the schema. The schema forbids
//! unknown fields, so a field added to the types without the schema fails.

mod util;

use amlnet::diagnose::Code;
use serde_json::Value;
use util::*;

fn schema() -> Value {
    let text = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/report-v1.json"))
        .expect("schema/report-v1.json");
    serde_json::from_str(&text).expect("the schema is JSON")
}

fn assert_valid(report: &Value, what: &str) {
    let validator = jsonschema::validator_for(&schema()).expect("the schema compiles");
    let errors: Vec<String> =
        validator.iter_errors(report).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{what} does not match the schema:\n{}", errors.join("\n"));
}

#[test]
fn golden_reports_match_the_schema() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        // insta's header, then the report.
        let body = text.splitn(3, "---\n").nth(2).unwrap_or_default();
        let mut report: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // The golden reports blank out what varies from machine to machine.
        report["host"]["kind"] = "other".into();
        assert_valid(&report, &path.display().to_string());
        seen += 1;
    }
    assert!(seen >= 3, "the golden reports were found");
}

#[test]
fn reports_with_every_optional_part_match_the_schema() {
    for scenario in ["healthy", "custom-dns-no-forwarder", "proxy-blocks-pypi", "tls-inspection-trusted", "dns-down"] {
        assert_valid(&demo(scenario).1, scenario);
    }
    // This machine's settings: a bashrc origin, a hosts override, a resolv.conf.
    let lab = LabHandle::start("healthy");
    let dir = tempfile::tempdir().unwrap();
    let (bashrc, hosts, resolv) = (dir.path().join("bashrc"), dir.path().join("hosts"), dir.path().join("resolv"));
    std::fs::write(&bashrc, "export HTTP_PROXY=http://u:secret@127.0.0.1:9\nNO_PROXY=.example\n").unwrap();
    std::fs::write(&hosts, "10.0.1.4 kv-contoso-ml-lab.vault.azure.net\n").unwrap();
    std::fs::write(&resolv, "nameserver 127.0.0.1\nsearch corp.example\noptions ndots:2\n").unwrap();
    let mut cmd = amlnet();
    cmd.args(["check", "--output", "json", "--timeout", "2s", "--workspace-json"]).arg(fixture("workspace-arm.json"));
    cmd.args(lab.network_args_with(&bashrc, &hosts)).arg("--resolv-conf").arg(&resolv);
    let r = report(&cmd.output().unwrap());
    assert!(r["environment"]["proxy"].as_array().is_some_and(|p| !p.is_empty()));
    assert!(r["environment"]["resolv_conf"].is_object() && r["environment"]["hosts_overrides"][0].is_object());
    assert_valid(&r, "a check with this machine's settings");
}

#[test]
fn a_report_with_an_unknown_field_does_not_match() {
    let (_, mut r) = demo("healthy");
    r["checks"][0]["surprise"] = true.into();
    let validator = jsonschema::validator_for(&schema()).unwrap();
    assert!(!validator.is_valid(&r), "the schema forbids fields it does not document");
}

#[test]
fn the_schema_lists_exactly_the_codes() {
    let schema = schema();
    let listed: Vec<&str> =
        schema["$defs"]["code"]["enum"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    let codes: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(listed, codes);
}

#[test]
fn the_readme_names_every_field_of_the_schema() {
    let readme = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let schema = schema();
    let mut missing = Vec::new();
    for object in [&schema, &schema["$defs"]["check"], &schema["$defs"]["finding"], &schema["$defs"]["environment"]] {
        for field in object["properties"].as_object().unwrap().keys() {
            if !readme.contains(&format!("`{field}`")) && !readme.contains(&format!("`{field} {{")) {
                missing.push(field.clone());
            }
        }
    }
    assert!(missing.is_empty(), "README.md does not name: {missing:?}");
}
