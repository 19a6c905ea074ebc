//! The workspace fixture set (`tests/fixtures/workspaces/`, its README says
//! where each shape is documented): one document in each shape amlnet
//! accepts, each with the plan it must give. The whole plan of each is an
//! insta snapshot (`tests/fixtures/workspaces/plans/*.snap`); the assertions
//! here name what each case is about. `amlnet plan` sends no traffic.

mod util;

use std::path::PathBuf;

use serde_json::Value;
use util::{code, run, stderr, stdout};

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/workspaces").join(name).display().to_string()
}

/// `amlnet plan --workspace-json FILE ARGS --output json`, which must succeed.
fn plan(file: &str, args: &[&str]) -> Value {
    let path = fixture(file);
    let mut all = vec!["plan", "--workspace-json", path.as_str(), "--output", "json"];
    all.extend_from_slice(args);
    let o = run(&all);
    assert_eq!(code(&o), 0, "{file} {args:?}: {}", stderr(&o));
    serde_json::from_str(&stdout(&o)).expect("plan JSON")
}

/// The plan as lines a reviewer can read: target, notes, endpoints (package
/// repositories and VS Code hosts left out: they are the same for every
/// workspace of a cloud), omissions.
fn summary(p: &Value) -> String {
    let t = &p["target"];
    let mut out = format!(
        "target: cloud={} region={} id={} name={} storage={} key_vault={} acr={} app_insights={} notebook_host={}\n",
        t["cloud"],
        t["region"],
        t["workspace_id"],
        t["workspace_name"],
        t["storage_accounts"],
        t["key_vault"],
        t["container_registry"],
        t["app_insights"],
        t["notebook_host"]
    );
    for n in p["notes"].as_array().into_iter().flatten() {
        out.push_str(&format!("note: {}\n", n.as_str().unwrap()));
    }
    for e in p["endpoints"].as_array().unwrap() {
        let group = e["group"].as_str().unwrap();
        if group == "repos" || group == "vscode" {
            continue;
        }
        let need = if e["required"].as_bool().unwrap() {
            "required".to_string()
        } else {
            format!("when {}", e["situation"].as_str().unwrap())
        };
        out.push_str(&format!(
            "{} {} {}/{} {} {need}\n",
            e["id"].as_str().unwrap(),
            e["host"].as_str().unwrap(),
            e["protocol"].as_str().unwrap(),
            e["port"],
            e["expect"].as_str().unwrap(),
        ));
    }
    for o in p["omitted"].as_array().unwrap() {
        out.push_str(&format!("omitted {}: {}\n", o["id"].as_str().unwrap(), o["reason"].as_str().unwrap()));
    }
    // Paths in notes depend on where the tree is checked out.
    out.replace(&fixture(""), "<fixtures>/")
}

fn endpoint<'a>(p: &'a Value, id: &str) -> Option<&'a Value> {
    p["endpoints"].as_array().unwrap().iter().find(|e| e["id"] == id)
}

fn host(p: &Value, id: &str) -> String {
    endpoint(p, id).unwrap_or_else(|| panic!("{id} is not planned: {}", summary(p)))["host"].as_str().unwrap().into()
}

fn omitted(p: &Value, id: &str) -> String {
    let o = p["omitted"].as_array().unwrap().iter().find(|o| o["id"] == id);
    o.unwrap_or_else(|| panic!("{id} is not omitted: {}", summary(p)))["reason"].as_str().unwrap().into()
}

fn notes(p: &Value) -> String {
    p["notes"].as_array().into_iter().flatten().map(|n| n.as_str().unwrap()).collect::<Vec<_>>().join("\n")
}

/// The plan's summary against `tests/fixtures/workspaces/plans/<name>.snap`,
/// beside the documents (tests/snapshots/ holds reports only).
fn snapshot(name: &str, p: &Value) {
    insta::with_settings!({ snapshot_path => "fixtures/workspaces/plans", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!(name, summary(p));
    });
}

/// CLI v2: no GUID (given as a flag), no `notebookInfo`: the notebooks host is
/// derived, without the underscores Azure's host names do not carry, and
/// the plan says it is a guess and how to get the real one.
#[test]
fn cli_v2_derives_the_notebooks_host_and_says_it_is_a_guess() {
    let guid = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d";
    let p = plan("cli-v2.json", &["--workspace-id", guid]);
    assert_eq!(host(&p, "notebooks"), format!("ml-mlwcontosodev-eastus-{guid}.eastus.notebooks.azure.net"));
    let n = notes(&p);
    assert!(n.contains("a guess") && n.contains("--query properties.notebookInfo.fqdn"), "{n}");
    assert!(n.contains("'mlw_contoso_dev'"), "{n}");
    snapshot("cli-v2", &p);
}

