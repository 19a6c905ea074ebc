//! Reads proxy settings out of shell startup files (`~/.bashrc`,
//! `/etc/profile`, `~/.profile`, ...) without running them.
//!
//! This is a small shell reader written for the job: no crate parses bash
//! with its `export` state, line numbers and control flow, and executing the
//! file is out of the question (it may do anything, and amlnet must never run
//! user code). It follows what bash would do, as far as that can be known
//! without running a command:
//!
//! - assignments and their export state: `export A=1`, `A=1` then `export A`,
//!   `export A=1 B=2`, `declare -x`/`+x`, `export -n`, `unset`, `A+=x`,
//!   `set -a`/`set -o allexport` (until `set +a`), quotes, escapes, `~`,
//!   `$OTHER`, `${OTHER}`, `${OTHER:-default}`, `$1` inside functions;
//! - control flow: `if`/`elif`/`else`, `case`, `&&`/`||`, `{ }`, `( )`
//!   (a subshell changes nothing), pipelines and `&` (likewise), `return`;
//!   the conditions it can decide are decided (`[ -f FILE ]`, `[ -n "$PS1" ]`,
//!   `[[ $- == *i* ]]`, `case $- in *i*)`, string comparisons of known values,
//!   `true`/`false`, `shopt -q login_shell`); the others make what depends on
//!   them *conditional*;
//! - functions: a body runs where the function is called, with its
//!   arguments, not where it is defined; `for NAME in WORDS` runs its body
//!   per word (globs such as `/etc/profile.d/*.sh` are expanded), other
//!   loops make their body conditional;
//! - `source`/`.` (followed a few levels, loops detected), heredocs skipped;
//! - the "return unless interactive" guards (`case $- in *i*) ;; *) return`,
//!   `[[ $- != *i* ]] && return`, `[ -z "$PS1" ] && return`, ...) and
//!   `if [ -n "$PS1" ]` blocks: what only an interactive shell runs is marked.
//!
//! What it does not evaluate it says so instead of guessing: a value made by
//! command substitution (`$(...)`, backticks) is *dynamic*; an `alias` or an
//! `eval` (or `source <(...)`, `export $(...)`) that may set a proxy
//! variable leaves that variable *not evaluated*, with a note.
//!
//! A file is read either for "any shell" (the file view: what is
//! interactive-only or conditional is marked), or for one kind of shell
//! ([`Context`]: interactive or not, login or not), where those conditions
//! are decided; `super::startup` runs the files each kind of process reads.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Files larger than this are not read: a bashrc is a few KiB.
pub const MAX_FILE_BYTES: u64 = crate::input::MAX_INPUT_BYTES;
/// How deep `source` is followed.
pub const MAX_SOURCE_DEPTH: usize = 4;
/// Lines read in all, across the file and everything it sources.
pub const MAX_SOURCE_LINES: usize = 100_000;
/// Bytes read in all, across the file and everything it sources.
pub const MAX_SOURCE_BYTES: usize = 8 * 1024 * 1024;
/// The longest a word may grow by `$VAR` expansion; beyond, it stops growing.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;
/// Bytes produced by `$VAR` expansion in all; beyond, variables expand to nothing.
pub const MAX_EXPANSION_BYTES: usize = 16 * 1024 * 1024;
/// Assignments recorded in all; beyond, the rest of the files is not read.
pub const MAX_ASSIGNMENTS: usize = 100_000;
/// Notes kept; beyond, one note says how many were left out.
pub const MAX_NOTES: usize = 200;
/// How deep function calls nest.
pub const MAX_CALL_DEPTH: usize = 8;
/// Function calls and loop iterations run in all.
pub const MAX_CALLS: usize = 10_000;
/// Words a `for` loop is run for; beyond, its body is conditional instead.
pub const MAX_LOOP_WORDS: usize = 256;

/// Stands for `$-` in the file view, where interactivity is not known.
const FLAGS_MARK: char = '\u{E000}';
/// Stands for `$PS1` in the file view.
const PS1_MARK: char = '\u{E001}';
/// `$-` of an interactive bash and of `bash -c`.
const FLAGS_INTERACTIVE: &str = "himBHs";
const FLAGS_NON_INTERACTIVE: &str = "hBc";
/// Bash's default prompt, set in every interactive shell.
const DEFAULT_PS1: &str = "\\s-\\v\\$ ";

/// One variable assignment, where it happened and in what state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// Variable name as written.
    pub name: String,
    /// The value after quote removal and expansion of known variables.
    pub value: String,
    /// The file it is in.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// Whether the variable is exported after this line.
    pub exported: bool,
    /// Depends on a condition amlnet does not decide: may not run.
    pub conditional: bool,
    /// Runs only in an interactive shell (after a "return unless
    /// interactive" guard, or in an `if [ -n "$PS1" ]` block).
    pub interactive_only: bool,
    /// The value is not known: a command substitution, or an `alias` or
    /// `eval` that may set the variable (then the value is empty).
    pub dynamic: bool,
    /// The value has no `@` though its line has one from the value on (cut
    /// by an unquoted `;`, `&`, `|` or blank, or swallowed by `${`): probably
    /// a password with that character in it, so the value is never shown.
    pub cut: bool,
}

/// Something worth telling the user about the file itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// File concerned.
    pub file: String,
    /// Line, when it is about one line.
    pub line: Option<usize>,
    /// What happened.
    pub message: String,
}

/// How a variable ends after the files were read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarEnd {
    /// The name.
    pub name: String,
    /// Its value; `None` when unset.
    pub value: Option<String>,
    /// Whether it is exported (programs started from the shell get it).
    pub exported: bool,
    /// Its value or export state depends on something not evaluated.
    pub uncertain: bool,
}

/// Everything read from a bashrc and the files it sources.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShellFile {
    /// Every assignment, in execution order.
    pub assignments: Vec<Assignment>,
    /// Remarks (unreadable, binary, huge, loops, guard, not evaluated).
    pub notes: Vec<Note>,
    /// Where the non-interactive guard is, if there is one.
    pub interactive_guard: Option<(String, usize)>,
    /// How each proxy variable ends ([`super::proxy::PROXY_VARIABLES`] order).
    pub proxy_end: Vec<VarEnd>,
}

impl ShellFile {
    /// The last assignment of `name` (what a shell would end with).
    pub fn last(&self, name: &str) -> Option<&Assignment> {
        self.assignments.iter().rev().find(|a| a.name == name)
    }
}

/// The kind of shell a file is read for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Context {
    /// `$-` has `i`, `PS1` is set.
    pub interactive: bool,
    /// `shopt -q login_shell` succeeds.
    pub login: bool,
}

/// Reads `path` and what it sources for any shell (the file view). `env`
/// supplies variables the file does not set itself (`HOME`, ...). Never
/// panics; problems become notes.
pub fn read(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> ShellFile {
    let mut shell = Shell::new(env, None, Vec::new());
    shell.run_file(path);
    shell.finish()
}

/// Parses `text` as if it were the file `name`; `source` lines are noted,
/// not followed. The entry point of the fuzz target.
pub fn parse_str(text: &str, name: &str) -> ShellFile {
    parse_str_for(text, name, None)
}

/// [`parse_str`] for one kind of shell (`None`: the file view).
pub fn parse_str_for(text: &str, name: &str, context: Option<Context>) -> ShellFile {
    let env = |_: &str| None;
    let mut state = State::new(&env, context, Vec::new());
    state.follow_sources = false;
    state.parse(text, name, 0, 1, Truth::Yes, false);
    state.finish()
}

/// One shell reading its startup files in order, sharing its variables
/// between them, as bash does.
pub struct Shell<'a> {
    state: State<'a>,
}

impl<'a> Shell<'a> {
    /// A shell of kind `context` (`None`: the file view). A path starting
    /// with a `redirects` key is read from its value instead (`--bashrc`,
    /// `--profile-dir`, ...), wherever it is named.
    pub fn new(
        env: &'a dyn Fn(&str) -> Option<String>,
        context: Option<Context>,
        redirects: Vec<(PathBuf, PathBuf)>,
    ) -> Self {
        Shell { state: State::new(env, context, redirects) }
    }

    /// An exported variable the shell starts with (from PAM's
    /// `/etc/environment`), recorded as set at `file` line `line`.
    pub fn inherit(&mut self, name: &str, value: &str, file: &str, line: usize) {
        let s = &mut self.state;
        s.vars.insert(name.to_string(), value.to_string());
        s.exported.insert(name.to_string());
        s.out.assignments.push(Assignment {
            name: name.to_string(),
            value: value.to_string(),
            file: file.to_string(),
            line,
            exported: true,
            conditional: false,
            interactive_only: false,
            dynamic: false,
            cut: false,
        });
    }

    /// Reads one startup file (a `return` at its top level ends only it).
    pub fn run_file(&mut self, path: &Path) {
        let path = self.state.map_path(path);
        self.state.read_file(&path, 0, Truth::Yes);
        self.state.returning = false;
    }

    /// Whether `path` (after the redirects) exists: bash reads the first of
    /// `~/.bash_profile`, `~/.bash_login`, `~/.profile` that does.
    pub fn exists(&self, path: &Path) -> bool {
        self.state.map_path(path).exists()
    }

    /// What was read.
    pub fn finish(self) -> ShellFile {
        self.state.finish()
    }
}

/// Whether something runs: known yes or no, unknown, or "only when the
/// shell is (not) interactive" (the file view, where that is not known).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Truth {
    Yes,
    No,
    Maybe,
    Interactive,
    NonInteractive,
}

impl Truth {
    fn not(self) -> Truth {
        match self {
            Truth::Yes => Truth::No,
            Truth::No => Truth::Yes,
            Truth::Maybe => Truth::Maybe,
            Truth::Interactive => Truth::NonInteractive,
            Truth::NonInteractive => Truth::Interactive,
        }
    }

    fn and(self, other: Truth) -> Truth {
        match (self, other) {
            (Truth::No, _) | (_, Truth::No) => Truth::No,
            (Truth::Yes, x) | (x, Truth::Yes) => x,
            (Truth::Maybe, _) | (_, Truth::Maybe) => Truth::Maybe,
            (a, b) if a == b => a,
            _ => Truth::No,
        }
    }

    fn or(self, other: Truth) -> Truth {
        self.not().and(other.not()).not()
    }

    fn from_bool(b: bool) -> Truth {
        if b { Truth::Yes } else { Truth::No }
    }

    /// The same test decided for an interactive and a non-interactive shell.
    fn split(interactive: Truth, non_interactive: Truth) -> Truth {
        match (interactive, non_interactive) {
            (a, b) if a == b => a,
            (Truth::Yes, Truth::No) => Truth::Interactive,
            (Truth::No, Truth::Yes) => Truth::NonInteractive,
            _ => Truth::Maybe,
        }
    }
}

