//! Masks secrets before anything is printed: the password of a URL's
//! user-info and every query string (SAS tokens live there). Applied to
//! every value that comes from the user's environment or files.

/// Replaces the password and the query of a URL-like string with `***`.
/// Strings that are not URLs pass through unchanged.
pub fn mask_url(value: &str) -> String {
    let (scheme, rest) = match value.find("://") {
        Some(i) => (&value[..i + 3], &value[i + 3..]),
        None => ("", value),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rfind('@') {
        Some(at) => {
            let (userinfo, hostport) = authority.split_at(at);
            match userinfo.find(':') {
                Some(colon) => format!("{}:***{hostport}", &userinfo[..colon]),
                None => format!("{userinfo}{hostport}"),
            }
        }
        None => authority.to_string(),
    };
    let tail = match tail.find('?') {
        Some(q) => {
            let frag = tail[q..].find('#').map(|f| &tail[q + f..]).unwrap_or("");
            format!("{}?***{frag}", &tail[..q])
        }
        None => tail.to_string(),
    };
    format!("{scheme}{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::mask_url;

    #[test]
    fn masks_password_and_query() {
        assert_eq!(mask_url("http://bob:s3cr%40t@proxy:3128"), "http://bob:***@proxy:3128");
        assert_eq!(
            mask_url("https://st.blob.core.windows.net/c/b?sv=2024&sig=abc"),
            "https://st.blob.core.windows.net/c/b?***"
        );
        assert_eq!(mask_url("bob:pw@proxy:8080"), "bob:***@proxy:8080");
        assert_eq!(mask_url("http://proxy:3128"), "http://proxy:3128");
        assert_eq!(mask_url("http://a:b@c@proxy/"), "http://a:***@proxy/");
    }
}
