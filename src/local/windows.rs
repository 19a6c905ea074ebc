//! Windows: where a Windows laptop on a VPN keeps what amlnet reads on
//! Linux, as pure functions over the data Windows keeps (tested with
//! fixture data on any platform) and one thin `cfg(windows)` reader that
//! asks the OS for that data ([`Snapshot::read`]).
//!
//! - DNS servers: every adapter's, as `ipconfig /all` lists them (the
//!   `ipconfig` crate, which hickory's own Windows reader uses), in the order
//!   Windows tries them: the adapter with the lowest interface metric first,
//!   which is how a VPN client makes its DNS servers win. Each server keeps
//!   its adapter's name, so the report names the (VPN) adapter that answered.
//! - The user's Internet settings (what browsers, `az` and pip on Windows
//!   follow): registry values `ProxyEnable`, `ProxyServer`, `ProxyOverride`
//!   and `AutoConfigURL` under
//!   `HKCU\Software\Microsoft\Windows\CurrentVersion\Internet Settings`.
//!   `ProxyServer` is WinINet's proxy list: `host:port` for every scheme,
//!   or `http=host:port;https=host:port`; `ProxyOverride` is the bypass
//!   list, `;`-separated, where `<local>` means names without a dot.
//! - WinHTTP's machine proxy (services; what `netsh winhttp show proxy`
//!   prints), kept in the registry value `WinHttpSettings` under
//!   `HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Internet Settings\Connections`.
//! - The hosts file: `%SystemRoot%\System32\drivers\etc\hosts`.
//!
//! Python's urllib (pip, conda, `az`) takes the proxy from the environment
//! and, only when no `*_proxy` variable is set at all, from the Internet
//! settings; it never runs a PAC file and never reads WinHTTP's proxy. The
//! proxy probed here is chosen the same way.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

/// Where a proxy setting came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The user's Internet settings (WinINet).
    InternetSettings,
    /// WinHTTP's machine-wide proxy.
    WinHttp,
}

/// Proxy settings as Windows keeps them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WindowsProxy {
    /// Per scheme (`None`: every scheme), `host:port` as written.
    pub servers: Vec<(Option<String>, String)>,
    /// Bypass entries as written (`<local>`, `*.contoso.com`, `10.*`).
    pub bypass: Vec<String>,
    /// A PAC file's URL (amlnet does not run PAC scripts; it says so).
    pub autoconfig_url: Option<String>,
}

/// WinINet's proxy list: `host:port` for all schemes, or `scheme=host:port`
/// entries separated by `;` or spaces.
pub fn parse_proxy_server(value: &str) -> Vec<(Option<String>, String)> {
    value
        .split([';', ' '])
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|e| match e.split_once('=') {
            Some((scheme, server)) => (Some(scheme.trim().to_ascii_lowercase()), strip_scheme(server.trim())),
            None => (None, strip_scheme(e)),
        })
        .filter(|(_, s)| !s.is_empty())
        .collect()
}

fn strip_scheme(server: &str) -> String {
    server.strip_prefix("http://").or_else(|| server.strip_prefix("HTTP://")).unwrap_or(server).to_string()
}

/// A bypass list (`ProxyOverride` or WinHTTP's) split into its entries.
pub fn parse_bypass(value: &str) -> Vec<String> {
    value.split([';', ' ', ',']).map(str::trim).filter(|e| !e.is_empty()).map(String::from).collect()
}

/// The user's Internet settings from their registry values.
pub fn internet_settings(
    enable: Option<u32>,
    server: Option<&str>,
    overrides: Option<&str>,
    autoconfig: Option<&str>,
) -> WindowsProxy {
    let enabled = enable.unwrap_or(0) != 0;
    WindowsProxy {
        servers: if enabled { server.map(parse_proxy_server).unwrap_or_default() } else { Vec::new() },
        bypass: if enabled { overrides.map(parse_bypass).unwrap_or_default() } else { Vec::new() },
        autoconfig_url: autoconfig.map(str::trim).filter(|u| !u.is_empty()).map(String::from),
    }
}

/// WinHTTP's proxy from what `netsh winhttp show proxy` prints.
pub fn winhttp_from_netsh(output: &str) -> WindowsProxy {
    let mut proxy = WindowsProxy::default();
    for line in output.lines() {
        let Some((key, value)) = line.split_once(':') else { continue };
        let key = key.trim().to_ascii_lowercase();
        if key.starts_with("proxy server") {
            proxy.servers = parse_proxy_server(value.trim());
        } else if key.starts_with("bypass list") {
            proxy.bypass = parse_bypass(value.trim());
        }
    }
    proxy
}

