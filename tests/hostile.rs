//! Hostile input through the real binary: secrets in proxy values, a
//! `~/.bashrc` that grows or fans out, special files where files are
//! expected, host names with control characters, peers that send escape
//! sequences, and outputs that cannot be written. Nothing crashes, hangs,
//! leaks or lies. Every run is on loopback (the lab in this process).

mod util;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use util::*;

/// The marker password's distinctive parts: none may appear in any output.
const MARKERS: &[&str] = &["Zq7Pa55", "w0rdX", "61797", "Kx9Secr"];

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

fn mkfifo(path: &std::path::Path) {
    let c = std::ffi::CString::new(path.display().to_string()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo {}", path.display());
}

/// Runs `cmd`, killing it after `limit`: `None` when it had to be killed (a hang).
fn run_limited(mut cmd: Command, limit: Duration) -> Option<Output> {
    let mut child =
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("the binary runs");
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let t_out = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = out.read_to_end(&mut b);
        b
    });
    let t_err = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = err.read_to_end(&mut b);
        b
    });
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(Output { status, stdout: t_out.join().unwrap(), stderr: t_err.join().unwrap() });
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn assert_usage_error(o: &Output, needle: &str) {
    assert_eq!(code(o), 2, "stdout: {}\nstderr: {}", stdout(o), stderr(o));
    let err = stderr(o);
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err:?}");
    assert!(err.starts_with("amlnet: "), "{err}");
    assert!(err.contains(needle), "expected {needle:?} in {err:?}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(!err.contains('\u{1b}') && !err.contains('\r'), "no control characters: {err:?}");
}

fn notes(r: &serde_json::Value) -> Vec<String> {
    r["environment"]["notes"].as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_string()).collect()
}

/// `check` against a healthy lab with `args`, JSON on stdout, killed after 60 s.
fn lab_check(lab: &LabHandle, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = amlnet();
    cmd.args(["check", "--workspace-json"]).arg(fixture("workspace-arm.json"));
    // The lab's arguments are flag/value pairs; a flag given in `args` replaces the lab's.
    for pair in lab.network_args().chunks(2) {
        if !args.contains(&pair[0].as_str()) || pair[0] == "--connect-to" {
            cmd.args(pair);
        }
    }
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run_limited(cmd, Duration::from_secs(60)).expect("the run ended by itself")
}

// ---- item 1: no secret in any output ----------------------------------------

#[test]
fn a_marker_password_in_every_proxy_field_appears_in_no_output() {
    let lab = LabHandle::start("healthy");
    let dir = tempfile::tempdir().unwrap();
    // Every proxy field of the environment, each password with a character
    // a URL parser takes as the end of the authority.
    let env: Vec<(&str, &str)> = vec![
        ("HTTPS_PROXY", "http://user:Zq7Pa55#1@127.0.0.1:9"),
        ("https_proxy", "http://user:Zq7Pa55?w0rdX/2@127.0.0.1:9"),
        ("HTTP_PROXY", "http://user:a/Zq7Pa55;w0rdX@127.0.0.1:9"),
        ("http_proxy", "http://Kx9Secr:Zq7Pa55 w0rdX@127.0.0.1:9"),
        ("ALL_PROXY", "user:Zq7Pa55@w0rdX@127.0.0.1:9"),
        ("all_proxy", "http://user:Zq7Pa55"),
        ("NO_PROXY", "localhost,.azureml.ms"),
        ("no_proxy", "localhost"),
    ];
    // And in the shell startup file: cut at ';', at a blank, swallowed by
    // '${' (last: it swallows the rest of the file), unexported, with '#', and
    // a numeric half that parses as a port.
    let bashrc = write(
        &dir,
        "bashrc",
        "export HTTPS_PROXY=http://user:Zq7Pa55;w0rdX@127.0.0.1:9\n\
         export https_proxy=http://user:Zq7Pa55 w0rdX@127.0.0.1:9\n\
         export HTTP_PROXY=http://user:61797;Zq7Pa55@127.0.0.1:9\n\
         http_proxy=http://user:Zq7Pa55#w0rdX@127.0.0.1:9\n\
         export all_proxy=http://Kx9Secr@127.0.0.1:9\n\
         export NO_PROXY='localhost,http://user:Zq7Pa55@x'\n\
         export ALL_PROXY=http://user:Zq7Pa55${w0rdX@127.0.0.1:9\n",
    );
    for format in ["text", "json", "markdown", "junit"] {
        let o = lab_check(&lab, &["--bashrc", &bashrc, "--output", format, "--verbose"], &env);
        assert!(!o.stdout.is_empty(), "{format}: a report: {}", stderr(&o));
        let (out, err) = (stdout(&o), stderr(&o));
        assert!(err.contains("proxy variable"), "--verbose speaks: {err}");
        for m in MARKERS {
            assert!(!out.contains(m), "{format} report shows {m}:\n{out}");
            assert!(!err.contains(m), "{format} --verbose shows {m}:\n{err}");
        }
        if format == "json" {
            let r = report(&o);
            let codes: Vec<String> = findings(&r).into_iter().map(|f| f.1).collect();
            for c in ["proxy-malformed", "proxy-env-mismatch", "proxy-not-exported", "proxy-credentials-in-clear"] {
                assert!(codes.contains(&c.to_string()), "{c} is reported (and masked): {codes:?}");
            }
            assert!(r["environment"]["proxy"].as_array().unwrap().len() >= 14);
        }
    }
}