/// What ends a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sep {
    /// Newline, `;`, the end.
    End,
    And,
    Or,
    Pipe,
    Background,
    /// `;;` (or `;&`, `;;&`) in a `case`.
    CaseEnd,
}

/// A simple command as the lexer hands it over.
struct Cmd {
    line: usize,
    words: Vec<Word>,
    sep: Sep,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FrameKind {
    If,
    Case,
    Loop,
    Brace,
    Subshell,
}

/// An open block.
#[derive(Debug, Clone)]
struct Frame {
    kind: FrameKind,
    /// Whether what is inside runs now (the current branch).
    truth: Truth,
    /// `if`/`case`: whether an earlier branch was taken.
    taken: Truth,
    /// `case`: the word matched, `None` when not known.
    word: Option<String>,
    /// `case`: the next command starts with a pattern.
    want_pattern: bool,
}

/// A function's body, as written, run where it is called.
#[derive(Debug, Clone)]
struct Function {
    body: String,
    file: String,
    line: usize,
}

/// What one run of `parse` keeps between commands.
struct Exec {
    frames: Vec<Frame>,
    /// Whether the last and-or list succeeded.
    status: Truth,
    /// What ended the previous command.
    prev: Sep,
    /// Whether the rest of this file runs (a guard or a `return` that may run).
    rest: Truth,
    /// `case` patterns before a `|`.
    patterns: Vec<String>,
    /// A function header without its `{` yet (`f()` then `{` on the next line).
    function: Option<String>,
    /// `for NAME in WORDS` waiting for its `do`: the name and the words (`None`: not known).
    for_words: Option<(String, Option<Vec<String>>)>,
    /// `while`/`until`/`select` waiting for its `do`.
    loop_pending: bool,
}

struct State<'a> {
    env: &'a dyn Fn(&str) -> Option<String>,
    context: Option<Context>,
    redirects: Vec<(PathBuf, PathBuf)>,
    vars: BTreeMap<String, String>,
    exported: BTreeSet<String>,
    /// Variables whose value or export state is not known.
    uncertain: BTreeSet<String>,
    functions: BTreeMap<String, Function>,
    /// Aliases that name a proxy variable: the variables.
    aliases: BTreeMap<String, Vec<String>>,
    /// `set -a` in force.
    allexport: bool,
    /// `$1`... of the function running.
    positional: Vec<String>,
    /// `local` variables of each function call running, with the values they hid.
    locals: Vec<Vec<(String, Option<String>)>>,
    call_depth: usize,
    calls: usize,
    /// A `return` ran: the current file or function ends.
    returning: bool,
    out: ShellFile,
    visiting: Vec<PathBuf>,
    follow_sources: bool,
    /// Files already read this run: each is read once, however often it is sourced.
    read_once: BTreeSet<PathBuf>,
    /// Lines and bytes read so far, across every file.
    lines_read: usize,
    bytes_read: usize,
    /// Bytes `$VAR` expansion may still produce.
    expansion_left: usize,
    /// `unset NAME` at assignment index: earlier assignments of NAME are dropped at the end.
    unset_at: BTreeMap<String, usize>,
    /// Notes not kept (over [`MAX_NOTES`]).
    notes_dropped: usize,
    /// A cap was hit: stop reading.
    stopped: bool,
}

/// A word of a command after quote removal.
#[derive(Debug, Clone)]
struct Word {
    text: String,
    /// Contains `$(...)` or backticks.
    dynamic: bool,
    /// Was written with quotes somewhere (then it is never a keyword).
    quoted: bool,
    /// Length of `text` before the first quoted part: bash only takes
    /// `NAME=` as an assignment when the name and `=` are unquoted.
    unquoted_prefix: usize,
    /// Has no `@`, though its line has one from the word on.
    cut: bool,
    /// Holds a `$` expansion.
    expanded: bool,
    /// Where it starts and ends in the text (characters).
    start: usize,
    end: usize,
}

/// The proxy variables a piece of text names.
fn proxy_names_in(text: &str) -> Vec<String> {
    super::proxy::PROXY_VARIABLES.iter().filter(|n| text.contains(*n)).map(|n| n.to_string()).collect()
}

impl<'a> State<'a> {
    fn new(
        env: &'a dyn Fn(&str) -> Option<String>,
        context: Option<Context>,
        redirects: Vec<(PathBuf, PathBuf)>,
    ) -> Self {
        State {
            env,
            context,
            redirects,
            vars: BTreeMap::new(),
            exported: BTreeSet::new(),
            uncertain: BTreeSet::new(),
            functions: BTreeMap::new(),
            aliases: BTreeMap::new(),
            allexport: false,
            positional: Vec::new(),
            locals: Vec::new(),
            call_depth: 0,
            calls: 0,
            returning: false,
            out: ShellFile::default(),
            visiting: Vec::new(),
            follow_sources: true,
            read_once: BTreeSet::new(),
            lines_read: 0,
            bytes_read: 0,
            expansion_left: MAX_EXPANSION_BYTES,
            unset_at: BTreeMap::new(),
            notes_dropped: 0,
            stopped: false,
        }
    }

    fn finish(mut self) -> ShellFile {
        if !self.unset_at.is_empty() {
            let unset_at = std::mem::take(&mut self.unset_at);
            let mut index = 0;
            self.out.assignments.retain(|a| {
                let keep = unset_at.get(&a.name).is_none_or(|at| index >= *at);
                index += 1;
                keep
            });
        }
        if self.notes_dropped > 0 {
            let file = self.out.notes.last().map(|n| n.file.clone()).unwrap_or_default();
            self.out.notes.push(Note {
                file,
                line: None,
                message: format!("{} more notes left out (at most {MAX_NOTES} are kept)", self.notes_dropped),
            });
        }
        self.out.proxy_end = super::proxy::PROXY_VARIABLES
            .iter()
            .map(|n| VarEnd {
                name: n.to_string(),
                value: self.vars.get(*n).map(|v| unmark(v)),
                exported: self.exported.contains(*n),
                uncertain: self.uncertain.contains(*n),
            })
            .collect();
        self.out
    }

    fn note(&mut self, file: &str, line: Option<usize>, message: impl Into<String>) {
        if self.out.notes.len() >= MAX_NOTES {
            self.notes_dropped += 1;
            return;
        }
        // A note may quote the file (a `source` target): never a raw control character.
        let message = crate::term::escape_for_terminal(&message.into());
        self.out.notes.push(Note { file: crate::term::escape_for_terminal(file), line, message });
    }

    /// `path` as read: a redirected prefix replaced.
    fn map_path(&self, path: &Path) -> PathBuf {
        for (from, to) in &self.redirects {
            if let Ok(rest) = path.strip_prefix(from) {
                return if rest.as_os_str().is_empty() { to.clone() } else { to.join(rest) };
            }
        }
        path.to_path_buf()
    }

    fn read_file(&mut self, path: &Path, depth: usize, outer: Truth) {
        let name = path.display().to_string();
        let bytes = match crate::input::read_capped(path) {
            Ok(b) => b,
            Err(crate::input::InputError::TooLarge) => {
                return self.note(
                    &name,
                    None,
                    format!("not read: more than {} MiB, more than a shell startup file has", MAX_FILE_BYTES >> 20),
                );
            }
            Err(e) => return self.note(&name, None, format!("not read: {e}")),
        };
        if bytes.iter().take(8192).any(|b| *b == 0) {
            return self.note(&name, None, "not read: binary content");
        }
        if self.bytes_read + bytes.len() > MAX_SOURCE_BYTES {
            self.stopped = true;
            return self.note(
                &name,
                None,
                format!("not read: more than {} MiB read across sourced files, the limit", MAX_SOURCE_BYTES >> 20),
            );
        }
        self.bytes_read += bytes.len();
        let text = String::from_utf8_lossy(&bytes);
        let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        self.read_once.insert(canonical.clone());
        self.visiting.push(canonical);
        self.parse(&text, &name, depth, 1, outer, false);
        self.visiting.pop();
    }

    fn lookup(&self, name: &str) -> Option<String> {
        if let Some(v) = self.vars.get(name) {
            return Some(v.clone());
        }
        if let Some(n) = name.parse::<usize>().ok().filter(|n| *n > 0) {
            return self.positional.get(n - 1).cloned();
        }
        match (name, self.context) {
            ("PS1", None) => Some(PS1_MARK.to_string()),
            ("PS1", Some(c)) => c.interactive.then(|| DEFAULT_PS1.to_string()),
            // Set by bash itself, never exported, so not in amlnet's environment.
            ("BASH", _) => Some("/bin/bash".to_string()),
            ("BASH_VERSION", _) => Some("5.2".to_string()),
            _ => (self.env)(name),
        }
    }

    /// Variables bash sets itself, per machine or per moment, that amlnet
    /// cannot know unless the files set them.
    fn shell_knows_only(&self, name: &str) -> bool {
        const DYNAMIC: &[&str] = &[
            "HOSTNAME",
            "HOSTTYPE",
            "OSTYPE",
            "MACHTYPE",
            "UID",
            "EUID",
            "PPID",
            "RANDOM",
            "SECONDS",
            "PWD",
            "OLDPWD",
            "SHLVL",
            "BASHPID",
            "LINENO",
            "BASH_SOURCE",
            "FUNCNAME",
            "GROUPS",
            "EPOCHSECONDS",
            "EPOCHREALTIME",
            "SRANDOM",
        ];
        DYNAMIC.contains(&name) && !self.vars.contains_key(name)
    }

    /// `$-` in a word.
    fn flags(&self) -> String {
        match self.context {
            None => FLAGS_MARK.to_string(),
            Some(c) if c.interactive => FLAGS_INTERACTIVE.to_string(),
            Some(_) => FLAGS_NON_INTERACTIVE.to_string(),
        }
    }

