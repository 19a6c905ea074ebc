//! The lab's certificates and TLS servers: a lab CA standing in for the
//! service's issuer, an "inspection" CA standing in for a TLS-inspecting
//! firewall, and listeners that complete the handshake and answer one HTTP
//! request, reset after the ClientHello, or never answer. Leaves may name
//! revocation endpoints (CRL and OCSP URLs on lab names, which the lab's
//! DNS and `--connect-to` rules send to a loopback listener, never a real
//! host), and may come with an oversized chain.

use std::collections::BTreeSet;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use rcgen::{
    BasicConstraints, CertificateParams, CrlDistributionPoint, CustomExtension, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::ResolvesServerCertUsingSni;
use rustls::sign::CertifiedKey;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

/// The issuer name of the lab's "genuine" certificates: it carries
/// "Microsoft", as the catalogue expects of Azure's own issuers.
pub const LAB_CA_NAME: &str = "Microsoft Azure RSA TLS Issuing CA 08 (amlnet lab)";
/// The issuer name of the simulated inspecting firewall.
pub const INSPECTION_CA_NAME: &str = "Contoso Firewall TLS Inspection CA";

/// A certificate authority that signs lab certificates.
pub struct LabCa {
    issuer: Issuer<'static, KeyPair>,
    /// The CA certificate, PEM.
    pub pem: String,
    der: CertificateDer<'static>,
    /// The CRL and OCSP URLs its leaves name, when they name any.
    pub revocation: Option<Revocation>,
}

/// Where a lab CA's leaves say revocation is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    /// The CRL distribution point (`http://` URL).
    pub crl: String,
    /// The OCSP responder (`http://` URL).
    pub ocsp: String,
}

/// DER of a tag-length-value. rcgen has no setter for Authority
/// Information Access, so its extension is written here: three nested
/// values, short enough for this small helper (lengths below 64 KiB).
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    match content.len() {
        n if n < 0x80 => out.push(n as u8),
        n if n < 0x100 => out.extend_from_slice(&[0x81, n as u8]),
        n => out.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]),
    }
    out.extend_from_slice(content);
    out
}

/// The Authority Information Access extension naming one OCSP responder:
/// SEQUENCE { SEQUENCE { id-ad-ocsp, [6] IA5String url } }.
fn ocsp_extension(url: &str) -> CustomExtension {
    // id-ad-ocsp 1.3.6.1.5.5.7.48.1
    let oid = tlv(0x06, &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01]);
    let location = tlv(0x86, url.as_bytes());
    let description = tlv(0x30, &[oid, location].concat());
    // id-pe-authorityInfoAccess 1.3.6.1.5.5.7.1.1
    CustomExtension::from_oid_content(&[1, 3, 6, 1, 5, 5, 7, 1, 1], tlv(0x30, &description))
}

impl LabCa {
    /// A new CA named `common_name` / `organisation`.
    pub fn new(common_name: &str, organisation: &str) -> Result<LabCa> {
        let key = KeyPair::generate().context("lab CA key")?;
        let mut params = CertificateParams::new(Vec::<String>::new()).context("lab CA params")?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, common_name);
        params.distinguished_name.push(DnType::OrganizationName, organisation);
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let cert = params.self_signed(&key).context("lab CA certificate")?;
        Ok(LabCa { pem: cert.pem(), der: cert.der().clone(), issuer: Issuer::new(params, key), revocation: None })
    }

    /// The same CA, its leaves naming `revocation`.
    pub fn with_revocation(mut self, revocation: Revocation) -> LabCa {
        self.revocation = Some(revocation);
        self
    }

    /// A leaf for `names`, valid now, or (when `expired`) only in 2020;
    /// `padding` copies of the CA certificate follow it in the chain.
    fn leaf(&self, names: &[String], expired: bool, padding: usize) -> Result<CertifiedKey> {
        let key = KeyPair::generate().context("lab leaf key")?;
        let mut params = CertificateParams::new(names.to_vec()).context("lab leaf params")?;
        if let Some(first) = names.first() {
            params.distinguished_name.push(DnType::CommonName, first.as_str());
        }
        if expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2020, 12, 31);
        }
        if let Some(r) = &self.revocation {
            params.crl_distribution_points = vec![CrlDistributionPoint { uris: vec![r.crl.clone()] }];
            params.custom_extensions.push(ocsp_extension(&r.ocsp));
        }
        let cert = params.signed_by(&key, &self.issuer).context("lab leaf certificate")?;
        let mut chain: Vec<CertificateDer<'static>> = vec![cert.der().clone()];
        chain.extend(std::iter::repeat_n(self.der.clone(), padding));
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        CertifiedKey::from_der(chain, key_der, &crate::probe::tls::provider()).map_err(|e| anyhow!("lab leaf: {e}"))
    }
}

