//! HTTP: one GET as pip, conda or the Azure CLI would send it, to tell a
//! real answer of the service from a firewall's or proxy's denial page.
//! No credentials, no redirects followed, at most a few KiB of body read.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use http::header::{CONNECTION, HOST, USER_AGENT};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// How much of a body we read: enough to recognise a block page.
pub const BODY_LIMIT: usize = 4096;

/// What the HTTP request showed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HttpObservation {
    /// The URL requested (no query string, nothing secret).
    pub url: String,
    /// Status code, when an answer came.
    pub status: Option<u16>,
    /// The `Server` header.
    pub server: Option<String>,
    /// The `Via` header (a proxy on the way).
    pub via: Option<String>,
    /// The `Location` header of a redirect (not followed).
    pub location: Option<String>,
    /// The start of the body, for recognising block pages.
    pub body_start: String,
    /// Whether the request went through a proxy.
    pub via_proxy: bool,
    /// Why no answer came.
    pub error: Option<String>,
    /// Time spent.
    pub elapsed: Duration,
}

/// GETs `https://host{path}` over `stream`, the TLS connection whose
/// handshake the TLS probe recorded (directly, or through the proxy's
/// tunnel): one connection and one handshake per endpoint, as a client
/// that reuses its connection would see it. HTTP/2 when the server chose
/// it in ALPN, HTTP/1.1 otherwise.
pub async fn get(
    stream: TlsStream<TcpStream>,
    host: &str,
    path: &str,
    via_proxy: bool,
    timeout: Duration,
) -> HttpObservation {
    let started = Instant::now();
    let mut obs = HttpObservation { url: format!("https://{host}{path}"), via_proxy, ..HttpObservation::default() };
    match tokio::time::timeout(timeout, exchange(stream, host, path)).await {
        Ok(Ok(answer)) => {
            // Header values come from the peer: masked, then escaped for the terminal.
            let header = |name: &str| {
                answer
                    .headers
                    .get(name)
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                    .map(|v| crate::term::escape_for_terminal(&crate::redact::mask_url(&v)))
            };
            obs.status = Some(answer.status);
            obs.server = header("server");
            obs.via = header("via");
            obs.location = header("location");
            obs.body_start = String::from_utf8_lossy(&answer.body).into_owned();
        }
        Ok(Err(e)) => obs.error = Some(e),
        Err(_) => obs.error = Some(format!("no answer within {} ms", timeout.as_millis())),
    }
    obs.elapsed = started.elapsed();
    obs
}

/// What came back.
struct Answer {
    status: u16,
    headers: http::HeaderMap,
    body: Vec<u8>,
}

/// Ends the connection task when the request is done or abandoned.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn exchange(stream: TlsStream<TcpStream>, host: &str, path: &str) -> Result<Answer, String> {
    let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2".as_slice());
    let io = TokioIo::new(stream);
    let user_agent = concat!("amlnet/", env!("CARGO_PKG_VERSION"), " (network check)");
    let chain = |e: &dyn std::error::Error| crate::probe::error_chain(e);
    let (response, _connection) = if h2 {
        let request = Request::get(format!("https://{host}{path}"))
            .header(USER_AGENT, user_agent)
            .body(Empty::<Bytes>::new())
            .map_err(|e| chain(&e))?;
        let (mut sender, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), io).await.map_err(|e| chain(&e))?;
        let connection = AbortOnDrop(tokio::spawn(async move {
            let _ = conn.await;
        }));
        (sender.send_request(request).await.map_err(|e| chain(&e))?, connection)
    } else {
        let request = Request::get(path)
            .header(HOST, host)
            .header(USER_AGENT, user_agent)
            .header(CONNECTION, "close")
            .body(Empty::<Bytes>::new())
            .map_err(|e| chain(&e))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.map_err(|e| chain(&e))?;
        let connection = AbortOnDrop(tokio::spawn(async move {
            let _ = conn.await;
        }));
        (sender.send_request(request).await.map_err(|e| chain(&e))?, connection)
    };
    let status = response.status().as_u16();
    let (parts, mut body) = response.into_parts();
    let mut read = Vec::new();
    while read.len() < BODY_LIMIT {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    read.extend_from_slice(&data[..data.len().min(BODY_LIMIT - read.len())]);
                }
            }
            _ => break,
        }
    }
    Ok(Answer { status, headers: parts.headers, body: read })
}
