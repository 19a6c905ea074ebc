//! The shell startup-file readers must never panic or hang on any input:
//! the shell reader for any shell and for each kind of shell, and the
//! `/etc/environment` reader.
#![no_main]

use amlnet::local::bashrc::{Context, parse_str, parse_str_for};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lines = text.lines().count().max(1);
    let mut runs = vec![parse_str(&text, "fuzz")];
    for (interactive, login) in [(true, true), (false, false)] {
        runs.push(parse_str_for(&text, "fuzz", Some(Context { interactive, login })));
    }
    for parsed in &runs {
        // Every assignment points at a line that exists.
        for a in &parsed.assignments {
            assert!(a.line >= 1 && a.line <= lines + 1, "line {} of {}", a.line, lines);
        }
    }
    for e in amlnet::local::startup::read_pam_environment(&text) {
        assert!(e.line >= 1 && e.line <= lines + 1, "line {} of {}", e.line, lines);
    }
});
