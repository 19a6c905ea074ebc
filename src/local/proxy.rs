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
    /// curl and libcurl users, as curl 7.88 (Debian 12) reads the variables.
    Curl,
    /// Python requests / urllib (pip, conda, az CLI, Azure ML SDK), as
    /// requests 2.34 reads the variables. The requests that pip 23 vendors
    /// (2.31) matches NO_PROXY entries as plain suffixes, without a dot
    /// boundary (`example.com` also covers `badexample.com`, `::1` covers
    /// `2001:db8::1`): it bypasses a little more, never less, so judging by
    /// 2.34 misses no host that pip would send to the proxy.
    Requests,
    /// Go's net/http (azcopy, docker), as Go 1.19's `httpproxy` reads them.
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
    /// Whether the value lacked a scheme (each client's rule: [`read_proxy_value`]).
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

/// Parses a proxy variable's value as amlnet's own proxy probe uses it (host, port,
/// credentials); the error says why it is not usable. What each client makes
/// of the value is [`read_proxy_value`].
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
    // A path or query is ignored by curl, requests and Go alike (checked by
    // tests/no_proxy_clients.rs), so it is no reason to refuse the value.
    // It is never echoed: in `http://proxy/x:pw@y` it holds a secret.
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

/// How one client reads a proxy variable's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyReading {
    /// It dials this proxy (`scheme` lower-case, `host` without brackets).
    Uses {
        /// `http`, `https`, `socks5`, ...
        scheme: String,
        /// Host name or address, as the client will resolve or dial it.
        host: String,
        /// The port it dials.
        port: u16,
    },
    /// Every request fails (at parse time or at the dial); why.
    Rejects(String),
    /// The value is dropped and requests go directly (Go); why.
    Ignores(String),
}

/// The schemes curl speaks to a proxy.
const CURL_SCHEMES: &[&str] = &["http", "https", "socks4", "socks4a", "socks5", "socks5h"];

/// How `client` reads the proxy value `raw` (the whole variable's value).
///
/// Each rule was read from the client and checked against it by
/// tests/no_proxy_clients.rs:
/// - curl 7.88: no scheme means `http://`; a scheme it does not speak, a
///   port that is not a number up to 65535, an `@` or `#` in the password,
///   or no host is an error; no port means 1080 (443 for `https://`); a path
///   or query is ignored.
/// - requests 2.34 (urllib3 2): `NAME:PORT` where NAME has only letters,
///   digits, `+` and `-` (`localhost:3128`) is read as a scheme and fails,
///   an IP or a dotted name without scheme gets `http://`; only http and
///   https (socks needs PySocks); port 0 or none means the scheme's
///   default; the user-info ends at the last `@`.
/// - Go 1.19 (`httpproxy.parseProxy`): a value that does not parse, or
///   whose scheme is not http, https or socks5, is parsed again after
///   `http://`, so `socks5h://p:1080` becomes host `socks5h` port 80; one
///   that still does not parse is dropped and requests go directly.
pub fn read_proxy_value(client: Client, raw: &str) -> ProxyReading {
    match client {
        Client::Curl => curl_reading(raw),
        Client::Requests => requests_reading(raw),
        Client::Go => go_reading(raw),
    }
}

/// A scheme for a reason text: named when it is a well-known one, never
/// echoed otherwise (in a malformed value it may be a user name).
fn scheme_words(scheme: &str) -> String {
    const KNOWN: &[&str] =
        &["http", "https", "ftp", "ftps", "socks", "socks4", "socks4a", "socks5", "socks5h", "ws", "wss"];
    if KNOWN.contains(&scheme) { format!("'{scheme}'") } else { "that scheme".to_string() }
}

/// Splits `authority` into (user-info, host, port text): the host without
/// brackets, the port `None` when there is no `:`.
fn split_authority(authority: &str, last_at: bool) -> Result<(Option<&str>, &str, Option<&str>), String> {
    let at = if last_at { authority.rfind('@') } else { authority.find('@') };
    let (userinfo, hostport) = match at {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };
    let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or("an IPv6 address without its closing ']'")?;
        match after {
            "" => (host, None),
            _ => (host, Some(after.strip_prefix(':').ok_or("text after the IPv6 address")?)),
        }
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    Ok((userinfo, host, port))
}

