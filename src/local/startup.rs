//! Which startup files each kind of process on this machine reads, in the
//! order the real programs read them, and the proxy variables each ends
//! with (file and line of each).
//!
//! The order, for Debian and Ubuntu (Azure ML compute instances and most
//! jump boxes), from bash(1) INVOCATION, Debian's bash build (compiled with
//! `SYS_BASHRC=/etc/bash.bashrc` and `SSH_SOURCE_BASHRC`), pam_env(8) and
//! the PAM stacks `/etc/pam.d/sshd` and `/etc/pam.d/cron` (both
//! `session required pam_env.so`, which reads `/etc/environment`):
//!
//! | process | reads |
//! |---|---|
//! | SSH or Bastion login shell | `/etc/environment` (PAM), `/etc/profile` (which on Debian sources `/etc/bash.bashrc` when interactive and `/etc/profile.d/*.sh`), then the first of `~/.bash_profile`, `~/.bash_login`, `~/.profile` (Ubuntu's sources `~/.bashrc`) |
//! | `ssh host command` (VS Code Remote-SSH's server start) | `/etc/environment` (PAM), `/etc/bash.bashrc`, `~/.bashrc`, non-interactive |
//! | interactive bash (a terminal in Jupyter or VS Code) | `/etc/bash.bashrc`, `~/.bashrc`, plus what its parent passes on |
//! | `bash -l -c` (`su - user -c`) | `/etc/profile`, then the first of the three above, non-interactive |
//! | a setup script, `bash -c`, `bash script.sh` | none (only `$BASH_ENV`) |
//! | a cron job | `/etc/environment` (PAM); `/bin/sh -c` reads no file |
//! | a systemd service | none: only its unit's `Environment=` |
//!
//! `/etc/environment` is not shell: pam_env reads `KEY=value` lines, see
//! [`read_pam_environment`].

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::bashrc::{Context, Note, Shell, ShellFile};

/// Where the startup files are (flags override each for tests).
#[derive(Debug, Clone)]
pub struct StartupPaths {
    /// `/etc/environment`.
    pub etc_environment: PathBuf,
    /// `/etc/profile`.
    pub etc_profile: PathBuf,
    /// `/etc/profile.d`.
    pub profile_dir: PathBuf,
    /// `/etc/bash.bashrc`.
    pub etc_bashrc: PathBuf,
    /// The home directory (`$HOME`).
    pub home: Option<PathBuf>,
    /// `~/.bashrc` when `--bashrc` names another file.
    pub bashrc: Option<PathBuf>,
}

impl StartupPaths {
    /// The real places, with `home` as `$HOME`.
    pub fn system(home: Option<PathBuf>) -> StartupPaths {
        StartupPaths {
            etc_environment: "/etc/environment".into(),
            etc_profile: "/etc/profile".into(),
            profile_dir: "/etc/profile.d".into(),
            etc_bashrc: "/etc/bash.bashrc".into(),
            home,
            bashrc: None,
        }
    }

    /// A file named where it really is is read where a flag says.
    fn redirects(&self) -> Vec<(PathBuf, PathBuf)> {
        let mut out = Vec::new();
        for (real, given) in [
            ("/etc/environment", &self.etc_environment),
            ("/etc/profile.d", &self.profile_dir),
            ("/etc/profile", &self.etc_profile),
            ("/etc/bash.bashrc", &self.etc_bashrc),
        ] {
            if Path::new(real) != given {
                out.push((PathBuf::from(real), given.clone()));
            }
        }
        if let (Some(home), Some(bashrc)) = (&self.home, &self.bashrc) {
            out.push((home.join(".bashrc"), bashrc.clone()));
        }
        out
    }
}

/// The kinds of process judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcessKind {
    /// An SSH or Bastion login: PAM, then an interactive login bash.
    SshLogin,
    /// `ssh host command`: PAM, then a non-interactive bash that reads the bashrc files.
    SshCommand,
    /// An interactive non-login bash.
    Interactive,
    /// `bash -l -c`: a non-interactive login bash.
    LoginScript,
    /// A setup script, `bash -c`.
    Script,
    /// A cron job.
    Cron,
    /// A systemd service.
    Service,
}

