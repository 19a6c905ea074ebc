//! Masks secrets before anything is printed: the user-info of a URL and
//! every query string (SAS tokens live there). Applied to every value that
//! comes from the user's environment or files.
//!
//! The user-info is everything between `scheme://` and the **last** `@`,
//! whatever it holds: a password may contain `#`, `?`, `/`, `;` or spaces,
//! which a URL parser would take as the end of the authority. A proxy value
//! that does not parse as a proxy URL is masked whole
//! ([`mask_proxy_value`]): a value cut short (a `~/.bashrc` line cut at `;`
//! or a space) may hold the first half of a password with no `@` after it.

/// What a secret is replaced with.
pub const MASK: &str = "***";

/// Replaces the user-info and the query of a URL-like string with `***`.
/// Strings with neither pass through unchanged.
pub fn mask_url(value: &str) -> String {
    // The scheme is the run of scheme characters (RFC 3986: a letter, then
    // letters, digits, '+', '-', '.') just before "://"; text before it (a
    // line naming the variable) is kept. A run that follows ':', '@' or '/'
    // is inside user-info (a password may hold "://"), so there is no scheme.
    let (scheme, rest) = match value.find("://") {
        Some(i) => {
            let start = value[..i]
                .char_indices()
                .rev()
                .take_while(|(_, c)| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
                .last()
                .map_or(i, |(j, _)| j);
            let before = value[..start].chars().next_back();
            let named = start < i && value[start..].starts_with(|c: char| c.is_ascii_alphabetic());
            if named && !matches!(before, Some(':' | '@' | '/')) {
                (&value[..i + 3], &value[i + 3..])
            } else {
                ("", value)
            }
        }
        None => ("", value),
    };
    // Everything up to the last '@' is user-info, even across '/', '?' or '#'.
    let (userinfo, rest) = match rest.rfind('@') {
        Some(at) => (true, &rest[at..]),
        None => (false, rest),
    };
    let mut out = String::with_capacity(value.len());
    out.push_str(scheme);
    if userinfo {
        out.push_str(MASK);
    }
    match rest.find('?') {
        Some(q) => {
            out.push_str(&rest[..q]);
            out.push('?');
            out.push_str(MASK);
            if let Some(f) = rest[q..].find('#') {
                // A fragment after a query is never sent, but may still hold
                // a token: only keep it when it is short and plain.
                let frag = &rest[q + f..];
                if frag.len() <= 32 && frag[1..].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
                    out.push_str(frag);
                }
            }
        }
        None => out.push_str(rest),
    }
    out
}