    /// Runs `text` (a file, or a function's or loop's body starting on
    /// `first_line`) under `outer`.
    fn parse(&mut self, text: &str, file: &str, depth: usize, first_line: usize, outer: Truth, body: bool) {
        // The line budget is shared by every file of the run.
        let room = MAX_SOURCE_LINES.saturating_sub(self.lines_read);
        let text = match text.match_indices('\n').nth(room.saturating_sub(1)) {
            Some((i, _)) if room > 0 && i + 1 < text.len() => {
                self.note(
                    file,
                    Some(first_line + room - 1),
                    format!("stopped reading here: {MAX_SOURCE_LINES} lines read across sourced files, the limit"),
                );
                self.stopped = true;
                &text[..i + 1]
            }
            _ if room == 0 => {
                self.stopped = true;
                return self.note(
                    file,
                    None,
                    format!("not read: {MAX_SOURCE_LINES} lines read across sourced files, the limit"),
                );
            }
            _ => text,
        };
        self.lines_read += text.lines().count().max(1);
        let mut lexer = Lexer::new(text, self.expansion_left, first_line);
        let mut ex = Exec {
            frames: Vec::new(),
            status: Truth::Yes,
            prev: Sep::End,
            rest: outer,
            patterns: Vec::new(),
            function: None,
            for_words: None,
            loop_pending: false,
        };
        while let Some(cmd) = lexer.next_command(self) {
            self.expansion_left = lexer.expansion_left;
            self.execute(file, depth, cmd, &mut ex, &mut lexer, body);
            lexer.expansion_left = self.expansion_left;
            if self.out.assignments.len() >= MAX_ASSIGNMENTS {
                if !self.stopped {
                    self.stopped = true;
                    self.note(
                        file,
                        Some(lexer.line),
                        format!("stopped reading here: {MAX_ASSIGNMENTS} assignments, the limit"),
                    );
                }
                break;
            }
            if self.returning || self.stopped {
                break;
            }
        }
        self.expansion_left = lexer.expansion_left;
        if let Some(line) = lexer.value_capped.take() {
            self.note(
                file,
                Some(line),
                format!("a value grows past {} KiB by expansion: it stops growing there", MAX_VALUE_BYTES >> 10),
            );
        }
        if let Some(line) = lexer.budget_hit.take() {
            self.note(
                file,
                Some(line),
                format!(
                    "{} MiB produced by variable expansion, the limit: later references expand to nothing",
                    MAX_EXPANSION_BYTES >> 20
                ),
            );
        }
        if !self.returning
            && !self.stopped
            && let Some(open) = ex.frames.last()
        {
            let what = match open.kind {
                FrameKind::If => "if",
                FrameKind::Case => "case",
                FrameKind::Loop => "loop",
                FrameKind::Brace => "{",
                FrameKind::Subshell => "(",
            };
            self.note(file, None, format!("unterminated '{what}' block at the end of the file"));
        }
    }

    /// Whether the command about to run runs, from the blocks around it.
    fn frames_truth(ex: &Exec) -> Truth {
        ex.frames.iter().fold(ex.rest, |t, f| t.and(f.truth))
    }

    fn execute(&mut self, file: &str, depth: usize, cmd: Cmd, ex: &mut Exec, lexer: &mut Lexer<'_>, body: bool) {
        let Cmd { line, mut words, sep } = cmd;
        let before = std::mem::replace(&mut ex.prev, sep);
        let pending_function = ex.function.take();
        // A case pattern (`a|b)`, split by the lexer at `|`).
        if let Some(frame) = ex.frames.last_mut().filter(|f| f.kind == FrameKind::Case && f.want_pattern)
            && let Some(first) = words.first()
            && (first.text != "esac" || first.quoted)
        {
            if words.len() == 1 && sep == Sep::Pipe && !first.text.ends_with(')') {
                ex.patterns.push(first.text.trim_start_matches('(').to_string());
                ex.prev = Sep::End;
                return;
            }
            if let Some(last) = first.text.strip_suffix(')') {
                let mut patterns = std::mem::take(&mut ex.patterns);
                patterns.push(last.trim_start_matches('(').to_string());
                let matched = self.case_match(frame.word.as_deref(), &patterns);
                frame.truth = frame.taken.not().and(matched);
                frame.taken = frame.taken.or(matched);
                frame.want_pattern = false;
                words.remove(0);
            }
        }
        let mut gate = match before {
            Sep::And => ex.status,
            Sep::Or => ex.status.not(),
            _ => Truth::Yes,
        };
        let mut negate = false;
        // Keywords and block structure off the front.
        loop {
            let Some(first) = words.first() else {
                self.end_of(sep, ex);
                return;
            };
            if first.quoted {
                break;
            }
            let w = first.text.clone();
            match w.as_str() {
                "if" => ex.frames.push(Frame::new(FrameKind::If, gate)),
                "then" => {
                    let cond = ex.status;
                    if let Some(f) = ex.frames.iter_mut().rev().find(|f| f.kind == FrameKind::If) {
                        f.truth = f.taken.not().and(cond);
                        f.taken = f.taken.or(cond);
                    }
                }
                "elif" | "else" => {
                    if let Some(f) = ex.frames.iter_mut().rev().find(|f| f.kind == FrameKind::If) {
                        f.truth = f.taken.not();
                        if w == "else" {
                            f.taken = Truth::Yes;
                        }
                    }
                }
                "fi" | "esac" | "done" | "}" | ")" => {
                    ex.frames.pop();
                    ex.status = Truth::Maybe;
                }
                "case" => {
                    let word = words.get(1).filter(|w| !w.dynamic).map(|w| w.text.clone());
                    let mut frame = Frame::new(FrameKind::Case, gate);
                    frame.word = word;
                    frame.want_pattern = true;
                    frame.truth = Truth::No;
                    ex.frames.push(frame);
                    return self.end_of(sep, ex);
                }
                "for" => {
                    let name = words.get(1).map(|w| w.text.clone()).unwrap_or_default();
                    let items = match words.get(2) {
                        Some(w) if w.text == "in" => {
                            let list = &words[3..];
                            (!list.iter().any(|w| w.dynamic)).then(|| self.expand_globs(list))
                        }
                        // `for x; do` runs over "$@"; `for ((...))` is arithmetic.
                        _ if is_name(&name) => Some(self.positional.clone()),
                        _ => None,
                    };
                    ex.for_words = Some((name, items));
                    ex.frames.push(Frame::new(FrameKind::Loop, gate));
                    return self.end_of(sep, ex);
                }
                "while" | "until" | "select" => {
                    ex.loop_pending = true;
                    ex.frames.push(Frame::new(FrameKind::Loop, gate.and(Truth::Maybe)));
                    gate = Truth::Yes;
                    words.remove(0);
                    if w == "select" {
                        return self.end_of(sep, ex);
                    }
                    continue;
                }
                "do" => {
                    let start = first.end;
                    return self.run_loop(file, depth, line, &words[1..], start, ex, lexer);
                }
                "{" => {
                    if let Some(name) = pending_function {
                        let start = first.end;
                        return self.define(file, name, start, line, &words[1..], ex, lexer);
                    }
                    ex.frames.push(Frame::new(FrameKind::Brace, gate));
                    gate = Truth::Yes;
                }
                "(" => {
                    // A subshell: nothing in it reaches this shell.
                    ex.frames.push(Frame::new(FrameKind::Subshell, Truth::No));
                }
                "!" => negate = !negate,
                "function" => {
                    let name = words.get(1).map(|w| w.text.trim_end_matches("()").to_string()).unwrap_or_default();
                    return self.header(file, line, name, words.get(2..).unwrap_or_default(), ex, lexer);
                }
                _ => {
                    // `name() {`, `name () {`.
                    if w.ends_with("()") && w.len() > 2 {
                        let name = w.trim_end_matches("()").to_string();
                        return self.header(file, line, name, &words[1..], ex, lexer);
                    }
                    if words.get(1).is_some_and(|n| n.text == "()" && !n.quoted) {
                        return self.header(file, line, w, &words[2..], ex, lexer);
                    }
                    break;
                }
            }
            words.remove(0);
        }
        // `( cmd )` on one line: the `)` ends the subshell after the command.
        let closes_subshell = words.len() > 1
            && words.last().is_some_and(|w| w.text == ")" && !w.quoted)
            && ex.frames.last().is_some_and(|f| f.kind == FrameKind::Subshell);
        if closes_subshell {
            words.pop();
        }
        // A pipeline or `&` runs in a subshell: it changes nothing here.
        let subshell = matches!(sep, Sep::Pipe | Sep::Background) || before == Sep::Pipe;
        let truth = Self::frames_truth(ex).and(gate);
        let result = if truth == Truth::No {
            None
        } else {
            Some(self.simple(file, depth, line, &words, if subshell { Truth::No } else { truth }, ex, body))
        };
        if let Some(r) = result {
            let r = if negate { r.not() } else { r };
            let r = if subshell { Truth::Maybe } else { r };
            ex.status = match before {
                Sep::And => ex.status.and(r),
                Sep::Or => ex.status.or(r),
                _ => r,
            };
        }
        if closes_subshell {
            ex.frames.pop();
            ex.status = Truth::Maybe;
        }
        self.end_of(sep, ex);
    }

    /// After a command: `;;` waits for the next `case` pattern.
    fn end_of(&mut self, sep: Sep, ex: &mut Exec) {
        if sep == Sep::CaseEnd
            && let Some(f) = ex.frames.iter_mut().rev().find(|f| f.kind == FrameKind::Case)
        {
            f.want_pattern = true;
            f.truth = Truth::No;
        }
    }

