//! HTTP: one GET as pip, conda or the Azure CLI would send it, to tell a
//! real answer of the service from a firewall's or proxy's denial page.
//! No credentials, no redirects followed, at most a few KiB of body read.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::proxy::ProxyRoute;
use super::tls::{Presented, TrustStore};

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

/// GETs `https://host{path}`, dialling `dial` (the same address the TCP and
/// TLS probes used: the endpoint, or the proxy when one applies).
pub async fn get(
    host: &str,
    path: &str,
    dial: SocketAddr,
    proxy: Option<&ProxyRoute>,
    trust: &TrustStore,
    timeout: Duration,
) -> HttpObservation {
    let started = Instant::now();
    let url = format!("https://{host}{path}");
    let mut obs = HttpObservation { url: url.clone(), ..HttpObservation::default() };
    let config = match trust.client_config(Arc::new(Mutex::new(Presented::default()))) {
        Ok(c) => c,
        Err(e) => {
            obs.error = Some(e);
            return obs;
        }
    };
    let mut builder = reqwest::Client::builder()
        .use_preconfigured_tls(config)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .user_agent(concat!("amlnet/", env!("CARGO_PKG_VERSION"), " (network check)"));
    builder = match proxy {
        Some(route) => {
            obs.via_proxy = true;
            // The proxy is dialled at the address amlnet resolved (`dial`); its
            // credentials go to the proxy only.
            let mut p = match reqwest::Proxy::all(format!("http://{dial}")) {
                Ok(p) => p,
                Err(e) => {
                    obs.error = Some(crate::probe::error_chain(&e));
                    return obs;
                }
            };
            if let Some(user) = &route.url.user {
                p = p.basic_auth(user, route.url.password.as_deref().unwrap_or(""));
            }
            builder.proxy(p)
        }
        None => builder.no_proxy().resolve(host, dial),
    };
    let client = builder.build();
    let client = match client {
        Ok(c) => c,
        Err(e) => {
            obs.error = Some(crate::probe::error_chain(&e));
            return obs;
        }
    };
    match client.get(&url).send().await {
        Ok(mut resp) => {
            obs.status = Some(resp.status().as_u16());
            // Header values come from the peer: masked, then escaped for the terminal.
            let header = |name: &str| {
                resp.headers()
                    .get(name)
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                    .map(|v| crate::term::escape_for_terminal(&crate::redact::mask_url(&v)))
            };
            obs.server = header("server");
            obs.via = header("via");
            obs.location = header("location");
            let mut body = Vec::new();
            while body.len() < BODY_LIMIT {
                match tokio::time::timeout(timeout, resp.chunk()).await {
                    Ok(Ok(Some(chunk))) => body.extend_from_slice(&chunk[..chunk.len().min(BODY_LIMIT - body.len())]),
                    _ => break,
                }
            }
            obs.body_start = String::from_utf8_lossy(&body).into_owned();
        }
        Err(e) => obs.error = Some(crate::probe::error_chain(&e)),
    }
    obs.elapsed = started.elapsed();
    obs
}
