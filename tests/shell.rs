//! The shell reader against the real shell: for every case of
//! tests/shell_corpus (startup files written for this test), real bash,
//! started the way each kind of process starts it, ends with the proxy
//! variables amlnet says that kind of process gets, or amlnet says "not
//! evaluated" exactly where the case's `expect` file says it must.
//!
//! Each case's `etc/` files are put in place of the machine's own
//! (`/etc/environment`, `/etc/profile`, `/etc/profile.d`, `/etc/bash.bashrc`)
//! inside a private mount namespace of a user namespace (tests/sandbox), so
//! bash reads them where it always does; its `home/` becomes `$HOME` (a
//! copy in a temporary directory). amlnet reads the same paths, in the same
//! namespace. Bash runs with no network namespace route out and an empty
//! environment (`env -i`): only `HOME`, `PATH` and what PAM gives.
//!
//! `/etc/environment` is not read by bash but by PAM's pam_env for SSH
//! logins and cron. That step is real too: the test loads libpam
//! (`dlopen`), runs a PAM session of one `pam_env.so` line (its own
//! configuration directory, via `pam_start_confdir`) and starts bash with
//! the environment PAM hands back, as sshd and cron do.
//!
//! | kind | real process |
//! |---|---|
//! | ssh_login | PAM env, then `bash -i -l -c env` |
//! | ssh_command | PAM env plus `SSH_CLIENT`, then `bash -c env` (Debian's bash reads the bashrc files then) |
//! | interactive | `bash -i -c env` |
//! | login_script | `bash -l -c env` |
//! | script | `bash -c env` |
//! | cron | PAM env, then `/bin/sh -c env` |
//! | service | `env -i /usr/bin/env` (a unit without `Environment=`) |

mod sandbox;

use std::collections::BTreeMap;
use std::ffi::{CStr, CString};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use amlnet::local::proxy::PROXY_VARIABLES;
use amlnet::local::startup::{self, ProcessKind, StartupPaths};
use sandbox::{BASH, Suite};

const SUITE: Suite = Suite { file: "tests/shell.rs", tools: &[BASH], timeout: Duration::from_secs(300) };

/// The case files put in place of the machine's.
const ETC_FILES: [&str; 3] = ["environment", "profile", "bash.bashrc"];

#[test]
fn shell_suite_status() {
    sandbox::status(&SUITE);
}

#[test]
fn real_bash_agrees_with_the_reader() {
    sandbox::run(&SUITE, real_bash_agrees_with_the_reader_body);
}

fn corpus() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/shell_corpus");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("tests/shell_corpus")
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    cases
}

fn real_bash_agrees_with_the_reader_body() {
    let cases = corpus();
    assert!(cases.len() >= 40, "the corpus has {} cases, fewer than 40", cases.len());
    let pam = Pam::load();
    if let Err(why) = &pam {
        assert!(!sandbox::required(), "libpam cannot run pam_env here: {why}");
        eprintln!("SKIPPED the PAM kinds (ssh_login, ssh_command, cron): {why}");
    }
    take_over_etc();
    let mut failures = Vec::new();
    let mut compared: BTreeMap<&'static str, (usize, usize, usize)> = BTreeMap::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let home_dir = tempfile::tempdir().unwrap();
        let home = home_dir.path().join("home");
        put_case_in_place(case, &home);
        let views = startup::read(&StartupPaths::system(Some(home.clone())));
        let expected_unevaluated = expect(case);
        let mut seen_unevaluated = Vec::new();
        for kind in ProcessKind::ALL {
            let pam_env = match (&pam, kind) {
                (Ok(pam), ProcessKind::SshLogin | ProcessKind::SshCommand | ProcessKind::Cron) => {
                    Some(pam.environment().unwrap_or_else(|e| panic!("{name}: pam_env: {e}")))
                }
                (Err(_), ProcessKind::SshLogin | ProcessKind::SshCommand | ProcessKind::Cron) => continue,
                _ => None,
            };
            let real = run_real(kind, &home, pam_env.as_deref().unwrap_or_default());
            let view = views.view(kind).unwrap();
            let entry = compared.entry(kind.name()).or_default();
            for var in PROXY_VARIABLES {
                let bash = real.get(*var).map(String::as_str);
                entry.0 += 1;
                entry.1 += usize::from(bash.is_some());
                match view.get(var) {
                    Some(None) => {
                        entry.2 += 1;
                        seen_unevaluated.push((kind.name().to_string(), var.to_string()));
                    }
                    said => {
                        let said = said.flatten();
                        if said != bash {
                            failures.push(format!(
                                "{name}: {} {var}: bash ends with {bash:?}, amlnet says {said:?} (from {:?})",
                                kind.name(),
                                view.variables
                                    .iter()
                                    .find(|v| v.name == *var)
                                    .map(|v| format!("{} line {}", v.file, v.line))
                            ));
                        }
                    }
                }
            }
        }
        seen_unevaluated.sort();
        let mut expected: Vec<(String, String)> = expected_unevaluated
            .into_iter()
            .filter(|(k, _)| pam.is_ok() || !matches!(k.as_str(), "ssh_login" | "ssh_command" | "cron"))
            .collect();
        expected.sort();
        if seen_unevaluated != expected {
            failures.push(format!(
                "{name}: amlnet says not evaluated for {seen_unevaluated:?}, the case expects exactly {expected:?}"
            ));
        }
    }
    println!("shell corpus: {} cases", cases.len());
    for (kind, (vars, set, unevaluated)) in &compared {
        println!(
            "  {kind}: {vars} variables compared ({} cases x {}), {set} set by the real shell, {unevaluated} not evaluated by amlnet",
            vars / PROXY_VARIABLES.len(),
            PROXY_VARIABLES.len()
        );
    }
    assert!(failures.is_empty(), "{} disagreements with the real shell:\n{}", failures.len(), failures.join("\n"));
}