    /// A function header: its body is kept, run where it is called.
    fn header(&mut self, file: &str, line: usize, name: String, rest: &[Word], ex: &mut Exec, lexer: &mut Lexer<'_>) {
        match rest.iter().position(|w| w.text == "{" && !w.quoted) {
            Some(i) => {
                let start = rest[i].end;
                self.define(file, name, start, line, &rest[i + 1..], ex, lexer)
            }
            // `f()` alone: the `{` is on the next line.
            None => ex.function = Some(name),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn define(
        &mut self,
        file: &str,
        name: String,
        start: usize,
        line: usize,
        rest: &[Word],
        ex: &mut Exec,
        lexer: &mut Lexer<'_>,
    ) {
        let Some(end) = self.capture(rest, lexer, ex) else {
            return self.note(file, Some(line), format!("function {name}: no closing '}}'"));
        };
        let body: String = lexer.chars[start.min(end)..end].iter().collect();
        if Self::frames_truth(ex) != Truth::No {
            self.functions.insert(name, Function { body, file: file.to_string(), line });
        }
    }

    /// Skips to the `}` or `done` closing a block opened before `rest`:
    /// where it starts. `None` at the end of the text.
    fn capture(&mut self, rest: &[Word], lexer: &mut Lexer<'_>, ex: &mut Exec) -> Option<usize> {
        let mut depth = 1usize;
        if let Some(at) = block_close(rest, &mut depth) {
            return Some(at);
        }
        while let Some(cmd) = lexer.next_command(self) {
            ex.prev = cmd.sep;
            if let Some(at) = block_close(&cmd.words, &mut depth) {
                return Some(at);
            }
        }
        None
    }

    /// `do`: the loop's body is run per word (`for` over known words) or
    /// once, conditionally.
    #[allow(clippy::too_many_arguments)]
    fn run_loop(
        &mut self,
        file: &str,
        depth: usize,
        line: usize,
        rest: &[Word],
        start: usize,
        ex: &mut Exec,
        lexer: &mut Lexer<'_>,
    ) {
        let Some(end) = self.capture(rest, lexer, ex) else {
            ex.frames.pop();
            return self.note(file, Some(line), "a loop without 'done'");
        };
        let body: String = lexer.chars[start.min(end)..end].iter().collect();
        let for_words = ex.for_words.take();
        ex.loop_pending = false;
        let truth = Self::frames_truth(ex);
        ex.frames.pop();
        if truth == Truth::No {
            return;
        }
        match for_words {
            Some((name, Some(items))) if items.len() <= MAX_LOOP_WORDS && is_name(&name) => {
                for item in items {
                    if self.calls >= MAX_CALLS || self.stopped {
                        break;
                    }
                    self.calls += 1;
                    self.vars.insert(name.clone(), item);
                    self.parse(&body, file, depth, line, truth, true);
                    if self.returning {
                        break;
                    }
                }
            }
            _ => {
                self.calls += 1;
                self.parse(&body, file, depth, line, truth.and(Truth::Maybe), true);
            }
        }
        ex.status = Truth::Maybe;
    }

    /// A simple command (keywords taken off) under `truth`: what it does,
    /// and whether it succeeds.
    #[allow(clippy::too_many_arguments)]
    fn simple(
        &mut self,
        file: &str,
        depth: usize,
        line: usize,
        words: &[Word],
        truth: Truth,
        ex: &mut Exec,
        body: bool,
    ) -> Truth {
        let Some(first) = words.first() else { return Truth::Yes };
        let cmd = first.text.clone();
        let args = &words[1..];
        if truth == Truth::No {
            // In a subshell: only whether it succeeds matters.
            return match cmd.as_str() {
                "[" | "[[" | "test" => self.test(&cmd, args),
                _ => Truth::Maybe,
            };
        }
        if first.quoted && split_assignment(&cmd).is_none() {
            return Truth::Maybe;
        }
        match cmd.as_str() {
            "[" | "[[" | "test" => self.test(&cmd, args),
            "true" | ":" => Truth::Yes,
            "false" => Truth::No,
            "export" => {
                self.export(file, line, args, truth);
                Truth::Yes
            }
            "declare" | "typeset" | "readonly" => {
                self.declare(file, line, args, truth);
                Truth::Yes
            }
            "local" if body => {
                for w in args.iter().filter(|w| !w.text.starts_with('-')) {
                    let (name, value) = match split_assignment(&w.text) {
                        Some((name, value, _)) => (name, Some(value.to_string())),
                        None => (w.text.as_str(), None),
                    };
                    let old = self.vars.get(name).cloned();
                    if let Some(frame) = self.locals.last_mut() {
                        frame.push((name.to_string(), old));
                    }
                    match value {
                        Some(v) => self.vars.insert(name.to_string(), v),
                        None => self.vars.remove(name),
                    };
                }
                Truth::Yes
            }
            "local" => Truth::No,
            "unset" => {
                self.unset(args, truth);
                Truth::Yes
            }
            "set" => {
                for w in args {
                    let t = w.text.as_str();
                    let on = match t.chars().next() {
                        Some('-') => true,
                        Some('+') => false,
                        _ => continue,
                    };
                    if t[1..].contains('a') && !t.starts_with("--") && t.len() > 1 && t[1..] != *"o" {
                        self.allexport = on;
                    }
                }
                if let Some(i) = args.iter().position(|w| w.text == "-o" || w.text == "+o")
                    && args.get(i + 1).is_some_and(|w| w.text == "allexport")
                {
                    self.allexport = args[i].text == "-o";
                }
                if truth != Truth::Yes && self.allexport {
                    self.note(file, Some(line), "set -a inside a condition amlnet does not decide: taken as run");
                }
                Truth::Yes
            }
            "shopt" => match (args.first().map(|w| w.text.as_str()), args.get(1).map(|w| w.text.as_str())) {
                (Some("-q"), Some("login_shell")) => self.context.map_or(Truth::Maybe, |c| Truth::from_bool(c.login)),
                _ => Truth::Maybe,
            },
            "source" | "." => {
                if let Some(target) = args.first() {
                    self.source(file, line, target, truth, depth);
                }
                Truth::Yes
            }
            "return" | "exit" => {
                self.returns(file, line, &cmd, truth, ex, body);
                Truth::Yes
            }
            "alias" => {
                for w in args {
                    if let Some((name, text)) = w.text.split_once('=') {
                        let names = proxy_names_in(text);
                        if !names.is_empty() {
                            self.note(
                                file,
                                Some(line),
                                format!(
                                    "alias {name} sets {}: not evaluated (it applies only where the alias is used)",
                                    names.join(", ")
                                ),
                            );
                            self.aliases.insert(name.to_string(), names);
                        } else {
                            self.aliases.remove(name);
                        }
                    }
                }
                Truth::Yes
            }
            "eval" => {
                let text: String = args.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" ");
                self.not_evaluated(file, line, "eval", &text, truth);
                Truth::Maybe
            }
            _ => {
                if let Some(names) = self.aliases.get(&cmd).cloned()
                    && self.context.is_none_or(|c| c.interactive)
                {
                    self.note(file, Some(line), format!("alias {cmd} used: {} not evaluated", names.join(", ")));
                    for n in names {
                        self.unknown_value(file, line, &n, truth);
                    }
                    return Truth::Maybe;
                }
                if let Some(f) = self.functions.get(&cmd).cloned() {
                    self.call(&cmd, f, args, depth, truth);
                    return Truth::Maybe;
                }
                // Leading `NAME=value` words: plain assignments when no command
                // follows; otherwise only that command's environment.
                let assignments: Vec<&Word> =
                    words.iter().take_while(|w| split_assignment(&w.text).is_some() && !w.quoted_name()).collect();
                if assignments.len() == words.len() {
                    for w in assignments {
                        self.assign_or_mark(file, line, w, false, false, truth);
                    }
                    return Truth::Yes;
                }
                Truth::Maybe
            }
        }
    }

    /// `return`/`exit` at the top of a file ends it; under a condition
    /// about interactivity it is the "return unless interactive" guard.
    fn returns(&mut self, file: &str, line: usize, cmd: &str, truth: Truth, ex: &mut Exec, body: bool) {
        // What is left of the file runs only where this does not.
        match truth {
            Truth::Yes => self.returning = true,
            Truth::No => {}
            Truth::NonInteractive | Truth::Interactive => {
                if truth == Truth::NonInteractive && self.out.interactive_guard.is_none() && !body {
                    self.out.interactive_guard = Some((file.to_string(), line));
                }
                ex.rest = ex.rest.and(truth.not());
            }
            Truth::Maybe => {
                self.note(
                    file,
                    Some(line),
                    format!("{cmd} under a condition amlnet does not decide: what follows is conditional"),
                );
                ex.rest = ex.rest.and(Truth::Maybe);
            }
        }
    }

    fn call(&mut self, name: &str, f: Function, args: &[Word], depth: usize, truth: Truth) {
        if self.call_depth >= MAX_CALL_DEPTH || self.calls >= MAX_CALLS || self.stopped {
            return self.note(&f.file, Some(f.line), format!("function {name}: calls nest too deep, not followed"));
        }
        self.calls += 1;
        self.call_depth += 1;
        let saved = std::mem::replace(&mut self.positional, args.iter().map(|w| w.text.clone()).collect());
        self.locals.push(Vec::new());
        self.parse(&f.body, &f.file, depth, f.line, truth, true);
        self.returning = false;
        self.positional = saved;
        // `local` variables end with the call.
        for (name, old) in self.locals.pop().unwrap_or_default().into_iter().rev() {
            match old {
                Some(v) => self.vars.insert(name, v),
                None => self.vars.remove(&name),
            };
        }
        self.call_depth -= 1;
    }

    /// `eval`, `source <(...)`, `export $(...)`: what they set is not
    /// known. A proxy variable they may set is not evaluated, said in a note.
    fn not_evaluated(&mut self, file: &str, line: usize, what: &str, text: &str, truth: Truth) {
        self.not_evaluated_or_any(file, line, what, text, truth, false)
    }

    /// [`Self::not_evaluated`]; with `any`, a text naming no proxy
    /// variable may still set every one (`export $(cat .env)`).
    fn not_evaluated_or_any(&mut self, file: &str, line: usize, what: &str, text: &str, truth: Truth, any: bool) {
        let mut names = proxy_names_in(text);
        if names.is_empty() && (any || text.to_ascii_lowercase().contains("proxy")) {
            names = super::proxy::PROXY_VARIABLES.iter().map(|s| s.to_string()).collect();
        }
        if names.is_empty() {
            // `eval "$(dircolors -b)"`, `eval "$(ssh-agent)"`: nothing about
            // a proxy, and in every Ubuntu bashrc; not worth a note.
            return;
        }
        self.note(file, Some(line), format!("{what} may set {}: not evaluated", names.join(", ")));
        for n in names {
            self.unknown_value(file, line, &n, truth);
        }
    }

    /// `name` gets a value amlnet does not know.
    fn unknown_value(&mut self, file: &str, line: usize, name: &str, truth: Truth) {
        self.uncertain.insert(name.to_string());
        self.exported.insert(name.to_string());
        self.vars.insert(name.to_string(), String::new());
        self.out.assignments.push(Assignment {
            name: name.to_string(),
            value: String::new(),
            file: file.to_string(),
            line,
            exported: true,
            conditional: matches!(truth, Truth::Maybe | Truth::NonInteractive),
            interactive_only: truth == Truth::Interactive,
            dynamic: true,
            cut: false,
        });
    }

    /// `export [-n] NAME[=value]...`
    fn export(&mut self, file: &str, line: usize, args: &[Word], truth: Truth) {
        let mut unexport = false;
        for w in args {
            if w.text.starts_with('-') && !w.quoted {
                unexport |= w.text.contains('n');
                continue;
            }
            // `export $(cat .env)`, `export "$line"` (a loop over a file):
            // what it exports is not known, proxies included.
            if (w.dynamic || w.expanded) && split_assignment(&w.text).is_none() && !is_name(&w.text) {
                let text = if w.text.is_empty() { "an expanded word" } else { w.text.as_str() };
                self.not_evaluated_or_any(file, line, "export", text, truth, true);
                continue;
            }
            self.assign_or_mark(file, line, w, !unexport, true, truth);
        }
    }

    /// `declare`/`typeset`/`readonly` with `-x` (export) or `+x` (unexport).
    fn declare(&mut self, file: &str, line: usize, args: &[Word], truth: Truth) {
        let (mut export, mut unexport) = (false, false);
        for w in args {
            if (w.text.starts_with('-') || w.text.starts_with('+')) && !w.quoted && !w.text.contains('=') {
                export |= w.text.starts_with('-') && w.text.contains('x');
                unexport |= w.text.starts_with('+') && w.text.contains('x');
                continue;
            }
            self.assign_or_mark(file, line, w, export && !unexport, export || unexport, truth);
        }
    }

    /// `unset [-v|-f] NAME...`: the shell ends without it.
    fn unset(&mut self, args: &[Word], truth: Truth) {
        let functions = args.iter().any(|w| w.text == "-f");
        for w in args.iter().filter(|w| !w.text.starts_with('-')) {
            if functions {
                self.functions.remove(&w.text);
                continue;
            }
            if truth != Truth::Yes {
                // May or may not run: the variable's end is not known.
                self.uncertain.insert(w.text.clone());
                continue;
            }
            self.vars.remove(&w.text);
            self.exported.remove(&w.text);
            self.uncertain.remove(&w.text);
            // Earlier assignments no longer count (dropped once, at the end,
            // so many unsets stay cheap).
            self.unset_at.insert(w.text.clone(), self.out.assignments.len());
        }
    }

    /// `NAME=value` assigns (exporting it when `export` says so, or under
    /// `set -a`); a bare `NAME` with `touch_export` changes only its export flag.
    fn assign_or_mark(&mut self, file: &str, line: usize, w: &Word, export: bool, touch_export: bool, truth: Truth) {
        let sure = truth == Truth::Yes;
        match split_assignment(&w.text) {
            Some((name, value, append)) => {
                let name = name.to_string();
                let mut value = unmark(value);
                if append {
                    value = format!("{}{value}", self.vars.get(&name).cloned().unwrap_or_default());
                }
                let was_exported = self.exported.contains(&name);
                if touch_export {
                    if export {
                        self.exported.insert(name.clone());
                    } else {
                        self.exported.remove(&name);
                    }
                }
                if self.allexport {
                    self.exported.insert(name.clone());
                }
                let _ = was_exported;
                if !sure || w.dynamic {
                    self.uncertain.insert(name.clone());
                } else if !append {
                    self.uncertain.remove(&name);
                }
                let exported = self.exported.contains(&name);
                self.vars.insert(name.clone(), value.clone());
                self.out.assignments.push(Assignment {
                    name,
                    value,
                    file: file.to_string(),
                    line,
                    exported,
                    conditional: matches!(truth, Truth::Maybe | Truth::NonInteractive),
                    interactive_only: truth == Truth::Interactive,
                    dynamic: w.dynamic,
                    cut: w.cut,
                });
            }
            None if touch_export && is_name(&w.text) => {
                let was = self.exported.contains(&w.text);
                if export {
                    self.exported.insert(w.text.clone());
                } else {
                    self.exported.remove(&w.text);
                }
                if !sure && was != export {
                    self.uncertain.insert(w.text.clone());
                }
                // `export NAME` after `NAME=value`: the variable is now exported.
                if let Some(value) = self.vars.get(&w.text).cloned() {
                    let dynamic =
                        self.out.assignments.iter().rev().find(|a| a.name == w.text).is_some_and(|a| a.dynamic);
                    self.out.assignments.push(Assignment {
                        name: w.text.clone(),
                        value,
                        file: file.to_string(),
                        line,
                        exported: export,
                        conditional: matches!(truth, Truth::Maybe | Truth::NonInteractive),
                        interactive_only: truth == Truth::Interactive,
                        dynamic,
                        cut: false,
                    });
                }
            }
            None => {}
        }
    }

    fn source(&mut self, file: &str, line: usize, target: &Word, truth: Truth, depth: usize) {
        let target_text = target.text.clone();
        if target_text.starts_with("<(") || target.dynamic {
            return self.not_evaluated(file, line, "source", &target_text, truth);
        }
        if !self.follow_sources {
            return self.note(file, Some(line), format!("sources {target_text} (not followed here)"));
        }
        if depth + 1 > MAX_SOURCE_DEPTH {
            return self.note(
                file,
                Some(line),
                format!("sources {target_text}: deeper than {MAX_SOURCE_DEPTH} levels, not followed"),
            );
        }
        let expanded = if let Some(rest) = target_text.strip_prefix("~/") {
            match self.lookup("HOME") {
                Some(home) => format!("{home}/{rest}"),
                None => target_text.clone(),
            }
        } else {
            target_text.clone()
        };
        let mut path = PathBuf::from(&expanded);
        if path.is_relative() {
            // bash looks a relative name up in PATH, then the working
            // directory; for a bashrc the file's own folder is the useful guess.
            if let Some(dir) = Path::new(file).parent() {
                path = dir.join(path);
            }
        }
        let path = self.map_path(&path);
        let canonical = path.canonicalize().unwrap_or_else(|_| path.clone());
        if self.visiting.contains(&canonical) {
            return self.note(
                file,
                Some(line),
                format!("sources {target_text}, which is already being read: loop not followed"),
            );
        }
        if !path.exists() {
            return self.note(file, Some(line), format!("sources {target_text}, which does not exist"));
        }
        if self.stopped {
            return;
        }
        if self.read_once.contains(&canonical) && self.context.is_none() {
            // Read once per run: a fan-out of sources stays cheap.
            return self.note(file, Some(line), format!("sources {target_text} again: already read, not read twice"));
        }
        if truth != Truth::Yes && truth != Truth::Interactive {
            self.note(file, Some(line), format!("sources {target_text} conditionally"));
        }
        self.read_file(&path, depth + 1, truth);
        self.returning = false;
    }

    /// `[ ... ]`, `[[ ... ]]`, `test ...`: decided when every word is known.
    fn test(&self, cmd: &str, args: &[Word]) -> Truth {
        if args.iter().any(|w| w.dynamic) {
            return Truth::Maybe;
        }
        let texts: Vec<&str> = args.iter().map(|w| w.text.as_str()).collect();
        let texts = match cmd {
            "[" => match texts.split_last() {
                Some((&"]", rest)) => rest.to_vec(),
                _ => return Truth::Maybe,
            },
            "[[" => match texts.split_last() {
                Some((&"]]", rest)) => rest.to_vec(),
                _ => return Truth::Maybe,
            },
            _ => texts,
        };
        let pattern = cmd == "[[";
        let marked = texts.iter().any(|t| t.contains(FLAGS_MARK) || t.contains(PS1_MARK));
        if !marked {
            return self.test_words(&texts, pattern);
        }
        let with = |interactive: bool| -> Vec<String> { texts.iter().map(|t| resolve_marks(t, interactive)).collect() };
        let (i, n) = (with(true), with(false));
        let i: Vec<&str> = i.iter().map(String::as_str).collect();
        let n: Vec<&str> = n.iter().map(String::as_str).collect();
        Truth::split(self.test_words(&i, pattern), self.test_words(&n, pattern))
    }

    fn test_words(&self, args: &[&str], pattern: bool) -> Truth {
        match args {
            [] => Truth::No,
            ["!", rest @ ..] => self.test_words(rest, pattern).not(),
            [s] => Truth::from_bool(!s.is_empty()),
            ["-n", s] => Truth::from_bool(!s.is_empty()),
            ["-z", s] => Truth::from_bool(s.is_empty()),
            [op @ ("-f" | "-e" | "-r" | "-d" | "-s" | "-x" | "-h" | "-L"), p] => {
                let path = self.map_path(Path::new(p));
                let meta = if matches!(*op, "-h" | "-L") { path.symlink_metadata() } else { path.metadata() };
                Truth::from_bool(match (*op, meta) {
                    (_, Err(_)) => false,
                    ("-f", Ok(m)) => m.is_file(),
                    ("-d", Ok(m)) => m.is_dir(),
                    ("-s", Ok(m)) => m.len() > 0,
                    ("-h" | "-L", Ok(m)) => m.file_type().is_symlink(),
                    ("-x", Ok(m)) => is_executable(&m),
                    _ => true,
                })
            }
            [a, "=" | "==", b] => Truth::from_bool(if pattern { glob_match(b, a) } else { a == b }),
            [a, "!=", b] => Truth::from_bool(if pattern { !glob_match(b, a) } else { a != b }),
            [a, op @ ("-eq" | "-ne" | "-lt" | "-le" | "-gt" | "-ge"), b] => {
                match (a.trim().parse::<i64>(), b.trim().parse::<i64>()) {
                    (Ok(x), Ok(y)) => Truth::from_bool(match *op {
                        "-eq" => x == y,
                        "-ne" => x != y,
                        "-lt" => x < y,
                        "-le" => x <= y,
                        "-gt" => x > y,
                        _ => x >= y,
                    }),
                    _ => Truth::Maybe,
                }
            }
            _ => Truth::Maybe,
        }
    }

    /// Whether a `case` word matches one of `patterns`.
    fn case_match(&self, word: Option<&str>, patterns: &[String]) -> Truth {
        let Some(word) = word else { return Truth::Maybe };
        let matches = |w: &str| patterns.iter().any(|p| glob_match(p, w));
        if word.contains(FLAGS_MARK) || word.contains(PS1_MARK) {
            let i = matches(&resolve_marks(word, true));
            let n = matches(&resolve_marks(word, false));
            return Truth::split(Truth::from_bool(i), Truth::from_bool(n));
        }
        Truth::from_bool(matches(word))
    }

    /// The words of a `for` list, globs (`DIR/*.sh`) expanded as bash does
    /// (sorted; a glob matching nothing stays as written).
    fn expand_globs(&self, words: &[Word]) -> Vec<String> {
        let mut out = Vec::new();
        for w in words {
            let t = &w.text;
            let glob = !w.quoted && t.contains(['*', '?', '[']);
            let (dir, pattern) = match t.rsplit_once('/') {
                Some((d, p)) if glob && !d.contains(['*', '?', '[']) => (if d.is_empty() { "/" } else { d }, p),
                _ => {
                    out.push(t.clone());
                    continue;
                }
            };
            let mut matched: Vec<String> = std::fs::read_dir(self.map_path(Path::new(dir)))
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| (!n.starts_with('.') || pattern.starts_with('.')) && glob_match(pattern, n))
                .take(MAX_LOOP_WORDS + 1)
                .map(|n| format!("{}/{n}", dir.trim_end_matches('/')))
                .collect();
            matched.sort();
            if matched.is_empty() {
                out.push(t.clone());
            }
            out.extend(matched);
        }
        out
    }
}

