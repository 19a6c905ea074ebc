//! End-to-end tests of the `amlnet` binary against the in-process lab:
//! real DNS on loopback, real listeners, the real check path.

mod util;

use util::*;

const CI: &str = "ci-lab-01.eastus.instances.ml.azure.ms";
const CI_LEGACY: &str = "ci-lab-01.eastus.instances.azureml.ms";

fn s(v: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = v.iter().map(|x| x.to_string()).collect();
    v.sort();
    v
}

fn f(sev: &str, code: &str, hosts: &[&str]) -> (String, String, Vec<String>) {
    (sev.to_string(), code.to_string(), s(hosts))
}

#[test]
fn healthy_network_has_no_finding_and_exits_0() {
    let (code, r) = demo("healthy");
    assert_eq!(code, 0, "{r}");
    assert_eq!(findings(&r), vec![]);
    let checks = r["checks"].as_array().unwrap();
    assert!(checks.len() > 100, "the full plan was probed: {}", checks.len());
    for c in checks {
        assert_eq!(c["status"], "pass", "{c}");
    }
    let ws = check(&r, &format!("dns:{WS}"));
    assert_eq!(ws["cname_chain"][0], format!("{}", WS.replace(".api.azureml.ms", ".privatelink.api.azureml.ms")));
    assert!(ws["addresses"][0].as_str().unwrap().starts_with("10.0.1."));
    assert_eq!(check(&r, &format!("tcp:{WS}:443"))["tcp_state"], "open");
    assert_eq!(check(&r, "udp:eastus.tundra.azureml.ms:5831")["udp_state"], "no-rejection");
    assert_eq!(r["summary"]["errors"], 0);
    assert_eq!(r["summary"]["passed"].as_u64().unwrap() as usize, checks.len());
}

#[test]
fn storage_zone_not_linked_is_dns_public_answer() {
    let (code, r) = demo("storage-zone-unlinked");
    assert_eq!(code, 1);
    let st = |svc: &str| format!("stcontosomllab.{svc}.core.windows.net");
    assert_eq!(
        findings(&r),
        vec![
            f("error", "dns-public-answer", &[&st("blob"), &st("file")]),
            f("warning", "dns-public-answer", &[&st("queue"), &st("table"), &st("dfs")]),
        ]
    );
    let finding = &r["findings"][0];
    assert!(finding["remedy"].as_str().unwrap().contains("privatelink.blob.core.windows.net"));
    let blob = check(&r, &format!("dns:{}", st("blob")));
    assert_eq!(blob["cname_chain"][0], "stcontosomllab.privatelink.blob.core.windows.net");
    assert!(blob["addresses"][0].as_str().unwrap().starts_with("203.0.113."));
    // The path check reports what happened on the public address; only the DNS finding speaks.
    let tcp = check(&r, &format!("tcp:{}:443", st("blob")));
    assert_eq!(tcp["code"], serde_json::Value::Null);
}

#[test]
fn key_vault_without_private_endpoint_is_dns_no_privatelink() {
    let (code, r) = demo("keyvault-no-private-endpoint");
    assert_eq!(code, 1);
    assert_eq!(findings(&r), vec![f("error", "dns-no-privatelink", &["kv-contoso-ml-lab.vault.azure.net"])]);
}

#[test]
fn filtered_workspace_port_is_tcp_timeout() {
    let (code, r) = demo("workspace-port-filtered");
    assert_eq!(code, 1);
    // The compute-instance names share the workspace's private endpoint, so they are filtered too.
    assert_eq!(
        findings(&r),
        vec![
            f("error", "tcp-timeout", &[&format!("{WS}:443"), &format!("{WS_CERT}:443")]),
            f("warning", "tcp-timeout", &[&format!("{CI}:443"), &format!("{CI_LEGACY}:443")]),
        ]
    );
    let c = check(&r, &format!("tcp:{WS}:443"));
    assert_eq!(c["tcp_state"], "timeout");
    assert!(c["elapsed_ms"].as_u64().unwrap() >= 1900, "waited the 2s timeout: {c}");
    assert!(r["findings"][0]["remedy"].as_str().unwrap().contains("AzureMachineLearning"));
}

#[test]
fn missing_privatelink_record_is_dns_nxdomain_naming_the_missing_name() {
    let (code, r) = demo("acr-record-missing");
    assert_eq!(code, 1);
    assert_eq!(
        findings(&r),
        vec![f("error", "dns-nxdomain", &["crcontosomllab.azurecr.io", "crcontosomllab.eastus.data.azurecr.io"])]
    );
    let c = check(&r, "dns:crcontosomllab.azurecr.io");
    assert_eq!(c["cname_chain"], serde_json::json!(["crcontosomllab.privatelink.azurecr.io"]));
    assert!(c["error"].as_str().unwrap().contains("crcontosomllab.privatelink.azurecr.io"), "{c}");
    assert!(r["findings"][0]["remedy"].as_str().unwrap().contains("privatelink.azurecr.io"));
}

