//! `/etc/hosts`: entries that pin names amlnet checks. glibc reads this
//! file before DNS, so a pinned name never reaches the private zone.

use std::net::IpAddr;
use std::path::Path;

use serde::Serialize;

/// One `address name...` line, for one name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostsEntry {
    /// The name pinned (lower case).
    pub name: String,
    /// The address it is pinned to.
    pub address: IpAddr,
    /// The file.
    pub file: String,
    /// 1-based line.
    pub line: usize,
}

/// Every name of a hosts file; malformed lines are skipped as glibc skips them.
pub fn parse(file: &str, text: &str) -> Vec<HostsEntry> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("");
        let mut words = line.split_whitespace();
        let Some(address) = words.next().and_then(|a| a.parse::<IpAddr>().ok()) else { continue };
        for name in words {
            out.push(HostsEntry {
                name: name.trim_end_matches('.').to_ascii_lowercase(),
                address,
                file: file.to_string(),
                line: i + 1,
            });
        }
    }
    out
}

/// Reads a hosts file (a regular file of at most [`crate::input::MAX_INPUT_BYTES`]);
/// a missing one is simply empty, any other problem is the error.
pub fn read(path: &Path) -> Result<Vec<HostsEntry>, String> {
    match crate::input::read_capped(path) {
        Ok(bytes) => Ok(parse(&path.display().to_string(), &String::from_utf8_lossy(&bytes))),
        Err(crate::input::InputError::NotFound) => Ok(Vec::new()),
        Err(e) => Err(format!("{}: not read, so dns-hosts-override is not checked: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_lines() {
        let e = super::parse(
            "h",
            "127.0.0.1 localhost\n# 10.0.0.9 commented.example\n10.0.1.4 WS.Example ws2.example. # pinned\nbad line\n",
        );
        assert_eq!(e.len(), 3);
        assert_eq!(e[1].name, "ws.example");
        assert_eq!(e[2].name, "ws2.example");
        assert_eq!(e[2].line, 3);
    }
}
