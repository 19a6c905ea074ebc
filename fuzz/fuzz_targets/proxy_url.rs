//! Proxy URLs: parsing never panics, and the redaction invariant holds for
//! every input: nothing before the last '@' after `scheme://` survives
//! masking, and a proxy value that does not parse is masked whole.
#![no_main]

use amlnet::local::proxy::{Client, ProxyReading, parse_proxy_url, read_proxy_value};
use amlnet::redact::{MASK, mask_proxy_value, mask_url};
use libfuzzer_sys::fuzz_target;

/// Where a URL's scheme ends, by RFC 3986's rule for a scheme (a letter,
/// then letters, digits, '+', '-', '.') just before the first "://", not
/// inside user-info (after ':', '@' or '/'): written here again, apart from
/// `mask_url`, so that the two can disagree.
fn scheme_end(value: &str) -> Option<usize> {
    let i = value.find("://")?;
    let run: String =
        value[..i].chars().rev().take_while(|c| c.is_ascii_alphanumeric() || "+-.".contains(*c)).collect();
    let start = i - run.len();
    let first_is_letter = value[start..i].starts_with(|c: char| c.is_ascii_alphabetic());
    let inside_userinfo = value[..start].ends_with([':', '@', '/']);
    (first_is_letter && !inside_userinfo).then_some(i + 3)
}

/// `out` keeps nothing of `value` before its last '@' (after the scheme).
fn check_userinfo_gone(value: &str, out: &str) {
    let (scheme, rest) = match scheme_end(value) {
        Some(end) => (&value[..end], &value[end..]),
        None => ("", value),
    };
    assert!(out.starts_with(scheme), "{value:?} -> {out:?}");
    let out_rest = &out[scheme.len()..];
    if let Some(at) = rest.rfind('@') {
        let after = out_rest.strip_prefix(MASK).unwrap_or_else(|| panic!("{value:?} -> {out:?}"));
        assert!(after.starts_with('@'), "{value:?} -> {out:?}");
        // What follows the mask is the value's own tail from the last '@' (query masked).
        let kept = after.split("?***").next().unwrap_or(after);
        assert!(rest[at..].starts_with(kept), "{value:?} -> {out:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let value = String::from_utf8_lossy(data);
    let parsed = parse_proxy_url(&value);
    for client in Client::ALL {
        // Each client's reading never panics, and a port it dials is never 0.
        if let ProxyReading::Uses { port, .. } = read_proxy_value(client, &value) {
            assert_ne!(port, 0, "{client:?} {value:?}");
        }
    }
    check_userinfo_gone(&value, &mask_url(&value));
    let out = mask_proxy_value("https_proxy", &value);
    match &parsed {
        Err(_) if !value.trim().is_empty() => assert_eq!(out, MASK, "{value:?}"),
        Err(_) => {}
        Ok(url) => {
            check_userinfo_gone(value.trim(), &out);
            let masked = url.masked();
            if let Some(pw) = &url.password {
                assert!(masked.starts_with(&format!("{}://***@", url.scheme)), "{masked}");
                let _ = pw;
            }
            assert!(!masked.contains(':') || masked.matches('@').count() <= 1);
        }
    }
});
