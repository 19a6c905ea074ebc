//! Windows' own proxy and hosts settings, as pure functions over the data
//! Windows keeps, so they are tested with fixture data on any platform.
//! Not yet wired into `Machine::read` (issue 12, part 3).
//!
//! - The user's Internet settings (what browsers, `az` and pip on Windows
//!   follow): registry values `ProxyEnable`, `ProxyServer`, `ProxyOverride`
//!   and `AutoConfigURL` under
//!   `HKCU\Software\Microsoft\Windows\CurrentVersion\Internet Settings`.
//!   `ProxyServer` is WinINet's proxy list: `host:port` for every scheme,
//!   or `http=host:port;https=host:port`; `ProxyOverride` is the bypass
//!   list, `;`-separated, where `<local>` means names without a dot.
//! - WinHTTP's machine proxy (services, and what `netsh winhttp show proxy`
//!   prints): "Direct access (no proxy server)." or the proxy server(s)
//!   and the bypass list.
//! - The hosts file: `%SystemRoot%\System32\drivers\etc\hosts`.
//!
//! Each reader turns the settings into the proxy variables a client would
//! see (`http_proxy`, `https_proxy`, `no_proxy`), so the rest of amlnet
//! judges them as it judges the environment's.

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
    /// `no_proxy` (`*.contoso.com` becomes `.contoso.com`; `<local>` has no
    /// NO_PROXY form and is left out).
    pub fn as_variables(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for scheme in ["http", "https"] {
            if let Some(server) = self.server_for(scheme) {
                out.push((format!("{scheme}_proxy"), format!("http://{server}")));
            }
        }
        let no_proxy: Vec<String> = self
            .bypass
            .iter()
            .filter(|b| *b != "<local>")
            .map(|b| b.strip_prefix('*').filter(|rest| rest.starts_with('.')).unwrap_or(b).to_string())
            .collect();
        if !out.is_empty() && !no_proxy.is_empty() {
            out.push(("no_proxy".to_string(), no_proxy.join(",")));
        }
        out
    }

    /// Whether names without a dot bypass the proxy (`<local>`).
    pub fn bypasses_local(&self) -> bool {
        self.bypass.iter().any(|b| b.eq_ignore_ascii_case("<local>"))
    }
}

/// The hosts file: `%SystemRoot%\System32\drivers\etc\hosts`.
pub fn hosts_path(system_root: Option<&str>) -> PathBuf {
    let root = system_root.filter(|r| !r.is_empty()).unwrap_or(r"C:\Windows");
    PathBuf::from(format!(r"{}\System32\drivers\etc\hosts", root.trim_end_matches('\\')))
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
                "no_proxy=.contoso.com,10.*",
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
}
