//! The lab's HTTP proxy: answers `CONNECT host:port` as a corporate proxy
//! would (an allow/deny decision, optional basic authentication) and, when
//! it allows, splices the tunnel to the lab listener for that host. For
//! chosen hosts it fails as real proxies do: a gateway error (squid's own
//! error page), silence while it "keeps trying", or a header with no end.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::probe::ConnectTo;

/// How the lab proxy fails for a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyFault {
    /// 502 Bad Gateway with squid's error page: it could not connect.
    BadGateway,
    /// 504 Gateway Timeout with squid's error page.
    GatewayTimeout,
    /// Reads the CONNECT and never answers (it keeps trying upstream).
    Silent,
    /// Answers 200 and then header lines that never end.
    EndlessHeader,
}

/// How the lab proxy decides.
#[derive(Debug, Clone, Default)]
pub struct ProxyPolicy {
    /// Hosts it fails for, and how.
    pub faults: std::collections::BTreeMap<String, ProxyFault>,
    /// Host names it refuses with 403.
    pub deny: BTreeSet<String>,
    /// `user:password` it requires, if any.
    pub credentials: Option<String>,
    /// Where each lab host resolves, for the connect-to rules.
    pub addresses: std::collections::BTreeMap<String, IpAddr>,
    /// The lab's rules from (address, port) to its loopback listeners.
    pub connect_to: Vec<ConnectTo>,
}

/// Starts the proxy on 127.0.0.1.
pub async fn serve(policy: ProxyPolicy) -> std::io::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let addr = listener.local_addr()?;
    let policy = Arc::new(policy);
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let policy = policy.clone();
            tokio::spawn(async move {
                let _ = tokio::time::timeout(Duration::from_secs(30), handle(stream, &policy)).await;
            });
        }
    });
    Ok((addr, task))
}

async fn handle(mut client: TcpStream, policy: &ProxyPolicy) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
        if client.read(&mut byte).await? == 0 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut words = text.lines().next().unwrap_or("").split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let reply = |status: &str, extra: &str| {
        format!("HTTP/1.1 {status}\r\nServer: lab-proxy\r\n{extra}Content-Length: 0\r\n\r\n")
    };
    if method == "GET" && target.starts_with("http://") {
        return forward_plain(client, target, &text, policy).await;
    }
    if method != "CONNECT" {
        return client.write_all(reply("405 Method Not Allowed", "").as_bytes()).await;
    }
    if let Some(expected) = &policy.credentials {
        let token = base64::engine::general_purpose::STANDARD.encode(expected);
        let sent = text.lines().any(|l| {
            l.split_once(':').is_some_and(|(k, v)| {
                k.trim().eq_ignore_ascii_case("proxy-authorization") && v.trim() == format!("Basic {token}")
            })
        });
        if !sent {
            let challenge = "Proxy-Authenticate: Basic realm=\"lab\"\r\n";
            return client.write_all(reply("407 Proxy Authentication Required", challenge).as_bytes()).await;
        }
    }
    let (host, port) =
        match target.rsplit_once(':').and_then(|(h, p)| Some((h.to_ascii_lowercase(), p.parse::<u16>().ok()?))) {
            Some(hp) => hp,
            None => return client.write_all(reply("400 Bad Request", "").as_bytes()).await,
        };
    match policy.faults.get(&host) {
        Some(ProxyFault::BadGateway) => {
            return client.write_all(squid_error(502, "Bad Gateway", &host).as_bytes()).await;
        }
        Some(ProxyFault::GatewayTimeout) => {
            return client.write_all(squid_error(504, "Gateway Timeout", &host).as_bytes()).await;
        }
        Some(ProxyFault::Silent) => {
            // Held open, as a proxy waiting for its upstream; the connection's
            // 30 s bound (in serve) ends it.
            std::future::pending::<()>().await;
        }
        Some(ProxyFault::EndlessHeader) => {
            client.write_all(b"HTTP/1.1 200 Connection established\r\n").await?;
            // Far more than any client reads, in bounded time (the 30 s bound in serve).
            let line = format!("X-Padding: {}\r\n", "a".repeat(1000));
            for _ in 0..1024 {
                client.write_all(line.as_bytes()).await?;
            }
            return Ok(());
        }
        None => {}
    }
    if policy.deny.contains(&host) {
        return client.write_all(reply("403 Forbidden", "X-Lab-Reason: denied by policy\r\n").as_bytes()).await;
    }
    let resolved = policy.addresses.get(&host).copied();
    let Some(rule) = ConnectTo::find(&policy.connect_to, &host, resolved, port) else {
        return client.write_all(reply("502 Bad Gateway", "").as_bytes()).await;
    };
    let mut upstream = match TcpStream::connect(rule.to).await {
        Ok(s) => s,
        Err(_) => return client.write_all(reply("502 Bad Gateway", "").as_bytes()).await,
    };
    client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await?;
    tokio::io::copy_bidirectional(&mut client, &mut upstream).await.map(|_| ())
}