impl Frame {
    fn new(kind: FrameKind, truth: Truth) -> Frame {
        Frame { kind, truth, taken: Truth::No, word: None, want_pattern: false }
    }
}

/// Counts block keywords in command position; the start of the word that
/// closes the block when `depth` comes back to zero.
fn block_close(words: &[Word], depth: &mut usize) -> Option<usize> {
    let header = words.first().is_some_and(|w| w.text.ends_with("()"))
        || words.get(1).is_some_and(|w| w.text == "()")
        || words.first().is_some_and(|w| w.text == "function");
    if header {
        if words.iter().any(|w| w.text == "{" && !w.quoted) {
            *depth += 1;
        }
        return None;
    }
    for w in words {
        if w.quoted {
            return None;
        }
        match w.text.as_str() {
            "if" | "{" | "(" => *depth += 1,
            "case" | "for" | "while" | "until" | "select" => {
                *depth += 1;
                return None;
            }
            "fi" | "esac" | "done" | "}" | ")" => {
                *depth = depth.saturating_sub(1);
                if *depth == 0 {
                    return Some(w.start);
                }
            }
            "then" | "else" | "elif" | "do" | "!" => {}
            _ => return None,
        }
    }
    None
}

/// `$-` and `$PS1` of the file view, decided one way.
fn resolve_marks(text: &str, interactive: bool) -> String {
    let (flags, ps1) = if interactive { (FLAGS_INTERACTIVE, DEFAULT_PS1) } else { (FLAGS_NON_INTERACTIVE, "") };
    text.replace(FLAGS_MARK, flags).replace(PS1_MARK, ps1)
}

