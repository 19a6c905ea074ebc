//! Proxy variables: which ones are set (live environment and ~/.bashrc),
//! whether each is a usable URL, and how `NO_PROXY` is read by the clients
//! that run on these machines. They disagree, so each is modelled:
//! curl (and wget), Python requests (pip, conda, the Azure CLI and SDK), and
//! Go (azcopy, docker).

use std::net::IpAddr;

use ipnet::IpNet;
use serde::Serialize;

/// A client whose `NO_PROXY` rules we model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Client {
    /// curl 7.86+ and libcurl users.
    Curl,
    /// Python requests / urllib (pip, conda, az CLI, Azure ML SDK).
    Requests,
    /// Go's net/http (azcopy, docker).
    Go,
}

impl Client {
    /// All modelled clients.
    pub const ALL: [Client; 3] = [Client::Curl, Client::Requests, Client::Go];

    /// Name for people.
    pub fn label(self) -> &'static str {
        match self {
            Client::Curl => "curl",
            Client::Requests => "Python requests (pip, conda, az)",
            Client::Go => "Go (azcopy, docker)",
        }
    }
}

/// A proxy URL taken apart. Never printed with its password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    /// `http`, `https`, `socks5`, ...
    pub scheme: String,
    /// Host name or address.
    pub host: String,
    /// Port (the scheme's default when absent).
    pub port: u16,
    /// User name, if any.
    pub user: Option<String>,
    /// Password, if any (sent only to the proxy, never printed).
    pub password: Option<String>,
    /// Whether the value lacked a scheme (curl accepts that, requests does not).
    pub scheme_missing: bool,
}

impl ProxyUrl {
    /// The URL with its user-info (user name and password) masked.
    pub fn masked(&self) -> String {
        let auth = if self.user.is_some() || self.password.is_some() { "***@" } else { "" };
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        format!("{}://{auth}{host}:{}", self.scheme, self.port)
    }
}

/// Parses a proxy variable's value; the error says why it is not usable.
pub fn parse_proxy_url(raw: &str) -> Result<ProxyUrl, String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err("empty".into());
    }
    if trimmed.contains(char::is_whitespace) || trimmed.contains(['"', '\'']) {
        return Err("contains spaces or quotes".into());
    }
    let scheme_missing = !trimmed.contains("://");
    let with_scheme = if scheme_missing { format!("http://{trimmed}") } else { trimmed.to_string() };
    let url = url::Url::parse(&with_scheme).map_err(|e| format!("not a URL ({e})"))?;
    let scheme = url.scheme().to_ascii_lowercase();
    if !["http", "https", "socks4", "socks4a", "socks5", "socks5h"].contains(&scheme.as_str()) {
        return Err(format!("unsupported scheme '{scheme}' (http, https or socks5)"));
    }
    let host = url.host_str().filter(|h| !h.is_empty()).ok_or("no host")?.trim_matches(['[', ']']).to_string();
    let port =
        url.port_or_known_default().or(if scheme.starts_with("socks") { Some(1080) } else { None }).ok_or("no port")?;
    if port == 0 {
        return Err("port 0".into());
    }
    if !matches!(url.path(), "" | "/") {
        // The path is not echoed: in a value like `http://proxy/x:pw@y` it holds a secret.
        return Err("has a path; a proxy URL is scheme://host:port".into());
    }
    let decode = |s: &str| percent_decode(s);
    Ok(ProxyUrl {
        scheme,
        host,
        port,
        user: (!url.username().is_empty()).then(|| decode(url.username())),
        password: url.password().map(decode),
        scheme_missing,
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether `client` sends a request for `host` directly, given `no_proxy`.
pub fn bypasses(client: Client, no_proxy: &str, host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let ip: Option<IpAddr> = host.trim_matches(['[', ']']).parse().ok();
    let entries: Vec<String> =
        no_proxy.split(',').map(|e| e.trim().to_ascii_lowercase()).filter(|e| !e.is_empty()).collect();
    entries.iter().any(|entry| {
        if entry == "*" {
            return true;
        }
        if let Some(ip) = ip {
            if let Ok(net) = entry.parse::<IpNet>() {
                return net.contains(&ip);
            }
            return entry.parse::<IpAddr>().ok() == Some(ip);
        }
        match client {
            Client::Curl => {
                // A leading dot is ignored; the name or any subdomain matches.
                let e = entry.trim_start_matches('.');
                !e.is_empty() && (host == e || host.ends_with(&format!(".{e}")))
            }
            Client::Requests => {
                // requests: a plain suffix test (no dot boundary); urllib: the
                // name or a subdomain, leading dot ignored. Either bypasses.
                let e = entry.trim_start_matches('.');
                host.ends_with(entry.as_str()) || (!e.is_empty() && (host == e || host.ends_with(&format!(".{e}"))))
            }
            Client::Go => {
                // Go: "*.x" is ".x"; ".x" matches subdomains only; "x" matches x and subdomains.
                let e = entry.strip_prefix('*').unwrap_or(entry);
                let e = e.split(':').next().unwrap_or(e);
                match e.strip_prefix('.') {
                    Some(suffix) => !suffix.is_empty() && host.ends_with(&format!(".{suffix}")),
                    None => host == e || host.ends_with(&format!(".{e}")),
                }
            }
        }
    })
}

/// Where a proxy value was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Origin {
    /// The live environment of this run.
    Environment,
    /// A shell startup file.
    File {
        /// File name.
        file: String,
        /// 1-based line.
        line: usize,
        /// Exported at the end of the file.
        exported: bool,
        /// Inside a conditional block.
        conditional: bool,
        /// After the "return unless interactive" guard.
        interactive_only: bool,
    },
}

/// One proxy variable as the report shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProxyVariable {
    /// Variable name.
    pub name: String,
    /// Value with secrets masked.
    pub value: String,
    /// Where it was read.
    pub origin: Origin,
}