/// A decimal port of 1 to 65535 (leading zeros allowed); why not otherwise.
fn port_number(text: &str) -> Result<u16, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err("the port is not a number".into());
    }
    match text.trim_start_matches('0').parse::<u32>() {
        Ok(p) if (1..=65535).contains(&p) => Ok(p as u16),
        Err(_) if text.trim_start_matches('0').is_empty() => Err("port 0".into()),
        Ok(0) => Err("port 0".into()),
        _ => Err("the port is above 65535".into()),
    }
}

/// The authority of `scheme://authority/path?query#fragment`.
fn authority_of(rest: &str) -> &str {
    rest.split(['/', '?', '#']).next().unwrap_or_default()
}

fn curl_reading(raw: &str) -> ProxyReading {
    if raw.contains(|c: char| c.is_ascii_whitespace() || c.is_ascii_control()) {
        return ProxyReading::Rejects("it contains blanks or control characters".into());
    }
    let (scheme, rest) = match raw.split_once("://") {
        Some((s, r)) => (s.to_ascii_lowercase(), r),
        None => ("http".to_string(), raw),
    };
    if !CURL_SCHEMES.contains(&scheme.as_str()) {
        return ProxyReading::Rejects(format!("curl does not speak {} to a proxy", scheme_words(&scheme)));
    }
    let (_, host, port) = match split_authority(authority_of(rest), false) {
        Ok(parts) => parts,
        Err(why) => return ProxyReading::Rejects(why),
    };
    if host.is_empty() {
        return ProxyReading::Rejects("no host".into());
    }
    if host.contains('@') {
        return ProxyReading::Rejects("an '@' in the user name or password that is not written %40".into());
    }
    let port = match port {
        None | Some("") => {
            if scheme == "https" {
                443
            } else {
                1080
            }
        }
        Some(p) => match port_number(p) {
            Ok(p) => p,
            Err(why) => return ProxyReading::Rejects(why),
        },
    };
    ProxyReading::Uses { scheme, host: host.to_ascii_lowercase(), port }
}

fn requests_reading(raw: &str) -> ProxyReading {
    // Blanks are not special to urllib3: ' http://p:1' is host ' http',
    // port 80, and 'http://p:1 ' has the port '1 ', which fails below.
    // urllib3's scheme test: a letter, then letters, digits, '+' or '-', then ':'.
    let scheme_end = raw.find(':').filter(|&i| {
        let s = &raw[..i];
        s.starts_with(|c: char| c.is_ascii_alphabetic())
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '-')
    });
    let (scheme, rest) = match scheme_end {
        Some(i) => match raw[i + 1..].strip_prefix("//") {
            Some(rest) => (raw[..i].to_ascii_lowercase(), rest),
            None => {
                return ProxyReading::Rejects(
                    "requests reads the text before the first ':' as a URL scheme and finds no host (write http:// in front)"
                        .into(),
                );
            }
        },
        None => ("http".to_string(), raw.strip_prefix("//").unwrap_or(raw)),
    };
    let (_, host, port) = match split_authority(authority_of(rest), true) {
        Ok(parts) => parts,
        Err(why) => return ProxyReading::Rejects(why),
    };
    let port = match port {
        None | Some("") => None,
        Some(p) if p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u32>().is_ok_and(|n| n <= 65535) => {
            p.parse::<u16>().ok().filter(|n| *n != 0)
        }
        Some(_) => return ProxyReading::Rejects("the port is not a number up to 65535".into()),
    };
    if host.is_empty() {
        return ProxyReading::Rejects("no host".into());
    }
    if scheme.starts_with("socks") {
        return ProxyReading::Rejects(
            "requests speaks SOCKS only with PySocks installed (pip install requests[socks])".into(),
        );
    }
    let port = match scheme.as_str() {
        "http" => port.unwrap_or(80),
        "https" => port.unwrap_or(443),
        other => return ProxyReading::Rejects(format!("requests does not speak {} to a proxy", scheme_words(other))),
    };
    ProxyReading::Uses { scheme, host: host.to_ascii_lowercase(), port }
}

