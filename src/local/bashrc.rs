//! Reads proxy settings out of `~/.bashrc` without running it.
//!
//! This is a small shell lexer written for the job: no crate parses bash
//! assignments with their `export` state, line numbers and conditional
//! context, and executing the file is out of the question (it may do
//! anything, and amlnet must never run user code). It understands what
//! people put in a bashrc to set a proxy: `export A=1`, `A=1` then `export A`,
//! `export A=1 B=2`, `declare -x`, quotes, escapes, `$OTHER` and `${OTHER}`
//! references, comments, `;`, `if`/`case`/loops/functions (assignments there
//! are conditional), `source`/`.` (followed a few levels, loops detected),
//! heredocs, and the "not interactive: return" guard of Ubuntu's default
//! bashrc, after which nothing applies to a setup script's shell.

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
    /// Inside `if`, `case`, a loop or a function: may not run.
    pub conditional: bool,
    /// After a "return unless interactive" guard: a non-interactive shell never gets here.
    pub interactive_only: bool,
    /// The value holds a command substitution amlnet cannot evaluate.
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

/// Everything read from a bashrc and the files it sources.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShellFile {
    /// Every assignment, in execution order.
    pub assignments: Vec<Assignment>,
    /// Remarks (unreadable, binary, huge, loops, guard).
    pub notes: Vec<Note>,
    /// Where the non-interactive guard is, if there is one.
    pub interactive_guard: Option<(String, usize)>,
}

impl ShellFile {
    /// The last assignment of `name` (what a shell would end with).
    pub fn last(&self, name: &str) -> Option<&Assignment> {
        self.assignments.iter().rev().find(|a| a.name == name)
    }
}

/// Reads `path` and what it sources. `env` supplies variables the file
/// does not set itself (`HOME`, ...). Never panics; problems become notes.
pub fn read(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> ShellFile {
    let mut state = State::new(env);
    state.read_file(path, 0);
    state.finish()
}

/// Parses `text` as if it were the file `name`; `source` lines are noted,
/// not followed. The entry point of the fuzz target.
pub fn parse_str(text: &str, name: &str) -> ShellFile {
    let env = |_: &str| None;
    let mut state = State::new(&env);
    state.follow_sources = false;
    state.parse(text, name, 0);
    state.finish()
}

struct State<'a> {
    env: &'a dyn Fn(&str) -> Option<String>,
    vars: BTreeMap<String, String>,
    exported: BTreeSet<String>,
    out: ShellFile,
    visiting: Vec<PathBuf>,
    follow_sources: bool,
    guard_seen: bool,
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
}