#[test]
fn address_in_docker_bridge_is_docker_bridge_overlap() {
    let (code, r) = demo("docker-bridge");
    assert_eq!(code, 1);
    assert_eq!(findings(&r), vec![f("error", "docker-bridge-overlap", &["stcontosomllab.blob.core.windows.net"])]);
    assert!(
        check(&r, "dns:stcontosomllab.blob.core.windows.net")["addresses"][0].as_str().unwrap().starts_with("172.17.")
    );
}

#[test]
fn stale_record_outside_vnet_is_dns_outside_vnet() {
    let (code, r) = demo("stale-record");
    assert_eq!(code, 1);
    assert_eq!(findings(&r), vec![f("error", "dns-outside-vnet", &["kv-contoso-ml-lab.vault.azure.net"])]);
    assert_eq!(r["environment"]["address_rule"]["rule"], "vnet-cidr");
    assert_eq!(r["environment"]["address_rule"]["ranges"], serde_json::json!(["10.0.0.0/16"]));
}

#[test]
fn active_rejections_are_tcp_refused_and_udp_rejected() {
    let (code, r) = demo("firewall-rejects");
    assert_eq!(code, 1);
    assert_eq!(
        findings(&r),
        vec![
            f("error", "tcp-refused", &["management.azure.com:443"]),
            f("warning", "udp-rejected", &["eastus.tundra.azureml.ms:5831"]),
        ]
    );
    assert_eq!(check(&r, "udp:eastus.tundra.azureml.ms:5831")["udp_state"], "rejected");
}

#[test]
fn silent_dns_server_is_dns_timeout_and_nothing_is_dialled() {
    let (code, r) = demo("dns-down");
    assert_eq!(code, 1);
    let fs = findings(&r);
    assert_eq!(fs.len(), 2, "{fs:?}");
    assert!(fs.iter().all(|(_, code, _)| code == "dns-timeout"), "{fs:?}");
    assert!(fs[0].2.contains(&WS.to_string()));
    for c in r["checks"].as_array().unwrap() {
        if c["area"] != "dns" {
            assert_eq!(c["status"], "skip", "{c}");
        }
    }
}

#[test]
fn zone_for_public_name_is_a_warning_and_exits_0() {
    let (code, r) = demo("public-zone-override");
    assert_eq!(code, 0);
    assert_eq!(findings(&r), vec![f("warning", "dns-zone-override", &["kv-contoso-ml-lab.vault.azure.net"])]);
}

#[test]
fn fail_on_moves_the_threshold() {
    let base = ["demo", "--scenario", "pypi-missing", "--output", "json", "--timeout", "2s"];
    let o = run(&base);
    assert_eq!(code(&o), 0, "a situational warning does not fail by default");
    assert_eq!(findings(&report(&o)), vec![f("warning", "dns-nxdomain", &["pypi.org"])]);
    let o = run(&[&base[..], &["--fail-on", "warning"]].concat());
    assert_eq!(code(&o), 1);
    let o = run(&["demo", "--scenario", "storage-zone-unlinked", "--output", "json", "--fail-on", "never"]);
    assert_eq!(code(&o), 0);
}

#[test]
fn deadline_bounds_the_run() {
    let started = std::time::Instant::now();
    let o = unfinished_demo();
    // The whole process, not only the probing that duration_ms times: the
    // lab, the runtime's shutdown and the report's writing count too.
    let wall = started.elapsed();
    assert!(wall < std::time::Duration::from_secs(8), "the process outlived its 1 s deadline: {wall:?}");
    let r = report(&o);
    // A run that could not judge a required endpoint is never healthy.
    assert_eq!(code(&o), 1, "unfinished required probes are an error");
    let fs = findings(&r);
    assert!(fs.iter().all(|f| f.1 == "run-deadline-exceeded"), "{fs:?}");
    let errors: Vec<_> = fs.iter().filter(|f| f.0 == "error").collect();
    assert_eq!(errors.len(), 1, "required and situational checks are told apart: {fs:?}");
    assert!(errors[0].2.contains(&format!("tcp {WS}:443")));
    // The compute instance's hosts share the filtered workspace address and are situational.
    assert!(
        fs.iter()
            .any(|f| f.0 == "warning" && f.2.contains(&"tcp ci-lab-01.eastus.instances.ml.azure.ms:443".to_string()))
    );
    assert_eq!(check(&r, &format!("tcp:{WS}:443"))["status"], "skip");
    assert!(r["duration_ms"].as_u64().unwrap() < 10_000, "the 20s probe timeout did not run out");
}