/// Go's `url.Parse` as far as a proxy value needs it: (scheme, host, port
/// text) or why it fails.
fn go_parse(raw: &str) -> Result<(String, String, Option<String>), String> {
    if raw.contains(|c: char| c.is_ascii_control()) {
        return Err("a control character".into());
    }
    let without_fragment = raw.split('#').next().unwrap_or_default();
    // getScheme: letters first, then letters, digits, '+', '-', '.'; a
    // digit or '+-.' first means no scheme.
    let mut scheme = "";
    let mut rest = without_fragment;
    for (i, c) in without_fragment.char_indices() {
        match c {
            'a'..='z' | 'A'..='Z' => {}
            '0'..='9' | '+' | '-' | '.' if i > 0 => {}
            ':' if i == 0 => return Err("missing protocol scheme".into()),
            ':' => {
                scheme = &without_fragment[..i];
                rest = &without_fragment[i + 1..];
                break;
            }
            _ => break,
        }
    }
    let scheme = scheme.to_ascii_lowercase();
    let rest = rest.split('?').next().unwrap_or_default();
    let Some(rest) = rest.strip_prefix("//").filter(|_| !scheme.is_empty()) else {
        if scheme.is_empty() && rest.split('/').next().is_some_and(|seg| seg.contains(':')) {
            return Err("first path segment in URL cannot contain colon".into());
        }
        return Ok((scheme, String::new(), None));
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let (_, host, port) = split_authority(authority, true)?;
    if let Some(p) = port
        && !p.bytes().all(|b| b.is_ascii_digit())
    {
        return Err("the port is not a number".into());
    }
    if host.contains(|c: char| c == ' ' || c == '%' && !host.starts_with(|c: char| c.is_ascii_hexdigit())) {
        return Err("invalid character in host name".into());
    }
    Ok((scheme, host.to_string(), port.filter(|p| !p.is_empty()).map(str::to_string)))
}

fn go_reading(raw: &str) -> ProxyReading {
    let first = go_parse(raw);
    let parsed = match &first {
        Ok((scheme, _, _)) if ["http", "https", "socks5"].contains(&scheme.as_str()) => first.clone(),
        _ => match go_parse(&format!("http://{raw}")) {
            Ok(again) => Ok(again),
            Err(_) => first.clone(),
        },
    };
    let (scheme, host, port) = match parsed {
        Ok(p) => p,
        Err(why) => return ProxyReading::Ignores(format!("Go cannot parse it ({why})")),
    };
    if !["http", "https", "socks5"].contains(&scheme.as_str()) {
        return ProxyReading::Rejects(format!("Go does not speak {} to a proxy", scheme_words(&scheme)));
    }
    if host.is_empty() {
        return ProxyReading::Rejects("no host".into());
    }
    let port = match port {
        None => match scheme.as_str() {
            "https" => 443,
            "socks5" => 1080,
            _ => 80,
        },
        Some(p) => match port_number(&p) {
            Ok(p) => p,
            Err(why) => return ProxyReading::Rejects(why),
        },
    };
    ProxyReading::Uses { scheme, host: host.to_ascii_lowercase(), port }
}

/// Whether a proxy value carries a password, however malformed the rest
/// is: the user-info (before the last `@` of what follows the scheme) has a
/// `:` followed by something.
pub fn has_password(raw: &str) -> bool {
    let rest = raw.split_once("://").map_or(raw, |(_, r)| r);
    rest.rsplit_once('@').and_then(|(userinfo, _)| userinfo.split_once(':')).is_some_and(|(_, pw)| !pw.is_empty())
}

/// Whether `client` sends an `https://` request for `host` (no explicit
/// port) directly, given the `NO_PROXY` value it reads. `host` is a name, an
/// IPv4 address or an IPv6 address (with or without brackets).
pub fn bypasses(client: Client, no_proxy: &str, host: &str) -> bool {
    bypasses_at(client, no_proxy, host, None, 443)
}

/// Whether `client` sends a request for `host` directly, given `no_proxy`:
/// `port` is the URL's explicit port (`None` when the URL has none) and
/// `default_port` its scheme's (80, 443).
///
/// Each client's rule is its own code, read and then checked against the
/// real client by tests/no_proxy_clients.rs: curl 7.88 (lib/noproxy.c),
/// requests 2.34 (`utils.should_bypass_proxies`, which also asks urllib's
/// `proxy_bypass_environment`) and Go 1.19 (`x/net/http/httpproxy`).
pub fn bypasses_at(client: Client, no_proxy: &str, host: &str, port: Option<u16>, default_port: u16) -> bool {
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    match client {
        Client::Curl => curl_bypasses(no_proxy, bare),
        Client::Requests => requests_bypasses(no_proxy, bare, port) || urllib_bypasses(Some(no_proxy), bare),
        Client::Go => go_bypasses(no_proxy, bare, port.unwrap_or(default_port)),
    }
}

/// curl 7.88's `Curl_check_noproxy`: `*` only as the whole value; entries
/// split at commas and blanks; a name matches itself and its subdomains
/// (one leading and one trailing dot of the entry ignored, no wildcards, no
/// ports); an IPv4 host matches `IP` or `IP/BITS`. curl hands it the IPv6
/// host without brackets, which it then treats as a name (exact text only).
fn curl_bypasses(no_proxy: &str, name: &str) -> bool {
    if no_proxy.is_empty() {
        return false;
    }
    if no_proxy == "*" {
        return true;
    }
    let ipv4 = name.parse::<std::net::Ipv4Addr>().ok();
    let name = name.as_bytes();
    let name = match (ipv4, name.last()) {
        (None, Some(b'.')) => &name[..name.len() - 1],
        _ => name,
    };
    no_proxy.split([',', ' ', '\t']).filter(|t| !t.is_empty()).any(|token| match ipv4 {
        Some(ip) => curl_cidr4(ip, token),
        None => {
            let mut t = token.as_bytes();
            if let Some(rest) = t.strip_suffix(b".") {
                t = rest;
            }
            if let Some(rest) = t.strip_prefix(b".") {
                t = rest;
            }
            if t.len() == name.len() {
                t.eq_ignore_ascii_case(name)
            } else if t.len() < name.len() {
                let cut = name.len() - t.len();
                name[cut - 1] == b'.' && t.eq_ignore_ascii_case(&name[cut..])
            } else {
                false
            }
        }
    })
}

/// curl's `Curl_cidr4_match`: `BITS` read as C's atoi does; 0 (or none)
/// and 32 mean the address itself, above 32 nothing.
fn curl_cidr4(ip: std::net::Ipv4Addr, token: &str) -> bool {
    if token.len() >= 128 {
        return false;
    }
    let (network, bits) = match token.split_once('/') {
        Some((n, b)) => (n, c_atoi(b)),
        None => (token, 0),
    };
    let Ok(network) = network.parse::<std::net::Ipv4Addr>() else { return false };
    match bits {
        0 | 32 => network == ip,
        1..=31 => {
            let mask = u32::MAX << (32 - bits);
            (u32::from(ip) ^ u32::from(network)) & mask == 0
        }
        _ => false,
    }
}

/// C's `atoi` for what follows a slash: optional blanks and sign, then digits.
fn c_atoi(s: &str) -> i64 {
    let s = s.trim_start();
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let n =
        digits.bytes().take_while(u8::is_ascii_digit).fold(0i64, |n, d| (n * 10 + i64::from(d - b'0')).min(1 << 40));
    if negative { -n } else { n }
}

/// requests' own test in `should_bypass_proxies`: spaces removed (not tabs),
/// entries split at commas; an IPv4 host matches `IP` (same text) or
/// `IP/1..32`; any other host (names, IPv6) matches an entry, leading dots
/// stripped, equal to the host or to `host:port` (when the URL gave a port),
/// or a dot-bounded suffix of either. Entries are not lower-cased here
/// (urllib's test, asked too, does that).
fn requests_bypasses(no_proxy: &str, host: &str, port: Option<u16>) -> bool {
    if no_proxy.is_empty() {
        return false;
    }
    let hostname = host.to_lowercase();
    let squeezed = no_proxy.replace(' ', "");
    let mut entries = squeezed.split(',').filter(|e| !e.is_empty());
    if let Some(ip) = inet_aton(&hostname) {
        return entries.any(|e| match python_cidr(e) {
            Some((network, bits)) => {
                let mask = u32::MAX << (32 - bits);
                u32::from(ip) & mask == u32::from(network) & mask
            }
            None => hostname == e,
        });
    }
    let with_port = match port {
        Some(p) if p != 0 => format!("{hostname}:{p}"),
        _ => hostname.clone(),
    };
    entries.any(|e| {
        let e = e.trim_start_matches('.');
        if hostname == e || with_port == e {
            return true;
        }
        let dotted = format!(".{e}");
        hostname.ends_with(&dotted) || with_port.ends_with(&dotted)
    })
}

/// requests' `is_valid_cidr`: `A.B.C.D/N` (one slash, N from 1 to 32, the
/// address as `inet_aton` reads it).
fn python_cidr(entry: &str) -> Option<(std::net::Ipv4Addr, u32)> {
    let (network, bits) = entry.split_once('/')?;
    if bits.contains('/') {
        return None;
    }
    let bits: u32 = bits.trim().parse().ok()?;
    if !(1..=32).contains(&bits) {
        return None;
    }
    Some((inet_aton(network)?, bits))
}

/// `inet_aton` as glibc reads an address (what Python's `socket.inet_aton`
/// calls): one to four parts, each decimal, octal (leading 0) or hex (0x),
/// the last one filling the remaining bytes.
fn inet_aton(s: &str) -> Option<std::net::Ipv4Addr> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut values = Vec::with_capacity(4);
    for part in &parts {
        let (digits, radix) = if let Some(h) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
            (h, 16)
        } else if part.len() > 1 && part.starts_with('0') {
            (&part[1..], 8)
        } else {
            (*part, 10)
        };
        if digits.is_empty() && radix != 16 {
            return None;
        }
        let v = if digits.is_empty() { 0 } else { u32::from_str_radix(digits, radix).ok()? };
        values.push(v);
    }
    let (last, head) = values.split_last()?;
    if head.iter().any(|v| *v > 255) {
        return None;
    }
    let room = 8 * (4 - head.len() as u32);
    if room < 32 && *last >= 1 << room {
        return None;
    }
    let mut n: u32 = 0;
    for (i, v) in head.iter().enumerate() {
        n |= v << (24 - 8 * i as u32);
    }
    Some(std::net::Ipv4Addr::from(n | last))
}