// ---- item 3: a ~/.bashrc cannot take the machine down -------------------------

#[test]
fn a_bashrc_that_doubles_a_variable_stops_growing_and_says_so() {
    let lab = LabHandle::start("healthy");
    let dir = tempfile::tempdir().unwrap();
    // 100 bytes doubled 12 times is 400 KiB: over the 64 KiB cap (the
    // issue's 13 lines of x4 would be 5 GB without it).
    let mut text = format!("A={}\n", "a".repeat(100));
    for _ in 0..12 {
        text.push_str("A=$A$A\n");
    }
    text.push_str("export https_proxy=http://127.0.0.1:9\n");
    let bashrc = write(&dir, "bashrc", &text);
    let o = lab_check(&lab, &["--bashrc", &bashrc, "--output", "json"], &[]);
    let r = report(&o);
    assert!(notes(&r).iter().any(|n| n.contains("stops growing")), "{:?}", notes(&r));
}

#[test]
fn a_bashrc_source_fan_out_reads_each_file_once() {
    let lab = LabHandle::start("healthy");
    let dir = tempfile::tempdir().unwrap();
    // l0_0 sources 12 files, each sourcing the same 12 of the next level:
    // 1,885 reads without memoising (12^4 with a fourth level of 12), 37 with it.
    for level in 0..4 {
        for i in 0..12 {
            let mut text = format!("export LEVEL{level}_{i}=1\n");
            if level < 3 {
                for j in 0..12 {
                    text.push_str(&format!("source l{}_{j}.sh\n", level + 1));
                }
            }
            write(&dir, &format!("l{level}_{i}.sh"), &text);
        }
    }
    let top = write(&dir, "bashrc", "source l0_0.sh\nexport https_proxy=http://127.0.0.1:9\n");
    let o = lab_check(&lab, &["--bashrc", &top, "--output", "json"], &[]);
    let r = report(&o);
    let all = notes(&r);
    assert!(all.iter().any(|n| n.contains("already read, not read twice")), "{all:?}");
    assert!(all.len() <= 205, "notes are capped: {}", all.len());
    assert!(all.iter().any(|n| n.contains("more notes left out")), "{all:?}");
}

#[test]
fn a_bashrc_over_the_line_budget_is_cut_with_a_note() {
    let lab = LabHandle::start("healthy");
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("# many lines\n");
    text.push_str(&":\n".repeat(100_000));
    text.push_str("export https_proxy=http://127.0.0.1:9\n");
    let bashrc = write(&dir, "bashrc", &text);
    let o = lab_check(&lab, &["--bashrc", &bashrc, "--output", "json"], &[]);
    let r = report(&o);
    assert!(notes(&r).iter().any(|n| n.contains("100000 lines")), "{:?}", notes(&r));
}

// ---- item 4: special files and unreadable files ------------------------------