impl ProcessKind {
    /// Every kind, in the order reports list them.
    pub const ALL: [ProcessKind; 7] = [
        ProcessKind::SshLogin,
        ProcessKind::SshCommand,
        ProcessKind::Interactive,
        ProcessKind::LoginScript,
        ProcessKind::Script,
        ProcessKind::Cron,
        ProcessKind::Service,
    ];

    /// In words.
    pub fn label(self) -> &'static str {
        match self {
            ProcessKind::SshLogin => "SSH/Bastion login shell",
            ProcessKind::SshCommand => "ssh host command",
            ProcessKind::Interactive => "interactive bash",
            ProcessKind::LoginScript => "bash -l -c",
            ProcessKind::Script => "setup script, bash -c",
            ProcessKind::Cron => "cron job",
            ProcessKind::Service => "systemd service",
        }
    }

    /// The JSON name.
    pub fn name(self) -> &'static str {
        match self {
            ProcessKind::SshLogin => "ssh_login",
            ProcessKind::SshCommand => "ssh_command",
            ProcessKind::Interactive => "interactive",
            ProcessKind::LoginScript => "login_script",
            ProcessKind::Script => "script",
            ProcessKind::Cron => "cron",
            ProcessKind::Service => "service",
        }
    }

    fn pam(self) -> bool {
        matches!(self, ProcessKind::SshLogin | ProcessKind::SshCommand | ProcessKind::Cron)
    }

    fn shell(self) -> Option<Context> {
        match self {
            ProcessKind::SshLogin => Some(Context { interactive: true, login: true }),
            ProcessKind::SshCommand => Some(Context { interactive: false, login: false }),
            ProcessKind::Interactive => Some(Context { interactive: true, login: false }),
            ProcessKind::LoginScript => Some(Context { interactive: false, login: true }),
            _ => None,
        }
    }
}

/// A proxy variable as one kind of process gets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessVariable {
    /// The name.
    pub name: String,
    /// Its value (raw: mask before printing); `None` when not evaluated.
    pub value: Option<String>,
    /// Where it was last set.
    pub file: String,
    /// That line.
    pub line: usize,
    /// The value was cut short on its line (see [`super::bashrc::Assignment::cut`]): masked whole.
    pub cut: bool,
}

/// What one kind of process gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessView {
    /// The kind.
    pub kind: ProcessKind,
    /// The files it reads first-hand, in order (those that exist).
    pub reads: Vec<String>,
    /// The proxy variables its programs get (exported), or that amlnet
    /// could not evaluate.
    pub variables: Vec<ProcessVariable>,
}

impl ProcessView {
    /// A variable's value; `Some(None)` when it is not evaluated.
    pub fn get(&self, name: &str) -> Option<Option<&str>> {
        self.variables.iter().find(|v| v.name == name).map(|v| v.value.as_deref())
    }
}

/// Every kind of process, and what reading the files noted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Startup {
    /// One view per [`ProcessKind`].
    pub views: Vec<ProcessView>,
    /// Notes of the runs (each said once).
    pub notes: Vec<Note>,
}

impl Startup {
    /// The view of one kind.
    pub fn view(&self, kind: ProcessKind) -> Option<&ProcessView> {
        self.views.iter().find(|v| v.kind == kind)
    }
}

/// One `/etc/environment` entry: `value` `None` deletes the variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PamEntry {
    pub name: String,
    pub value: Option<String>,
    pub line: usize,
}