#[test]
fn check_path_with_arm_json_against_a_lab_in_this_process() {
    let lab = LabHandle::start("healthy");
    let ws = fixture("workspace-arm.json");
    let mut args = vec![
        "check".to_string(),
        "--workspace-json".into(),
        ws.display().to_string(),
        "--output".into(),
        "json".into(),
    ];
    args.extend(lab.network_args());
    let o = amlnet().args(&args).output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r = report(&o);
    assert_eq!(findings(&r), vec![]);
    assert_eq!(r["target"]["workspace_id"], "3f6c2a51-8e4b-4d2a-9b7e-5c1d0a9e7f42");
    assert_eq!(r["target"]["storage_accounts"], serde_json::json!(["stcontosomllab"]));
    assert_eq!(check(&r, &format!("dns:{WS}"))["resolver"], lab.lab.dns.to_string());
    assert_eq!(check(&r, &format!("tcp:{WS}:443"))["via_connect_to"], true);
    // No compute instance in the ARM document: its hosts are not planned and say why.
    assert!(r["omitted"].as_array().unwrap().iter().any(|o| o["id"] == "compute-instance"));
}

#[test]
fn check_path_with_cli_json_and_flag_override_finds_the_broken_storage() {
    let lab = LabHandle::start("storage-zone-unlinked");
    let ws = fixture("workspace-cli.json");
    let ws = ws.display().to_string();
    let o = lab.run(&[
        "--workspace-json",
        &ws,
        "--workspace-id",
        "3F6C2A51-8E4B-4D2A-9B7E-5C1D0A9E7F42",
        "--skip",
        "repos",
        "--skip",
        "vscode",
        "--output",
        "json",
    ]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let r = report(&o);
    let codes: Vec<String> = findings(&r).into_iter().map(|(_, c, _)| c).collect();
    assert_eq!(codes, vec!["dns-public-answer", "dns-public-answer"]);
    assert!(!r["checks"].as_array().unwrap().iter().any(|c| c["host"] == "pypi.org"), "--skip repos");
    assert_eq!(r["target"]["workspace_id"], "3f6c2a51-8e4b-4d2a-9b7e-5c1d0a9e7f42");
}

#[test]
fn loopback_only_refuses_an_address_without_a_rule() {
    let lab = LabHandle::start("healthy");
    // Only the DNS server, no --connect-to: every answer is a lab address beyond loopback.
    let o = run(&[
        "check",
        "--workspace-id",
        "3f6c2a51-8e4b-4d2a-9b7e-5c1d0a9e7f42",
        "--region",
        "eastus",
        "--skip",
        "repos",
        "--skip",
        "vscode",
        "--dns-server",
        &lab.lab.dns.to_string(),
        "--output",
        "json",
    ]);
    let r = report(&o);
    let c = check(&r, &format!("tcp:{WS}:443"));
    assert_eq!(c["status"], "skip");
    assert!(c["error"].as_str().unwrap().contains("not a loopback address"), "{c}");
}

#[test]
fn text_report_is_plain_when_piped_and_fits_80_columns() {
    let o = amlnet()
        .env_remove("NO_COLOR")
        .args(["demo", "--scenario", "storage-zone-unlinked", "--timeout", "2s"])
        .output()
        .unwrap();
    let text = stdout(&o);
    assert!(!text.contains('\u{1b}'), "no colour codes when stdout is not a terminal");
    assert!(
        text.contains("Findings")
            && text.contains("Names (")
            && text.contains("Paths (")
            && text.contains("This machine")
    );
    assert!(text.contains("dns-public-answer"));
    assert!(text.lines().last().unwrap().starts_with("1 error, 1 warning,"), "{}", text.lines().last().unwrap());
    for line in text.lines() {
        if line.chars().count() > 80 {
            let longest = line.split_whitespace().map(|w| w.chars().count()).max().unwrap_or(0);
            assert!(longest > 50, "line over 80 columns without an unbreakable host name: {line:?}");
        }
    }
}

#[test]
fn out_writes_the_file_and_markdown_and_junit_render() {
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("r.md");
    let o = run(&[
        "demo",
        "--scenario",
        "keyvault-no-private-endpoint",
        "--output",
        "markdown",
        "--out",
        md.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 1);
    assert!(o.stdout.is_empty());
    let text = std::fs::read_to_string(&md).unwrap();
    assert!(text.starts_with("# amlnet report"));
    assert!(text.contains("`dns-no-privatelink`"));
    let o = run(&["demo", "--scenario", "keyvault-no-private-endpoint", "--output", "junit"]);
    let xml = stdout(&o);
    assert!(xml.contains("<failure message=\"dns-no-privatelink:"), "{xml}");
}

#[test]
fn diff_shows_what_was_fixed() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (dir.path().join("old.json"), dir.path().join("new.json"));
    run(&["demo", "--scenario", "keyvault-no-private-endpoint", "--output", "json", "--out", old.to_str().unwrap()]);
    run(&["demo", "--output", "json", "--out", new.to_str().unwrap()]);
    let o = run(&["diff", old.to_str().unwrap(), new.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("Fixed (1)") && text.contains("dns-no-privatelink  kv-contoso-ml-lab.vault.azure.net"),
        "{text}"
    );
    assert!(text.contains("dns:kv-contoso-ml-lab.vault.azure.net: fail -> pass"), "{text}");
}

#[test]
fn explain_names_the_resolver_and_links_the_documentation() {
    let text = stdout(&run(&["explain", "dns-public-answer"]));
    assert!(text.contains("168.63.129.16") && text.contains("https://learn.microsoft.com/"));
    let o = run(&["explain", "dns-nxdomian"]);
    assert_eq!(code(&o), 2, "an unknown code is bad usage");
}

#[test]
fn hostile_cname_loop_is_a_finding_not_a_hang() {
    let (code, r) = demo("cname-loop");
    assert_eq!(code, 1);
    assert_eq!(findings(&r), vec![f("error", "dns-no-address", &["kv-contoso-ml-lab.vault.azure.net"])]);
    let c = check(&r, "dns:kv-contoso-ml-lab.vault.azure.net");
    assert_eq!(
        c["cname_chain"],
        serde_json::json!(["kv-contoso-ml-lab.privatelink.vaultcore.azure.net", "kv-contoso-ml-lab.vault.azure.net"])
    );
    assert!(c["error"].as_str().unwrap().contains("CNAME loop"), "{c}");
}

#[test]
fn lab_proxy_denial_authentication_and_outage() {
    let (code, r) = demo("proxy-blocks-pypi");
    assert_eq!(code, 0, "repositories are situational");
    assert_eq!(findings(&r), vec![f("warning", "http-blocked", &["pypi.org:443", "files.pythonhosted.org:443"])]);
    let mgmt = check(&r, "tcp:management.azure.com:443");
    assert!(mgmt["via_proxy"].as_str().unwrap().starts_with("http://127.0.0.1:"));
    assert_eq!(mgmt["tls"]["verified"], true, "TLS runs through the tunnel");
    assert_eq!(check(&r, &format!("tcp:{WS}:443"))["via_proxy"], serde_json::Value::Null, "NO_PROXY covers it");

    let (code, r) = demo("proxy-auth-required");
    assert_eq!(code, 1);
    assert!(hosts_of(&r, "http-proxy-auth").contains(&"management.azure.com:443".to_string()));
    assert_eq!(findings(&r).iter().filter(|f| f.1 != "http-proxy-auth").count(), 0, "{:?}", findings(&r));

    let (code, r) = demo("proxy-down");
    assert_eq!(code, 1);
    let fs = findings(&r);
    assert_eq!(fs.len(), 1, "one proxy down is one finding: {fs:?}");
    assert_eq!(fs[0].1, "proxy-unreachable");
    assert!(fs[0].2[0].starts_with("http://127.0.0.1:"));
}

/// The demo hands the same assembly a simulated machine: the same lab,
/// checked with `amlnet check` and that machine's proxy variables in the
/// environment, gives the same findings, and the local rules judged them.
#[test]
fn demo_and_check_assemble_the_same_run() {
    let (status, from_demo) = demo("no-proxy-incomplete");
    assert_eq!(status, 1);
    let lab = LabHandle::start("no-proxy-incomplete");
    let t = amlnet::lab::lab_target();
    let mut cmd = amlnet();
    cmd.args(["check", "--output", "json", "--timeout", "2s"]);
    for (flag, value) in [
        ("--workspace-id", t.workspace_id),
        ("--workspace-name", t.workspace_name),
        ("--region", t.region),
        ("--storage", t.storage_accounts.first().cloned()),
        ("--key-vault", t.key_vault),
        ("--acr", t.container_registry),
        ("--app-insights", t.app_insights),
        ("--compute-instance", t.compute_instance),
    ] {
        cmd.arg(flag).arg(value.unwrap());
    }
    cmd.args(lab.network_args()).envs(lab.lab.proxy_env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let from_check = report(&cmd.output().unwrap());
    assert_eq!(findings(&from_demo), findings(&from_check));
    assert_eq!(
        hosts_of(&from_demo, "no-proxy-missing-private"),
        s(&[
            "kv-contoso-ml-lab.vault.azure.net",
            "stcontosomllab.blob.core.windows.net",
            "stcontosomllab.dfs.core.windows.net",
            "stcontosomllab.file.core.windows.net",
            "stcontosomllab.queue.core.windows.net",
            "stcontosomllab.table.core.windows.net"
        ])
    );
    let proxy = &from_demo["environment"]["proxy"];
    assert_eq!(proxy[0]["name"], "https_proxy", "{proxy}");
    assert_eq!(from_demo["environment"]["machine_read"], false);
    assert!(
        check(&from_demo, "tcp:pypi.org:443")["via_proxy"].is_string(),
        "HTTPS to the Internet went through the proxy"
    );
}

/// Ctrl-C or SIGTERM while probes wait: the report of what finished is
/// still written, the unfinished checks say so, and the status names the signal.
#[test]
fn a_signal_stops_probing_and_still_writes_the_report() {
    for (signal, status) in [(libc::SIGINT, 130), (libc::SIGTERM, 143)] {
        let (got, r) = interrupted_demo(signal);
        assert_eq!(got, status);
        assert!(hosts_of(&r, "run-interrupted").contains(&format!("tcp {WS}:443")), "{:?}", findings(&r));
        assert_eq!(check(&r, &format!("tcp:{WS}:443"))["error"], "interrupted");
        assert!(r["summary"]["passed"].as_u64().unwrap() > 50, "what finished is reported");
    }
}

/// `--out` in a folder that does not exist fails before anything is probed.
#[test]
fn out_in_a_missing_folder_is_refused_before_probing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("no/such/folder/report.json");
    let started = std::time::Instant::now();
    let o = run(&["demo", "--scenario", "workspace-port-filtered", "--timeout", "20s", "--out", out.to_str().unwrap()]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).starts_with("amlnet: --out "), "{}", stderr(&o));
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "refused before the 20 s probes");
}