#[test]
fn special_files_as_explicit_inputs_are_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("ws.json");
    mkfifo(&fifo);
    let fifo = fifo.display().to_string();
    let probes = tempfile::tempdir().unwrap();
    mkfifo(&probes.path().join("extra.toml"));
    let dirname = dir.path().display().to_string();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["plan", "--workspace-json", &fifo], "not a regular file (a FIFO)"),
        (vec!["plan", "--workspace-json", "/dev/zero"], "not a regular file (a character device)"),
        (vec!["plan", "--workspace-json", &dirname], "not a regular file (a directory)"),
        (
            vec!["plan", "--region", "eastus", "--probes", probes.path().to_str().unwrap()],
            "extra.toml: not a regular file (a FIFO)",
        ),
        (vec!["check", "--region", "eastus", "--resolv-conf", "/dev/zero"], "/dev/zero: not a regular file"),
        (vec!["diff", &fifo, "/dev/zero"], "ws.json: not a regular file (a FIFO)"),
        (vec!["check", "--region", "eastus", "--dns-server", "127.0.0.1:9", "--ca-file", &fifo], "--ca-file"),
    ];
    for (args, needle) in cases {
        let mut cmd = amlnet();
        cmd.args(&args);
        let o = run_limited(cmd, Duration::from_secs(20)).unwrap_or_else(|| panic!("{args:?} hung"));
        assert_usage_error(&o, needle);
    }
    // Standard input is capped too (the old reader grew until memory ran out).
    let o = amlnet()
        .args(["plan", "--workspace-json", "-"])
        .stdin(std::fs::File::open("/dev/zero").unwrap())
        .output()
        .unwrap();
    assert_usage_error(&o, "larger than 4 MiB");
}

#[test]
fn special_or_unreadable_local_files_are_notes() {
    let lab = LabHandle::start("healthy");
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("bashrc");
    mkfifo(&fifo);
    let hosts_fifo = dir.path().join("hosts");
    mkfifo(&hosts_fifo);
    let unreadable_hosts = dir.path().display().to_string();
    for hosts in [hosts_fifo.display().to_string(), "/dev/zero".to_string(), unreadable_hosts] {
        let o = lab_check(&lab, &["--bashrc", fifo.to_str().unwrap(), "--hosts-file", &hosts, "--output", "json"], &[]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        let all = notes(&report(&o));
        assert!(all.iter().any(|n| n.contains(&format!("{hosts}: not read"))), "{hosts}: {all:?}");
        assert!(all.iter().any(|n| n.contains("bashrc: not read: not a regular file (a FIFO)")), "{all:?}");
    }
}

// ---- item 5: host names and what peers send -----------------------------------

#[test]
fn host_names_with_control_characters_or_bad_labels_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let arm = std::fs::read_to_string(fixture("workspace-arm.json")).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&arm).unwrap();
    for (name, fqdn, needle) in [
        ("crlf.json", "ml-x.eastus.notebooks.azure.net\r\nX-Injected: 1", "notebookInfo.fqdn"),
        ("esc.json", "ml-\u{1b}[2J.eastus.notebooks.azure.net", "\\x1b"),
        ("long.json", &format!("{}.eastus.notebooks.azure.net", "a".repeat(64)), "at most 63"),
    ] {
        let mut d = doc.clone();
        d["properties"]["notebookInfo"]["fqdn"] = serde_json::Value::String(fqdn.to_string());
        let path = write(&dir, name, &d.to_string());
        for cmd in ["plan", "check"] {
            let o = run(&[cmd, "--workspace-json", &path]);
            assert_usage_error(&o, needle);
            assert!(stderr(&o).contains(name), "{}", stderr(&o));
        }
    }
    let probes = tempfile::tempdir().unwrap();
    let entry = |host: &str| {
        format!(
            "[[endpoint]]\nid = 'evil'\ngroup = 'x'\nhost = \"{host}\"\nports = ['tcp/443']\nexpect = 'public'\nrequired = true\nservice_tag = 'Internet'\npurpose = 'p'\ndocs = []\n"
        )
    };
    for (host, needle) in [
        ("evil.example.com\\r\\nX-Injected: 1", "not a host name"),
        ("evil\\u001b]0;owned\\u0007.example.com", "\\x1b"),
        ("{region}.has space.example.com", "not a host name"),
        ("*.wild.example.com", "not a host name"),
    ] {
        std::fs::write(probes.path().join("extra.toml"), entry(host)).unwrap();
        let o = run(&["plan", "--region", "eastus", "--probes", probes.path().to_str().unwrap()]);
        assert_usage_error(&o, needle);
        assert!(stderr(&o).contains("extra.toml"), "{}", stderr(&o));
    }
    // Other texts of an entry are printed too.
    let text = entry("ok.example.com").replace("id = 'evil'", "id = \"ev\\u001b[2Jil\"");
    std::fs::write(probes.path().join("extra.toml"), text).unwrap();
    let o = run(&["plan", "--region", "eastus", "--probes", probes.path().to_str().unwrap()]);
    assert_usage_error(&o, "endpoint id 'ev\\x1b[2Jil'");
    let text = entry("ok.example.com").replace("purpose = 'p'", "purpose = \"p\\u001b]0;t\\u0007\"");
    std::fs::write(probes.path().join("extra.toml"), text).unwrap();
    let o = run(&["plan", "--region", "eastus", "--probes", probes.path().to_str().unwrap()]);
    assert_usage_error(&o, "control character");
}

