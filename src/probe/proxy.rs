//! The proxy path: our own `CONNECT host:port` to the configured proxy, so
//! the report can say exactly what the proxy answered (HTTP client crates
//! report a refused CONNECT without its status line). On success the tunnel
//! carries the TLS handshake and then the HTTP request.

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::PathOutcome;
use crate::local::proxy::ProxyUrl;
use crate::term::escape_for_terminal;

/// The most of a CONNECT response head we read.
pub const HEAD_LIMIT: usize = 16 * 1024;

/// The proxy to use for HTTPS, with the address it is dialled at.
#[derive(Debug, Clone)]
pub struct ProxyRoute {
    /// The parsed proxy URL (credentials are sent to the proxy only).
    pub url: ProxyUrl,
    /// The address dialled for it.
    pub addr: Option<SocketAddr>,
    /// The `NO_PROXY` value in force.
    pub no_proxy: String,
    /// Which variable it came from (`https_proxy`, ...).
    pub variable: String,
}

/// Opens a tunnel to `host:port` through the proxy at `proxy`.
pub async fn connect(
    proxy: SocketAddr,
    url: &ProxyUrl,
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<TcpStream, PathOutcome> {
    let mut stream = match tokio::time::timeout(timeout, TcpStream::connect(proxy)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            return Err(PathOutcome::ProxyUnreachable {
                proxy: url.masked(),
                outcome: Box::new(super::tcp::classify(&e)),
            });
        }
        Err(_) => {
            return Err(PathOutcome::ProxyUnreachable {
                proxy: url.masked(),
                outcome: Box::new(PathOutcome::TimedOut),
            });
        }
    };
    let mut request = format!(
        "CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: amlnet/{}\r\n",
        env!("CARGO_PKG_VERSION")
    );
    if let Some(user) = &url.user {
        let token = base64::engine::general_purpose::STANDARD
            .encode(format!("{user}:{}", url.password.as_deref().unwrap_or("")));
        request.push_str(&format!("Proxy-Authorization: Basic {token}\r\n"));
    }
    request.push_str("\r\n");
    let exchange = async {
        stream.write_all(request.as_bytes()).await?;
        // Byte by byte: whatever follows the head belongs to the tunnel.
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && head.len() < HEAD_LIMIT {
            if stream.read(&mut byte).await? == 0 {
                break;
            }
            head.push(byte[0]);
        }
        Ok::<_, std::io::Error>(head)
    };
    let head = match tokio::time::timeout(timeout, exchange).await {
        Ok(Ok(h)) => h,
        Ok(Err(e)) => return Err(PathOutcome::ProxyFailed(format!("proxy {}: {e}", url.masked()))),
        Err(_) => return Err(PathOutcome::ProxyFailed(format!("proxy {}: no answer to CONNECT", url.masked()))),
    };
    let parsed = parse_connect_head(&head);
    match parsed.status {
        Some(s) if (200..300).contains(&s) => Ok(stream),
        Some(407) => {
            Err(PathOutcome::ProxyAuthRequired { line: parsed.status_line, authenticate: parsed.authenticate })
        }
        Some(s) => Err(PathOutcome::ProxyDenied { status: s, line: parsed.status_line, server: parsed.server }),
        None if head.is_empty() => {
            Err(PathOutcome::ProxyFailed(format!("proxy {} closed the connection after CONNECT", url.masked())))
        }
        None => Err(PathOutcome::ProxyFailed(format!(
            "proxy {} answered something else than HTTP: '{}'",
            url.masked(),
            parsed.status_line
        ))),
    }
}

/// What a proxy's answer to `CONNECT` says, every text escaped for the terminal.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectHead {
    /// The status line, trimmed.
    pub status_line: String,
    /// The status code, when the line is HTTP.
    pub status: Option<u16>,
    /// `Proxy-Authenticate`.
    pub authenticate: Option<String>,
    /// `Server`, else `Via`.
    pub server: Option<String>,
}

/// Parses the head of a proxy's answer to `CONNECT` (bytes up to the blank
/// line, at most [`HEAD_LIMIT`] of them are ever passed). Pure, for the fuzzer.
pub fn parse_connect_head(head: &[u8]) -> ConnectHead {
    let head = &head[..head.len().min(HEAD_LIMIT)];
    let text = String::from_utf8_lossy(head);
    // Lines end at LF (CR trimmed): a bare CR inside a line stays in it and is escaped.
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let raw_status = lines.next().unwrap_or("").trim();
    let status = raw_status
        .split_whitespace()
        .nth(1)
        .filter(|_| raw_status.starts_with("HTTP/"))
        .and_then(|s| s.parse::<u16>().ok())
        .filter(|s| (100..=999).contains(s));
    let header = |name: &str| {
        text.split('\n').skip(1).find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.trim().eq_ignore_ascii_case(name))
                .map(|(_, v)| escape_for_terminal(v.trim()))
        })
    };
    ConnectHead {
        status_line: escape_for_terminal(raw_status),
        status,
        authenticate: header("proxy-authenticate"),
        server: header("server").or_else(|| header("via")),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_connect_head;

    #[test]
    fn connect_heads_are_parsed_and_escaped() {
        let h = parse_connect_head(b"HTTP/1.1 200 Connection established\r\n\r\n");
        assert_eq!((h.status, h.status_line.as_str()), (Some(200), "HTTP/1.1 200 Connection established"));
        let h = parse_connect_head(
            b"HTTP/1.1 407 Auth\x1b[2J\r\nProxy-Authenticate: Basic realm=\"x\x07\"\r\nVia: 1.1 fw\r\n\r\n",
        );
        assert_eq!(h.status, Some(407));
        assert_eq!(h.status_line, "HTTP/1.1 407 Auth\\x1b[2J");
        assert_eq!(h.authenticate.as_deref(), Some("Basic realm=\"x\\x07\""));
        assert_eq!(h.server.as_deref(), Some("1.1 fw"));
        let h = parse_connect_head(b"SSH-2.0-OpenSSH 200\r\n");
        assert_eq!(h.status, None, "not HTTP");
        assert_eq!(parse_connect_head(b"").status, None);
        assert_eq!(parse_connect_head(b"HTTP/1.1 99999 x\r\n\r\n").status, None);
    }
}