impl WindowsProxy {
    /// The proxy `scheme` uses: its own entry, else the all-schemes one.
    pub fn server_for(&self, scheme: &str) -> Option<&str> {
        self.servers
            .iter()
            .find(|(s, _)| s.as_deref() == Some(scheme))
            .or_else(|| self.servers.iter().find(|(s, _)| s.is_none()))
            .map(|(_, server)| server.as_str())
    }

    /// The proxy variables a client would see: `http_proxy`, `https_proxy`
    /// (Windows proxies are reached with plain HTTP, CONNECT for HTTPS) and
    /// `no_proxy` (see [`bypass_as_no_proxy`]; entries without a NO_PROXY
    /// form are left out, and [`WindowsProxy::untranslated`] names them).
    pub fn as_variables(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for scheme in ["http", "https"] {
            if let Some(server) = self.server_for(scheme) {
                out.push((format!("{scheme}_proxy"), format!("http://{server}")));
            }
        }
        let no_proxy: Vec<String> = self.bypass.iter().filter_map(|b| bypass_as_no_proxy(b)).collect();
        if !out.is_empty() && !no_proxy.is_empty() {
            out.push(("no_proxy".to_string(), no_proxy.join(",")));
        }
        out
    }

    /// Bypass entries that have no NO_PROXY form (`<local>` aside, which
    /// only concerns names without a dot, never an Azure name).
    pub fn untranslated(&self) -> Vec<&str> {
        self.bypass
            .iter()
            .filter(|b| !b.eq_ignore_ascii_case("<local>") && bypass_as_no_proxy(b).is_none())
            .map(String::as_str)
            .collect()
    }

    /// Whether names without a dot bypass the proxy (`<local>`).
    pub fn bypasses_local(&self) -> bool {
        self.bypass.iter().any(|b| b.eq_ignore_ascii_case("<local>"))
    }
}

/// One bypass entry as a NO_PROXY entry, where it has one: `*.contoso.com`
/// is the suffix `.contoso.com`, `10.*` and `192.168.*.*` are the networks
/// `10.0.0.0/8` and `192.168.0.0/16`, a name or address stays as it is;
/// `<local>` and other wildcards (`*contoso*`, `10.*.0.1`) have none.
pub fn bypass_as_no_proxy(entry: &str) -> Option<String> {
    let entry = entry.trim();
    if entry.is_empty() || entry.eq_ignore_ascii_case("<local>") {
        return None;
    }
    if let Some(rest) = entry.strip_prefix('*').filter(|r| r.starts_with('.') && !r.contains('*')) {
        return Some(rest.to_string());
    }
    if !entry.contains('*') {
        return Some(entry.to_string());
    }
    // An IPv4 prefix: leading octets, then only `*`.
    let parts: Vec<&str> = entry.split('.').collect();
    let fixed: Vec<u8> = parts.iter().map_while(|p| p.parse::<u8>().ok()).collect();
    let wild = &parts[fixed.len()..];
    if fixed.is_empty() || parts.len() > 4 || wild.is_empty() || wild.iter().any(|p| *p != "*") {
        return None;
    }
    let mut octets = [0u8; 4];
    octets[..fixed.len()].copy_from_slice(&fixed);
    Some(format!("{}/{}", std::net::Ipv4Addr::from(octets), fixed.len() * 8))
}

/// WinHTTP's proxy from the registry value `WinHttpSettings` (what
/// `netsh winhttp set proxy` writes): little-endian DWORDs for a version,
/// a counter and the flags (`1` direct, `2` a proxy is set), then the
/// proxy list and the bypass list, each a DWORD length and that many bytes.
pub fn winhttp_from_registry(value: &[u8]) -> Result<WindowsProxy, String> {
    let dword = |at: usize| -> Result<u32, String> {
        value
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(|| format!("WinHttpSettings: {} bytes, cut short", value.len()))
    };
    let text = |at: usize| -> Result<(String, usize), String> {
        let len = dword(at)? as usize;
        let bytes = value.get(at + 4..).and_then(|rest| rest.get(..len)).ok_or_else(|| {
            format!("WinHttpSettings: a length of {len} at byte {at} runs past its {} bytes", value.len())
        })?;
        // Some writers count a terminating NUL in the length.
        Ok((String::from_utf8_lossy(bytes).trim_end_matches('\0').to_string(), at + 4 + len))
    };
    let flags = dword(8)?;
    let (server, next) = text(12)?;
    let (bypass, _) = if next < value.len() { text(next)? } else { (String::new(), next) };
    if flags & 2 == 0 {
        return Ok(WindowsProxy::default());
    }
    Ok(WindowsProxy { servers: parse_proxy_server(&server), bypass: parse_bypass(&bypass), autoconfig_url: None })
}