/// A value as stored: an undecided `$-` reads as written.
fn unmark(text: &str) -> String {
    if text.contains(FLAGS_MARK) || text.contains(PS1_MARK) {
        text.replace(FLAGS_MARK, "$-").replace(PS1_MARK, "$PS1")
    } else {
        text.to_string()
    }
}

/// Shell pattern matching (`*`, `?`, `[...]`, `\x`), in time linear in
/// the product of the lengths (no backtracking blow-up).
fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // One element: `None` for `*`, else the character ranges it matches
    // (each carrying the class's negation), and its length in `p`.
    type Element = (Option<Vec<(char, char, bool)>>, usize);
    let element = |i: usize| -> Option<Element> {
        match p.get(i)? {
            '*' => Some((None, 1)),
            '?' => Some((Some(vec![('\0', char::MAX, false)]), 1)),
            '\\' if i + 1 < p.len() => Some((Some(vec![(p[i + 1], p[i + 1], false)]), 2)),
            '[' => {
                let mut j = i + 1;
                let negate = matches!(p.get(j), Some('!' | '^'));
                if negate {
                    j += 1;
                }
                let mut ranges = Vec::new();
                let start = j;
                while j < p.len() && (p[j] != ']' || j == start) {
                    if j + 2 < p.len() && p[j + 1] == '-' && p[j + 2] != ']' {
                        ranges.push((p[j], p[j + 2], negate));
                        j += 3;
                    } else {
                        ranges.push((p[j], p[j], negate));
                        j += 1;
                    }
                }
                if j >= p.len() {
                    // No closing `]`: a literal `[`.
                    return Some((Some(vec![('[', '[', false)]), 1));
                }
                if ranges.is_empty() {
                    ranges.push(('\u{1}', '\u{0}', negate));
                }
                Some((Some(ranges), j + 1 - i))
            }
            c => Some((Some(vec![(*c, *c, false)]), 1)),
        }
    };
    let one = |ranges: &[(char, char, bool)], c: char| -> bool {
        let negate = ranges.first().is_some_and(|r| r.2);
        ranges.iter().any(|(a, b, _)| *a <= c && c <= *b) != negate
    };
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match element(pi) {
            Some((None, len)) => {
                star = Some((pi + len, ti));
                pi += len;
                continue;
            }
            Some((Some(ranges), len)) if one(&ranges, t[ti]) => {
                pi += len;
                ti += 1;
                continue;
            }
            _ => {}
        }
        match star {
            Some((sp, st)) => {
                pi = sp;
                ti = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    while let Some((None, len)) = element(pi) {
        pi += len;
    }
    pi >= p.len()
}

impl Word {
    fn mark_quoted(&mut self) {
        self.quoted = true;
        self.unquoted_prefix = self.unquoted_prefix.min(self.text.len());
    }

    /// `"A"=b` is not an assignment in bash: the name must be unquoted.
    fn quoted_name(&self) -> bool {
        self.text.find('=').is_some_and(|eq| eq >= self.unquoted_prefix)
    }
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// `NAME=value` -> (NAME, value, false); `NAME+=value` -> (NAME, value, true).
fn split_assignment(s: &str) -> Option<(&str, &str, bool)> {
    let eq = s.find('=')?;
    let (name, append) = match s[..eq].strip_suffix('+') {
        Some(n) => (n, true),
        None => (&s[..eq], false),
    };
    is_name(name).then(|| (name, &s[eq + 1..], append))
}

/// Splits the text into simple commands with quote removal and expansion.
struct Lexer<'t> {
    chars: Vec<char>,
    /// Whether an `@` follows position i on the same line.
    at_later: Vec<bool>,
    pos: usize,
    line: usize,
    pending_heredocs: Vec<(String, bool)>,
    /// Bytes `$VAR` expansion may still produce.
    expansion_left: usize,
    /// The first line where a value hit [`MAX_VALUE_BYTES`].
    value_capped: Option<usize>,
    /// The line where the expansion budget ran out.
    budget_hit: Option<usize>,
    _text: std::marker::PhantomData<&'t str>,
}

impl<'t> Lexer<'t> {
    fn new(text: &'t str, expansion_left: usize, first_line: usize) -> Self {
        let chars: Vec<char> = text.chars().collect();
        let mut at_later = vec![false; chars.len() + 1];
        for i in (0..chars.len()).rev() {
            at_later[i] = chars[i] == '@' || (chars[i] != '\n' && at_later[i + 1]);
        }
        Lexer {
            chars,
            at_later,
            pos: 0,
            line: first_line,
            pending_heredocs: Vec::new(),
            expansion_left,
            value_capped: None,
            budget_hit: None,
            _text: std::marker::PhantomData,
        }
    }

    /// Appends an expansion to a word, within [`MAX_VALUE_BYTES`] and the run's budget.
    fn expand_into(&mut self, w: &mut Word, value: &str) {
        let mut room = MAX_VALUE_BYTES.saturating_sub(w.text.len());
        if value.len() > room {
            self.value_capped.get_or_insert(self.line);
        }
        if value.len().min(room) > self.expansion_left {
            self.budget_hit.get_or_insert(self.line);
            room = self.expansion_left;
        }
        let mut take = value.len().min(room);
        while !value.is_char_boundary(take) {
            take -= 1;
        }
        w.text.push_str(&value[..take]);
        self.expansion_left -= take;
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.chars.get(self.pos + n).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.get(self.pos).copied()?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    /// The next command, the line it starts on and what ends it; `None` at the end.
    fn next_command(&mut self, state: &State<'_>) -> Option<Cmd> {
        loop {
            let mut words = Vec::new();
            let mut start_line = None;
            let mut sep = Sep::End;
            loop {
                // Blanks between words.
                while matches!(self.peek(), Some(' ' | '\t' | '\r')) {
                    self.bump();
                }
                match self.peek() {
                    None => break,
                    Some('\n') => {
                        self.bump();
                        self.skip_heredocs();
                        break;
                    }
                    Some(';') => {
                        self.bump();
                        if matches!(self.peek(), Some(';' | '&')) {
                            self.bump();
                            if self.peek() == Some('&') {
                                self.bump();
                            }
                            sep = Sep::CaseEnd;
                        }
                        break;
                    }
                    Some('&') if self.peek_at(1) != Some('>') => {
                        self.bump();
                        sep = if self.peek() == Some('&') {
                            self.bump();
                            Sep::And
                        } else {
                            Sep::Background
                        };
                        break;
                    }
                    Some('|') => {
                        self.bump();
                        sep = match self.peek() {
                            Some('|') => {
                                self.bump();
                                Sep::Or
                            }
                            Some('&') => {
                                self.bump();
                                Sep::Pipe
                            }
                            _ => Sep::Pipe,
                        };
                        break;
                    }
                    Some('#') => {
                        while !matches!(self.peek(), None | Some('\n')) {
                            self.bump();
                        }
                    }
                    Some('\\') if self.peek_at(1) == Some('\n') => {
                        self.bump();
                        self.bump();
                    }
                    Some(_) => {
                        start_line.get_or_insert(self.line);
                        let start = self.pos;
                        let mut word = self.word(state);
                        word.start = start;
                        word.end = self.pos;
                        if let Some(delim) = word.text.strip_prefix("<<").filter(|d| !d.starts_with('<')) {
                            self.queue_heredoc(delim);
                        }
                        // An unquoted expansion to nothing is no word at all.
                        if !word.text.is_empty() || word.quoted || word.dynamic {
                            words.push(word);
                        }
                    }
                }
            }
            if !words.is_empty() || sep != Sep::End {
                return Some(Cmd { line: start_line.unwrap_or(self.line), words, sep });
            }
            self.peek()?;
        }
    }

    fn queue_heredoc(&mut self, after: &str) {
        let strip = after.starts_with('-');
        let delim = after.trim_start_matches('-').trim_matches(|c| c == '\'' || c == '"');
        if !delim.is_empty() {
            self.pending_heredocs.push((delim.to_string(), strip));
        }
    }

    /// Skips the bodies of heredocs opened on the line just ended.
    fn skip_heredocs(&mut self) {
        let pending = std::mem::take(&mut self.pending_heredocs);
        for (delim, strip) in pending {
            loop {
                if self.peek().is_none() {
                    return;
                }
                let mut line = String::new();
                while let Some(c) = self.bump() {
                    if c == '\n' {
                        break;
                    }
                    line.push(c);
                }
                let candidate = if strip { line.trim_start_matches('\t') } else { line.as_str() };
                if candidate.trim_end_matches('\r') == delim {
                    break;
                }
            }
        }
    }

    /// One word: quotes removed, escapes applied, `$NAME` expanded.
    fn word(&mut self, state: &State<'_>) -> Word {
        let start = self.pos;
        let mut w = Word {
            text: String::new(),
            dynamic: false,
            quoted: false,
            unquoted_prefix: usize::MAX,
            cut: false,
            expanded: false,
            start,
            end: start,
        };
        // `~/x` and `~` alone: the home directory.
        if self.peek() == Some('~') && matches!(self.peek_at(1), None | Some('/' | ' ' | '\t' | '\n' | ';')) {
            self.bump();
            let home = state.lookup("HOME").unwrap_or_else(|| "~".to_string());
            self.expand_into(&mut w, &home);
        }
        // `<<EOF` and `<<'EOF'` stay literal so the heredoc is recognised.
        while let Some(c) = self.peek() {
            match c {
                // `>&2`, `2>&1`, `&>file` are redirections, not separators.
                '&' if w.text.ends_with(['>', '<']) || (w.text.is_empty() && self.peek_at(1) == Some('>')) => {
                    self.bump();
                    w.text.push('&');
                }
                ' ' | '\t' | '\r' | '\n' | ';' | '&' | '|' => break,
                '\\' => {
                    self.bump();
                    match self.bump() {
                        Some('\n') | None => {}
                        Some(e) => w.text.push(e),
                    }
                }
                '\'' => {
                    self.bump();
                    w.mark_quoted();
                    while let Some(c) = self.bump() {
                        if c == '\'' {
                            break;
                        }
                        w.text.push(c);
                    }
                }
                '"' => {
                    self.bump();
                    w.mark_quoted();
                    while let Some(c) = self.peek() {
                        match c {
                            '"' => {
                                self.bump();
                                break;
                            }
                            '\\' => {
                                self.bump();
                                match self.bump() {
                                    Some(e @ ('"' | '\\' | '$' | '`')) => w.text.push(e),
                                    Some('\n') => {}
                                    Some(e) => {
                                        w.text.push('\\');
                                        w.text.push(e);
                                    }
                                    None => {}
                                }
                            }
                            '$' => self.dollar(state, &mut w),
                            '`' => self.backticks(&mut w),
                            _ => {
                                self.bump();
                                w.text.push(c);
                            }
                        }
                    }
                }
                '$' if self.peek_at(1) == Some('\'') => {
                    self.bump();
                    self.bump();
                    w.mark_quoted();
                    while let Some(c) = self.bump() {
                        match c {
                            '\'' => break,
                            '\\' => match self.bump() {
                                Some('n') => w.text.push('\n'),
                                Some('t') => w.text.push('\t'),
                                Some(e) => w.text.push(e),
                                None => {}
                            },
                            c => w.text.push(c),
                        }
                    }
                }
                '$' => self.dollar(state, &mut w),
                '`' => self.backticks(&mut w),
                // Process substitution: `<(cmd)`, `>(cmd)`.
                '<' | '>' if self.peek_at(1) == Some('(') => {
                    self.bump();
                    w.text.push(c);
                    self.parenthesised(&mut w);
                }
                '#' if w.text.is_empty() && !w.quoted => break,
                c => {
                    self.bump();
                    w.text.push(c);
                }
            }
        }
        // `A=http://u:pa;ss@proxy`, `A=http://u:pa ss@proxy`, `A=http://u:pa${s@proxy`:
        // the value lost the `@` its line has, and what is left may hold
        // the start of a password.
        w.cut = !w.text.contains('@') && self.at_later[start];
        w
    }

    fn backticks(&mut self, w: &mut Word) {
        self.bump();
        w.dynamic = true;
        w.text.push('`');
        while let Some(c) = self.bump() {
            w.text.push(c);
            if c == '`' {
                break;
            }
        }
    }

    /// `(...)` after `$`, `<` or `>`: a command's output, kept as written.
    fn parenthesised(&mut self, w: &mut Word) {
        w.dynamic = true;
        let mut depth = 0usize;
        while let Some(c) = self.bump() {
            w.text.push(c);
            match c {
                '(' => depth += 1,
                ')' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        break;
                    }
                }
                _ => {}
            }
        }
    }

    /// `$NAME`, `${NAME}`, `${NAME:-default}`, `$(...)`.
    fn dollar(&mut self, state: &State<'_>, w: &mut Word) {
        self.bump();
        w.expanded = true;
        match self.peek() {
            Some('(') => {
                // Command or arithmetic substitution: kept as written.
                w.text.push('$');
                self.parenthesised(w);
            }
            Some('{') => {
                self.bump();
                let mut inner = String::new();
                let mut depth = 0usize;
                while let Some(c) = self.bump() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => break,
                        '}' => depth -= 1,
                        _ => {}
                    }
                    inner.push(c);
                }
                self.braced(state, w, &inner);
            }
            Some(c) if c == '_' || c.is_ascii_alphabetic() => {
                let mut name = String::new();
                while let Some(c) = self.peek() {
                    if c == '_' || c.is_ascii_alphanumeric() {
                        name.push(c);
                        self.bump();
                    } else {
                        break;
                    }
                }
                if state.shell_knows_only(&name) {
                    w.dynamic = true;
                    w.text.push('$');
                    w.text.push_str(&name);
                    return;
                }
                self.expand_into(w, &state.lookup(&name).unwrap_or_default());
            }
            Some(c) if c.is_ascii_digit() => {
                self.bump();
                self.expand_into(w, &state.lookup(&c.to_string()).unwrap_or_default());
            }
            Some('-') => {
                self.bump();
                w.text.push_str(&state.flags());
            }
            Some(c @ ('@' | '*')) => {
                self.bump();
                let _ = c;
                self.expand_into(w, &state.positional.join(" "));
            }
            Some('#') => {
                self.bump();
                w.text.push_str(&state.positional.len().to_string());
            }
            Some(c) if "?$!".contains(c) => {
                // Special parameters only a running shell knows.
                self.bump();
                w.dynamic = true;
            }
            _ => w.text.push('$'),
        }
    }

    /// `${NAME}`, `${NAME:-default}`, `${NAME-default}`, `${NAME:+alt}`,
    /// `${NAME+alt}`; any other form (`${#A}`, `${A%x}`, ...) is not
    /// evaluated: the word becomes dynamic.
    fn braced(&mut self, state: &State<'_>, w: &mut Word, inner: &str) {
        let end = inner.find(|c: char| !(c == '_' || c.is_ascii_alphanumeric())).unwrap_or(inner.len());
        let (name, rest) = inner.split_at(end);
        let known = (is_name(name) && !state.shell_knows_only(name))
            || (!name.is_empty() && name.chars().all(|c| c.is_ascii_digit()));
        let value = if known { state.lookup(name) } else { None };
        let (op, arg) = match rest {
            "" => ("", ""),
            r if r.starts_with(":-") || r.starts_with(":+") => (&r[..2], &r[2..]),
            r if r.starts_with('-') || r.starts_with('+') => (&r[..1], &r[1..]),
            _ => ("?", ""),
        };
        if !known || op == "?" {
            w.dynamic = true;
            w.text.push_str("${");
            w.text.push_str(inner);
            w.text.push('}');
            return;
        }
        let set = value.is_some();
        let non_empty = value.as_deref().is_some_and(|v| !v.is_empty());
        let use_arg = match op {
            ":-" => !non_empty,
            "-" => !set,
            ":+" => non_empty,
            "+" => set,
            _ => false,
        };
        if !use_arg {
            if !op.contains('+') {
                self.expand_into(w, &value.unwrap_or_default());
            }
            return;
        }
        match expand_simple(state, arg) {
            Some(v) => self.expand_into(w, &v),
            None => {
                w.dynamic = true;
                w.text.push_str(arg);
            }
        }
    }
}