/// `not-evaluated KIND VAR` lines of the case's `expect` file.
fn expect(case: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(case.join("expect")).unwrap_or_default();
    text.lines()
        .filter_map(|l| l.strip_prefix("not-evaluated "))
        .map(|l| {
            let (k, v) = l.split_once(' ').expect("not-evaluated KIND VAR");
            (k.to_string(), v.trim().to_string())
        })
        .collect()
}

/// Makes /etc writable here (a tmpfs holding the machine's entries) and
/// takes the startup files off it; nothing reaches the machine.
fn take_over_etc() {
    sandbox::shadow(Path::new("/etc"));
    for name in ETC_FILES.iter().chain(["profile.d"].iter()) {
        let path = Path::new("/etc").join(name);
        let c = CString::new(path.to_str().unwrap()).unwrap();
        // SAFETY: umount2 on a path string we own.
        unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        if path.is_dir() {
            std::fs::remove_dir_all(&path).unwrap();
        } else if path.exists() {
            std::fs::remove_file(&path).unwrap();
        }
    }
}

/// The case's etc files over /etc's, its home files in `home`.
fn put_case_in_place(case: &Path, home: &Path) {
    for name in ETC_FILES {
        let (from, to) = (case.join("etc").join(name), Path::new("/etc").join(name));
        if from.exists() {
            std::fs::copy(&from, &to).unwrap();
        } else if name == "environment" {
            // Every Debian machine has one, empty or not.
            std::fs::write(&to, "").unwrap();
        } else {
            let _ = std::fs::remove_file(&to);
        }
    }
    let dir = Path::new("/etc/profile.d");
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir(dir).unwrap();
    copy_tree(&case.join("etc/profile.d"), dir);
    std::fs::create_dir_all(home).unwrap();
    copy_tree(&case.join("home"), home);
}

