//! This machine: what it is and how it is set up (resolvers, proxy
//! variables). Read once per run, before any probe, and only read.

pub mod bashrc;
pub mod hosts;
pub mod interfaces;
pub mod proxy;
pub mod resolv;
pub mod windows;

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use serde::Serialize;

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
        let kind = if Path::new("/mnt/azmnt/.nbvm").exists() { "compute-instance" } else { "other" };
        HostInfo { hostname: gethostname::gethostname().to_string_lossy().into_owned(), os: std::env::consts::OS, kind }
    }
}

/// A value that may hold a password: kept for the probes, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::redact::mask_url(&self.0))
    }
}

/// Where the local checks read.
#[derive(Debug, Clone)]
pub struct MachinePaths {
    /// `--bashrc` (default `$HOME/.bashrc`).
    pub bashrc: Option<std::path::PathBuf>,
    /// `--hosts-file` (default `/etc/hosts`; on Windows under `%SystemRoot%`).
    pub hosts_file: Option<std::path::PathBuf>,
    /// `--resolv-conf` (default `/etc/resolv.conf`; on Windows the adapters' DNS servers).
    pub resolv_conf: Option<std::path::PathBuf>,
}

/// Everything read from this machine before the run.
#[derive(Debug, Clone, Default)]
pub struct Machine {
    /// The resolv.conf, when readable.
    pub resolv: Option<resolv::ResolvConf>,
    /// Why it was not.
    pub resolv_error: Option<String>,
    /// Every hosts-file entry.
    pub hosts: Vec<hosts::HostsEntry>,
    /// Why the hosts file could not be read (a note; a missing file is no error).
    pub hosts_error: Option<String>,
    /// Local addresses.
    pub interfaces: Vec<interfaces::InterfaceAddress>,
    /// IPv4 routes.
    pub routes: Vec<interfaces::Route>,
    /// Proxy variables of the live environment (raw; masked on output).
    pub env_proxy: Vec<(String, Secret)>,
    /// The shell startup file, when one was read.
    pub bashrc: Option<bashrc::ShellFile>,
    /// Its path.
    pub bashrc_path: Option<String>,
    /// Not this machine: the lab's simulated one (`amlnet demo`).
    pub simulated: bool,
    /// What only Windows has (adapters' DNS servers, Internet settings).
    pub windows: Option<windows::WindowsMachine>,
}

impl Machine {
    /// Reads everything; unreadable parts become notes or errors in the data, never a failure.
    pub fn read(paths: &MachinePaths, env: &dyn Fn(&str) -> Option<String>) -> Machine {
        if cfg!(windows) {
            return windows::read_machine(paths, env);
        }
        let resolv_conf = paths.resolv_conf.as_deref().unwrap_or(Path::new("/etc/resolv.conf"));
        let (resolv, resolv_error) = match resolv::ResolvConf::read(resolv_conf) {
            Ok(r) => (Some(r), None),
            Err(e) => (None, Some(e)),
        };
        let bashrc_path =
            paths.bashrc.clone().or_else(|| env("HOME").map(|h| std::path::Path::new(&h).join(".bashrc")));
        let (hosts, hosts_error) = match hosts::read(paths.hosts_file.as_deref().unwrap_or(Path::new("/etc/hosts"))) {
            Ok(h) => (h, None),
            Err(e) => (Vec::new(), Some(e)),
        };
        Machine {
            resolv,
            resolv_error,
            hosts,
            hosts_error,
            interfaces: interfaces::addresses(),
            routes: interfaces::routes(),
            env_proxy: proxy::PROXY_VARIABLES
                .iter()
                .filter_map(|n| env(n).map(|v| (n.to_string(), Secret(v))))
                .collect(),
            bashrc: bashrc_path.as_ref().map(|p| bashrc::read(p, env)),
            bashrc_path: bashrc_path.map(|p| p.display().to_string()),
            simulated: false,
            windows: None,
        }
    }