/// What a TLS listener answers to the HTTP request after the handshake.
#[derive(Debug, Clone)]
pub enum Responder {
    /// The service itself: 401 on the workspace API, 200 elsewhere.
    Service,
    /// A firewall's block page for these hosts, the service for the rest.
    BlockPage(BTreeSet<String>),
    /// No answer at all for these hosts (the request is read, the connection
    /// closed), the service for the rest.
    HangUp(BTreeSet<String>),
    /// This whole HTTP response for these hosts, the service for the rest.
    Canned(std::collections::BTreeMap<String, String>),
}

/// Azure Firewall's answer when an application rule denies the request, as
/// a real firewall sends it (status line, headers and body as captured with
/// curl -v; see diagnose/http.rs).
pub const AZURE_FIREWALL_470: &str = "HTTP/1.1 470 status code 470\r\nDate: Sun, 27 Feb 2022 04:29:17 GMT\r\nContent-Length: 70\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\nAction: Deny. Reason: No rule matched. Proceeding with default action.";

/// The origin's own 403 as it passes through Fastly (pypi.org's CDN): a
/// `Via: 1.1 varnish` on it, as on every Fastly answer.
pub const CDN_FORBIDDEN_403: &str = "HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: 10\r\nVia: 1.1 varnish\r\nX-Served-By: cache-iad-kiad7000001-IAD\r\nX-Cache: MISS\r\n\r\nForbidden\n";

/// A TLS server on 127.0.0.1 presenting, per SNI, a certificate from `ca`.
pub async fn serve(
    ca: &LabCa,
    hosts: &[String],
    expired: bool,
    responder: Responder,
) -> Result<(SocketAddr, JoinHandle<()>)> {
    serve_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), ca, hosts, expired, responder).await
}

/// A TLS server whose every chain carries `padding` copies of the CA
/// certificate after the leaf: a chain far larger than any real one.
pub async fn serve_padded(ca: &LabCa, hosts: &[String], padding: usize) -> Result<(SocketAddr, JoinHandle<()>)> {
    serve_chain(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), ca, hosts, false, padding, Responder::Service).await
}

/// The same on a chosen address (the end-to-end tests bind 0.0.0.0:443 inside a namespace).
pub async fn serve_on(
    bind: SocketAddr,
    ca: &LabCa,
    hosts: &[String],
    expired: bool,
    responder: Responder,
) -> Result<(SocketAddr, JoinHandle<()>)> {
    serve_chain(bind, ca, hosts, expired, 0, responder).await
}

async fn serve_chain(
    bind: SocketAddr,
    ca: &LabCa,
    hosts: &[String],
    expired: bool,
    padding: usize,
    responder: Responder,
) -> Result<(SocketAddr, JoinHandle<()>)> {
    let mut sni = ResolvesServerCertUsingSni::new();
    for host in hosts {
        let key = ca.leaf(std::slice::from_ref(host), expired, padding)?;
        sni.add(host, key).map_err(|e| anyhow!("lab certificate for {host}: {e}"))?;
    }
    let mut config = ServerConfig::builder_with_provider(crate::probe::tls::provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| anyhow!("lab TLS: {e}"))?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(sni));
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind(bind).await.context("lab TLS listener")?;
    let addr = listener.local_addr()?;
    let responder = Arc::new(responder);
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (acceptor, responder) = (acceptor.clone(), responder.clone());
            tokio::spawn(async move {
                let _ = answer(acceptor, stream, &responder).await;
            });
        }
    });
    Ok((addr, task))
}