/// The hosts file: `%SystemRoot%\System32\drivers\etc\hosts`.
pub fn hosts_path(system_root: Option<&str>) -> PathBuf {
    let root = system_root.filter(|r| !r.is_empty()).unwrap_or(r"C:\Windows");
    PathBuf::from(format!(r"{}\System32\drivers\etc\hosts", root.trim_end_matches('\\')))
}

/// One network adapter as Windows reports it (`GetAdaptersAddresses`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Adapter {
    /// The name people see (`Contoso VPN`, `Wi-Fi`).
    pub friendly_name: String,
    /// The driver's description (`PANGP Virtual Ethernet Adapter`).
    pub description: String,
    /// Operational status is up.
    pub up: bool,
    /// A PPP or tunnel interface: what VPN clients create.
    pub tunnel: bool,
    /// IPv4 interface metric: lower is tried first.
    pub metric: u32,
    /// Its DNS servers, in order.
    pub dns_servers: Vec<IpAddr>,
}

/// Words in adapter descriptions of common VPN clients, lower case.
const VPN_WORDS: &[&str] = &[
    "vpn",
    "virtual private",
    "anyconnect",
    "pangp",
    "globalprotect",
    "fortinet",
    "forticlient",
    "wireguard",
    "openvpn",
    "tap-windows",
    "wintun",
    "juniper",
    "pulse secure",
    "zscaler",
    "netextender",
    "check point",
    "f5 networks",
];

impl Adapter {
    /// Whether this looks like a VPN client's adapter.
    pub fn is_vpn(&self) -> bool {
        let words = format!("{} {}", self.friendly_name, self.description).to_ascii_lowercase();
        self.tunnel || VPN_WORDS.iter().any(|w| words.contains(w))
    }

    /// `'Contoso VPN' (PANGP Virtual Ethernet Adapter, VPN)`.
    pub fn label(&self) -> String {
        let mut about: Vec<&str> = Vec::new();
        if !self.description.is_empty() && self.description != self.friendly_name {
            about.push(&self.description);
        }
        if self.is_vpn() {
            about.push("VPN");
        }
        let name = crate::term::escape_for_terminal(&self.friendly_name);
        if about.is_empty() {
            format!("'{name}'")
        } else {
            format!("'{name}' ({})", crate::term::escape_for_terminal(&about.join(", ")))
        }
    }
}

/// Site-local addresses Windows lists when no IPv6 DNS server is set
/// (RFC 3879 deprecated them; hickory's reader drops them too).
const PLACEHOLDER_DNS: [Ipv6Addr; 3] = [
    Ipv6Addr::new(0xfec0, 0, 0, 0xffff, 0, 0, 0, 1),
    Ipv6Addr::new(0xfec0, 0, 0, 0xffff, 0, 0, 0, 2),
    Ipv6Addr::new(0xfec0, 0, 0, 0xffff, 0, 0, 0, 3),
];

/// The DNS servers of the adapters that are up, in the order Windows asks
/// them (lowest interface metric first, adapters of equal metric in the
/// order Windows lists them), each once, with the adapter it belongs to.
pub fn dns_servers(adapters: &[Adapter]) -> Vec<(IpAddr, &Adapter)> {
    let mut up: Vec<&Adapter> = adapters.iter().filter(|a| a.up).collect();
    up.sort_by_key(|a| a.metric);
    let mut out: Vec<(IpAddr, &Adapter)> = Vec::new();
    for adapter in up {
        for ip in &adapter.dns_servers {
            let placeholder = matches!(ip, IpAddr::V6(v6) if PLACEHOLDER_DNS.contains(v6));
            if !placeholder && !out.iter().any(|(seen, _)| seen == ip) {
                out.push((*ip, adapter));
            }
        }
    }
    out
}

/// The user's Internet settings as their registry values hold them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InternetSettingsValues {
    /// `ProxyEnable`.
    pub enable: Option<u32>,
    /// `ProxyServer`.
    pub server: Option<String>,
    /// `ProxyOverride`.
    pub overrides: Option<String>,
    /// `AutoConfigURL`.
    pub autoconfig: Option<String>,
}