/// ARM GET and `az resource show`: the notebooks host is the document's, no guess.
#[test]
fn arm_shapes_take_the_notebooks_host_from_the_document() {
    let p = plan("arm-get.json", &[]);
    assert_eq!(
        host(&p, "notebooks"),
        "ml-mlw-fabrikam-westeurope-8d3c1f0e-2a4b-4c6d-8e9f-0a1b2c3d4e5f.westeurope.notebooks.azure.net"
    );
    assert!(!notes(&p).contains("guess"), "{}", notes(&p));
    snapshot("arm-get", &p);
    let p = plan("az-resource-show.json", &[]);
    assert_eq!(
        host(&p, "notebooks"),
        "ml-mlw-northwin-westeurope-5b2e7c9a-1d3f-4e6a-8b0c-9d8e7f6a5b4c.westeurope.notebooks.azure.net"
    );
    assert_eq!(host(&p, "storage-blob[stnorthwindml]"), "stnorthwindml.blob.core.windows.net");
    snapshot("az-resource-show", &p);
}

/// A 2023 hub: arrays read; `notebookInfo.fqdn: null` means no notebooks
/// host, and the plan says why; `containerRegistry: null` is no registry.
#[test]
fn a_2023_hub_gets_no_invented_notebooks_host() {
    let p = plan("hub-2023.json", &[]);
    assert!(endpoint(&p, "notebooks").is_none(), "{}", summary(&p));
    assert!(omitted(&p, "notebooks").contains("notebookInfo.fqdn is null"), "{}", summary(&p));
    assert_eq!(host(&p, "storage-blob[sthubcontoso]"), "sthubcontoso.blob.core.windows.net");
    assert_eq!(host(&p, "key-vault"), "kv-hub-contoso.vault.azure.net");
    assert!(omitted(&p, "acr-login").contains("no container registry of its own"));
    snapshot("hub-2023", &p);
}

/// A 2024 hub with a managed network: no notebooks host of its own, compute
/// outbound rules are the managed network's.
#[test]
fn a_2024_hub_with_a_managed_network() {
    let p = plan("hub-2024.json", &[]);
    assert!(endpoint(&p, "notebooks").is_none());
    assert!(omitted(&p, "notebooks").contains("is a hub"));
    assert_eq!(endpoint(&p, "batch").unwrap()["required"], false);
    assert!(notes(&p).contains("managed network (AllowInternetOutbound)"), "{}", notes(&p));
    snapshot("hub-2024", &p);
}

/// A project names no storage, Key Vault or registry: they are its hub's.
/// Without the hub's document the plan says which flag supplies them; with
/// it, the hub's names are planned and the plan says whose they are.
#[test]
fn a_project_plans_its_hubs_names() {
    let p = plan("project-2024.json", &[]);
    for id in ["storage-blob", "key-vault", "acr-login"] {
        assert!(omitted(&p, id).contains("--hub-json"), "{id}: {}", summary(&p));
    }
    assert!(notes(&p).contains("project of the hub 'hub-woodgrove'"), "{}", notes(&p));
    snapshot("project-2024-alone", &p);

    let p = plan("project-2024.json", &["--hub-json", &fixture("hub-2024.json")]);
    assert_eq!(host(&p, "storage-blob[sthubwoodgrove]"), "sthubwoodgrove.blob.core.windows.net");
    assert_eq!(host(&p, "key-vault"), "kv-hub-woodgrove.vault.azure.net");
    assert_eq!(host(&p, "acr-login"), "crhubwoodgrove.azurecr.io");
    // The project's own API name (its GUID) and notebooks host stay.
    assert!(host(&p, "workspace-api").starts_with("7e6d5c4b-3a2f-4e1d-9c8b-7a6f5e4d3c2b.workspace.swedencentral."));
    assert!(host(&p, "notebooks").starts_with("ml-proj-clai-swedencentral-"));
    let n = notes(&p);
    assert!(n.contains("are the hub's") && n.contains("--hub-json"), "{n}");
    // The hub's managed network is the project's.
    assert_eq!(endpoint(&p, "mcr").unwrap()["required"], false);
    snapshot("project-2024-with-hub", &p);

    // The wrong hub is bad input.
    let path = fixture("project-2024.json");
    let wrong = fixture("hub-2023.json");
    let o = run(&["plan", "--workspace-json", &path, "--hub-json", &wrong]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("the project's hub is 'hub-woodgrove'"), "{}", stderr(&o));
}

/// A managed network: the private endpoints stay required for this
/// machine; Batch, UDP 5831, MCR and the compute's Graph are not.
#[test]
fn a_managed_network_takes_the_compute_outbound_rules() {
    let p = plan("managed-network.json", &[]);
    for id in ["batch", "batch-service", "tundra", "mcr", "mcr-data", "graph-legacy"] {
        let e = endpoint(&p, id).unwrap_or_else(|| panic!("{id}"));
        assert_eq!(e["required"], false, "{id}");
        assert!(e["situation"].as_str().unwrap().contains("managed network (AllowOnlyApprovedOutbound)"), "{id}");
    }
    for id in ["workspace-api", "notebooks", "storage-blob[sttailspinml]", "key-vault", "acr-login", "entra-id"] {
        assert_eq!(endpoint(&p, id).unwrap_or_else(|| panic!("{id}"))["required"], true, "{id}");
    }
    snapshot("managed-network", &p);
    // The same workspace without one still requires them.
    let p = plan("arm-get.json", &[]);
    assert_eq!(endpoint(&p, "batch").unwrap()["required"], true);
}

