//! Build facts for `amlnet --version` and the report's `tool`: the git
//! commit (or "unknown" when built from a tarball without .git; the
//! AMLNET_GIT_COMMIT variable overrides) and the target triple.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

fn main() {
    println!("cargo:rerun-if-env-changed=AMLNET_GIT_COMMIT");
    let commit = std::env::var("AMLNET_GIT_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_string());
    // Rebuild when HEAD moves: HEAD itself, the branches (loose or packed).
    // Only paths that exist: cargo reruns a build script for a missing one every time.
    let mut watch = Vec::new();
    if let Some(dir) = git(&["rev-parse", "--git-dir"]) {
        watch.push(format!("{dir}/HEAD"));
    }
    if let Some(common) = git(&["rev-parse", "--git-common-dir"]) {
        // The branch's own ref file, or (packed, or detached HEAD) the folder a new one appears in.
        match git(&["symbolic-ref", "-q", "HEAD"]).map(|b| format!("{common}/{b}")) {
            Some(loose) if std::path::Path::new(&loose).exists() => watch.push(loose),
            _ => watch.push(format!("{common}/refs/heads")),
        }
        watch.push(format!("{common}/packed-refs"));
    }
    for path in watch.iter().filter(|p| std::path::Path::new(p).exists()) {
        println!("cargo:rerun-if-changed={path}");
    }
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".to_string());
    println!("cargo:rustc-env=AMLNET_GIT_COMMIT={commit}");
    println!("cargo:rustc-env=AMLNET_TARGET={target}");
}