/// urllib's `proxy_bypass_environment` as requests calls it (with the host,
/// no port): `*` only as the whole value; entries split at commas, blanks
/// around them stripped, leading dots stripped, compared lower-case with the
/// host, and with the host cut at its last `:digits` (which for an IPv6
/// address cuts its last group), equal or a dot-bounded suffix.
fn urllib_bypasses(no_proxy: Option<&str>, host: &str) -> bool {
    let Some(no_proxy) = no_proxy else { return false };
    if no_proxy == "*" {
        return true;
    }
    let host = host.to_lowercase();
    let hostonly = match host.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host.as_str(),
    };
    no_proxy.split(',').map(|n| n.trim_matches(PY_WHITESPACE)).filter(|n| !n.is_empty()).any(|name| {
        let name = name.trim_start_matches('.').to_lowercase();
        if hostonly == name || host == name {
            return true;
        }
        let dotted = format!(".{name}");
        hostonly.ends_with(&dotted) || host.ends_with(&dotted)
    })
}

/// What Python's `str.strip()` strips (the ASCII part).
const PY_WHITESPACE: &[char] = &[' ', '\t', '\n', '\r', '\x0b', '\x0c', '\x1c', '\x1d', '\x1e', '\x1f'];

/// Go 1.19's `httpproxy` (`config.init` and `useProxy`): `localhost` and
/// loopback addresses are never proxied; entries split at commas, trimmed
/// and lower-cased; `*` anywhere means every host; `IP/BITS` (v4 or v6) and
/// `IP` or `IP:PORT` (`[v6]:PORT`) match addresses; any other entry is a
/// domain, optionally with `:PORT`: `x` matches x and its subdomains, `.x`
/// and `*.x` only subdomains. A port in an entry must equal the URL's port
/// (its scheme's default when the URL has none).
fn go_bypasses(no_proxy: &str, host: &str, port: u16) -> bool {
    if host == "localhost" {
        return true;
    }
    let ip: Option<IpAddr> = host.parse().ok();
    if ip.is_some_and(|ip| ip.is_loopback()) {
        return true;
    }
    let host = host.trim().to_lowercase();
    let port = port.to_string();
    let mut ip_matchers: Vec<Box<dyn Fn(IpAddr) -> bool>> = Vec::new();
    let mut domain_matchers: Vec<(String, String, bool)> = Vec::new();
    for entry in no_proxy.split(',') {
        let p = entry.trim_matches(GO_SPACE).to_lowercase();
        if p.is_empty() {
            continue;
        }
        if p == "*" {
            return true;
        }
        if let Some(net) = go_cidr(&p) {
            ip_matchers.push(Box::new(move |ip| net.contains(&ip)));
            continue;
        }
        let (phost, pport) = match go_split_host_port(&p) {
            Some(("", _)) => continue,
            Some((h, port)) => (h.to_string(), port.to_string()),
            None => (p.clone(), String::new()),
        };
        if let Ok(pip) = phost.parse::<IpAddr>() {
            let wanted = pport.clone();
            let here = port.clone();
            ip_matchers.push(Box::new(move |ip| ip == pip && (wanted.is_empty() || wanted == here)));
            continue;
        }
        let phost = phost.strip_prefix('*').filter(|h| h.starts_with('.')).unwrap_or(&phost);
        let (suffix, match_host) = match phost.starts_with('.') {
            true => (phost.to_string(), false),
            false => (format!(".{phost}"), true),
        };
        domain_matchers.push((suffix, pport, match_host));
    }
    if let Some(ip) = ip
        && ip_matchers.iter().any(|m| m(ip))
    {
        return true;
    }
    domain_matchers.iter().any(|(suffix, pport, match_host)| {
        (host.ends_with(suffix.as_str()) || (*match_host && host == suffix[1..]))
            && (pport.is_empty() || *pport == port)
    })
}

