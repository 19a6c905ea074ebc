//! Runs a test as root of namespaces that the test creates for itself, so
//! the namespace and end-to-end tests need no root on the machine.
//!
//! A test calls [`run`]. The test process re-executes its own binary, for
//! that one test, under `unshare --user --map-root-user --net --mount --pid
//! --fork --kill-child --mount-proc`: a user namespace in which the caller is
//! root, a network namespace with nothing but a loopback that is down, a
//! private mount namespace and a PID namespace. Inside, a tmpfs goes over
//! /run/netns and /etc/netns (so `ip netns add` works and no namespace of the
//! machine is seen or touched), and the test body runs. Everything it starts
//! lives in those namespaces and ends with them: killing `unshare` kills the
//! PID namespace's first process and so every process in it, and the network
//! namespaces and mounts go with their last process. Root takes the same path.
//!
//! When a tool is missing or the kernel refuses user namespaces, the test is
//! skipped, loudly: one line on the terminal (past the harness's capture)
//! naming the test, the reason and the command that fixes it, and a note after
//! the summary line of the test binary. With `AMLNET_E2E=required` (`.ci/run`
//! sets it) it fails instead.

#![allow(dead_code)]

use std::ffi::{CString, OsString};
use std::fs;
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, Once, OnceLock};
use std::time::{Duration, Instant};

/// `AMLNET_E2E=required`: a test that cannot run fails instead of skipping.
pub const REQUIRED_VAR: &str = "AMLNET_E2E";
/// Set for the re-executed binary: the one test it runs inside the namespaces.
const INNER_VAR: &str = "AMLNET_SANDBOX_TEST";
/// Printed by the re-executed binary once the body has returned.
const RAN: &str = "amlnet-sandbox: body finished:";
/// Where a tool may be installed beyond `PATH` (an ordinary user's `PATH`
/// on Debian has no sbin, where `ip` and `dnsmasq` live).
const SBIN: &[&str] = &["/usr/local/sbin", "/usr/sbin", "/sbin"];

/// A program a suite runs, and the Debian package that has it.
pub struct Tool {
    pub bin: &'static str,
    pub package: &'static str,
}

pub const IP: Tool = Tool { bin: "ip", package: "iproute2" };
pub const UNSHARE: Tool = Tool { bin: "unshare", package: "util-linux" };
pub const BASH: Tool = Tool { bin: "bash", package: "bash" };
pub const DNSMASQ: Tool = Tool { bin: "dnsmasq", package: "dnsmasq-base" };
pub const TINYPROXY: Tool = Tool { bin: "tinyproxy", package: "tinyproxy" };

/// A test file whose tests run in namespaces.
pub struct Suite {
    /// The file, as the skip lines name it.
    pub file: &'static str,
    /// What its tests need, beyond `unshare` and user namespaces.
    pub tools: &'static [Tool],
    /// How long one test may take inside its namespaces before it is killed.
    pub timeout: Duration,
}

/// Why a suite cannot run here, and what fixes it.
#[derive(Clone, Debug)]
pub struct Unavailable {
    pub reason: String,
    pub fix: String,
}

/// Runs `body` as root of namespaces of its own (see the module's doc), or
/// skips it loudly (fails it with `AMLNET_E2E=required`) where it cannot.
/// Call it from a `#[test]` function: the test's name is its thread's name.
pub fn run(suite: &Suite, body: impl FnOnce()) {
    let test = test_name();
    if let Some(inner) = std::env::var_os(INNER_VAR) {
        assert!(
            inner == test.as_str(),
            "{INNER_VAR}={inner:?} but this is {test}: the sandbox runs one test at a time"
        );
        prepare();
        body();
        println!("{RAN} {test}");
        return;
    }
    match check(suite) {
        Ok(flags) => outside(suite, &test, flags),
        Err(why) => {
            if required() {
                panic!(
                    "{}::{test} cannot run on this machine: {}. Fix: {}. ({REQUIRED_VAR}=required turns this skip into a failure.)",
                    suite.file, why.reason, why.fix
                );
            }
            loud(&format!("SKIPPED {}::{test}: {}; to run it: {}", suite.file, why.reason, why.fix));
            remember_skip(suite, &why);
        }
    }
}