/// `--only local` judges this machine's settings and sends no packet: the
/// DNS server it is given never receives a query.
#[test]
fn only_local_sends_no_dns() {
    let server = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bashrc = dir.path().join("bashrc");
    std::fs::write(&bashrc, "HTTPS_PROXY=http://127.0.0.1:9\n").unwrap();
    let o = run(&[
        "check",
        "--only",
        "local",
        "--workspace-id",
        "3f6c2a51-8e4b-4d2a-9b7e-5c1d0a9e7f42",
        "--region",
        "eastus",
        "--dns-server",
        &server.local_addr().unwrap().to_string(),
        "--bashrc",
        bashrc.to_str().unwrap(),
        "--hosts-file",
        "/dev/null",
        "--output",
        "json",
    ]);
    let r = report(&o);
    assert!(r["checks"].as_array().unwrap().is_empty(), "nothing probed");
    assert_eq!(hosts_of(&r, "proxy-not-exported"), vec!["HTTPS_PROXY".to_string()], "the local rules ran");
    server.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 512];
    assert!(server.recv(&mut buf).is_err(), "no DNS query was sent");
}

/// A proxy whose name does not resolve breaks every path through it: one
/// error naming the proxy, not a row of silent skips and exit 0.
#[test]
fn a_proxy_whose_name_does_not_resolve_is_an_error() {
    let lab = LabHandle::start("healthy");
    let mut cmd = amlnet();
    cmd.args(["check", "--output", "json", "--timeout", "2s", "--workspace-json"]).arg(fixture("workspace-arm.json"));
    cmd.args(lab.network_args()).env("https_proxy", "http://proxy.corp.example:3128").env(
        "no_proxy",
        ".azureml.ms,.core.windows.net,.vault.azure.net,.azurecr.io,.notebooks.azure.net,.monitor.azure.com",
    );
    let o = cmd.output().unwrap();
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let r = report(&o);
    assert_eq!(hosts_of(&r, "proxy-unreachable"), vec!["http://proxy.corp.example:3128".to_string()]);
    let pypi = check(&r, "tcp:pypi.org:443");
    assert_eq!(pypi["status"], "fail");
    assert!(pypi["error"].as_str().unwrap().contains("its name proxy.corp.example did not resolve"), "{pypi}");
    assert_eq!(r["summary"]["skipped"], 0, "{}", r["summary"]);
}