/// What the thin reader got from Windows; every part may have failed.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The network adapters.
    pub adapters: Result<Vec<Adapter>, String>,
    /// The user's Internet settings.
    pub internet: Result<InternetSettingsValues, String>,
    /// `WinHttpSettings`; `Ok(None)` when the value is absent (direct access).
    pub winhttp: Result<Option<Vec<u8>>, String>,
}

/// The Windows side of a [`Machine`]: DNS servers by adapter and the
/// proxy settings outside the environment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WindowsMachine {
    /// DNS servers in the order Windows asks them, with their adapter's label.
    pub dns: Vec<(IpAddr, String)>,
    /// Why the adapters could not be read.
    pub adapters_error: Option<String>,
    /// The user's Internet settings.
    pub internet: WindowsProxy,
    /// WinHTTP's machine proxy.
    pub winhttp: WindowsProxy,
    /// What could not be read, and what is worth knowing.
    pub notes: Vec<String>,
}

/// The Internet settings' registry key, as notes name it.
const INTERNET_SETTINGS: &str = r"HKCU\Software\Microsoft\Windows\CurrentVersion\Internet Settings";

impl WindowsMachine {
    /// Builds it from what Windows gave.
    pub fn from_snapshot(snapshot: &Snapshot) -> WindowsMachine {
        let mut notes = Vec::new();
        let (dns, adapters_error) = match &snapshot.adapters {
            Ok(adapters) => (dns_servers(adapters).into_iter().map(|(ip, a)| (ip, a.label())).collect(), None),
            Err(e) => (Vec::new(), Some(e.clone())),
        };
        let internet = match &snapshot.internet {
            Ok(v) => internet_settings(v.enable, v.server.as_deref(), v.overrides.as_deref(), v.autoconfig.as_deref()),
            Err(e) => {
                notes.push(format!("{INTERNET_SETTINGS} could not be read: {e}"));
                WindowsProxy::default()
            }
        };
        let winhttp = match &snapshot.winhttp {
            Ok(Some(bytes)) => winhttp_from_registry(bytes).unwrap_or_else(|e| {
                notes.push(e);
                WindowsProxy::default()
            }),
            Ok(None) => WindowsProxy::default(),
            Err(e) => {
                notes.push(format!("WinHTTP's proxy could not be read: {e}"));
                WindowsProxy::default()
            }
        };
        WindowsMachine { dns, adapters_error, internet, winhttp, notes }
    }

    /// The DNS servers as socket addresses (port 53).
    pub fn dns_servers(&self) -> Vec<SocketAddr> {
        self.dns.iter().map(|(ip, _)| SocketAddr::new(*ip, 53)).collect()
    }

    /// Where the DNS servers came from, naming each one's adapter:
    /// `Windows adapter 'Contoso VPN' (PANGP Virtual Ethernet Adapter, VPN)`,
    /// or, with several adapters, `Windows adapters: 10.1.0.4 'Contoso VPN' (VPN); 192.168.1.1 'Wi-Fi'`.
    pub fn dns_source(&self) -> String {
        let mut labels: Vec<&str> = self.dns.iter().map(|(_, l)| l.as_str()).collect();
        labels.dedup();
        match labels.as_slice() {
            [] => "Windows adapters (none has a DNS server)".to_string(),
            [one] => format!("Windows adapter {one}"),
            _ => {
                let each: Vec<String> = self.dns.iter().map(|(ip, l)| format!("{ip} {l}")).collect();
                format!("Windows adapters: {}", each.join("; "))
            }
        }
    }

    /// The proxy Python's urllib (pip, conda, `az`) uses when the
    /// environment sets no `*_proxy` variable at all: the Internet settings'.
    pub fn proxy_settings(&self) -> Option<super::ProxySettings> {
        let vars = self.internet.as_variables();
        let get = |n: &str| vars.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        let https = get("https_proxy")?;
        Some(super::ProxySettings {
            https: Some(("ProxyServer (Windows Internet settings)".to_string(), super::Secret(https))),
            no_proxy: get("no_proxy").unwrap_or_default(),
            http_set: get("http_proxy").is_some(),
            variables: vars.iter().map(|(k, v)| (k.clone(), super::Secret(v.clone()))).collect(),
        })
    }

