//! A proxy's answer to CONNECT: never panics, and nothing the peer sent
//! reaches the report with a control character in it.
#![no_main]

use amlnet::probe::proxy::parse_connect_head;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let head = parse_connect_head(data);
    let clean = |s: &str| !s.chars().any(char::is_control);
    assert!(clean(&head.status_line), "{:?}", head.status_line);
    assert!(head.server.as_deref().is_none_or(clean));
    assert!(head.authenticate.as_deref().is_none_or(clean));
    if let Some(s) = head.status {
        assert!((100..=999).contains(&s));
    }
});