async fn answer(acceptor: TlsAcceptor, stream: TcpStream, responder: &Responder) -> io::Result<()> {
    let mut tls = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await??;
    let host = tls.get_ref().1.server_name().unwrap_or_default().to_string();
    // Read the request head (at most 8 KiB); the lab ignores its content.
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
        match tokio::time::timeout(Duration::from_secs(5), tls.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => head.extend_from_slice(&buf[..n]),
            _ => return Ok(()),
        }
    }
    let response = match responder {
        Responder::HangUp(silent) if silent.contains(&host) => return Ok(()),
        Responder::Canned(answers) if answers.contains_key(&host) => answers[&host].clone(),
        Responder::BlockPage(blocked) if blocked.contains(&host) => {
            let body = format!(
                "<html><head><title>Access Denied</title></head><body><h1>Access Denied</h1><p>The site {host} is blocked by Contoso web policy (category: software downloads).</p></body></html>"
            );
            format!(
                "HTTP/1.1 403 Forbidden\r\nServer: Contoso-Firewall\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
        }
        _ if host.contains(".workspace.") => {
            "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                .to_string()
        }
        _ => "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n"
            .to_string(),
    };
    tls.write_all(response.as_bytes()).await?;
    tls.shutdown().await
}

/// Reads the ClientHello and resets the connection, like an SNI filter.
pub async fn resetting() -> io::Result<(SocketAddr, JoinHandle<()>)> {
    resetting_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await
}

/// [`resetting`] on a chosen address.
pub async fn resetting_on(bind: SocketAddr) -> io::Result<(SocketAddr, JoinHandle<()>)> {
    after_client_hello(bind, |stream| async move {
        // SO_LINGER 0: close with RST instead of FIN.
        let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
        drop(stream);
    })
    .await
}

/// Answers whatever comes first with a plain HTTP error and closes: a
/// middlebox that does not speak TLS on this port.
pub async fn plaintext() -> io::Result<(SocketAddr, JoinHandle<()>)> {
    after_client_hello(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), |mut stream| async move {
        let answer = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        let _ = stream.write_all(answer).await;
        let _ = stream.shutdown().await;
    })
    .await
}

/// A listener that reads what each client sends first (the ClientHello),
/// then hands the connection to `then`.
async fn after_client_hello<F, Fut>(bind: SocketAddr, then: F) -> io::Result<(SocketAddr, JoinHandle<()>)>
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind(bind).await?;
    let addr = listener.local_addr()?;
    let then = Arc::new(then);
    let task = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let then = then.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await;
                then(stream).await;
            });
        }
    });
    Ok((addr, task))
}

/// Accepts and never says a word: the handshake stalls, as behind an MTU
/// black hole or a filter that drops instead of resetting.
pub async fn silent() -> io::Result<(SocketAddr, JoinHandle<()>)> {
    silent_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await
}

/// [`silent`] on a chosen address.
pub async fn silent_on(bind: SocketAddr) -> io::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind(bind).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    Ok((addr, task))
}

/// A plain HTTP server on 127.0.0.1 standing in for the CRL distribution
/// point and the OCSP responder: it answers every request with 200 and a
/// few bytes, as a CDN in front of a CA does.
pub async fn revocation_responder() -> io::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
                    match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await {
                        Ok(Ok(n)) if n > 0 => head.extend_from_slice(&buf[..n]),
                        _ => return,
                    }
                }
                let answer = "HTTP/1.1 200 OK\r\nContent-Type: application/pkix-crl\r\nContent-Length: 4\r\nConnection: close\r\n\r\nlab\n";
                let _ = stream.write_all(answer.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    Ok((addr, task))
}

/// A relay in front of `upstream` that passes the client's bytes on and,
/// from the server, only the first TLS record (the ServerHello): what
/// follows (the certificates, in full-size packets) is dropped, as behind
/// an MTU black hole. The connection stays open and silent.
pub async fn after_server_hello(upstream: SocketAddr) -> io::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(server) = TcpStream::connect(upstream).await else { return };
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                let forward = tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
                });
                let mut header = [0u8; 5];
                if server_read.read_exact(&mut header).await.is_ok() {
                    let len = u16::from_be_bytes([header[3], header[4]]) as usize;
                    let mut record = vec![0u8; len];
                    if server_read.read_exact(&mut record).await.is_ok() {
                        let _ = client_write.write_all(&header).await;
                        let _ = client_write.write_all(&record).await;
                    }
                }
                // The rest is lost on the way; bounded so the task ends.
                let mut sink = [0u8; 4096];
                let drain = async { while matches!(server_read.read(&mut sink).await, Ok(n) if n > 0) {} };
                let _ = tokio::time::timeout(Duration::from_secs(30), drain).await;
                forward.abort();
            });
        }
    });
    Ok((addr, task))
}
