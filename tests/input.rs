//! Bad input never panics and never hangs: one line naming the input, exit 2.
//! And the plan: what would be probed, per cloud, with no traffic at all.

mod util;

use util::*;

const GUID: &str = "3f6c2a51-8e4b-4d2a-9b7e-5c1d0a9e7f42";

fn assert_usage_error(o: &std::process::Output, needle: &str) {
    assert_eq!(code(o), 2, "stdout: {}\nstderr: {}", stdout(o), stderr(o));
    let err = stderr(o);
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err:?}");
    assert!(err.starts_with("amlnet: "), "{err}");
    assert!(err.contains(needle), "expected {needle:?} in {err:?}");
    assert!(!err.contains("panicked") && !err.contains("RUST_BACKTRACE"), "{err}");
    assert!(o.stdout.is_empty(), "no report on bad input");
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn broken_workspace_json_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("empty.json", "", "empty"),
        ("truncated.json", "{\"name\": \"mlw\", \"location\": \"eas", "not valid JSON"),
        ("array.json", "[1, 2, 3]", "found an array"),
        ("wrong-shape.json", "{\"foo\": 1, \"bar\": [true]}", "wrong shape"),
        ("no-location.json", "{\"properties\": {\"workspaceId\": \"x\"}}", "no 'location'"),
        (
            "not-a-workspace.json",
            "{\"type\": \"Microsoft.Storage/storageAccounts\", \"location\": \"eastus\", \"properties\": {}}",
            "not an Azure Machine Learning workspace",
        ),
        ("bad-field.json", "{\"location\": 42}", "'location' should be a string"),
        (
            "bad-guid.json",
            "{\"location\": \"eastus\", \"properties\": {\"workspaceId\": \"not-a-guid\"}}",
            "not a GUID",
        ),
    ];
    for (name, text, needle) in cases {
        let path = write(&dir, name, text);
        for cmd in ["plan", "check"] {
            let o = run(&[cmd, "--workspace-json", &path]);
            assert_usage_error(&o, needle);
            assert!(stderr(&o).contains(name), "the message names the file: {}", stderr(&o));
        }
    }
    let binary = write(&dir, "binary.json", "\u{0}\u{1}\u{2}");
    assert_usage_error(&run(&["plan", "--workspace-json", &binary]), "binary.json");
    let o = amlnet().args(["plan", "--workspace-json", "-"]).stdin(std::process::Stdio::null()).output().unwrap();
    assert_usage_error(&o, "stdin");
    assert_usage_error(&run(&["plan", "--workspace-json", "/nonexistent/ws.json"]), "/nonexistent/ws.json");
}

#[test]
fn bad_flags_are_one_line_and_exit_2() {
    assert_usage_error(&run(&["--no-such-flag"]), "--no-such-flag");
    // A region amlnet does not list is planned with a note (tests/workspaces.rs); one that
    // cannot be a region name at all is still bad input.
    assert_usage_error(&run(&["plan", "--workspace-id", GUID, "--region", "mars/1"]), "unknown region 'mars/1'");
    let long = "a".repeat(23);
    assert_usage_error(&run(&["plan", "--workspace-id", GUID, "--region", &long]), "unknown region 'aaaa");
    assert_usage_error(&run(&["plan", "--workspace-id", "1234", "--region", "eastus"]), "not a GUID");
    assert_usage_error(&run(&["plan", "--storage", "Not_Valid!", "--region", "eastus"]), "--storage");
    assert_usage_error(&run(&["check", "--region", "eastus", "--timeout", "soon"]), "--timeout");
    assert_usage_error(&run(&["check", "--region", "eastus", "--timeout", "0s"]), "more than zero");
    assert_usage_error(&run(&["check", "--region", "eastus", "--connect-to", "a:b"]), "HOST:PORT:ADDR:PORT");
    assert_usage_error(&run(&["check", "--region", "eastus", "--vnet-cidr", "10.0.0.0/33"]), "--vnet-cidr");
    assert_usage_error(&run(&["check", "--region", "eastus", "--dns-server", "dns.example"]), "--dns-server");
    assert_usage_error(&run(&["check", "--region", "eastus", "--cloud", "mars"]), "--cloud");
    assert_usage_error(&run(&["check", "--region", "eastus", "--output", "yaml"]), "--output");
    assert_usage_error(&run(&["check"]), "no workspace named");
    assert_usage_error(&run(&["demo", "--scenario", "nope"]), "no such scenario");
    assert_usage_error(&run(&["explain", "no-such-code"]), "unknown finding code");
    assert_usage_error(
        &run(&["check", "--region", "eastus", "--resolv-conf", "/nonexistent/resolv.conf"]),
        "/nonexistent/resolv.conf",
    );
    // The guard refuses a non-loopback resolver before any packet is sent.
    assert_usage_error(&run(&["check", "--region", "eastus", "--dns-server", "192.0.2.53"]), "not on loopback");
}