/// Masks a proxy variable's value (`HTTP_PROXY`, `https_proxy`, ...): the
/// user-info and query as [`mask_url`] does when it is a usable proxy URL,
/// and the whole value otherwise. `NO_PROXY` values go through [`mask_url`].
pub fn mask_proxy_value(name: &str, value: &str) -> String {
    if !crate::local::proxy::is_proxy_url_variable(name) {
        return mask_url(value);
    }
    if value.trim().is_empty() {
        return value.to_string();
    }
    match crate::local::proxy::parse_proxy_url(value) {
        Ok(_) => mask_url(value.trim()),
        Err(_) => MASK.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_holding_a_scheme_separator_is_masked() {
        assert_eq!(mask_url(":ZZ://@a:1"), "***@a:1");
        assert_eq!(mask_url("http://u:p://x@h:1"), "http://***@h:1");
        assert_eq!(mask_url("HTTPS_PROXY=http://u:p@h:1"), "HTTPS_PROXY=http://***@h:1");
    }

    #[test]
    fn masks_userinfo_and_query() {
        assert_eq!(mask_url("http://bob:s3cr%40t@proxy:3128"), "http://***@proxy:3128");
        assert_eq!(
            mask_url("https://st.blob.core.windows.net/c/b?sv=2024&sig=abc"),
            "https://st.blob.core.windows.net/c/b?***"
        );
        assert_eq!(mask_url("bob:pw@proxy:8080"), "***@proxy:8080");
        assert_eq!(mask_url("http://proxy:3128"), "http://proxy:3128");
        assert_eq!(mask_url("http://a:b@c@proxy/"), "http://***@proxy/");
    }

    #[test]
    fn userinfo_ends_at_the_last_at_sign() {
        for v in [
            "http://user:S3cretPa55#1@proxy:3128",
            "http://user:S3cret?Pa55@proxy:3128",
            "http://user:S3cret/Pa55@proxy:3128",
            "http://user:S3cret;Pa55@proxy:3128",
            "http://user:S3cret Pa55@proxy:3128",
            "http://user:S3cret@Pa55@proxy:3128",
        ] {
            let m = mask_url(v);
            assert_eq!(m, "http://***@proxy:3128", "{v}");
        }
    }

    #[test]
    fn a_proxy_value_that_does_not_parse_is_masked_whole() {
        // `export https_proxy=http://user:Pa55;word@proxy` leaves `http://user:Pa55`.
        assert_eq!(mask_proxy_value("https_proxy", "http://user:Pa55"), "***");
        assert_eq!(mask_proxy_value("HTTPS_PROXY", "http://user:pa ss@proxy:3128"), "***");
        assert_eq!(mask_proxy_value("HTTPS_PROXY", "http://u:p@proxy:3128"), "http://***@proxy:3128");
        assert_eq!(mask_proxy_value("NO_PROXY", "localhost,.azureml.ms"), "localhost,.azureml.ms");
        assert_eq!(mask_proxy_value("http_proxy", "http://proxy:3128"), "http://proxy:3128");
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::{mask_proxy_value, mask_url};
        use crate::local::proxy::PROXY_VARIABLES;
        use crate::local::{Machine, Secret, bashrc};

        fn scheme() -> impl Strategy<Value = String> {
            prop::sample::select(vec!["http://", "https://", "socks5://", "HTTP://", ""]).prop_map(str::to_string)
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

            /// Any password (any character at all, '@' included) between
            /// `scheme://user:` and the host's '@' is gone after masking.
            #[test]
            fn no_password_survives_mask_url(
                scheme in scheme(),
                user in "[a-z0-9._%-]{0,8}",
                pw in "ZZ\\PC{0,24}",
                host in "[a-z][a-z.-]{0,20}",
                port in 1u16..=65535,
                tail in "(/[a-z/]{0,8})?(\\?[a-z=&]{0,8})?",
            ) {
                let value = format!("{scheme}{user}:{pw}@{host}:{port}{tail}");
                let out = mask_url(&value);
                prop_assert!(!out.contains("ZZ"), "{:?} -> {:?}", value, out);
                for name in PROXY_VARIABLES {
                    let out = mask_proxy_value(name, &value);
                    prop_assert!(!out.contains("ZZ"), "{} {:?} -> {:?}", name, value, out);
                }
            }

            /// A ~/.bashrc line with a password holding any printable
            /// character (`;`, blanks, `#`, `$`, quotes, ...) never shows it,
            /// in the file's value or in an environment value equal to it.
            #[test]
            fn no_password_survives_a_bashrc_line(
                var in prop::sample::select(PROXY_VARIABLES.to_vec()),
                export in any::<bool>(),
                prefix in prop::sample::select(vec!["ZZ", "9753"]),
                pw in "[ -~]{0,20}",
                host in "[a-z][a-z.]{0,12}",
                port in 1u16..=999,
            ) {
                let marker = prefix;
                let line = format!(
                    "{}{var}=http://user:{marker}{pw}@{host}:{port}\n",
                    if export { "export " } else { "" }
                );
                let parsed = bashrc::parse_str(&line, "bashrc");
                let values: Vec<(String, String)> =
                    parsed.assignments.iter().map(|a| (a.name.clone(), a.value.clone())).collect();
                let mut machine = Machine { bashrc: Some(parsed), ..Machine::default() };
                for (name, value) in &values {
                    let out = machine.mask(name, value);
                    prop_assert!(!out.contains(marker), "{:?}: {}={:?} -> {:?}", line, name, value, out);
                    machine.env_proxy.push((name.clone(), Secret(value.clone())));
                }
                for v in machine.proxy_report() {
                    prop_assert!(!v.value.contains(marker), "{:?}: {:?}", line, v);
                }
            }
        }
    }
}