/// A proxy on loopback that answers every CONNECT with escape sequences.
fn hostile_proxy() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let _ = s.read(&mut buf);
                let _ = s.write_all(
                    b"HTTP/1.1 403 Forbidden\x1b[2J\x1b]0;owned\x07\rFAKE\r\nServer: evil\x1b[31m\x9b\r\nVia: 1.1 \x1b[1mfw\r\n\r\n",
                );
            });
        }
    });
    port
}

#[test]
fn escape_sequences_from_a_proxy_reach_no_output() {
    let lab = LabHandle::start("healthy");
    let port = hostile_proxy();
    let proxy = format!("http://127.0.0.1:{port}");
    for format in ["text", "json", "markdown", "junit"] {
        let o = lab_check(&lab, &["--output", format], &[("HTTPS_PROXY", &proxy), ("NO_PROXY", "localhost")]);
        let out = stdout(&o);
        assert!(out.contains("403"), "{format}: the proxy's answer is reported:\n{out}");
        assert!(!out.contains('\u{1b}') && !out.contains('\u{7}') && !out.contains('\r'), "{format}:\n{out:?}");
        assert!(out.contains("\\x1b"), "{format}: shown escaped:\n{out}");
    }
}

// ---- item 6: no panic -------------------------------------------------------------

#[test]
fn huge_durations_are_refused_with_one_line() {
    assert_usage_error(&run(&["check", "--region", "eastus", "--timeout", "300000000000y"]), "--timeout");
    assert_usage_error(&run(&["demo", "--timeout", "300000000000y"]), "longest per-probe timeout");
    assert_usage_error(&run(&["demo", "--deadline", "300000000000y"]), "longest deadline");
    assert_usage_error(&run(&["demo", "--deadline", "25h"]), "--deadline");
}

#[test]
fn diff_into_a_closed_pipe_does_not_panic() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(&["demo", "--scenario", "storage-zone-unlinked", "--output", "json", "--timeout", "2s"]);
    let old = write(&dir, "old.json", &stdout(&o));
    let o = run(&["demo", "--output", "json", "--timeout", "2s"]);
    let new = write(&dir, "new.json", &stdout(&o));
    for _ in 0..3 {
        let mut child =
            amlnet().args(["diff", &old, &new]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        drop(child.stdout.take());
        let o = child.wait_with_output().unwrap();
        assert_ne!(code(&o), 101, "{}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    }
}

#[test]
fn a_full_stderr_does_not_panic() {
    let full = || std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    // A usage error has only stderr to speak through.
    let o = amlnet().args(["--no-such-flag"]).stderr(full()).output().unwrap();
    assert_eq!(code(&o), 2);
    let o = amlnet().args(["plan", "--workspace-json", "/nonexistent.json"]).stderr(full()).output().unwrap();
    assert_eq!(code(&o), 2);
    // --verbose writes to stderr before the report.
    let lab = LabHandle::start("healthy");
    let mut cmd = amlnet();
    cmd.args(["check", "--workspace-json"]).arg(fixture("workspace-arm.json"));
    cmd.args(lab.network_args()).args(["--verbose", "--output", "json"]);
    let o = cmd.stderr(full()).output().unwrap();
    assert_eq!(code(&o), 0);
    let _ = report(&o);
}
