//! The ~/.bashrc reader must never panic or hang on any input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let parsed = amlnet::local::bashrc::parse_str(&text, "fuzz");
    // Every assignment points at a line that exists.
    let lines = text.lines().count().max(1);
    for a in &parsed.assignments {
        assert!(a.line >= 1 && a.line <= lines + 1, "line {} of {}", a.line, lines);
    }
});