#[test]
fn broken_catalogue_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir, "bad.toml", "[[endpoint]]\nid = 'x'\nhost = '{nope}.example'\n");
    let o = run(&["plan", "--region", "eastus", "--probes", dir.path().to_str().unwrap()]);
    assert_usage_error(&o, "bad.toml");
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir,
        "extra.toml",
        "[[endpoint]]\nid = 'x'\ngroup = 'g'\nhost = '{nope}.example'\nports = ['tcp/1']\nexpect = 'public'\nrequired = true\nservice_tag = 't'\npurpose = 'p'\ndocs = []\n",
    );
    assert_usage_error(
        &run(&["plan", "--region", "eastus", "--probes", dir.path().to_str().unwrap()]),
        "unknown placeholder {nope}",
    );
}

#[test]
fn extra_catalogue_adds_endpoints() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir,
        "corp.toml",
        "[[endpoint]]\nid = 'corp-artifacts'\ngroup = 'corp'\nhost = 'artifacts.{region}.corp.example'\nports = ['tcp/8443']\nexpect = 'public'\nrequired = true\nservice_tag = 'Internet'\npurpose = 'Internal feed'\ndocs = ['https://wiki.corp.example/feeds']\n",
    );
    let o = run(&["plan", "--region", "westeurope", "--probes", dir.path().to_str().unwrap(), "--output", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r = report(&o);
    let e = r["endpoints"].as_array().unwrap().iter().find(|e| e["id"] == "corp-artifacts").expect("added");
    assert_eq!(e["host"], "artifacts.westeurope.corp.example");
    assert_eq!(e["port"], 8443);
}

/// A catalogue past the size amlnet takes is refused, naming the limit;
/// one just under it is planned, and an id given twice replaces the first.
#[test]
fn catalogue_size_is_capped_and_ids_replace() {
    let entry = |i: usize| {
        format!(
            "[[endpoint]]\nid = 'bench-{i}'\ngroup = 'bench'\nhost = 'h{i}.bench.example'\nports = ['tcp/443']\nexpect = 'public'\nrequired = true\nservice_tag = 'Internet'\npurpose = 'p'\ndocs = []\ntls = false\n"
        )
    };
    let dir = tempfile::tempdir().unwrap();
    write(&dir, "big.toml", &(0..10_000).map(entry).collect::<String>());
    assert_usage_error(
        &run(&["plan", "--region", "eastus", "--probes", dir.path().to_str().unwrap()]),
        "amlnet takes at most 10000",
    );
    let dir = tempfile::tempdir().unwrap();
    let mut text: String = (0..9_000).map(entry).collect();
    text.push_str(&entry(7).replace("h7.bench", "replaced.bench"));
    write(&dir, "big.toml", &text);
    let o = run(&["plan", "--region", "eastus", "--probes", dir.path().to_str().unwrap(), "--output", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let hosts = hosts(&report(&o));
    assert!(hosts.contains(&"replaced.bench.example".to_string()) && !hosts.contains(&"h7.bench.example".to_string()));
    assert_eq!(hosts.iter().filter(|h| h.ends_with(".bench.example")).count(), 9_000);
}

fn plan(cloud: &str, region: &str) -> serde_json::Value {
    let o = run(&[
        "plan",
        "--cloud",
        cloud,
        "--region",
        region,
        "--workspace-id",
        GUID,
        "--workspace-name",
        "mlw",
        "--storage",
        "stx",
        "--key-vault",
        "kvx",
        "--acr",
        "crxlab",
        "--output",
        "json",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    report(&o)
}

fn hosts(p: &serde_json::Value) -> Vec<String> {
    p["endpoints"].as_array().unwrap().iter().map(|e| e["host"].as_str().unwrap().to_string()).collect()
}

#[test]
fn plan_public_cloud_covers_the_article() {
    let p = plan("public", "eastus");
    assert_eq!(p["schema_version"], 1);
    let h = hosts(&p);
    for want in [
        format!("{GUID}.workspace.eastus.api.azureml.ms"),
        format!("{GUID}.workspace.eastus.cert.api.azureml.ms"),
        format!("ml-mlw-eastus-{GUID}.eastus.notebooks.azure.net"),
        "stx.blob.core.windows.net".into(),
        "stx.file.core.windows.net".into(),
        "stx.queue.core.windows.net".into(),
        "stx.table.core.windows.net".into(),
        "stx.dfs.core.windows.net".into(),
        "kvx.vault.azure.net".into(),
        "crxlab.azurecr.io".into(),
        "crxlab.eastus.data.azurecr.io".into(),
        "login.microsoftonline.com".into(),
        "management.azure.com".into(),
        "eastus.batch.azure.com".into(),
        "mcr.microsoft.com".into(),
        "pypi.org".into(),
        "marketplace.visualstudio.com".into(),
    ] {
        assert!(h.contains(&want), "{want} not planned");
    }
    let eps = p["endpoints"].as_array().unwrap();
    let udp = eps.iter().find(|e| e["protocol"] == "udp").expect("a UDP entry");
    assert_eq!((udp["host"].as_str().unwrap(), udp["port"].as_u64().unwrap()), ("eastus.tundra.azureml.ms", 5831));
    let ws = eps.iter().find(|e| e["id"] == "workspace-api").unwrap();
    for field in ["id", "host", "port", "protocol", "expect", "required", "situation", "service_tag", "purpose", "docs"]
    {
        assert!(ws.get(field).is_some(), "plan endpoint lacks {field}");
    }
    assert_eq!(ws["expect"], "private");
    assert_eq!(ws["privatelink_zone"], "privatelink.api.azureml.ms");
    let kv = eps.iter().find(|e| e["id"] == "key-vault").unwrap();
    assert_eq!(kv["privatelink_zone"], "privatelink.vaultcore.azure.net");
    assert_eq!(kv["docs"][0], "https://learn.microsoft.com/azure/key-vault/general/private-link-service");
}

#[test]
fn plan_usgov_and_china_use_their_suffixes() {
    let gov_plan = plan("usgov", "usgovvirginia");
    let gov = hosts(&gov_plan);
    let gov_azure: Vec<&str> = gov_plan["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["group"] != "vscode" && e["group"] != "repos")
        .map(|e| e["host"].as_str().unwrap())
        .collect();
    assert!(gov.contains(&format!("{GUID}.workspace.usgovvirginia.api.ml.azure.us")));
    assert!(gov.contains(&"stx.blob.core.usgovcloudapi.net".to_string()));
    assert!(gov.contains(&"kvx.vault.usgovcloudapi.net".to_string()));
    assert!(gov.contains(&"crxlab.azurecr.us".to_string()));
    assert!(gov.contains(&"login.microsoftonline.us".to_string()));
    assert!(gov.contains(&"usgovvirginia.tundra.azureml.us".to_string()));
    assert!(!gov_azure.iter().any(|h| h.ends_with("azureml.ms") || h.ends_with("core.windows.net")), "{gov:?}");

    let p = plan("china", "chinaeast2");
    let cn = hosts(&p);
    assert!(cn.contains(&format!("{GUID}.workspace.chinaeast2.api.ml.azure.cn")));
    assert!(cn.contains(&"stx.blob.core.chinacloudapi.cn".to_string()));
    assert!(cn.contains(&"kvx.vault.azure.cn".to_string()));
    assert!(cn.contains(&"login.chinacloudapi.cn".to_string()));
    assert!(!cn.iter().any(|h| h.contains("azurecr")), "China ACR zone is unconfirmed: not planned");
    let omitted = p["omitted"].as_array().unwrap();
    assert!(omitted.iter().any(|o| o["id"] == "acr-login" && o["reason"].as_str().unwrap().contains("china")));
    // A usgov region is unknown in the public cloud, when the user says public.
    let o = run(&["plan", "--cloud", "public", "--region", "usgovvirginia"]);
    assert_usage_error(&o, "--region: unknown region 'usgovvirginia' for the public cloud");
}

#[test]
fn plan_text_reads_the_arm_json() {
    let o = run(&["plan", "--workspace-json", fixture("workspace-arm.json").to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.starts_with("Plan for mlw-contoso-lab in eastus (public cloud)"), "{text}");
    assert!(text.contains("ml-mlw-contoso-lab-eastus-3f6c2a51-8e4b-4d2a-9b7e-5c1d0a9e7f42.eastus.notebooks.azure.net"));
    assert!(text.contains("via zone privatelink.blob.core.windows.net"));
    assert!(text.contains("compute-instance: needs --compute-instance"));
}

#[test]
fn plan_on_a_compute_instance_discovers_the_workspace() {
    let o = amlnet()
        .env(
            "MLFLOW_TRACKING_URI",
            "azureml://westeurope.api.azureml.ms/mlflow/v1.0/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/mlw-prod",
        )
        .env("CI_NAME", "ci-anna")
        .args(["plan", "--output", "json"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let p = report(&o);
    assert_eq!(p["target"]["region"], "westeurope");
    assert_eq!(p["target"]["workspace_name"], "mlw-prod");
    assert_eq!(p["target"]["sources"], serde_json::json!(["compute-instance"]));
    assert!(hosts(&p).contains(&"ci-anna.westeurope.instances.ml.azure.ms".to_string()));
    let omitted = p["omitted"].as_array().unwrap();
    assert!(
        omitted
            .iter()
            .any(|o| o["id"] == "workspace-api" && o["reason"].as_str().unwrap().contains("az resource show"))
    );
}

/// A 2023-style hub lists its storage accounts and Key Vaults in arrays:
/// their names are planned, not asked for (written from the documented shape).
#[test]
fn plan_reads_a_2023_hub_with_arrays() {
    let o =
        run(&["plan", "--workspace-json", fixture("workspace-hub-2023.json").to_str().unwrap(), "--output", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let p = report(&o);
    let hosts = hosts(&p);
    assert!(hosts.contains(&"sthubcontoso.blob.core.windows.net".to_string()), "{hosts:?}");
    assert!(hosts.contains(&"kv-hub-contoso.vault.azure.net".to_string()), "{hosts:?}");
    assert_eq!(p["target"]["storage_accounts"], serde_json::json!(["sthubcontoso"]));
}

/// `--region usgovvirginia` needs no `--cloud`; a region the user did not
/// type is not blamed on `--region`.
#[test]
fn the_cloud_follows_the_region_and_errors_name_what_was_typed() {
    let o = run(&["plan", "--workspace-id", GUID, "--region", "usgovvirginia", "--output", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(report(&o)["target"]["cloud"], "usgov");
    let o = run(&["plan", "--workspace-id", GUID, "--region", "chinanorth3", "--output", "json"]);
    assert_eq!(report(&o)["target"]["cloud"], "china");
    let o = run(&["plan", "--workspace-json", fixture("workspace-arm.json").to_str().unwrap(), "--cloud", "usgov"]);
    assert_usage_error(&o, "the workspace's region 'eastus' is not a region of the usgov cloud given with --cloud");
    assert!(!stderr(&o).contains("--region:"), "{}", stderr(&o));
}
