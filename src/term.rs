//! Text that reaches a terminal or a log: what came from the network is
//! escaped before it is stored (so every format is covered), and writes to
//! standard error never panic (a full disk or a closed pipe on stderr must
//! not turn into exit status 101).

use std::io::Write;

/// Escapes control characters (C0, DEL, C1), line and paragraph
/// separators and bidirectional overrides as `\xNN` / `\u{NNNN}`, so a
/// status line, a `Server` header, a certificate name or a DNS name from a
/// hostile peer cannot move the cursor, rewrite a line or inject a header.
/// Text without such characters is returned unchanged.
pub fn escape_for_terminal(s: &str) -> String {
    if !s.chars().any(needs_escape) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if needs_escape(c) {
            let n = c as u32;
            if n < 0x100 {
                out.push_str(&format!("\\x{n:02x}"));
            } else {
                out.push_str(&format!("\\u{{{n:04x}}}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// [`escape_for_terminal`] for an optional value.
pub fn escape_opt(s: Option<String>) -> Option<String> {
    s.map(|s| escape_for_terminal(&s))
}

/// Writes one line to standard error; errors (stderr full or closed) are ignored.
pub fn eprint_line(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(line.as_bytes());
    let _ = err.write_all(b"\n");
    let _ = err.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape_for_terminal("HTTP/1.1 403 Forbidden"), "HTTP/1.1 403 Forbidden");
        assert_eq!(escape_for_terminal("a\u{1b}[2Jb"), "a\\x1b[2Jb");
        assert_eq!(escape_for_terminal("x\r\nInjected: 1"), "x\\x0d\\x0aInjected: 1");
        assert_eq!(escape_for_terminal("\u{9b}31m"), "\\x9b31m");
        assert_eq!(escape_for_terminal("evil\u{202e}txt"), "evil\\u{202e}txt");
        assert_eq!(escape_for_terminal("tab\there"), "tab\\x09here");
        assert_eq!(escape_for_terminal("Zürich CA"), "Zürich CA");
    }
}