/// Plain HTTP proxying (`GET http://host/path`): squid's own 403 page for a
/// denied host, else the request in origin form to the lab listener for
/// `host:80` and its answer back.
async fn forward_plain(mut client: TcpStream, target: &str, head: &str, policy: &ProxyPolicy) -> std::io::Result<()> {
    let rest = &target["http://".len()..];
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = authority.split(':').next().unwrap_or("").to_ascii_lowercase();
    if policy.deny.contains(&host) {
        let body = "<!DOCTYPE html>\n<html><head><title>ERROR: The requested URL could not be retrieved</title></head><body id=ERR_ACCESS_DENIED><p>Access control configuration prevents your request from being allowed at this time.</p></body></html>\n";
        let answer = format!(
            "HTTP/1.1 403 Forbidden\r\nServer: squid/5.7\r\nContent-Type: text/html;charset=utf-8\r\nContent-Length: {}\r\nX-Squid-Error: ERR_ACCESS_DENIED 0\r\nVia: 1.1 lab-proxy (squid/5.7)\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        return client.write_all(answer.as_bytes()).await;
    }
    let resolved = policy.addresses.get(&host).copied();
    let Some(rule) = ConnectTo::find(&policy.connect_to, &host, resolved, 80) else {
        return client.write_all(squid_error(502, "Bad Gateway", &host).as_bytes()).await;
    };
    let Ok(mut upstream) = TcpStream::connect(rule.to).await else {
        return client.write_all(squid_error(502, "Bad Gateway", &host).as_bytes()).await;
    };
    let path = if path.is_empty() { "/" } else { path };
    let headers = head.split_once("\r\n").map_or("\r\n", |(_, h)| h);
    upstream.write_all(format!("GET {path} HTTP/1.1\r\n{headers}").as_bytes()).await?;
    tokio::io::copy_bidirectional(&mut client, &mut upstream).await.map(|_| ())
}

/// Squid's answer when it cannot reach the destination (ERR_CONNECT_FAIL,
/// ERR_READ_TIMEOUT), headers and the start of its error page as squid 5
/// sends them.
fn squid_error(status: u16, reason: &str, host: &str) -> String {
    let body = format!(
        "<!DOCTYPE html PUBLIC \"-//W3C//DTD HTML 4.01//EN\">\n<html><head>\n<title>ERROR: The requested URL could not be retrieved</title>\n</head><body id=ERR_CONNECT_FAIL>\n<p>The system returned: (110) Connection timed out</p><p>The remote host or network may be down: {host}</p></body></html>\n"
    );
    format!(
        "HTTP/1.1 {status} {reason}\r\nServer: squid/5.7\r\nMime-Version: 1.0\r\nContent-Type: text/html;charset=utf-8\r\nContent-Length: {}\r\nX-Squid-Error: ERR_CONNECT_FAIL 110\r\nVia: 1.1 lab-proxy (squid/5.7)\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}