    /// What the report says about the proxy settings outside the
    /// environment; `env_has_proxy` when a `*_proxy` variable is set.
    pub fn proxy_notes(&self, env_has_proxy: bool) -> Vec<String> {
        let mask = crate::redact::mask_url;
        let mut notes = Vec::new();
        let describe = |p: &WindowsProxy| {
            let servers: Vec<String> = p
                .servers
                .iter()
                .map(|(scheme, s)| match scheme {
                    Some(scheme) => format!("{scheme}={}", mask(s)),
                    None => mask(s),
                })
                .collect();
            let bypass = if p.bypass.is_empty() { String::new() } else { format!(", bypass {}", p.bypass.join(";")) };
            crate::term::escape_for_terminal(&format!("{}{bypass}", servers.join(";")))
        };
        if !self.internet.servers.is_empty() {
            let used = if env_has_proxy {
                "not used by pip or az here: the environment's proxy variables take precedence"
            } else {
                "what pip, conda and az use here, since the environment sets no proxy variable; judged as theirs"
            };
            notes.push(format!("Windows Internet settings: proxy {} ({used})", describe(&self.internet)));
            let odd = self.internet.untranslated();
            if !odd.is_empty() {
                notes.push(format!(
                    "Windows Internet settings: bypass entries {} have no NO_PROXY form and were not judged",
                    odd.join(", ")
                ));
            }
        }
        if let Some(url) = &self.internet.autoconfig_url {
            notes.push(format!(
                "Windows Internet settings: a PAC file ({}) decides browsers' proxy; pip and az do not run PAC files, and neither does amlnet",
                mask(url)
            ));
        }
        if !self.winhttp.servers.is_empty() {
            notes.push(format!(
                "WinHTTP proxy (Windows services; not pip or az): {}{}",
                describe(&self.winhttp),
                if self.winhttp.servers != self.internet.servers { ", not the Internet settings' proxy" } else { "" }
            ));
        }
        notes
    }
}

/// This machine on Windows: adapters' DNS servers (or `--resolv-conf`),
/// the hosts file under `%SystemRoot%` (or `--hosts-file`), the proxy
/// variables of the environment, the Internet settings and WinHTTP. The
/// bash startup file is read only when `--bashrc` names one.
pub fn read_machine(paths: &super::MachinePaths, env: &dyn Fn(&str) -> Option<String>) -> super::Machine {
    machine_from(&Snapshot::read(), paths, env)
}

/// [`read_machine`] from a snapshot: everything but the OS calls.
pub fn machine_from(
    snapshot: &Snapshot,
    paths: &super::MachinePaths,
    env: &dyn Fn(&str) -> Option<String>,
) -> super::Machine {
    use super::{Machine, Secret, hosts, proxy, resolv};
    let windows = WindowsMachine::from_snapshot(snapshot);
    let (resolv, resolv_error) = match &paths.resolv_conf {
        Some(path) => match resolv::ResolvConf::read(path) {
            Ok(r) => (Some(r), None),
            Err(e) => (None, Some(e)),
        },
        None => (None, None),
    };
    let hosts_file = paths.hosts_file.clone().unwrap_or_else(|| hosts_path(env("SystemRoot").as_deref()));
    let (hosts, hosts_error) = match hosts::read(&hosts_file) {
        Ok(h) => (h, None),
        Err(e) => (Vec::new(), Some(e)),
    };
    let env_proxy: Vec<(String, Secret)> =
        proxy::PROXY_VARIABLES.iter().filter_map(|n| env(n).map(|v| (n.to_string(), Secret(v)))).collect();
    let bashrc_path = paths.bashrc.clone();
    let mut windows = windows;
    if bashrc_path.is_none() {
        windows.notes.push("Windows: no bash startup file is read (give --bashrc FILE for Git Bash or WSL's)".into());
    }
    Machine {
        resolv,
        resolv_error,
        hosts,
        hosts_error,
        interfaces: super::interfaces::addresses(),
        routes: Vec::new(),
        env_proxy,
        bashrc: bashrc_path.as_ref().map(|p| super::bashrc::read(p, env)),
        bashrc_path: bashrc_path.map(|p| p.display().to_string()),
        simulated: false,
        windows: Some(windows),
    }
}

