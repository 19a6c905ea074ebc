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

/// The most of a refusal's body we read: enough for its first line.
pub const BODY_LIMIT: usize = 4096;

/// Dials the proxy itself; how that failed is the path's outcome.
pub async fn dial(proxy: SocketAddr, url: &ProxyUrl, timeout: Duration) -> Result<TcpStream, PathOutcome> {
    match tokio::time::timeout(timeout, TcpStream::connect(proxy)).await {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => {
            Err(PathOutcome::ProxyUnreachable { proxy: url.masked(), outcome: Box::new(super::tcp::classify(&e)) })
        }
        Err(_) => Err(PathOutcome::ProxyUnreachable { proxy: url.masked(), outcome: Box::new(PathOutcome::TimedOut) }),
    }
}

/// Opens a tunnel to `host:port` through the proxy at `proxy`. The answer
/// to CONNECT is read with bounds on both size and time: a head of at most
/// [`HEAD_LIMIT`] bytes, a body of at most [`BODY_LIMIT`], all within `timeout`.
pub async fn connect(
    proxy: SocketAddr,
    url: &ProxyUrl,
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<TcpStream, PathOutcome> {
    let mut stream = dial(proxy, url, timeout).await?;
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
    let began = tokio::time::Instant::now();
    let deadline = began + timeout;
    let masked = url.masked();
    match tokio::time::timeout_at(deadline, stream.write_all(request.as_bytes())).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(PathOutcome::ProxyFailed(format!("proxy {masked}: sending CONNECT: {e}"))),
        Err(_) => return Err(PathOutcome::ProxyNoAnswer { waited: began.elapsed() }),
    }
    // Byte by byte: whatever follows the head belongs to the tunnel.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= HEAD_LIMIT {
            let line = parse_connect_head(&head).status_line;
            return Err(PathOutcome::ProxyFailed(format!(
                "proxy {masked} answered CONNECT with \"{line}\" and a header that did not end within {HEAD_LIMIT} bytes"
            )));
        }
        match tokio::time::timeout_at(deadline, stream.read(&mut byte)).await {
            Ok(Ok(0)) => break,
            Ok(Ok(_)) => head.push(byte[0]),
            Ok(Err(e)) if head.is_empty() => {
                return Err(PathOutcome::ProxyFailed(format!("proxy {masked}: after CONNECT: {e}")));
            }
            Ok(Err(_)) => break,
            // Silence: the proxy is most likely still trying to reach the destination.
            Err(_) if head.is_empty() => return Err(PathOutcome::ProxyNoAnswer { waited: began.elapsed() }),
            Err(_) => {
                let line = parse_connect_head(&head).status_line;
                return Err(PathOutcome::ProxyFailed(format!(
                    "proxy {masked} answered CONNECT with \"{line}\" but its header did not end within {} ms",
                    timeout.as_millis()
                )));
            }
        }
    }
    let parsed = parse_connect_head(&head);
    // The connection ended inside the head: a tunnel cannot follow it.
    let cut = !head.is_empty() && !head.ends_with(b"\r\n\r\n");
    if cut && parsed.status.is_none_or(|s| (200..300).contains(&s)) {
        return Err(PathOutcome::ProxyFailed(format!(
            "proxy {masked} closed the connection in the middle of its answer to CONNECT (\"{}\")",
            parsed.status_line
        )));
    }
    match parsed.status {
        Some(s) if (200..300).contains(&s) => Ok(stream),
        Some(407) => {
            Err(PathOutcome::ProxyAuthRequired { line: parsed.status_line, authenticate: parsed.authenticate })
        }
        Some(status) => {
            let body = read_body(&mut stream, &parsed, deadline).await;
            Err(PathOutcome::ProxyAnswered {
                status,
                line: parsed.status_line,
                server: parsed.server,
                body: crate::probe::http::body_line(&body),
            })
        }
        None if head.is_empty() => Err(PathOutcome::ProxyFailed(format!(
            "proxy {masked} closed the connection after CONNECT without an answer"
        ))),
        None => Err(PathOutcome::ProxyFailed(format!(
            "proxy {masked} answered something else than HTTP: '{}'",
            parsed.status_line
        ))),
    }
}

/// The start of a refusal's body: up to its Content-Length, the end of the
/// connection, [`BODY_LIMIT`] bytes or `deadline`, whichever comes first.
async fn read_body(stream: &mut TcpStream, head: &ConnectHead, deadline: tokio::time::Instant) -> Vec<u8> {
    let want = head.content_length.map_or(BODY_LIMIT, |n| n.min(BODY_LIMIT));
    let mut body = Vec::new();
    let mut buf = [0u8; 1024];
    while body.len() < want {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => body.extend_from_slice(&buf[..n.min(want - body.len())]),
            _ => break,
        }
    }
    if head.chunked {
        // The first chunk's size line is framing, not text.
        if let Some(i) = body.windows(2).position(|w| w == b"\r\n") {
            body.drain(..i + 2);
        }
    }
    body
}

/// The most of a proxy's status line or header value kept for the report.
pub const LINE_LIMIT: usize = 200;

/// What a proxy's answer to `CONNECT` says, every text escaped for the
/// terminal and capped at [`LINE_LIMIT`] characters.
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
    /// `Content-Length`, when it is a number.
    pub content_length: Option<usize>,
    /// Whether the body is chunked.
    pub chunked: bool,
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
    let capped = |s: &str| {
        let kept: String = s.chars().take(LINE_LIMIT).collect();
        if kept.len() < s.len() { format!("{}...", escape_for_terminal(&kept)) } else { escape_for_terminal(s) }
    };
    let header = |name: &str| {
        text.split('\n').skip(1).find_map(|l| {
            l.split_once(':').filter(|(k, _)| k.trim().eq_ignore_ascii_case(name)).map(|(_, v)| capped(v.trim()))
        })
    };
    ConnectHead {
        status_line: capped(raw_status),
        status,
        authenticate: header("proxy-authenticate"),
        server: header("server").or_else(|| header("via")),
        content_length: header("content-length").and_then(|v| v.parse().ok()),
        chunked: header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")),
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
        let long = format!("HTTP/1.1 502 {}\r\nServer: {}\r\n\r\n", "x".repeat(5000), "y".repeat(5000));
        let h = parse_connect_head(long.as_bytes());
        assert_eq!((h.status, h.status_line.len(), h.server.map(|s| s.len())), (Some(502), 203, Some(203)));
        let h = parse_connect_head(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 12\r\n\r\n");
        assert_eq!((h.content_length, h.chunked), (Some(12), false));
    }
}