/// What Go's `strings.TrimSpace` trims (the ASCII part).
const GO_SPACE: &[char] = &[' ', '\t', '\n', '\r', '\x0b', '\x0c'];

/// Go's `net.ParseCIDR`: an address, a slash, and a decimal prefix length
/// without sign or leading zeros, within the family's size.
fn go_cidr(s: &str) -> Option<IpNet> {
    let (addr, bits) = s.split_once('/')?;
    let ip: IpAddr = addr.parse().ok()?;
    if bits.is_empty() || !bits.bytes().all(|b| b.is_ascii_digit()) || (bits.len() > 1 && bits.starts_with('0')) {
        return None;
    }
    let bits: u8 = bits.parse().ok()?;
    IpNet::new(ip, bits).ok()
}

/// Go's `net.SplitHostPort`: `host:port` or `[host]:port`, the host without
/// brackets; `None` where Go returns an error.
fn go_split_host_port(s: &str) -> Option<(&str, &str)> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        (host, after.strip_prefix(':')?)
    } else {
        let (host, port) = s.rsplit_once(':')?;
        if host.contains(':') {
            return None;
        }
        (host, port)
    };
    if host.contains(['[', ']']) || port.contains(['[', ']']) {
        return None;
    }
    Some((host, port))
}

/// A variable's value as each client's environment reader returns it: the
/// first of `names` that is set and not empty (curl's `curl_getenv` and Go's
/// `getEnvAny` both treat an empty value as unset).
fn first_set(get: &dyn Fn(&str) -> Option<String>, names: &[&str]) -> Option<(String, String)> {
    names.iter().find_map(|n| get(n).filter(|v| !v.is_empty()).map(|v| (n.to_string(), v)))
}