fn copy_tree(from: &Path, to: &Path) {
    let Ok(entries) = std::fs::read_dir(from) else { return };
    for e in entries {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// The proxy variables the real process of `kind` ends with.
fn run_real(kind: ProcessKind, home: &Path, pam_env: &[(String, String)]) -> BTreeMap<String, String> {
    let (program, args): (&str, &[&str]) = match kind {
        ProcessKind::SshLogin => ("bash", &["-i", "-l", "-c", "env"]),
        ProcessKind::Interactive => ("bash", &["-i", "-c", "env"]),
        ProcessKind::LoginScript => ("bash", &["-l", "-c", "env"]),
        ProcessKind::SshCommand | ProcessKind::Script => ("bash", &["-c", "env"]),
        ProcessKind::Cron => ("/bin/sh", &["-c", "env"]),
        ProcessKind::Service => ("/usr/bin/env", &[]),
    };
    let mut cmd = Command::new("/usr/bin/env");
    cmd.arg("-i");
    if kind != ProcessKind::Service {
        cmd.arg(format!("HOME={}", home.display())).arg("PATH=/usr/bin:/bin");
    }
    for (k, v) in pam_env {
        cmd.arg(format!("{k}={v}"));
    }
    if kind == ProcessKind::SshCommand {
        cmd.arg("SSH_CLIENT=127.0.0.1 40000 22");
    }
    cmd.arg(program).args(args).current_dir(home).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null());
    let child = cmd.spawn().expect("env runs");
    let out = wait_output(child, Duration::from_secs(20));
    String::from_utf8_lossy(&out)
        .lines()
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| PROXY_VARIABLES.contains(k))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn wait_output(mut child: std::process::Child, limit: Duration) -> Vec<u8> {
    use std::io::Read;
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let start = std::time::Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("a shell did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    reader.join().unwrap()
}

type PamStart = unsafe extern "C" fn(
    *const libc::c_char,
    *const libc::c_char,
    *const PamConv,
    *const libc::c_char,
    *mut *mut libc::c_void,
) -> libc::c_int;
type PamCall = unsafe extern "C" fn(*mut libc::c_void, libc::c_int) -> libc::c_int;
type PamGetEnvList = unsafe extern "C" fn(*mut libc::c_void) -> *mut *mut libc::c_char;

/// libpam, loaded at run time (no -dev package, no link-time dependency).
struct Pam {
    start: PamStart,
    open_session: PamCall,
    getenvlist: PamGetEnvList,
    end: PamCall,
    confdir: tempfile::TempDir,
}

#[repr(C)]
struct PamConv {
    conv: unsafe extern "C" fn(
        libc::c_int,
        *mut *const libc::c_void,
        *mut *mut libc::c_void,
        *mut libc::c_void,
    ) -> libc::c_int,
    appdata: *mut libc::c_void,
}

/// pam_env never asks anything.
unsafe extern "C" fn no_conversation(
    _: libc::c_int,
    _: *mut *const libc::c_void,
    _: *mut *mut libc::c_void,
    _: *mut libc::c_void,
) -> libc::c_int {
    19 // PAM_CONV_ERR
}

impl Pam {
    fn load() -> Result<Pam, String> {
        let lib = CString::new("libpam.so.0").unwrap();
        // SAFETY: dlopen/dlsym with valid C strings; the symbols' types are
        // those of <security/pam_appl.h> (Linux-PAM 1.4 or later).
        unsafe {
            let handle = libc::dlopen(lib.as_ptr(), libc::RTLD_NOW);
            if handle.is_null() {
                return Err("libpam.so.0 is not installed (apt-get install libpam0g)".into());
            }
            let sym = |name: &str| -> Result<*mut libc::c_void, String> {
                let c = CString::new(name).unwrap();
                let p = libc::dlsym(handle, c.as_ptr());
                if p.is_null() { Err(format!("libpam has no {name} (Linux-PAM older than 1.4)")) } else { Ok(p) }
            };
            let confdir = tempfile::tempdir().map_err(|e| e.to_string())?;
            // sshd's and cron's line on Debian, without the site-wide pam_env.conf.
            std::fs::write(confdir.path().join("amlnet-corpus"), "session required pam_env.so conffile=/dev/null\n")
                .map_err(|e| e.to_string())?;
            Ok(Pam {
                start: std::mem::transmute::<*mut libc::c_void, PamStart>(sym("pam_start_confdir")?),
                open_session: std::mem::transmute::<*mut libc::c_void, PamCall>(sym("pam_open_session")?),
                getenvlist: std::mem::transmute::<*mut libc::c_void, PamGetEnvList>(sym("pam_getenvlist")?),
                end: std::mem::transmute::<*mut libc::c_void, PamCall>(sym("pam_end")?),
                confdir,
            })
        }
    }

    /// What pam_env puts in the session's environment from /etc/environment.
    fn environment(&self) -> Result<Vec<(String, String)>, String> {
        let service = CString::new("amlnet-corpus").unwrap();
        let user = CString::new("root").unwrap();
        let dir = CString::new(self.confdir.path().to_str().unwrap()).unwrap();
        let conv = PamConv { conv: no_conversation, appdata: std::ptr::null_mut() };
        let mut h: *mut libc::c_void = std::ptr::null_mut();
        // SAFETY: the PAM calls in their documented order on a handle they made.
        unsafe {
            let rc = (self.start)(service.as_ptr(), user.as_ptr(), &conv, dir.as_ptr(), &mut h);
            if rc != 0 {
                return Err(format!("pam_start_confdir returned {rc}"));
            }
            let rc = (self.open_session)(h, 0);
            if rc != 0 {
                (self.end)(h, rc);
                return Err(format!("pam_open_session returned {rc}"));
            }
            let list = (self.getenvlist)(h);
            let mut out = Vec::new();
            if !list.is_null() {
                let mut i = 0;
                while !(*list.add(i)).is_null() {
                    let item = *list.add(i);
                    let text = CStr::from_ptr(item).to_string_lossy().into_owned();
                    if let Some((k, v)) = text.split_once('=') {
                        out.push((k.to_string(), v.to_string()));
                    }
                    libc::free(item.cast());
                    i += 1;
                }
                libc::free(list.cast());
            }
            (self.end)(h, 0);
            Ok(out)
        }
    }
}