/// The dedicated test of a suite: says whether the suite runs here, and
/// fails only when it cannot and `AMLNET_E2E=required`.
pub fn status(suite: &Suite) {
    match check(suite) {
        Ok(flags) => println!("{}: runs inside `unshare {}`", suite.file, flags.join(" ")),
        Err(why) if required() => panic!(
            "{}: its tests cannot run on this machine: {}. Fix: {}. ({REQUIRED_VAR}=required)",
            suite.file, why.reason, why.fix
        ),
        Err(why) => loud(&format!(
            "SKIPPED suite {}: its tests pass without running: {}; to run them: {}",
            suite.file, why.reason, why.fix
        )),
    }
}

/// Whether `AMLNET_E2E=required` is set (any other value is a mistake).
pub fn required() -> bool {
    match std::env::var(REQUIRED_VAR) {
        Ok(v) if v == "required" => true,
        Ok(v) if v.is_empty() => false,
        Ok(v) => panic!("{REQUIRED_VAR}={v:?}: the only value is \"required\" (or leave it unset)"),
        Err(_) => false,
    }
}

/// The file behind network namespace `ns` (made by `ip netns add`).
pub fn netns_file(ns: &str) -> PathBuf {
    let run = Path::new("/run/netns").join(ns);
    if run.exists() { run } else { Path::new("/var/run/netns").join(ns) }
}

/// Whether this suite can run here: the `unshare` flags to run it with.
pub fn check(suite: &Suite) -> Result<&'static [&'static str], Unavailable> {
    let missing: Vec<&Tool> = std::iter::once(&UNSHARE).chain(suite.tools).filter(|t| find(t.bin).is_none()).collect();
    if !missing.is_empty() {
        let names: Vec<&str> = missing.iter().map(|t| t.bin).collect();
        let mut packages: Vec<&str> = missing.iter().map(|t| t.package).collect();
        packages.dedup();
        return Err(Unavailable {
            reason: format!("{} {} not installed", names.join(" and "), if names.len() > 1 { "are" } else { "is" }),
            fix: format!("sudo apt-get install {}", packages.join(" ")),
        });
    }
    namespaces().clone()
}

/// The test's name: libtest runs each test on a thread named after it.
fn test_name() -> String {
    let current = std::thread::current();
    match current.name() {
        Some(name) if name != "main" => name.to_string(),
        _ => panic!("sandbox::run is called from a #[test] function, on the thread libtest names after the test"),
    }
}

/// One line straight to the terminal: libtest captures `print!`, not this.
fn loud(line: &str) {
    let _ = writeln!(io::stderr().lock(), "{line}");
}

/// `PATH` and the sbin directories, in that order, without repeats.
fn search_path() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    for d in SBIN {
        if !dirs.iter().any(|x| x == Path::new(d)) {
            dirs.push(PathBuf::from(d));
        }
    }
    dirs
}