/// Python's `getproxies_environment` for one scheme: the lower-case
/// variable decides when it is set (empty means none, whatever the
/// upper-case one says); otherwise the upper-case one when not empty.
fn python_env(get: &dyn Fn(&str) -> Option<String>, lower: &str) -> Option<(String, String)> {
    match get(lower) {
        Some(v) if v.is_empty() => None,
        Some(v) => Some((lower.to_string(), v)),
        None => {
            let upper = lower.to_ascii_uppercase();
            get(&upper).filter(|v| !v.is_empty()).map(|v| (upper, v))
        }
    }
}

/// The proxy variable `client` uses for a `scheme://` URL (`http` or
/// `https`), and its value; `None` when it sends every request directly.
///
/// curl reads `<scheme>_proxy`, then `HTTPS_PROXY` (never `HTTP_PROXY`),
/// then `all_proxy`, `ALL_PROXY`; Python (`getproxies` and requests'
/// fallback to `all`) reads the lower case first, an empty lower case
/// hiding the upper; Go reads `HTTPS_PROXY` then `https_proxy` (upper
/// first) and no `ALL_PROXY`.
pub fn proxy_value_for(client: Client, scheme: &str, get: &dyn Fn(&str) -> Option<String>) -> Option<(String, String)> {
    let lower = format!("{}_proxy", scheme.to_ascii_lowercase());
    let upper = lower.to_ascii_uppercase();
    match client {
        Client::Curl => {
            let own: &[&str] = if lower == "http_proxy" { &["http_proxy"] } else { &[&lower, &upper] };
            first_set(get, own).or_else(|| first_set(get, &["all_proxy", "ALL_PROXY"]))
        }
        Client::Requests => python_env(get, &lower).or_else(|| python_env(get, "all_proxy")),
        Client::Go => first_set(get, &[&upper, &lower]),
    }
}