/// Reads `/etc/environment` as pam_env (Linux-PAM 1.5) does, which is not
/// as a shell does: lines joined at a trailing `\`, everything from the
/// first `#` dropped (even inside a value), trailing blanks kept, an
/// optional `export ` prefix, `KEY=value` with KEY of letters, digits and
/// `_`; a value starting with a quote loses its quotes only at the start
/// and at the very end; no `$` expansion; a bare `KEY` unsets.
/// Hand-written: no crate reads this format.
pub fn read_pam_environment(text: &str) -> Vec<PamEntry> {
    let mut out = Vec::new();
    // Lines as fgets(3) returns them: no empty one after the last newline.
    let mut lines = text.strip_suffix('\n').unwrap_or(text).split('\n').enumerate().peekable();
    while let Some((i, raw)) = lines.next() {
        let first = i + 1;
        let mut line = raw.to_string();
        // _assemble_line: a comment ends the line; a `\` at the end (blanks
        // after it aside) is dropped and joins the next line as it is.
        loop {
            let trimmed = line.trim_start_matches([' ', '\t', '\n']);
            if trimmed.is_empty() || trimmed.starts_with('#') {
                break;
            }
            if let Some(hash) = line.find('#') {
                line.truncate(hash);
                break;
            }
            let end = line.trim_end_matches([' ', '\t', '\n']).len();
            if line[..end].ends_with('\\') {
                line.truncate(end - 1);
                match lines.next() {
                    Some((_, next)) => line.push_str(next),
                    // pam_env drops a line whose continuation never comes.
                    None => line.clear(),
                }
                continue;
            }
            break;
        }
        let key = line.trim_start_matches([' ', '\t', '\n']);
        if key.is_empty() || key.starts_with('#') || key.starts_with('=') {
            continue;
        }
        let key = key.strip_prefix("export ").unwrap_or(key);
        let name_end = key.find('=').unwrap_or(key.len());
        let name = &key[..name_end];
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let value = if name_end == key.len() {
            None
        } else {
            let v = &key[name_end + 1..];
            Some(match v.chars().next() {
                Some('"' | '\'') => {
                    let chars: Vec<char> = v.chars().skip(1).collect();
                    let n = chars.len();
                    chars
                        .iter()
                        .enumerate()
                        .filter(|(j, c)| !(matches!(c, '"' | '\'') && j + 1 == n))
                        .map(|(_, c)| *c)
                        .collect()
                }
                _ => v.to_string(),
            })
        };
        out.push(PamEntry { name: name.to_string(), value, line: first });
    }
    out
}

/// Runs the files each kind of process reads, each process starting from
/// an empty environment but `$HOME` (and PAM's variables where PAM runs).
/// Never fails: unreadable files become notes.
pub fn read(paths: &StartupPaths) -> Startup {
    let pam_text = crate::input::read_capped(&paths.etc_environment).ok();
    let pam_file = paths.etc_environment.display().to_string();
    let pam = pam_text.as_deref().map(|b| read_pam_environment(&String::from_utf8_lossy(b))).unwrap_or_default();
    let home = paths.home.as_ref().map(|h| h.display().to_string());
    let mut startup = Startup::default();
    for kind in ProcessKind::ALL {
        let mut vars: Vec<(String, String)> = Vec::new();
        if kind.pam() {
            for e in &pam {
                vars.retain(|(n, _)| *n != e.name);
                if let Some(v) = &e.value {
                    vars.push((e.name.clone(), v.clone()));
                }
            }
        }
        let env_home = home.clone();
        let env = move |name: &str| if name == "HOME" { env_home.clone() } else { None };
        let mut shell = Shell::new(&env, kind.shell(), paths.redirects());
        let mut reads = Vec::new();
        if kind.pam() && pam_text.is_some() {
            reads.push(pam_file.clone());
            for (name, value) in &vars {
                let line = pam.iter().rev().find(|e| e.name == *name).map_or(1, |e| e.line);
                shell.inherit(name, value, &pam_file, line);
            }
        }
        for file in files_of(kind, paths, &shell) {
            if shell.exists(&file) {
                reads.push(file.display().to_string());
                shell.run_file(&file);
            }
        }
        let read = shell.finish();
        for n in &read.notes {
            if !startup.notes.contains(n) {
                startup.notes.push(n.clone());
            }
        }
        startup.views.push(ProcessView { kind, reads, variables: variables(&read) });
    }
    startup
}

/// The shell startup files of `kind`, in order (before redirects).
fn files_of(kind: ProcessKind, paths: &StartupPaths, shell: &Shell<'_>) -> Vec<PathBuf> {
    let home = paths.home.clone().unwrap_or_default();
    let login = || {
        let mut files = vec![PathBuf::from("/etc/profile")];
        // bash reads the first of these that exists.
        let personal =
            [".bash_profile", ".bash_login", ".profile"].iter().map(|f| home.join(f)).find(|f| shell.exists(f));
        files.extend(personal);
        files
    };
    match kind {
        ProcessKind::SshLogin | ProcessKind::LoginScript => login(),
        ProcessKind::SshCommand | ProcessKind::Interactive => {
            vec![PathBuf::from("/etc/bash.bashrc"), home.join(".bashrc")]
        }
        ProcessKind::Script | ProcessKind::Cron | ProcessKind::Service => Vec::new(),
    }
}