/// `text` with `$NAME` and `${NAME}` expanded (the default of a `${A:-...}`,
/// quotes removed); `None` when it holds anything else to expand.
fn expand_simple(state: &State<'_>, text: &str) -> Option<String> {
    let text = text.replace(['"', '\''], "");
    if text.contains(['`', '(']) {
        return None;
    }
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        let braced = chars.peek() == Some(&'{');
        if braced {
            chars.next();
        }
        let mut name = String::new();
        while let Some(&n) = chars.peek() {
            if n == '_' || n.is_ascii_alphanumeric() {
                name.push(n);
                chars.next();
            } else {
                break;
            }
        }
        if braced && chars.next() != Some('}') {
            return None;
        }
        if !is_name(&name) {
            return None;
        }
        out.push_str(&state.lookup(&name).unwrap_or_default());
        if out.len() > MAX_VALUE_BYTES {
            return None;
        }
    }
    Some(out)
}
/// `[ -x FILE ]`: an execute bit; on Windows (Git Bash) any existing file.
fn is_executable(meta: &std::fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(text: &str) -> ShellFile {
        parse_str(text, "bashrc")
    }

    fn last<'a>(f: &'a ShellFile, name: &str) -> &'a Assignment {
        f.last(name).unwrap_or_else(|| panic!("{name} not assigned: {f:?}"))
    }

    #[test]
    fn export_forms() {
        let f =
            vars("export HTTP_PROXY=http://p:3128\nexport A=1 B='two words'\ndeclare -x C=\"c\"\nD=d; export D\nE=e\n");
        assert!(last(&f, "HTTP_PROXY").exported);
        assert_eq!(last(&f, "HTTP_PROXY").value, "http://p:3128");
        assert_eq!(last(&f, "B").value, "two words");
        assert!(last(&f, "B").exported);
        assert!(last(&f, "C").exported);
        assert!(last(&f, "D").exported);
        assert_eq!(last(&f, "D").line, 4);
        assert!(!last(&f, "E").exported);
    }

    #[test]
    fn quotes_escapes_and_references() {
        let f = vars(
            "P=proxy.corp\nPORT=3128\nexport https_proxy=\"http://$P:${PORT}\"\nexport X='$P literal'\nexport Y=a\\ b\nexport Z=\"q\\\"uote\"\nexport W=${UNSET:-fallback};\n",
        );
        assert_eq!(last(&f, "https_proxy").value, "http://proxy.corp:3128");
        assert_eq!(last(&f, "X").value, "$P literal");
        assert_eq!(last(&f, "Y").value, "a b");
        assert_eq!(last(&f, "Z").value, "q\"uote");
        assert_eq!(last(&f, "W").value, "fallback");
    }

    #[test]
    fn comments_and_conditionals() {
        let f = vars(
            "# export NOPE=1\nexport A=1 # trailing comment\nif [ \"$(id -u)\" = 0 ]; then\n  export B=2\nfi\ncase $HOSTNAME in\n  ci-*) export C=3 ;;\nesac\nexport D=4\nif [ -f /nonexistent/x ]; then export E=5; fi\n",
        );
        assert!(f.last("NOPE").is_none());
        assert!(!last(&f, "A").conditional);
        assert!(last(&f, "B").conditional);
        assert_eq!(last(&f, "B").line, 4);
        assert!(last(&f, "C").conditional);
        assert!(!last(&f, "D").conditional);
        assert!(f.last("E").is_none(), "a file test is decided");
    }

    #[test]
    fn interactive_guard_marks_what_follows() {
        let f = vars(
            "export EARLY=1\ncase $- in\n    *i*) ;;\n      *) return;;\nesac\nexport HTTPS_PROXY=http://p:8080\n",
        );
        assert_eq!(f.interactive_guard, Some(("bashrc".to_string(), 4)));
        assert!(!last(&f, "EARLY").interactive_only);
        assert!(last(&f, "HTTPS_PROXY").interactive_only);
        assert!(!last(&f, "HTTPS_PROXY").conditional);
    }

    #[test]
    fn functions_heredocs_and_substitutions() {
        let f = vars(
            "setp() {\n  export IN_FUNC=1\n}\ncat <<EOF\nexport IN_HEREDOC=1\nEOF\nexport AFTER=$(cat /etc/proxy)\nexport LAST=ok\n",
        );
        assert!(f.last("IN_FUNC").is_none(), "a function never called sets nothing");
        assert!(f.last("IN_HEREDOC").is_none(), "{f:?}");
        assert!(last(&f, "AFTER").dynamic);
        assert!(!last(&f, "LAST").conditional);
    }

    #[test]
    fn unset_and_unexport() {
        let f = vars("export A=1\nexport -n A\nB=2\nexport B\nunset B\n\"C\"=3\nD=\"4\"\n");
        assert!(!last(&f, "A").exported);
        assert!(f.last("B").is_none());
        assert!(f.last("C").is_none(), "a quoted name is a command, not an assignment");
        assert_eq!(last(&f, "D").value, "4");
    }

    #[test]
    fn hostile_input_does_not_panic() {
        for text in [
            "\"unterminated",
            "'",
            "${",
            "$(",
            "`",
            "export",
            "export =",
            "if\nif\nif",
            "esac\nfi\n}",
            "\\",
            "<<",
            "<<'",
            "case x in\n",
            "function",
            "f()",
            "for",
            "do",
            "done",
            "( )",
            "a() { a; }; a",
        ] {
            let _ = parse_str(text, "x");
        }
    }

    #[test]
    fn source_is_followed_and_loops_are_caught() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.sh");
        let b = dir.path().join("b.sh");
        std::fs::write(&a, "source b.sh\nexport FROM_A=1\n").unwrap();
        std::fs::write(&b, ". ./a.sh\nexport FROM_B=http://b\n").unwrap();
        let f = read(&a, &|_| None);
        assert_eq!(last(&f, "FROM_B").value, "http://b");
        assert!(last(&f, "FROM_B").file.ends_with("b.sh"));
        assert!(f.notes.iter().any(|n| n.message.contains("loop")), "{:?}", f.notes);
    }

    #[test]
    fn missing_binary_and_huge_files_are_notes() {
        let dir = tempfile::tempdir().unwrap();
        let f = read(&dir.path().join("nope"), &|_| None);
        assert!(f.notes[0].message.starts_with("not read"));
        let bin = dir.path().join("bin");
        std::fs::write(&bin, b"export A=1\0\0").unwrap();
        assert!(read(&bin, &|_| None).notes[0].message.contains("binary"));
        let huge = dir.path().join("huge");
        std::fs::write(&huge, vec![b'#'; (MAX_FILE_BYTES + 1) as usize]).unwrap();
        assert!(read(&huge, &|_| None).notes[0].message.contains("MiB"));
    }

    #[test]
    fn expansion_stops_growing_at_the_cap_with_a_note() {
        let mut text = format!("A={}\n", "a".repeat(100));
        text.push_str(&"A=$A$A$A$A\n".repeat(13));
        let f = vars(&text);
        assert!(last(&f, "A").value.len() <= MAX_VALUE_BYTES + 100);
        assert!(f.notes.iter().any(|n| n.message.contains("stops growing")), "{:?}", f.notes);
    }

    #[test]
    fn the_expansion_budget_is_shared_by_the_run() {
        let mut text = format!("A={}\n", "a".repeat(MAX_VALUE_BYTES));
        // 300 words of 64 KiB each: over the 16 MiB budget.
        text.push_str(&"B=$A\n".repeat(300));
        let f = vars(&text);
        assert!(f.notes.iter().any(|n| n.message.contains("expand to nothing")), "{:?}", f.notes);
        assert_eq!(last(&f, "B").value, "");
    }

    #[test]
    fn unset_drops_earlier_assignments_only() {
        let f = vars("export A=1\nunset A\nexport A=2\nB=1\nunset B\n");
        assert_eq!(last(&f, "A").value, "2");
        assert_eq!(f.assignments.iter().filter(|a| a.name == "A").count(), 1);
        assert!(f.last("B").is_none());
    }

    #[test]
    fn a_value_that_lost_its_lines_at_sign_is_cut() {
        let f = vars(
            "export P=http://u:pa;ss@proxy:1\nexport Q=http://u:pa ss@proxy:1\nexport R=http://u:p@proxy:1\nS=x # mail@corp\n",
        );
        assert!(last(&f, "P").cut);
        assert!(last(&f, "Q").cut);
        assert!(!last(&f, "R").cut);
        assert!(last(&f, "S").cut, "over-masking is the safe side");
    }

    #[test]
    fn each_file_is_read_once_and_lines_are_budgeted() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.sh");
        std::fs::write(&a, "export FROM_A=1\n").unwrap();
        let top = dir.path().join("top");
        std::fs::write(&top, "source a.sh\nsource a.sh\nexport TOP=1\n").unwrap();
        let f = read(&top, &|_| None);
        assert_eq!(f.assignments.iter().filter(|x| x.name == "FROM_A").count(), 1);
        assert!(f.notes.iter().any(|n| n.message.contains("not read twice")), "{:?}", f.notes);
        let long = dir.path().join("long");
        std::fs::write(&long, format!("{}export LATE=1\n", ":\n".repeat(MAX_SOURCE_LINES))).unwrap();
        let f = read(&long, &|_| None);
        assert!(f.last("LATE").is_none());
        assert!(f.notes.iter().any(|n| n.message.contains("lines read across sourced files")), "{:?}", f.notes);
    }

    fn for_shell(text: &str, interactive: bool) -> ShellFile {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rc");
        std::fs::write(&path, text).unwrap();
        let env = |_: &str| None;
        let mut shell = Shell::new(&env, Some(Context { interactive, login: false }), Vec::new());
        shell.run_file(&path);
        shell.finish()
    }

    fn end<'a>(f: &'a ShellFile, name: &str) -> &'a VarEnd {
        f.proxy_end.iter().find(|v| v.name == name).expect("a proxy variable")
    }

    #[test]
    fn a_function_runs_where_it_is_called_not_where_it_is_defined() {
        let text = "proxy_on() {\n  export https_proxy=$1\n  export no_proxy=.corp\n}\nproxy_off() { unset https_proxy no_proxy; }\n";
        let f = vars(text);
        assert!(f.last("https_proxy").is_none(), "never called: {f:?}");
        let f = vars(&format!("{text}proxy_on http://p:3128\n"));
        let a = last(&f, "https_proxy");
        assert_eq!((a.value.as_str(), a.line, a.conditional), ("http://p:3128", 2, false));
        let f = vars(&format!("{text}proxy_on http://p:3128\nproxy_off\n"));
        assert!(f.last("https_proxy").is_none(), "{f:?}");
        let f = vars("function setp {\n  local p=http://q:1\n  export HTTPS_PROXY=$p\n}\nsetp\nexport X=$p\n");
        assert_eq!(last(&f, "HTTPS_PROXY").value, "http://q:1");
        assert_eq!(last(&f, "X").value, "", "a local ends with the call");
    }

    #[test]
    fn every_interactive_guard_is_recognised() {
        for guard in [
            "case $- in\n  *i*) ;;\n  *) return;;\nesac\n",
            "[[ $- != *i* ]] && return\n",
            "[ -z \"$PS1\" ] && return\n",
            "[[ $- == *i* ]] || return\n",
            "[ -z \"$PS1\" ] && return 0\n",
        ] {
            let f = vars(&format!("export EARLY=1\n{guard}export HTTPS_PROXY=http://p:8080\n"));
            assert!(f.interactive_guard.is_some(), "{guard}");
            assert!(!last(&f, "EARLY").interactive_only, "{guard}");
            let a = last(&f, "HTTPS_PROXY");
            assert!(a.interactive_only && !a.conditional, "{guard}: {a:?}");
            let script = for_shell(&format!("{guard}export HTTPS_PROXY=http://p:8080\n"), false);
            assert_eq!(end(&script, "HTTPS_PROXY").value, None, "{guard}");
            let term = for_shell(&format!("{guard}export HTTPS_PROXY=http://p:8080\n"), true);
            assert_eq!(end(&term, "HTTPS_PROXY").value.as_deref(), Some("http://p:8080"), "{guard}");
        }
        let f = vars("if [ -n \"$PS1\" ]; then\n  export HTTPS_PROXY=http://p:1\nfi\n");
        let a = last(&f, "HTTPS_PROXY");
        assert!(a.interactive_only && !a.conditional, "{a:?}");
    }

    #[test]
    fn append_allexport_alias_and_eval() {
        let f = vars("export no_proxy=localhost\nno_proxy+=\",.corp\"\n");
        assert_eq!(last(&f, "no_proxy").value, "localhost,.corp");
        assert!(last(&f, "no_proxy").exported);
        let f = vars("set -a\nhttps_proxy=http://p:1\nset +a\nhttp_proxy=http://p:2\nset -o allexport\nNO_PROXY=.x\n");
        assert!(last(&f, "https_proxy").exported);
        assert!(!last(&f, "http_proxy").exported);
        assert!(last(&f, "NO_PROXY").exported);
        let f = vars("alias pon='export https_proxy=http://p:1'\n");
        assert!(f.last("https_proxy").is_none());
        assert!(f.notes.iter().any(|n| n.message.contains("not evaluated")), "{:?}", f.notes);
        let f = vars("eval \"export HTTPS_PROXY=http://p:1\"\neval \"$(dircolors -b)\"\n");
        assert!(last(&f, "HTTPS_PROXY").dynamic);
        assert_eq!(f.assignments.len(), 1, "an eval naming no proxy sets none: {f:?}");
        let f = for_shell("export https_proxy=$(cat /etc/proxy)\n", true);
        assert!(end(&f, "https_proxy").uncertain);
    }

    #[test]
    fn and_or_lists_subshells_and_loops() {
        let f =
            vars("true && export A=1\nfalse && export B=1\nfalse || export C=1\n( export D=1 )\nexport E=1 | cat\n");
        assert!(!last(&f, "A").conditional);
        assert!(f.last("B").is_none());
        assert!(!last(&f, "C").conditional);
        assert!(f.last("D").is_none() && f.last("E").is_none(), "{f:?}");
        let f = vars("for v in a b; do\n  export LAST_$v=$v\ndone\nwhile read x; do export W=1; done\n");
        assert_eq!(last(&f, "LAST_b").value, "b");
        assert!(last(&f, "W").conditional);
    }

    #[test]
    fn glob_matching() {
        for (p, t, m) in [
            ("*i*", "himBHs", true),
            ("*i*", "hBc", false),
            ("*.sh", "proxy.sh", true),
            ("*.sh", "proxy.csh", false),
            ("[a-c]?", "bz", true),
            ("[!a-c]*", "bz", false),
            ("xterm-color", "xterm-color", true),
            ("*", "", true),
        ] {
            assert_eq!(glob_match(p, t), m, "{p} {t}");
        }
    }
}