/// The `NO_PROXY` value `client` reads: curl and requests `no_proxy` first,
/// Go `NO_PROXY` first; for each, an empty value counts as unset.
pub fn no_proxy_value_for(client: Client, get: &dyn Fn(&str) -> Option<String>) -> Option<(String, String)> {
    match client {
        Client::Curl | Client::Requests => first_set(get, &["no_proxy", "NO_PROXY"]),
        Client::Go => first_set(get, &["NO_PROXY", "no_proxy"]),
    }
}

/// The whole decision for one request, from the environment: the proxy
/// variable (and value) `client` sends `scheme://host[:port]/` to, or `None`
/// for a direct request (also when Go drops a value it cannot parse: a
/// value a client rejects still counts as sent to that proxy, where it
/// fails). Unlike [`bypasses_at`] with
/// [`no_proxy_value_for`], this knows that requests' two tests read
/// `NO_PROXY` differently (its own takes `no_proxy or NO_PROXY`, urllib's
/// lets an empty `no_proxy` hide `NO_PROXY`).
pub fn route_for(
    client: Client,
    scheme: &str,
    host: &str,
    port: Option<u16>,
    get: &dyn Fn(&str) -> Option<String>,
) -> Option<(String, String)> {
    let proxy = proxy_value_for(client, scheme, get)?;
    if matches!(read_proxy_value(client, &proxy.1), ProxyReading::Ignores(_)) {
        // Go drops a value it cannot parse and connects directly.
        return None;
    }
    let default_port = if scheme.eq_ignore_ascii_case("https") { 443 } else { 80 };
    let no_proxy = no_proxy_value_for(client, get).map(|(_, v)| v).unwrap_or_default();
    let direct = match client {
        Client::Requests => {
            let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
            let urllib = python_env(get, "no_proxy").map(|(_, v)| v);
            requests_bypasses(&no_proxy, bare, port) || urllib_bypasses(urllib.as_deref(), bare)
        }
        _ => bypasses_at(client, &no_proxy, host, port, default_port),
    };
    (!direct).then_some(proxy)
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

/// The proxy an `https://` request uses, as Python requests picks it (the
/// client amlnet's own proxy probe follows): see [`proxy_value_for`].
pub fn https_proxy_value(get: &dyn Fn(&str) -> Option<String>) -> Option<(String, String)> {
    proxy_value_for(Client::Requests, "https", get)
}

/// `NO_PROXY` as requests picks it (`no_proxy`, then `NO_PROXY`).
pub fn no_proxy_value(get: &dyn Fn(&str) -> Option<String>) -> Option<(String, String)> {
    no_proxy_value_for(Client::Requests, get)
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
        for bad in ["", "http://", "ftp://proxy:21", "http://proxy:99999", "\"http://p:1\"", "http://p :1"] {
            assert!(parse_proxy_url(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn no_reason_echoes_a_piece_of_the_value() {
        let values = [
            "user:S3cr3t@host:1",
            "S3cr3t://host:1",
            "S3cr3t:1",
            "http://u:S3cr3t#1@h:1",
            "http://u:S3cr3t@h:S3cr3t",
            "http://u:p@S3cr3t@h:1",
            "http://u:S3cr3t@:1",
            "http://u:S3cr3t@h:99999",
            "u:S3cr3t@[::1",
        ];
        for v in values {
            for c in Client::ALL {
                if let ProxyReading::Rejects(why) | ProxyReading::Ignores(why) = read_proxy_value(c, v) {
                    assert!(!why.contains("S3cr3t"), "{c:?} on {v}: {why}");
                }
            }
        }
    }

    #[test]
    fn a_password_is_found_in_a_value_no_client_can_use() {
        assert!(has_password("http://bob:pw@proxy:99999/"));
        assert!(has_password("bob:pw@proxy:3128"));
        assert!(!has_password("http://bob@proxy:3128"));
        assert!(!has_password("http://proxy:3128"));
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
        // requests 2.34 tests a dot-bounded suffix (2.31, vendored by pip, did not).
        for c in Client::ALL {
            assert!(!bypasses(c, "example.com", "badexample.com"), "{c:?}");
        }
        // `*` inside a list: only Go reads it as "everything".
        assert!(bypasses(Client::Go, "a.com,*", "x.org"));
        assert!(!bypasses(Client::Curl, "a.com,*", "x.org"));
        assert!(!bypasses(Client::Requests, "a.com,*", "x.org"));
        // Go never proxies loopback; curl and requests need it listed.
        assert!(bypasses(Client::Go, "", "127.0.0.1") && !bypasses(Client::Curl, "", "127.0.0.1"));
        // An IPv6 CIDR: only Go reads it; curl compares IPv6 hosts as text.
        assert!(bypasses(Client::Go, "2001:db8::/32", "[2001:db8::1]"));
        assert!(!bypasses(Client::Curl, "2001:db8::/32", "2001:db8::1"));
        assert!(bypasses(Client::Curl, "2001:db8::1", "[2001:db8::1]"));
        // A port in an entry: Go and requests compare it, curl never matches.
        assert!(bypasses_at(Client::Go, "example.com:8080", "example.com", Some(8080), 80));
        assert!(bypasses_at(Client::Requests, "example.com:8080", "example.com", Some(8080), 80));
        assert!(!bypasses_at(Client::Curl, "example.com:8080", "example.com", Some(8080), 80));
        // Go: a leading dot matches subdomains only.
        assert!(!bypasses(Client::Go, ".azureml.ms", "azureml.ms"));
        assert!(bypasses(Client::Curl, ".azureml.ms", "azureml.ms"));
        assert!(bypasses(Client::Requests, "*", "anything"));
    }
}