impl<'a> State<'a> {
    fn new(env: &'a dyn Fn(&str) -> Option<String>) -> Self {
        State {
            env,
            vars: BTreeMap::new(),
            exported: BTreeSet::new(),
            out: ShellFile::default(),
            visiting: Vec::new(),
            follow_sources: true,
            guard_seen: false,
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

    fn read_file(&mut self, path: &Path, depth: usize) {
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
        self.parse(&text, &name, depth);
        self.visiting.pop();
    }

    fn lookup(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned().or_else(|| (self.env)(name))
    }

    fn parse(&mut self, text: &str, file: &str, depth: usize) {
        // The line budget is shared by every file of the run.
        let room = MAX_SOURCE_LINES.saturating_sub(self.lines_read);
        let text = match text.match_indices('\n').nth(room.saturating_sub(1)) {
            Some((i, _)) if room > 0 && i + 1 < text.len() => {
                self.note(
                    file,
                    Some(room),
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
        self.lines_read += text.lines().count();
        let mut lexer = Lexer::new(text, self.expansion_left);
        let mut nesting: Vec<&'static str> = Vec::new();
        while let Some((line, words)) = lexer.next_command(self) {
            self.expansion_left = lexer.expansion_left;
            self.command(file, line, words, &mut nesting, depth);
            lexer.expansion_left = self.expansion_left;
            if self.out.assignments.len() >= MAX_ASSIGNMENTS {
                if !self.stopped {
                    self.stopped = true;
                    self.note(
                        file,
                        Some(line),
                        format!("stopped reading here: {MAX_ASSIGNMENTS} assignments, the limit"),
                    );
                }
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
        if let Some(open) = nesting.last() {
            self.note(file, None, format!("unterminated '{open}' block at the end of the file"));
        }
    }

    fn command(
        &mut self,
        file: &str,
        line: usize,
        mut words: Vec<Word>,
        nesting: &mut Vec<&'static str>,
        depth: usize,
    ) {
        if !strip_structure(&mut words, nesting) {
            return;
        }
        let conditional = !nesting.is_empty();
        let Some(first) = words.first() else { return };
        let cmd = first.text.clone();
        let args = &words[1..];
        match cmd.as_str() {
            "export" => self.export(file, line, args, conditional),
            "declare" | "typeset" | "readonly" => self.declare(file, line, args, conditional),
            "local" => {}
            "unset" => self.unset(args),
            "source" | "." => {
                if let Some(target) = args.first() {
                    self.source(file, line, &target.text, conditional, depth);
                }
            }
            "return" | "exit" if conditional && depth == 0 && !self.guard_seen => {
                // Ubuntu's `case $- in *i*) ;; *) return;; esac`: a
                // non-interactive shell (a setup script) stops here.
                self.guard_seen = true;
                self.out.interactive_guard = Some((file.to_string(), line));
            }
            _ => {
                // Leading `NAME=value` words: plain assignments when no command
                // follows; otherwise only that command's environment.
                let assignments: Vec<&Word> =
                    words.iter().take_while(|w| split_assignment(&w.text).is_some() && !w.quoted_name()).collect();
                if assignments.len() == words.len() {
                    for w in assignments {
                        let keep_export = split_assignment(&w.text).is_some_and(|(n, _)| self.exported.contains(n));
                        self.assign_or_mark(file, line, w, keep_export, false, conditional);
                    }
                }
            }
        }
    }

    /// `export [-n] NAME[=value]...`
    fn export(&mut self, file: &str, line: usize, args: &[Word], conditional: bool) {
        let mut unexport = false;
        for w in args {
            if w.text.starts_with('-') && !w.quoted {
                unexport |= w.text.contains('n');
                continue;
            }
            self.assign_or_mark(file, line, w, !unexport, true, conditional);
        }
    }

    /// `declare`/`typeset`/`readonly` with `-x` (export) or `+x` (unexport).
    fn declare(&mut self, file: &str, line: usize, args: &[Word], conditional: bool) {
        let (mut export, mut unexport) = (false, false);
        for w in args {
            if (w.text.starts_with('-') || w.text.starts_with('+')) && !w.quoted && !w.text.contains('=') {
                export |= w.text.starts_with('-') && w.text.contains('x');
                unexport |= w.text.starts_with('+') && w.text.contains('x');
                continue;
            }
            self.assign_or_mark(file, line, w, export && !unexport, export || unexport, conditional);
        }
    }

    /// `unset NAME...`: the shell ends without it.
    fn unset(&mut self, args: &[Word]) {
        for w in args.iter().filter(|w| !w.text.starts_with('-')) {
            self.vars.remove(&w.text);
            self.exported.remove(&w.text);
            // Earlier assignments no longer count (dropped once, at the end,
            // so many unsets stay cheap).
            self.unset_at.insert(w.text.clone(), self.out.assignments.len());
        }
    }

    /// `NAME=value` assigns (exporting it when `export` says so); a bare
    /// `NAME` with `touch_export` changes only its export flag.
    fn assign_or_mark(
        &mut self,
        file: &str,
        line: usize,
        w: &Word,
        export: bool,
        touch_export: bool,
        conditional: bool,
    ) {
        match split_assignment(&w.text) {
            Some((name, value)) => {
                let name = name.to_string();
                let value = value.to_string();
                if touch_export {
                    if export {
                        self.exported.insert(name.clone());
                    } else {
                        self.exported.remove(&name);
                    }
                }
                let exported = self.exported.contains(&name);
                self.vars.insert(name.clone(), value.clone());
                self.out.assignments.push(Assignment {
                    name,
                    value,
                    file: file.to_string(),
                    line,
                    exported,
                    conditional,
                    interactive_only: self.guard_seen,
                    dynamic: w.dynamic,
                    cut: w.cut,
                });
            }
            None if touch_export && is_name(&w.text) => {
                if export {
                    self.exported.insert(w.text.clone());
                } else {
                    self.exported.remove(&w.text);
                }
                // `export NAME` after `NAME=value`: the variable is now exported.
                if let Some(value) = self.vars.get(&w.text).cloned() {
                    self.out.assignments.push(Assignment {
                        name: w.text.clone(),
                        value,
                        file: file.to_string(),
                        line,
                        exported: export,
                        conditional,
                        interactive_only: self.guard_seen,
                        dynamic: false,
                        cut: false,
                    });
                }
            }
            None => {}
        }
    }

    fn source(&mut self, file: &str, line: usize, target: &str, conditional: bool, depth: usize) {
        if !self.follow_sources {
            return self.note(file, Some(line), format!("sources {target} (not followed here)"));
        }
        if depth + 1 > MAX_SOURCE_DEPTH {
            return self.note(
                file,
                Some(line),
                format!("sources {target}: deeper than {MAX_SOURCE_DEPTH} levels, not followed"),
            );
        }
        let expanded = if let Some(rest) = target.strip_prefix("~/") {
            match self.lookup("HOME") {
                Some(home) => format!("{home}/{rest}"),
                None => target.to_string(),
            }
        } else {
            target.to_string()
        };
        let mut path = PathBuf::from(&expanded);
        if path.is_relative() {
            // bash looks a relative name up in PATH, then the working
            // directory; for a bashrc the file's own folder is the useful guess.
            if let Some(dir) = Path::new(file).parent() {
                path = dir.join(path);
            }
        }
        let canonical = path.canonicalize().unwrap_or_else(|_| path.clone());
        if self.visiting.contains(&canonical) {
            return self.note(
                file,
                Some(line),
                format!("sources {target}, which is already being read: loop not followed"),
            );
        }
        if !path.exists() {
            return self.note(file, Some(line), format!("sources {target}, which does not exist"));
        }
        if self.stopped {
            return;
        }
        if self.read_once.contains(&canonical) {
            // Read once per run: a fan-out of sources stays cheap.
            return self.note(file, Some(line), format!("sources {target} again: already read, not read twice"));
        }
        if conditional {
            self.note(file, Some(line), format!("sources {target} conditionally"));
        }
        self.read_file(&path, depth + 1);
    }
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

/// Takes the keywords and block structure off the front of a command
/// (`if`, `then`, `fi`, `{`, a case pattern, ...), keeping `nesting` up to
/// date; what follows them on the same line is an ordinary command. False
/// when nothing that could run is left (a function header, `for x in ...`).
fn strip_structure(words: &mut Vec<Word>, nesting: &mut Vec<&'static str>) -> bool {
    loop {
        let Some(first) = words.first() else { return false };
        if first.quoted {
            return true;
        }
        let w = first.text.as_str();
        let opens = match w {
            "if" => Some("if"),
            "case" => Some("case"),
            "for" | "while" | "until" | "select" => Some("loop"),
            "{" => Some("{"),
            "function" => Some("function"),
            _ => None,
        };
        if let Some(block) = opens {
            nesting.push(block);
            if matches!(block, "case" | "loop" | "function") {
                // The rest (`x in`, `i in 1 2; do`) is not a command.
                return false;
            }
            words.remove(0);
            continue;
        }
        match w {
            "fi" | "esac" | "done" | "}" => {
                nesting.pop();
                words.remove(0);
                continue;
            }
            "then" | "else" | "elif" | "do" | "!" => {
                words.remove(0);
                continue;
            }
            _ => {}
        }
        // `name() {` or `name () {`: a function body follows.
        if w.ends_with("()") || words.get(1).is_some_and(|n| n.text == "()") {
            if words.iter().any(|x| x.text == "{") {
                nesting.push("function");
            }
            return false;
        }
        // A case pattern: `*)` or `proxy|PROXY)`.
        if nesting.last() == Some(&"case") && w.ends_with(')') && !w.contains('=') {
            words.remove(0);
            continue;
        }
        return true;
    }
}

/// `NAME=value` -> (NAME, value); `NAME+=value` is treated as `=`.
fn split_assignment(s: &str) -> Option<(&str, &str)> {
    let eq = s.find('=')?;
    let name = s[..eq].trim_end_matches('+');
    is_name(name).then(|| (name, &s[eq + 1..]))
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
    fn new(text: &'t str, expansion_left: usize) -> Self {
        let chars: Vec<char> = text.chars().collect();
        let mut at_later = vec![false; chars.len() + 1];
        for i in (0..chars.len()).rev() {
            at_later[i] = chars[i] == '@' || (chars[i] != '\n' && at_later[i + 1]);
        }
        Lexer {
            chars,
            at_later,
            pos: 0,
            line: 1,
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

    /// The next command and the line it starts on; `None` at the end.
    fn next_command(&mut self, state: &State<'_>) -> Option<(usize, Vec<Word>)> {
        loop {
            let mut words = Vec::new();
            let mut start_line = None;
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
                    Some(';' | '&' | '|') => {
                        while matches!(self.peek(), Some(';' | '&' | '|')) {
                            self.bump();
                        }
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
                        let word = self.word(state);
                        if let Some(delim) = word.text.strip_prefix("<<") {
                            self.queue_heredoc(delim);
                        }
                        words.push(word);
                    }
                }
            }
            if !words.is_empty() {
                return Some((start_line.unwrap_or(self.line), words));
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
        let mut w =
            Word { text: String::new(), dynamic: false, quoted: false, unquoted_prefix: usize::MAX, cut: false };
        // `<<EOF` and `<<'EOF'` stay literal so the heredoc is recognised.
        while let Some(c) = self.peek() {
            match c {
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

    /// `$NAME`, `${NAME}`, `${NAME:-default}`, `$(...)`.
    fn dollar(&mut self, state: &State<'_>, w: &mut Word) {
        self.bump();
        match self.peek() {
            Some('(') => {
                // Command or arithmetic substitution: kept as written.
                w.dynamic = true;
                w.text.push('$');
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
            Some('{') => {
                self.bump();
                let mut inner = String::new();
                while let Some(c) = self.bump() {
                    if c == '}' {
                        break;
                    }
                    inner.push(c);
                }
                let (name, default) = match inner.find(":-").or_else(|| inner.find('-')) {
                    Some(i) => {
                        let skip = if inner[i..].starts_with(":-") { 2 } else { 1 };
                        (&inner[..i], Some(&inner[i + skip..]))
                    }
                    None => (inner.as_str(), None),
                };
                match (state.lookup(name), default) {
                    (Some(v), _) if !v.is_empty() => self.expand_into(w, &v),
                    (_, Some(d)) => w.text.push_str(d),
                    (v, None) => self.expand_into(w, &v.unwrap_or_default()),
                }
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
                self.expand_into(w, &state.lookup(&name).unwrap_or_default());
            }
            Some(c) if c.is_ascii_digit() || "@*#?-$!".contains(c) => {
                // Positional and special parameters: unknown here.
                self.bump();
                if c == '-' {
                    w.text.push_str("$-");
                }
            }
            _ => w.text.push('$'),
        }
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
            "# export NOPE=1\nexport A=1 # trailing comment\nif [ -f /x ]; then\n  export B=2\nfi\ncase $HOSTNAME in\n  ci-*) export C=3 ;;\nesac\nexport D=4\n",
        );
        assert!(f.last("NOPE").is_none());
        assert!(!last(&f, "A").conditional);
        assert!(last(&f, "B").conditional);
        assert_eq!(last(&f, "B").line, 4);
        assert!(last(&f, "C").conditional);
        assert!(!last(&f, "D").conditional);
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
        assert!(last(&f, "IN_FUNC").conditional);
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
}