/// The proxy variables a run ends with that programs get, or that are not known.
fn variables(read: &ShellFile) -> Vec<ProcessVariable> {
    read.proxy_end
        .iter()
        .filter(|v| v.uncertain || (v.exported && v.value.is_some()))
        .map(|v| {
            let at = read.last(&v.name);
            ProcessVariable {
                name: v.name.clone(),
                value: if v.uncertain { None } else { v.value.clone() },
                file: at.map(|a| a.file.clone()).unwrap_or_default(),
                line: at.map_or(0, |a| a.line),
                cut: at.is_some_and(|a| a.cut),
            }
        })
        .collect()
}

/// A one-line account of what `bashrc` could not evaluate for the views.
pub fn not_evaluated_reason() -> &'static str {
    "not evaluated: set by a command substitution, alias or eval, or under a condition amlnet does not decide"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pam_environment_is_not_shell() {
        let text = "# comment\nexport A=1\nB=\"quoted\"\nC='x\"y'\nD=a # tail\nE=$HOME/x\n bad-key=1\nF=long \\\n  value\nG\nH=\"x\" \n";
        let got: Vec<(String, Option<String>)> =
            read_pam_environment(text).into_iter().map(|e| (e.name, e.value)).collect();
        let want = [
            ("A", Some("1")),
            ("B", Some("quoted")),
            ("C", Some("x\"y")),
            ("D", Some("a ")),
            ("E", Some("$HOME/x")),
            ("F", Some("long   value")),
            ("G", None),
            ("H", Some("x\" ")),
        ];
        let want: Vec<(String, Option<String>)> =
            want.iter().map(|(n, v)| (n.to_string(), v.map(str::to_string))).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn each_kind_reads_its_files() {
        let dir = tempfile::tempdir().unwrap();
        let etc = dir.path().join("etc");
        let home = dir.path().join("home");
        std::fs::create_dir_all(etc.join("profile.d")).unwrap();
        std::fs::create_dir_all(&home).unwrap();
        std::fs::write(etc.join("environment"), "https_proxy=http://pam:1\n").unwrap();
        std::fs::write(etc.join("profile"), "for i in /etc/profile.d/*.sh; do\n  if [ -r $i ]; then . $i; fi\ndone\n")
            .unwrap();
        std::fs::write(etc.join("profile.d/proxy.sh"), "export no_proxy=.corp\n").unwrap();
        std::fs::write(etc.join("bash.bashrc"), "[ -z \"$PS1\" ] && return\nexport HTTP_PROXY=http://sys:2\n").unwrap();
        std::fs::write(home.join(".profile"), "[ -f \"$HOME/.bashrc\" ] && . \"$HOME/.bashrc\"\n").unwrap();
        std::fs::write(home.join(".bashrc"), "export HTTPS_PROXY=http://rc:3\n").unwrap();
        let paths = StartupPaths {
            etc_environment: etc.join("environment"),
            etc_profile: etc.join("profile"),
            profile_dir: etc.join("profile.d"),
            etc_bashrc: etc.join("bash.bashrc"),
            home: Some(home.clone()),
            bashrc: None,
        };
        let s = read(&paths);
        let ssh = s.view(ProcessKind::SshLogin).unwrap();
        assert_eq!(ssh.get("https_proxy"), Some(Some("http://pam:1")));
        assert_eq!(ssh.get("no_proxy"), Some(Some(".corp")), "{ssh:?}");
        assert_eq!(ssh.get("HTTPS_PROXY"), Some(Some("http://rc:3")), "~/.profile sources ~/.bashrc");
        let term = s.view(ProcessKind::Interactive).unwrap();
        assert_eq!(term.get("HTTP_PROXY"), Some(Some("http://sys:2")));
        assert_eq!(term.get("https_proxy"), None, "no PAM for a terminal's bash");
        let cmd = s.view(ProcessKind::SshCommand).unwrap();
        assert_eq!(cmd.get("HTTP_PROXY"), None, "after /etc/bash.bashrc's guard");
        assert_eq!(cmd.get("HTTPS_PROXY"), Some(Some("http://rc:3")));
        assert!(s.view(ProcessKind::Script).unwrap().variables.is_empty());
        assert!(s.view(ProcessKind::Service).unwrap().variables.is_empty());
        assert_eq!(s.view(ProcessKind::Cron).unwrap().get("https_proxy"), Some(Some("http://pam:1")));
    }
}