/// Where `bin` is, if it is an executable file on the search path.
fn find(bin: &str) -> Option<PathBuf> {
    search_path()
        .into_iter()
        .map(|d| d.join(bin))
        .find(|p| fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// How this machine gives a test its namespaces, found once per process:
/// a user namespace (with a PID namespace where /proc can be mounted, as
/// in most containers it cannot), or for root plain namespaces.
fn namespaces() -> &'static Result<&'static [&'static str], Unavailable> {
    const CHOICES: &[&[&str]] = &[
        &["--user", "--map-root-user", "--net", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc"],
        &["--user", "--map-root-user", "--net", "--mount"],
    ];
    const ROOT_CHOICES: &[&[&str]] =
        &[&["--net", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc"], &["--net", "--mount"]];
    static FOUND: OnceLock<Result<&'static [&'static str], Unavailable>> = OnceLock::new();
    FOUND.get_or_init(|| {
        let unshare = find(UNSHARE.bin).expect("checked before");
        let mut first_error = None;
        let root = unsafe { libc::geteuid() } == 0;
        for flags in CHOICES.iter().chain(if root { ROOT_CHOICES } else { &[] }) {
            match try_unshare(&unshare, flags) {
                Ok(()) => return Ok(*flags),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        Err(no_user_namespaces(first_error.as_deref().unwrap_or("")))
    })
}

/// Runs `unshare FLAGS -- true`; the error is what unshare said.
fn try_unshare(unshare: &Path, flags: &[&str]) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let err = dir.path().join("stderr");
    let mut cmd = Command::new(unshare);
    cmd.args(flags).args(["--", "true"]).stdin(Stdio::null()).stdout(Stdio::null());
    cmd.stderr(fs::File::create(&err).map_err(|e| e.to_string())?);
    let mut child = cmd.spawn().map_err(|e| format!("{}: {e}", unshare.display()))?;
    let status = wait_with_timeout(&mut child, Duration::from_secs(10));
    let said = fs::read_to_string(&err).unwrap_or_default().trim().to_string();
    match status {
        Some(s) if s.success() => Ok(()),
        Some(s) => Err(format!("`unshare {}` failed ({s}): {said}", flags.join(" "))),
        None => Err(format!("`unshare {}` did not finish within 10 s", flags.join(" "))),
    }
}

/// What unshare said, which known switch turns user namespaces off here,
/// and how to turn them on (or to run as root, which needs none).
fn no_user_namespaces(said: &str) -> Unavailable {
    let knobs = [
        (
            "/proc/sys/kernel/unprivileged_userns_clone",
            "0",
            "kernel.unprivileged_userns_clone=0 disables them for ordinary users",
            "sudo sysctl -w kernel.unprivileged_userns_clone=1",
        ),
        (
            "/proc/sys/user/max_user_namespaces",
            "0",
            "user.max_user_namespaces=0 disables them",
            "sudo sysctl -w user.max_user_namespaces=15000",
        ),
        (
            "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
            "1",
            "kernel.apparmor_restrict_unprivileged_userns=1 (Ubuntu's AppArmor restriction) denies them",
            "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0",
        ),
    ];
    let mut reason = format!("user namespaces are unavailable here ({said})");
    let mut fixes = Vec::new();
    for (file, off, says, fix) in knobs {
        if fs::read_to_string(file).is_ok_and(|v| v.trim() == off) {
            reason.push_str("; ");
            reason.push_str(says);
            fixes.push(fix);
        }
    }
    fixes.push("run the tests as root");
    let fix = if fixes.len() == 1 {
        "allow user namespaces for ordinary users, or run the tests as root".to_string()
    } else {
        fixes.join(", or ")
    };
    Unavailable { reason, fix }
}

/// Waits for `child`, killing it after `limit`; `None` when it was killed.
fn wait_with_timeout(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if start.elapsed() < limit => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// Re-executes this test binary for `test` under `unshare FLAGS` and
/// reports its outcome as this test's.
fn outside(suite: &Suite, test: &str, flags: &[&str]) {
    let unshare = find(UNSHARE.bin).expect("checked before");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (out, err) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let mut cmd = Command::new(&unshare);
    cmd.args(flags)
        .arg("--")
        .arg(std::env::current_exe().expect("the test binary's path"))
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(INNER_VAR, test)
        .env("PATH", std::env::join_paths(search_path()).unwrap_or_else(|_| OsString::from("/usr/bin:/bin")))
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out).expect("stdout file"))
        .stderr(fs::File::create(&err).expect("stderr file"));
    // Should this test's thread die first, unshare dies too, and with it
    // (--kill-child) every process in the namespaces.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{}: {e}", unshare.display()));
    let status = wait_with_timeout(&mut child, suite.timeout);
    let stdout = fs::read_to_string(&out).unwrap_or_default();
    let text = format!(
        "--- inside `unshare {}`, stdout:\n{stdout}--- stderr:\n{}",
        flags.join(" "),
        fs::read_to_string(&err).unwrap_or_default()
    );
    match status {
        None => panic!("{test} did not finish within {:?}; killed with its namespaces\n{text}", suite.timeout),
        Some(s) if !s.success() => panic!("{test} failed inside its namespaces ({s})\n{text}"),
        Some(_) if !stdout.contains(&format!("{RAN} {test}\n")) => {
            panic!("the re-executed test binary did not run {test}\n{text}")
        }
        Some(_) => print!("{text}"),
    }
}

/// Inside the namespaces, before the body: nothing mounted here reaches the
/// machine, and /run/netns and /etc/netns are empty and writable.
fn prepare() {
    mount(None, Path::new("/"), None, libc::MS_REC | libc::MS_PRIVATE, None).expect("make / private");
    let mut done: Vec<PathBuf> = Vec::new();
    for dir in ["/run/netns", "/var/run/netns", "/etc/netns"] {
        let dir = Path::new(dir);
        let parent = fs::canonicalize(dir.parent().unwrap()).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let dir = parent.join(dir.file_name().unwrap());
        if done.contains(&dir) {
            continue;
        }
        if dir.is_dir() {
            // The machine's own namespaces stay out of sight and out of reach.
            mount(Some(Path::new("tmpfs")), &dir, Some("tmpfs"), 0, Some("mode=0755"))
                .unwrap_or_else(|e| panic!("tmpfs on {}: {e}", dir.display()));
        } else {
            // It cannot be created in a directory this user does not own:
            // make the parent a tmpfs holding what it held, then create it.
            shadow(&parent);
            fs::create_dir(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        }
        done.push(dir);
    }
}

/// Puts a tmpfs over `dir` holding what `dir` held: each entry bind-mounted
/// back from the covered directory (reached through an open descriptor),
/// each symbolic link made anew, so new entries can be added beside them.
pub fn shadow(dir: &Path) {
    let covered = fs::File::open(dir).unwrap_or_else(|e| panic!("open {}: {e}", dir.display()));
    let old = PathBuf::from(format!("/proc/self/fd/{}", covered.as_raw_fd()));
    let entries: Vec<_> = fs::read_dir(&old)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").file_name())
        .collect();
    let mode = fs::metadata(dir).map(|m| m.permissions().mode() & 0o7777).unwrap_or(0o755);
    mount(Some(Path::new("tmpfs")), dir, Some("tmpfs"), 0, Some(&format!("mode={mode:o}")))
        .unwrap_or_else(|e| panic!("tmpfs on {}: {e}", dir.display()));
    for name in entries {
        let (from, to) = (old.join(&name), dir.join(&name));
        let meta = fs::symlink_metadata(&from).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
        if meta.file_type().is_symlink() {
            let target = fs::read_link(&from).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
            std::os::unix::fs::symlink(target, &to).unwrap_or_else(|e| panic!("{}: {e}", to.display()));
            continue;
        }
        if meta.is_dir() { fs::create_dir(&to) } else { fs::File::create(&to).map(drop) }
            .unwrap_or_else(|e| panic!("{}: {e}", to.display()));
        mount(Some(&from), &to, None, libc::MS_BIND | libc::MS_REC, None)
            .unwrap_or_else(|e| panic!("bind {} back on {}: {e}", from.display(), to.display()));
    }
    drop(covered);
}

/// mount(2).
pub fn mount(
    source: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> io::Result<()> {
    let c = |b: &[u8]| CString::new(b).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput));
    let source = source.map(|s| c(s.as_os_str().as_bytes())).transpose()?;
    let target = c(target.as_os_str().as_bytes())?;
    let fstype = fstype.map(|s| c(s.as_bytes())).transpose()?;
    let data = data.map(|s| c(s.as_bytes())).transpose()?;
    let ptr = |s: &Option<CString>| s.as_ref().map_or(std::ptr::null(), |s| s.as_ptr());
    let rc =
        unsafe { libc::mount(ptr(&source), target.as_ptr(), ptr(&fstype), flags, ptr(&data).cast::<libc::c_void>()) };
    if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

/// The skips of this process, told again after libtest's summary line.
static SKIPPED: Mutex<Vec<(&'static str, String, String)>> = Mutex::new(Vec::new());

fn remember_skip(suite: &Suite, why: &Unavailable) {
    static HOOK: Once = Once::new();
    SKIPPED.lock().unwrap_or_else(|e| e.into_inner()).push((suite.file, why.reason.clone(), why.fix.clone()));
    // Runs when the test binary exits, after libtest has printed its summary.
    HOOK.call_once(|| unsafe {
        libc::atexit(after_summary);
    });
}

extern "C" fn after_summary() {
    let Ok(skipped) = SKIPPED.lock() else { return };
    let Some((file, reason, fix)) = skipped.first() else { return };
    let _ = writeln!(
        io::stderr().lock(),
        "\nNOTE: {n} test{s} of {file} SKIPPED (counted as passed above): {reason}. To run {them}: {fix}. \
         ({REQUIRED_VAR}=required turns a skip into a failure.)\n",
        n = skipped.len(),
        s = if skipped.len() == 1 { "" } else { "s" },
        them = if skipped.len() == 1 { "it" } else { "them" },
    );
}
