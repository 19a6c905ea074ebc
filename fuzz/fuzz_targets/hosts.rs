//! /etc/hosts: never panics; every entry points at a line that exists.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lines = text.lines().count();
    for e in amlnet::local::hosts::parse("fuzz", &text) {
        assert!(e.line >= 1 && e.line <= lines, "line {} of {}", e.line, lines);
        assert_eq!(e.name, e.name.to_ascii_lowercase());
    }
});
