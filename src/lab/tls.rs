//! The lab's certificates and TLS servers: a lab CA standing in for the
//! service's issuer, an "inspection" CA standing in for a TLS-inspecting
//! firewall, and listeners that complete the handshake and answer one HTTP
//! request, reset after the ClientHello, or never answer.

use std::collections::BTreeSet;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
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
        Ok(LabCa { pem: cert.pem(), issuer: Issuer::new(params, key) })
    }

    /// A leaf for `names`, valid now, or (when `expired`) only in 2020.
    fn leaf(&self, names: &[String], expired: bool) -> Result<CertifiedKey> {
        let key = KeyPair::generate().context("lab leaf key")?;
        let mut params = CertificateParams::new(names.to_vec()).context("lab leaf params")?;
        if let Some(first) = names.first() {
            params.distinguished_name.push(DnType::CommonName, first.as_str());
        }
        if expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2020, 12, 31);
        }
        let cert = params.signed_by(&key, &self.issuer).context("lab leaf certificate")?;
        let chain: Vec<CertificateDer<'static>> = vec![cert.der().clone()];
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
}

/// A TLS server on 127.0.0.1 presenting, per SNI, a certificate from `ca`.
pub async fn serve(
    ca: &LabCa,
    hosts: &[String],
    expired: bool,
    responder: Responder,
) -> Result<(SocketAddr, JoinHandle<()>)> {
    serve_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), ca, hosts, expired, responder).await
}

/// The same on a chosen address (the end-to-end tests bind 0.0.0.0:443 inside a namespace).
pub async fn serve_on(
    bind: SocketAddr,
    ca: &LabCa,
    hosts: &[String],
    expired: bool,
    responder: Responder,
) -> Result<(SocketAddr, JoinHandle<()>)> {
    let mut sni = ResolvesServerCertUsingSni::new();
    for host in hosts {
        let key = ca.leaf(std::slice::from_ref(host), expired)?;
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