impl Snapshot {
    /// Asks Windows: adapters (`GetAdaptersAddresses`) and two registry keys.
    #[cfg(windows)]
    pub fn read() -> Snapshot {
        use windows_registry::{CURRENT_USER, LOCAL_MACHINE};
        let adapters = ipconfig::get_adapters().map_err(|e| e.to_string()).map(|list| {
            list.iter()
                .map(|a| Adapter {
                    friendly_name: a.friendly_name().to_string(),
                    description: a.description().to_string(),
                    up: a.oper_status() == ipconfig::OperStatus::IfOperStatusUp,
                    tunnel: matches!(a.if_type(), ipconfig::IfType::Ppp | ipconfig::IfType::Tunnel),
                    metric: a.ipv4_metric(),
                    dns_servers: a.dns_servers().to_vec(),
                })
                .collect()
        });
        let internet = CURRENT_USER
            .open(r"Software\Microsoft\Windows\CurrentVersion\Internet Settings")
            .map(|key| InternetSettingsValues {
                enable: key.get_u32("ProxyEnable").ok(),
                server: key.get_string("ProxyServer").ok(),
                overrides: key.get_string("ProxyOverride").ok(),
                autoconfig: key.get_string("AutoConfigURL").ok(),
            })
            .map_err(|e| e.message());
        let winhttp =
            match LOCAL_MACHINE.open(r"SOFTWARE\Microsoft\Windows\CurrentVersion\Internet Settings\Connections") {
                Ok(key) => Ok(key.get_value("WinHttpSettings").ok().map(|v| v.to_vec())),
                Err(e) => Err(e.message()),
            };
        Snapshot { adapters, internet, winhttp }
    }