/// `containerRegistry: null`: no registry to probe, and the plan says why.
#[test]
fn no_registry_is_said_as_such() {
    let p = plan("no-registry.json", &[]);
    assert!(endpoint(&p, "acr-login").is_none());
    let why = omitted(&p, "acr-data");
    assert!(why.contains("containerRegistry is null") && !why.starts_with("needs"), "{why}");
    snapshot("no-registry", &p);
}

/// US Government: the regional API host and graph.windows.net of the
/// cloud-parity article, Graph of the firewall article's Government tab.
#[test]
fn us_government_plans_what_the_articles_list() {
    let p = plan("usgov.json", &[]);
    assert_eq!(p["target"]["cloud"], "usgov");
    assert_eq!(host(&p, "aml-regional-api"), "usgovvirginia.api.ml.azure.us");
    assert_eq!(host(&p, "graph-legacy"), "graph.windows.net");
    assert_eq!(host(&p, "graph"), "graph.microsoft.us");
    let docs = &endpoint(&p, "aml-regional-api").unwrap()["docs"];
    assert!(docs.to_string().contains("reference-machine-learning-cloud-parity"), "{docs}");
    // AutoML and aka.ms are in the public tab only.
    assert!(omitted(&p, "automl-resources").contains("usgov"));
    snapshot("usgov", &p);
}

/// China: its own tundra and Graph hosts (firewall article, 21Vianet tab).
#[test]
fn china_plans_its_own_hosts() {
    let p = plan("china.json", &[]);
    assert_eq!(p["target"]["cloud"], "china");
    assert_eq!(host(&p, "tundra"), "chinaeast2.tundra.azureml.cn");
    assert_eq!(host(&p, "graph"), "graph.chinacloudapi.cn");
    snapshot("china", &p);
}

/// A region amlnet does not list is planned with a note, not refused.
#[test]
fn an_unlisted_region_is_a_note_not_an_error() {
    let guid = "6f2a9c1e-5b7d-4e3a-9c8f-1a2b3c4d5e6f";
    let o = run(&["plan", "--workspace-id", guid, "--region", "marsnorth", "--output", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let p: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(notes(&p).contains("region 'marsnorth' is not in amlnet's list"), "{}", notes(&p));
    assert_eq!(host(&p, "workspace-api"), format!("{guid}.workspace.marsnorth.api.azureml.ms"));

    // A region of another cloud, against the cloud the user named, is still bad input.
    let o = run(&["plan", "--workspace-id", guid, "--region", "usgovvirginia", "--cloud", "china"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("it is a region of the usgov cloud"), "{}", stderr(&o));
}

/// A `clouds.toml` given with `--probes` is the list regions are judged by.
#[test]
fn a_clouds_toml_given_with_probes_knows_regions() {
    let guid = "6f2a9c1e-5b7d-4e3a-9c8f-1a2b3c4d5e6f";
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("clouds.toml"), "[public]\nregions = [\"marsnorth\"]\n").unwrap();
    let probes = dir.path().to_str().unwrap();
    let o = run(&["plan", "--workspace-id", guid, "--region", "marsnorth", "--probes", probes, "--output", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let p: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(!notes(&p).contains("marsnorth"), "{}", notes(&p));
}

/// A check report carries the plan's notes in `environment.notes` (a run
/// restricted to this machine's settings: nothing is sent).
#[test]
fn a_check_report_carries_the_plan_notes() {
    let path = fixture("hub-2024.json");
    let o = run(&[
        "check",
        "--workspace-json",
        &path,
        "--only",
        "local",
        "--dns-server",
        "127.0.0.1:9",
        "--bashrc",
        "/dev/null",
        "--output",
        "json",
        "--deadline",
        "10s",
    ]);
    assert!(code(&o) == 0 || code(&o) == 1, "{}", stderr(&o));
    let r: Value = serde_json::from_str(&stdout(&o)).expect("report JSON");
    let notes = r["environment"]["notes"].to_string();
    assert!(notes.contains("managed network (AllowInternetOutbound)"), "{notes}");
}

/// `--hub-json` that is not the project's hub, not a hub, or not given to a
/// project is one line and exit 2, naming the flag.
#[test]
fn hub_json_bad_input_is_exit_2() {
    let project = fixture("project-2024.json");
    let cases = [
        (project.clone(), fixture("arm-get.json"), "is a default workspace, not a hub"),
        (fixture("arm-get.json"), fixture("hub-2024.json"), "is for a project"),
        (project, "/nonexistent/hub.json".to_string(), "--hub-json /nonexistent/hub.json"),
    ];
    for (ws, hub, needle) in cases {
        let o = run(&["plan", "--workspace-json", &ws, "--hub-json", &hub]);
        assert_eq!(code(&o), 2, "{hub}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains(needle) && err.contains("--hub-json") && err.lines().count() == 1, "{err}");
    }
}
