//! Host names from any input (workspace JSON, `--probes` catalogues, cloud
//! tables) are checked before they reach a DNS query, a `CONNECT` line or
//! the terminal: RFC 1123 labels (letters, digits, inner hyphens; 1 to 63
//! characters), at most 253 characters in all. A wildcard (`*` as the whole
//! first label) only where the caller allows it. One deviation: `_` is
//! accepted inside a label, as DNS accepts it, because an Azure ML workspace
//! name may hold one and it reaches the notebooks host name.

/// The longest host name (without the trailing dot).
pub const MAX_NAME: usize = 253;
/// The longest label.
pub const MAX_LABEL: usize = 63;

/// Checks `name`; the error says what is wrong (with control characters escaped).
pub fn validate(name: &str, allow_wildcard: bool) -> Result<(), String> {
    let shown = || crate::term::escape_for_terminal(&truncate(name, 80));
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() {
        return Err("empty host name".into());
    }
    if name.len() > MAX_NAME {
        return Err(format!("'{}' is {} characters long (at most {MAX_NAME})", shown(), name.len()));
    }
    for (i, label) in name.split('.').enumerate() {
        if i == 0 && allow_wildcard && label == "*" {
            continue;
        }
        if label.is_empty() {
            return Err(format!("'{}' has an empty label", shown()));
        }
        if label.len() > MAX_LABEL {
            return Err(format!("'{}' has a label of {} characters (at most {MAX_LABEL})", shown(), label.len()));
        }
        if let Some(c) = label.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_')) {
            return Err(format!(
                "'{}' is not a host name (character {} is not allowed; letters, digits, '-', '_' and '.')",
                shown(),
                crate::term::escape_for_terminal(&format!("{c:?}"))
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("'{}' has a label starting or ending with '-'", shown()));
        }
    }
    Ok(())
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max { s.to_string() } else { format!("{}...", s.chars().take(max).collect::<String>()) }
}

#[cfg(test)]
mod tests {
    use super::validate;

    #[test]
    fn rfc1123_names() {
        assert!(validate("ml-ws-eastus-1.eastus.notebooks.azure.net", false).is_ok());
        assert!(validate("login.microsoftonline.com.", false).is_ok());
        assert!(validate("*.anaconda.com", true).is_ok());
        assert!(validate("*.anaconda.com", false).is_err());
        assert!(validate("a.*.com", true).is_err());
        assert!(validate("host\r\nX-Injected: 1", false).is_err());
        assert!(validate("a\u{1b}[2J.com", false).unwrap_err().contains("\\x1b"));
        assert!(validate("-a.com", false).is_err());
        assert!(validate("a..com", false).is_err());
        assert!(validate("", false).is_err());
        assert!(validate(&format!("{}.com", "a".repeat(64)), false).is_err());
        assert!(validate(&format!("{}.com", "a".repeat(63)), false).is_ok());
        let long = vec!["a".repeat(63); 4].join(".");
        assert_eq!(long.len(), 255);
        assert!(validate(&long, false).is_err());
        assert!(validate("under_score.com", false).is_ok());
    }
}