    /// A live-environment proxy variable.
    pub fn env(&self, name: &str) -> Option<String> {
        self.env_proxy.iter().find(|(n, _)| n == name).map(|(_, v)| v.0.clone())
    }

    /// A proxy variable's value as it may be printed: see
    /// [`crate::redact::mask_proxy_value`]; a value the shell file cut short
    /// (at `;`, `&`, `|` or a blank, with an `@` later on the line) is
    /// masked whole, wherever it was read, since it holds part of a password.
    pub fn mask(&self, name: &str, value: &str) -> String {
        let cut = self.bashrc.as_ref().is_some_and(|f| f.assignments.iter().any(|a| a.cut && a.value == value));
        if cut && !value.is_empty() {
            return crate::redact::MASK.to_string();
        }
        crate::redact::mask_proxy_value(name, value)
    }

    /// The proxy variables of the environment and the shell file, masked, for the report.
    pub fn proxy_report(&self) -> Vec<proxy::ProxyVariable> {
        let mut out: Vec<proxy::ProxyVariable> = self
            .env_proxy
            .iter()
            .map(|(n, v)| proxy::ProxyVariable {
                name: n.clone(),
                value: self.mask(n, &v.0),
                origin: proxy::Origin::Environment,
            })
            .collect();
        if let Some(file) = &self.bashrc {
            for name in proxy::PROXY_VARIABLES {
                if let Some(a) = file.last(name) {
                    out.push(proxy::ProxyVariable {
                        name: a.name.clone(),
                        value: self.mask(&a.name, &a.value),
                        origin: proxy::Origin::File {
                            file: a.file.clone(),
                            line: a.line,
                            exported: a.exported,
                            conditional: a.conditional,
                            interactive_only: a.interactive_only,
                        },
                    });
                }
            }
        }
        out
    }
}

/// The proxy variables in force for this run, decided once and used by
/// both the probes and the rules, so that what is probed is what is judged.
/// The live environment decides; when it has no proxy variable at all, the
/// exports of the shell startup file do (what an interactive shell gets).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProxySettings {
    /// The proxy an `https://` request uses: the variable (and the file line
    /// when it came from the file) and its raw value.
    pub https: Option<(String, Secret)>,
    /// `NO_PROXY` as curl and requests pick it; empty when unset.
    pub no_proxy: String,
    /// Whether a proxy for plain `http://` is set (http_proxy or ALL_PROXY).
    pub http_set: bool,
    /// Every proxy variable in force, by name, for each client's own
    /// reading of them ([`proxy::route_for`]).
    pub variables: Vec<(String, Secret)>,
}

impl Machine {
    /// The proxy variables in force (see [`ProxySettings`]).
    pub fn proxy_settings(&self) -> ProxySettings {
        let use_file = self.env_proxy.is_empty();
        let from_file = |n: &str| self.bashrc.as_ref().and_then(|f| f.last(n)).filter(|a| use_file && a.exported);
        let get = |n: &str| self.env(n).or_else(|| from_file(n).map(|a| a.value.clone()));
        let https = proxy::https_proxy_value(&get).map(|(variable, value)| {
            let label = match from_file(&variable) {
                Some(a) => format!("{variable} ({} line {})", a.file, a.line),
                None => variable,
            };
            (label, Secret(value))
        });
        let http_set = ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"]
            .iter()
            .any(|n| get(n).is_some_and(|v| !v.is_empty()));
        let variables =
            proxy::PROXY_VARIABLES.iter().filter_map(|n| get(n).map(|v| (n.to_string(), Secret(v)))).collect();
        let no_proxy = proxy::no_proxy_value(&get).map(|(_, v)| v).unwrap_or_default();
        ProxySettings { https, no_proxy, http_set, variables }
    }
}

/// Parses `--dns-server IP[:PORT]` (IPv6 as `[::1]:53`).
pub fn parse_dns_server(s: &str) -> Result<SocketAddr, String> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 53));
    }
    s.parse::<SocketAddr>().map_err(|_| format!("'{s}' is not IP or IP:PORT"))
}
