//! This machine: what it is and how it is set up (resolvers, proxy
//! variables). Read once per run, before any probe, and only read.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use anyhow::{Result, anyhow};
use serde::Serialize;

use crate::redact::mask_url;

/// Where the run happens.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HostInfo {
    /// Host name.
    pub hostname: String,
    /// `linux`, `macos`, `windows`.
    pub os: &'static str,
    /// `compute-instance` when Azure ML's marker file is there, else `other`.
    pub kind: &'static str,
}

impl HostInfo {
    /// Reads the host's identity.
    pub fn detect() -> HostInfo {
        // /mnt/azmnt/.nbvm is what Azure ML's own libraries look for (FACTS.md, [CI]).
        let kind = if Path::new("/mnt/azmnt/.nbvm").exists() {
            "compute-instance"
        } else {
            "other"
        };
        HostInfo {
            hostname: gethostname::gethostname().to_string_lossy().into_owned(),
            os: std::env::consts::OS,
            kind,
        }
    }
}

/// A proxy variable of the live environment, masked.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ProxyVariable {
    /// Variable name as set (`HTTPS_PROXY`, `no_proxy`, ...).
    pub name: String,
    /// Its value, secrets masked.
    pub value: String,
}

/// The proxy variables amlnet reads, in both cases.
pub const PROXY_VARIABLES: &[&str] = &[
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// The proxy variables of the live environment, masked.
pub fn proxy_variables(env: &dyn Fn(&str) -> Option<String>) -> Vec<ProxyVariable> {
    PROXY_VARIABLES
        .iter()
        .filter_map(|name| {
            env(name).map(|v| ProxyVariable {
                name: name.to_string(),
                value: mask_url(&v),
            })
        })
        .collect()
}

/// The DNS servers of a resolv.conf file, in order, port 53.
pub fn resolv_conf_servers(path: &Path) -> Result<Vec<SocketAddr>> {
    let text = std::fs::read(path).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    let (config, _opts) = hickory_resolver::system_conf::parse_resolv_conf(&text)
        .map_err(|e| anyhow!("{}: not a usable resolv.conf: {e}", path.display()))?;
    let mut servers: Vec<SocketAddr> = Vec::new();
    for ns in config.name_servers() {
        let port = ns.connections.first().map(|c| c.port).unwrap_or(53);
        let addr = SocketAddr::new(ns.ip, port);
        if !servers.contains(&addr) {
            servers.push(addr);
        }
    }
    if servers.is_empty() {
        return Err(anyhow!("{}: no nameserver lines", path.display()));
    }
    Ok(servers)
}

/// Parses `--dns-server IP[:PORT]` (IPv6 as `[::1]:53`).
pub fn parse_dns_server(s: &str) -> Result<SocketAddr, String> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 53));
    }
    s.parse::<SocketAddr>()
        .map_err(|_| format!("'{s}' is not IP or IP:PORT"))
}
