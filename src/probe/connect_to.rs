//! `--connect-to HOST:PORT:ADDR:PORT`, curl's meaning: dial ADDR:PORT when
//! the plan says HOST:PORT, keeping the name for SNI and Host. HOST may also
//! be an address the DNS answer gave, so the lab can map private addresses
//! to its loopback listeners; an empty HOST or PORT matches any.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

/// One mapping rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectTo {
    /// Host name or address to match; `None` matches any.
    pub host: Option<String>,
    /// Port to match; `None` matches any.
    pub port: Option<u16>,
    /// Where to dial instead.
    pub to: SocketAddr,
}

impl ConnectTo {
    /// The first rule that matches the endpoint by name, or else by the
    /// address DNS gave for it.
    pub fn find<'a>(rules: &'a [ConnectTo], host: &str, resolved: Option<IpAddr>, port: u16) -> Option<&'a ConnectTo> {
        let port_ok = |r: &ConnectTo| r.port.is_none_or(|p| p == port);
        rules.iter().find(|r| {
            port_ok(r)
                && match &r.host {
                    None => true,
                    Some(h) => {
                        h.eq_ignore_ascii_case(host) || (resolved.is_some() && h.parse::<IpAddr>().ok() == resolved)
                    }
                }
        })
    }
}

impl fmt::Display for ConnectTo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = match &self.host {
            Some(h) if h.contains(':') => format!("[{h}]"),
            Some(h) => h.clone(),
            None => String::new(),
        };
        let port = self.port.map(|p| p.to_string()).unwrap_or_default();
        write!(f, "{host}:{port}:{}", self.to)
    }
}

impl FromStr for ConnectTo {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let parts = split_fields(s).ok_or_else(|| format!("'{s}' should be HOST:PORT:ADDR:PORT"))?;
        let [host, port, addr, to_port] = parts.as_slice() else {
            return Err(format!("'{s}' should be HOST:PORT:ADDR:PORT"));
        };
        let parse_port =
            |p: &str| p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| format!("'{s}': '{p}' is not a port"));
        let port = if port.is_empty() { None } else { Some(parse_port(port)?) };
        let ip: IpAddr = addr.parse().map_err(|_| {
            format!("'{s}': '{addr}' is not an IP address (amlnet does not resolve the target of --connect-to)")
        })?;
        let to = SocketAddr::new(ip, parse_port(to_port)?);
        let host = if host.is_empty() { None } else { Some(host.to_ascii_lowercase()) };
        Ok(ConnectTo { host, port, to })
    }
}

/// Splits on ':' outside brackets; brackets are removed. curl writes IPv6
/// addresses in brackets, which a plain split would cut apart.
fn split_fields(s: &str) -> Option<Vec<String>> {
    let mut out = vec![String::new()];
    let mut in_bracket = false;
    for c in s.chars() {
        match c {
            '[' if !in_bracket => in_bracket = true,
            ']' if in_bracket => in_bracket = false,
            ':' if !in_bracket => out.push(String::new()),
            c => out.last_mut()?.push(c),
        }
    }
    (!in_bracket).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_curl_forms() {
        let r: ConnectTo = "example.com:443:127.0.0.1:8443".parse().unwrap();
        assert_eq!(r.host.as_deref(), Some("example.com"));
        assert_eq!(r.to, "127.0.0.1:8443".parse().unwrap());
        let r: ConnectTo = "[fd00::5]::[::1]:9000".parse().unwrap();
        assert_eq!(r.host.as_deref(), Some("fd00::5"));
        assert_eq!(r.port, None);
        assert_eq!(r.to, "[::1]:9000".parse().unwrap());
        assert!("a:b:c".parse::<ConnectTo>().is_err());
        assert!("h:443:notanip:1".parse::<ConnectTo>().is_err());
    }

    #[test]
    fn matches_name_then_address() {
        let rules: Vec<ConnectTo> =
            vec!["10.0.0.4:443:127.0.0.1:1".parse().unwrap(), "x.example:443:127.0.0.1:2".parse().unwrap()];
        assert_eq!(ConnectTo::find(&rules, "x.example", None, 443).unwrap().to.port(), 2);
        assert_eq!(ConnectTo::find(&rules, "y.example", Some("10.0.0.4".parse().unwrap()), 443).unwrap().to.port(), 1);
        assert!(ConnectTo::find(&rules, "y.example", Some("10.0.0.4".parse().unwrap()), 80).is_none());
    }
}
