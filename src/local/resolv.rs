//! `/etc/resolv.conf` as written: the name servers in order and the lines
//! that change behaviour (`search`, `options ndots/timeout/attempts/rotate`).
//! hickory's parser gives the servers but drops the options text, which the
//! report shows as it is, so the few line kinds are read here.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use serde::Serialize;

use crate::net::{MAX_NAMESERVERS, ResolverRules};

/// What a resolv.conf says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ResolvConf {
    /// The file read.
    pub path: String,
    /// `nameserver` lines, in order.
    pub nameservers: Vec<IpAddr>,
    /// `search` (or `domain`) suffixes.
    pub search: Vec<String>,
    /// `options` words.
    pub options: Vec<String>,
}

impl ResolvConf {
    /// Parses the text of a resolv.conf.
    pub fn parse(path: &str, text: &str) -> ResolvConf {
        let mut rc = ResolvConf { path: path.to_string(), ..ResolvConf::default() };
        for line in text.lines() {
            let line = line.split(['#', ';']).next().unwrap_or("").trim();
            let mut words = line.split_whitespace();
            match words.next() {
                Some("nameserver") => {
                    if let Some(ip) = words.next().and_then(|w| w.split('%').next()).and_then(|w| w.parse().ok()) {
                        rc.nameservers.push(ip);
                    }
                }
                Some("search") | Some("domain") => rc.search = words.map(str::to_string).collect(),
                Some("options") => rc.options.extend(words.map(str::to_string)),
                _ => {}
            }
        }
        rc
    }

    /// Reads a file.
    pub fn read(path: &Path) -> Result<ResolvConf, String> {
        let bytes = crate::input::read_capped(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(ResolvConf::parse(&path.display().to_string(), &String::from_utf8_lossy(&bytes)))
    }

    /// The servers glibc asks, as socket addresses (port 53): the first
    /// three, since it ignores the lines after MAXNS.
    pub fn servers(&self) -> Vec<SocketAddr> {
        self.nameservers.iter().take(MAX_NAMESERVERS).map(|ip| SocketAddr::new(*ip, 53)).collect()
    }

    /// The `nameserver` lines glibc ignores, when there are more than it reads.
    pub fn ignored_nameservers(&self) -> Option<String> {
        let rest: Vec<String> = self.nameservers.iter().skip(MAX_NAMESERVERS).map(|ip| ip.to_string()).collect();
        (!rest.is_empty()).then(|| rest.join(", "))
    }

    /// How the servers are asked: the `options` words glibc reads, then
    /// `RES_OPTIONS` from the environment, which glibc reads after the file.
    pub fn rules(&self, res_options: Option<&str>) -> ResolverRules {
        let mut words: Vec<&str> = self.options.iter().map(String::as_str).collect();
        words.extend(res_options.unwrap_or("").split_whitespace());
        ResolverRules::from_options(&words)
    }

    /// systemd-resolved's stub (127.0.0.53): the real servers are behind it.
    pub fn is_systemd_stub(&self) -> bool {
        self.nameservers.iter().any(|ip| ip.to_string() == "127.0.0.53")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::AZURE_DNS;

    #[test]
    fn reads_servers_search_and_options() {
        let rc = ResolvConf::parse(
            "r",
            "# generated\nnameserver 10.0.0.4\nnameserver 168.63.129.16 # azure\nsearch corp.example reddog.microsoft.com\noptions ndots:5 timeout:1\noptions rotate\n",
        );
        assert_eq!(rc.nameservers.len(), 2);
        assert_eq!(rc.nameservers[1], AZURE_DNS);
        assert_eq!(rc.search, vec!["corp.example", "reddog.microsoft.com"]);
        assert_eq!(rc.options, vec!["ndots:5", "timeout:1", "rotate"]);
    }
}
