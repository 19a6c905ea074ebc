//! What ships with the binary: `--version` (version, commit, target), the
//! report's `tool`, completion scripts and the man page.

mod util;

use regex::Regex;
use util::*;

fn version_line() -> (String, String, String) {
    let o = run(&["--version"]);
    assert_eq!(code(&o), 0);
    let line = stdout(&o);
    let re =
        Regex::new(r"^amlnet (\d+\.\d+\.\d+) \(commit ([0-9a-f]{12}|unknown), ([a-z0-9_]+-[a-z0-9_-]+)\)\n$").unwrap();
    let c = re.captures(&line).unwrap_or_else(|| panic!("--version says {line:?}"));
    (c[1].to_string(), c[2].to_string(), c[3].to_string())
}

#[test]
fn version_names_the_version_the_commit_and_the_target() {
    let (version, commit, target) = version_line();
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
    // Built from this checkout: the commit is HEAD's (when git can say).
    let head = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    if let (Some(head), None) = (head, option_env!("AMLNET_GIT_COMMIT")) {
        assert_eq!(commit, head, "the binary was built from this checkout");
    }
    assert!(target.contains("linux") || target.contains("windows") || target.contains("darwin"), "{target}");
    // The report's tool says the same.
    let (_, r) = demo("healthy");
    assert_eq!(r["tool"]["name"], "amlnet");
    assert_eq!(r["tool"]["version"], version.as_str());
    assert_eq!(r["tool"]["commit"], commit.as_str());
    assert_eq!(r["tool"]["target"], target.as_str());
}

#[test]
fn completions_for_each_shell_know_the_subcommands() {
    for (shell, marker) in [
        ("bash", "complete -F _amlnet"),
        ("zsh", "#compdef amlnet"),
        ("fish", "complete -c amlnet"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let o = run(&["completions", shell]);
        assert_eq!(code(&o), 0, "{shell}: {}", stderr(&o));
        let text = stdout(&o);
        assert!(text.contains(marker), "{shell} completion lacks {marker:?}");
        for word in ["merge", "job", "workspace-json", "fail-on"] {
            assert!(text.contains(word), "{shell} completion lacks {word}");
        }
    }
    let o = run(&["completions", "tcsh"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("tcsh") && stderr(&o).lines().count() == 1, "{}", stderr(&o));
}

#[test]
fn the_man_page_has_every_subcommand_and_the_exit_statuses() {
    let o = run(&["man"]);
    assert_eq!(code(&o), 0);
    let roff = stdout(&o);
    assert!(roff.starts_with(".ie \\n(.g .ds Aq") || roff.contains(".TH amlnet 1"), "{}", &roff[..200]);
    assert!(roff.contains(".TH amlnet 1"));
    for sub in ["CHECK", "PLAN", "DEMO", "EXPLAIN", "DIFF", "MERGE", "JOB", "COMPLETIONS"] {
        assert!(roff.contains(&format!(".SH \"AMLNET {sub}\"")), "no section for {sub}");
    }
    assert!(roff.contains(".SH \"EXIT STATUS\"") && roff.contains("bad usage or bad input"));
    assert!(roff.contains("\\-\\-workspace\\-json"), "options are listed");
}