/// Variables that name a proxy (the rest of [`PROXY_VARIABLES`] are NO_PROXY).
pub fn is_proxy_url_variable(name: &str) -> bool {
    !name.eq_ignore_ascii_case("no_proxy")
}

/// The proxy variables amlnet reads, both cases.
pub const PROXY_VARIABLES: &[&str] =
    &["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"];

/// The proxy an `https://` request uses, as curl and requests pick it:
/// lowercase first, then uppercase, then ALL_PROXY.
pub fn https_proxy_value(get: &dyn Fn(&str) -> Option<String>) -> Option<(String, String)> {
    ["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"]
        .iter()
        .find_map(|n| get(n).filter(|v| !v.trim().is_empty()).map(|v| (n.to_string(), v)))
}

/// `NO_PROXY` as curl and requests pick it: lowercase first.
pub fn no_proxy_value(get: &dyn Fn(&str) -> Option<String>) -> Option<(String, String)> {
    ["no_proxy", "NO_PROXY"].iter().find_map(|n| get(n).map(|v| (n.to_string(), v)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects_proxy_urls() {
        let p = parse_proxy_url("http://bob:s%40cret@proxy.corp:3128").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("proxy.corp", 3128));
        assert_eq!(p.password.as_deref(), Some("s@cret"));
        assert_eq!(p.masked(), "http://***@proxy.corp:3128");
        let bare = parse_proxy_url("10.0.0.5:8080").unwrap();
        assert!(bare.scheme_missing);
        assert_eq!(bare.port, 8080);
        assert_eq!(parse_proxy_url("http://proxy.corp").unwrap().port, 80);
        for bad in [
            "",
            "http://",
            "ftp://proxy:21",
            "http://proxy:99999",
            "http://proxy:3128/path",
            "\"http://p:1\"",
            "http://p :1",
        ] {
            assert!(parse_proxy_url(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn no_proxy_differs_by_client() {
        let np = ".azureml.ms,core.windows.net,*.vault.azure.net,10.0.0.0/8,168.63.129.16";
        let ws = "x.workspace.eastus.api.azureml.ms";
        for c in Client::ALL {
            assert!(bypasses(c, np, ws), "{c:?} leading dot");
            assert!(bypasses(c, np, "st.blob.core.windows.net"), "{c:?} suffix");
            assert!(bypasses(c, np, "10.1.2.3"), "{c:?} CIDR");
            assert!(bypasses(c, np, "168.63.129.16"), "{c:?} IP");
            assert!(!bypasses(c, np, "169.254.169.254"), "{c:?} metadata not listed");
            assert!(!bypasses(c, np, "pypi.org"));
        }
        // Only Go understands "*.vault.azure.net".
        assert!(bypasses(Client::Go, np, "kv.vault.azure.net"));
        assert!(!bypasses(Client::Curl, np, "kv.vault.azure.net"));
        assert!(!bypasses(Client::Requests, np, "kv.vault.azure.net"));
        // requests' suffix test has no dot boundary.
        assert!(bypasses(Client::Requests, "example.com", "badexample.com"));
        assert!(!bypasses(Client::Curl, "example.com", "badexample.com"));
        // Go: a leading dot matches subdomains only.
        assert!(!bypasses(Client::Go, ".azureml.ms", "azureml.ms"));
        assert!(bypasses(Client::Curl, ".azureml.ms", "azureml.ms"));
        assert!(bypasses(Client::Requests, "*", "anything"));
    }
}