    /// Not Windows: nothing to ask.
    #[cfg(not(windows))]
    pub fn read() -> Snapshot {
        let none = || "not Windows".to_string();
        Snapshot { adapters: Err(none()), internet: Err(none()), winhttp: Err(none()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(p: &WindowsProxy) -> Vec<String> {
        p.as_variables().iter().map(|(k, v)| format!("{k}={v}")).collect()
    }

    #[test]
    fn internet_settings_with_one_proxy_for_every_scheme() {
        let p = internet_settings(Some(1), Some("proxy.contoso.com:8080"), Some("<local>;*.contoso.com;10.*"), None);
        assert_eq!(
            vars(&p),
            [
                "http_proxy=http://proxy.contoso.com:8080",
                "https_proxy=http://proxy.contoso.com:8080",
                "no_proxy=.contoso.com,10.0.0.0/8",
            ]
        );
        assert!(p.bypasses_local());
    }

    #[test]
    fn internet_settings_per_scheme_and_disabled() {
        let p = internet_settings(Some(1), Some("http=web:80;https=secure:3128;ftp=f:21"), None, None);
        assert_eq!(vars(&p), ["http_proxy=http://web:80", "https_proxy=http://secure:3128"]);
        let off = internet_settings(Some(0), Some("proxy:8080"), Some("<local>"), Some("http://wpad/proxy.pac"));
        assert_eq!(off.as_variables(), vec![]);
        assert_eq!(off.autoconfig_url.as_deref(), Some("http://wpad/proxy.pac"));
    }

    #[test]
    fn netsh_winhttp_output() {
        let direct = "\nCurrent WinHTTP proxy settings:\n\n    Direct access (no proxy server).\n\n";
        assert_eq!(winhttp_from_netsh(direct), WindowsProxy::default());
        let set = "\nCurrent WinHTTP proxy settings:\n\n    Proxy Server(s) :  10.0.0.5:3128\n    Bypass List     :  <local>;*.privatelink.api.azureml.ms\n\n";
        let p = winhttp_from_netsh(set);
        assert_eq!(p.server_for("https"), Some("10.0.0.5:3128"));
        assert_eq!(p.bypass, ["<local>", "*.privatelink.api.azureml.ms"]);
        assert_eq!(p.as_variables()[2], ("no_proxy".to_string(), ".privatelink.api.azureml.ms".to_string()));
    }

    #[test]
    fn hosts_file_under_system_root() {
        assert_eq!(hosts_path(Some(r"D:\WINNT\")), PathBuf::from(r"D:\WINNT\System32\drivers\etc\hosts"));
        assert_eq!(hosts_path(None), PathBuf::from(r"C:\Windows\System32\drivers\etc\hosts"));
    }

    #[test]
    fn bypass_entries_as_no_proxy() {
        let np = |e: &str| bypass_as_no_proxy(e);
        assert_eq!(np("*.privatelink.api.azureml.ms").as_deref(), Some(".privatelink.api.azureml.ms"));
        assert_eq!(np("10.*").as_deref(), Some("10.0.0.0/8"));
        assert_eq!(np("192.168.*.*").as_deref(), Some("192.168.0.0/16"));
        assert_eq!(np("172.16.5.*").as_deref(), Some("172.16.5.0/24"));
        assert_eq!(np("login.microsoftonline.com").as_deref(), Some("login.microsoftonline.com"));
        for none in ["<local>", "*contoso*", "10.*.0.1", "*", "300.*", "1.2.3.4.*"] {
            assert_eq!(np(none), None, "{none}");
        }
        let p = internet_settings(Some(1), Some("p:8080"), Some("<local>;*contoso*;10.*"), None);
        assert_eq!(p.untranslated(), ["*contoso*"]);
    }

    /// `netsh winhttp set proxy 10.0.0.5:3128 "<local>;*.corp"` as the registry keeps it.
    fn winhttp_bytes(flags: u32, proxy: &str, bypass: &str) -> Vec<u8> {
        let mut v = Vec::new();
        for d in [0x28u32, 7, flags, proxy.len() as u32] {
            v.extend_from_slice(&d.to_le_bytes());
        }
        v.extend_from_slice(proxy.as_bytes());
        v.extend_from_slice(&(bypass.len() as u32).to_le_bytes());
        v.extend_from_slice(bypass.as_bytes());
        v
    }

    #[test]
    fn winhttp_registry_value() {
        let p = winhttp_from_registry(&winhttp_bytes(3, "10.0.0.5:3128", "<local>;*.corp")).unwrap();
        assert_eq!(p.server_for("https"), Some("10.0.0.5:3128"));
        assert_eq!(p.bypass, ["<local>", "*.corp"]);
        // `netsh winhttp reset proxy`: direct access, both lists empty.
        assert_eq!(winhttp_from_registry(&winhttp_bytes(1, "", "")).unwrap(), WindowsProxy::default());
        // A value cut short or with a length past its end is an error, never a panic.
        let good = winhttp_bytes(3, "10.0.0.5:3128", "");
        assert!(winhttp_from_registry(&good[..6]).is_err());
        assert!(winhttp_from_registry(&good[..20]).unwrap_err().contains("runs past"));
        let with_nul = winhttp_from_registry(&winhttp_bytes(3, "10.0.0.5:3128\0", "")).unwrap();
        assert_eq!(with_nul.server_for("https"), Some("10.0.0.5:3128"), "a counted NUL is not part of the name");
        let mut huge = good.clone();
        huge[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(winhttp_from_registry(&huge).is_err());
    }

    fn adapter(name: &str, description: &str, metric: u32, dns: &[&str]) -> Adapter {
        Adapter {
            friendly_name: name.into(),
            description: description.into(),
            up: true,
            tunnel: false,
            metric,
            dns_servers: dns.iter().map(|d| d.parse().unwrap()).collect(),
        }
    }

    /// A laptop on Wi-Fi with GlobalProtect connected; a cable unplugged.
    fn laptop() -> Vec<Adapter> {
        let mut cable = adapter("Ethernet", "Intel(R) Ethernet Connection I219-LM", 5, &["192.168.0.1"]);
        cable.up = false;
        vec![
            adapter("Wi-Fi", "Intel(R) Wi-Fi 6 AX201 160MHz", 35, &["192.168.1.1", "fec0:0:0:ffff::1"]),
            cable,
            adapter("Ethernet 3", "PANGP Virtual Ethernet Adapter", 1, &["10.1.0.4", "10.1.0.5"]),
            adapter("Loopback Pseudo-Interface 1", "Software Loopback Interface 1", 75, &[]),
        ]
    }

    #[test]
    fn dns_servers_follow_the_adapter_metric_and_name_the_vpn() {
        let adapters = laptop();
        let servers: Vec<String> =
            dns_servers(&adapters).iter().map(|(ip, a)| format!("{ip} {}", a.friendly_name)).collect();
        // The VPN's metric 1 puts its servers first; the unplugged cable and
        // Windows' fec0::/10 placeholders are left out.
        assert_eq!(servers, ["10.1.0.4 Ethernet 3", "10.1.0.5 Ethernet 3", "192.168.1.1 Wi-Fi"]);
        let w = WindowsMachine::from_snapshot(&Snapshot {
            adapters: Ok(adapters),
            internet: Ok(InternetSettingsValues::default()),
            winhttp: Ok(None),
        });
        assert_eq!(w.dns_servers()[0], "10.1.0.4:53".parse().unwrap());
        assert_eq!(
            w.dns_source(),
            "Windows adapters: 10.1.0.4 'Ethernet 3' (PANGP Virtual Ethernet Adapter, VPN); \
             10.1.0.5 'Ethernet 3' (PANGP Virtual Ethernet Adapter, VPN); \
             192.168.1.1 'Wi-Fi' (Intel(R) Wi-Fi 6 AX201 160MHz)"
        );
        let only_vpn = WindowsMachine { dns: w.dns[..2].to_vec(), ..w.clone() };
        assert_eq!(only_vpn.dns_source(), "Windows adapter 'Ethernet 3' (PANGP Virtual Ethernet Adapter, VPN)");
        let mut tunnel = adapter("Azure VNet", "WAN Miniport (IKEv2)", 1, &["10.2.0.4"]);
        assert!(!tunnel.is_vpn());
        tunnel.tunnel = true;
        assert!(tunnel.is_vpn(), "a PPP or tunnel interface is a VPN whatever its name");
    }

    fn fixture_snapshot() -> Snapshot {
        Snapshot {
            adapters: Ok(laptop()),
            internet: Ok(InternetSettingsValues {
                enable: Some(1),
                server: Some("proxy.contoso.com:8080".into()),
                overrides: Some("<local>;*.contoso.com;*.privatelink.api.azureml.ms".into()),
                autoconfig: Some("http://wpad.contoso.com/proxy.pac?token=s3cret".into()),
            }),
            winhttp: Ok(Some(winhttp_bytes(3, "10.0.0.5:3128", "<local>"))),
        }
    }

    #[test]
    fn a_windows_machine_from_fixture_data() {
        let dir = tempfile::tempdir().unwrap();
        let hosts = dir.path().join("hosts");
        std::fs::write(&hosts, "# Copyright (c) 1993-2009 Microsoft Corp.\r\n10.1.0.9 ml.contoso.example\r\n").unwrap();
        let paths = super::super::MachinePaths { bashrc: None, hosts_file: Some(hosts), resolv_conf: None };
        let no_env = |_: &str| None;
        let m = machine_from(&fixture_snapshot(), &paths, &no_env);
        assert!(m.resolv.is_none() && m.resolv_error.is_none(), "no resolv.conf is looked for on Windows");
        assert!(m.bashrc.is_none() && m.bashrc_path.is_none(), "no bash startup file is read unless named");
        assert_eq!(m.hosts[0].name, "ml.contoso.example");
        let w = m.windows.as_ref().unwrap();
        assert!(w.notes.iter().any(|n| n.contains("no bash startup file")), "{:?}", w.notes);
        // No proxy variable in the environment: the Internet settings decide, as for pip and az.
        let proxy = w.proxy_settings().unwrap();
        let (label, value) = proxy.https.as_ref().unwrap();
        assert_eq!(
            (label.as_str(), value.0.as_str()),
            ("ProxyServer (Windows Internet settings)", "http://proxy.contoso.com:8080")
        );
        assert_eq!(proxy.no_proxy, ".contoso.com,.privatelink.api.azureml.ms");
        let notes = w.proxy_notes(false).join("\n");
        assert!(notes.contains("judged as theirs"), "{notes}");
        assert!(notes.contains("PAC file") && !notes.contains("s3cret"), "the PAC URL's query is masked: {notes}");
        assert!(notes.contains("WinHTTP proxy (Windows services; not pip or az): 10.0.0.5:3128, bypass <local>, not the Internet settings' proxy"), "{notes}");
        assert!(w.proxy_notes(true).join("\n").contains("take precedence"));
        // Without a snapshot from Windows, the run asks for --dns-server.
        let unread = Snapshot { adapters: Err("not Windows".into()), internet: Err("x".into()), winhttp: Ok(None) };
        let w = WindowsMachine::from_snapshot(&unread);
        assert_eq!(w.adapters_error.as_deref(), Some("not Windows"));
        assert!(w.dns.is_empty() && w.proxy_settings().is_none());
    }

    #[test]
    fn the_default_hosts_file_is_under_system_root() {
        let paths = super::super::MachinePaths { bashrc: None, hosts_file: None, resolv_conf: None };
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("Windows").to_str().unwrap().to_string();
        // On Linux the backslashes are part of one file name in the folder.
        std::fs::write(format!(r"{root}\System32\drivers\etc\hosts"), "10.1.0.7 pinned.contoso.example\n").unwrap();
        let env = move |n: &str| (n == "SystemRoot").then(|| root.clone());
        let m = machine_from(&fixture_snapshot(), &paths, &env);
        assert_eq!(m.hosts.len(), 1, "{:?}", m.hosts_error);
        assert_eq!(m.hosts[0].name, "pinned.contoso.example");
    }
}
