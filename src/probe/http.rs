//! HTTP: one GET as pip, conda or the Azure CLI would send it, to tell a
//! real answer of the service from a firewall's or proxy's denial page,
//! over the TLS connection the TLS probe opened, or in plain HTTP (the
//! revocation endpoints on port 80), directly or through the proxy.
//! No credentials, no redirects followed, at most a few KiB of body read.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use http::header::{CONNECTION, HOST, USER_AGENT};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// How much of a body we read: enough to recognise a block page.
pub const BODY_LIMIT: usize = 4096;

/// What the HTTP request showed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HttpObservation {
    /// The URL requested (no query string, nothing secret).
    pub url: String,
    /// Status code, when an answer came.
    pub status: Option<u16>,
    /// The status line as it came (HTTP/1.x: with the server's own reason
    /// phrase), escaped for the terminal.
    pub status_line: String,
    /// The `Server` header.
    pub server: Option<String>,
    /// The `Via` header (a proxy on the way).
    pub via: Option<String>,
    /// The `Location` header of a redirect (not followed).
    pub location: Option<String>,
    /// The start of the body, for recognising block pages.
    pub body_start: String,
    /// The first line of text of the body (see [`body_line`]).
    pub body_line: Option<String>,
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
    stream: crate::probe::tls::Stream,
    host: &str,
    path: &str,
    via_proxy: bool,
    timeout: Duration,
) -> HttpObservation {
    let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2".as_slice());
    let url = format!("https://{host}{path}");
    let target = if h2 { url.clone() } else { path.to_string() };
    request(stream, h2, url, &target, host, via_proxy, timeout).await
}

/// GETs the plain `http://` URL `url` (host `host`) over `stream`: a
/// connection to the server itself (`via_proxy` false, origin-form
/// target), or to the proxy, which gets the absolute URL as HTTP proxies do.
pub async fn get_plain(
    stream: TcpStream,
    url: &str,
    host: &str,
    via_proxy: bool,
    timeout: Duration,
) -> HttpObservation {
    let target = if via_proxy {
        url.to_string()
    } else {
        let after_scheme = url.split_once("://").map(|(_, rest)| rest).unwrap_or(url);
        after_scheme.find('/').map(|i| after_scheme[i..].to_string()).unwrap_or_else(|| "/".to_string())
    };
    request(stream, false, crate::redact::mask_url(url), &target, host, via_proxy, timeout).await
}

async fn request<IO>(
    io: IO,
    h2: bool,
    url: String,
    target: &str,
    host: &str,
    via_proxy: bool,
    timeout: Duration,
) -> HttpObservation
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let started = Instant::now();
    let mut obs = HttpObservation { url, via_proxy, ..HttpObservation::default() };
    match tokio::time::timeout(timeout, exchange(io, h2, host, target)).await {
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
            obs.status_line = crate::term::escape_for_terminal(&answer.status_line);
            obs.body_line = body_line(&answer.body);
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
    status_line: String,
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

async fn exchange<IO>(io: IO, h2: bool, host: &str, target: &str) -> Result<Answer, String>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let io = TokioIo::new(io);
    let user_agent = concat!("amlnet/", env!("CARGO_PKG_VERSION"), " (network check)");
    let chain = |e: &dyn std::error::Error| crate::probe::error_chain(e);
    let (response, _connection) = if h2 {
        let request =
            Request::get(target).header(USER_AGENT, user_agent).body(Empty::<Bytes>::new()).map_err(|e| chain(&e))?;
        let (mut sender, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), io).await.map_err(|e| chain(&e))?;
        let connection = AbortOnDrop(tokio::spawn(async move {
            let _ = conn.await;
        }));
        (sender.send_request(request).await.map_err(|e| chain(&e))?, connection)
    } else {
        let request = Request::get(target)
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
    // HTTP/1 keeps the server's own reason phrase ("status code 470"); HTTP/2 has none.
    let reason = match response.extensions().get::<hyper::ext::ReasonPhrase>() {
        Some(r) => String::from_utf8_lossy(r.as_bytes()).into_owned(),
        None => response.status().canonical_reason().unwrap_or("").to_string(),
    };
    let status_line = format!("{:?} {status} {reason}", response.version()).trim_end().to_string();
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
    Ok(Answer { status, status_line, headers: parts.headers, body: read })
}

/// The most of a body line shown.
pub const BODY_LINE_LIMIT: usize = 160;

/// The first line of text of a body, as people would read it first: HTML
/// tags (and what style and script elements hold) taken out, blank lines
/// skipped; masked (a URL's query string), capped at [`BODY_LINE_LIMIT`]
/// characters and escaped for the terminal, since it comes from the peer.
pub fn body_line(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let mut plain = String::with_capacity(text.len());
    let mut rest = text.as_ref();
    while let Some(open) = rest.find('<') {
        plain.push_str(&rest[..open]);
        let tag = &rest[open..];
        let lower: String = tag.chars().take(8).collect::<String>().to_ascii_lowercase();
        let skip_to = if lower.starts_with("<style") {
            tag.to_ascii_lowercase().find("</style>")
        } else if lower.starts_with("<script") {
            tag.to_ascii_lowercase().find("</script>")
        } else {
            None
        };
        let from = skip_to.unwrap_or(0);
        match tag[from..].find('>') {
            Some(close) => {
                // A tag ends a line of text the way a browser's block element would.
                plain.push('\n');
                rest = &tag[from + close + 1..];
            }
            None => {
                rest = "";
            }
        }
    }
    plain.push_str(rest);
    let line = plain.lines().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).find(|l| !l.is_empty())?;
    let capped: String = line.chars().take(BODY_LINE_LIMIT).collect();
    let capped = if line.chars().count() > BODY_LINE_LIMIT { format!("{capped}...") } else { capped };
    // A URL in it may carry credentials or a token: each is masked.
    let masked: Vec<String> =
        capped.split(' ').map(|w| if w.contains("://") { crate::redact::mask_url(w) } else { w.to_string() }).collect();
    Some(crate::term::escape_for_terminal(&masked.join(" ")))
}

#[cfg(test)]
mod tests {
    use super::body_line;

    #[test]
    fn the_first_line_of_text_of_a_body() {
        assert_eq!(
            body_line(b"Action: Deny. Reason: No rule matched. Proceeding with default action.").as_deref(),
            Some("Action: Deny. Reason: No rule matched. Proceeding with default action.")
        );
        let page = b"<!DOCTYPE html>\n<html><head><style>body { x: 1 }</style><title>ERROR: The requested URL could not be retrieved</title></head>";
        assert_eq!(body_line(page).as_deref(), Some("ERROR: The requested URL could not be retrieved"));
        assert_eq!(body_line(b"\r\n  \n"), None);
        assert_eq!(body_line(b"Go to http://u:pw@x/?sig=abc now?").as_deref(), Some("Go to http://***@x/?*** now?"));
        assert_eq!(body_line(b"bad \x1b[31m red"), Some("bad \\x1b[31m red".to_string()));
        let long = vec![b'a'; 1000];
        assert_eq!(body_line(&long).map(|l| l.len()), Some(163));
    }
}
