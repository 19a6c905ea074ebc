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
    let (scheme, rest) = match value.find("://") {
        Some(i) => (&value[..i + 3], &value[i + 3..]),
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
}
