//! TLS: a handshake with SNI on the connection the TCP probe opened,
//! recording the presented chain whether or not it verifies, so a
//! TLS-inspecting firewall is named by its issuer and an SNI filter by the
//! reset it sends after the ClientHello. What the server sent is watched
//! (how many bytes, whether a ServerHello began them), so a handshake that
//! stalls after the ServerHello is not taken for one that never began; and
//! the chain's revocation endpoints (CRL distribution points, OCSP) are
//! read for the revocation probes.

use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::{TlsConnector, client};
use x509_parser::extensions::{DistributionPointName, ParsedExtension};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

use crate::term::escape_for_terminal;

/// What this machine trusts: the OS store (honouring `SSL_CERT_FILE` and
/// `SSL_CERT_DIR`) plus any `--ca-file`.
#[derive(Clone)]
pub struct TrustStore {
    roots: Arc<RootCertStore>,
    /// The client configuration every handshake of the run shares.
    config: Arc<ClientConfig>,
    /// Where the roots came from and what could not be read, for the report.
    pub notes: Vec<String>,
}

tokio::task_local! {
    /// Where the verifier records what the server of the handshake being
    /// polled presented: the configuration is shared by the whole run, the
    /// record is per handshake.
    static PRESENTED: Arc<Mutex<Presented>>;
}

impl std::fmt::Debug for TrustStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TrustStore({} roots)", self.roots.len())
    }
}

/// The crypto provider; ring, as the design fixes (no OpenSSL, no aws-lc).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl TrustStore {
    /// The OS roots plus `extra_pem` (each a PEM bundle, named for errors).
    pub fn load(system: bool, extra_pem: &[(String, Vec<u8>)]) -> Result<TrustStore, String> {
        let mut roots = RootCertStore::empty();
        let mut notes = Vec::new();
        if system {
            let native = rustls_native_certs::load_native_certs();
            let (added, _ignored) = roots.add_parsable_certificates(native.certs);
            notes.push(format!("{added} roots from the system store"));
            for e in native.errors {
                notes.push(format!("system store: {e}"));
            }
        }
        for (name, pem) in extra_pem {
            let mut count = 0;
            for cert in rustls_pki_types::pem::PemObject::pem_slice_iter(pem) {
                let cert: CertificateDer<'static> =
                    cert.map_err(|e| format!("{name}: not a PEM certificate bundle: {e}"))?;
                roots.add(cert).map_err(|e| format!("{name}: {e}"))?;
                count += 1;
            }
            if count == 0 {
                return Err(format!("{name}: no certificate in it"));
            }
            notes.push(format!("{count} roots from {name}"));
        }
        let roots = Arc::new(roots);
        let config = Arc::new(client_config(roots.clone())?);
        Ok(TrustStore { roots, config, notes })
    }

    /// Reads a `--ca-file`.
    pub fn read_pem(path: &Path) -> Result<(String, Vec<u8>), String> {
        let name = path.display().to_string();
        crate::input::read_capped(path).map(|b| (name.clone(), b)).map_err(|e| format!("--ca-file {name}: {e}"))
    }
}

/// The run's client configuration: it verifies against `roots` and records
/// what each server presented; no session resumption, so that every
/// handshake shows its certificate.
fn client_config(roots: Arc<RootCertStore>) -> Result<ClientConfig, String> {
    let provider = provider();
    let inner = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
        .build()
        .map_err(|e| format!("trust store: {e}"))?;
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(RecordingVerifier { inner }))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config.resumption = rustls::client::Resumption::disabled();
    Ok(config)
}

/// The chain the server presented and the verdict on it.
#[derive(Debug, Default, Clone)]
pub struct Presented {
    /// Leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// `None` when it verified.
    pub error: Option<rustls::Error>,
}

/// Records the presented chain, then lets webpki judge it: both the
/// verdict and the evidence end up in the report.
#[derive(Debug)]
struct RecordingVerifier {
    inner: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verdict = self.inner.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now);
        let _ = PRESENTED.try_with(|seen| {
            if let Ok(mut seen) = seen.lock() {
                seen.chain = std::iter::once(end_entity).chain(intermediates).map(|c| c.clone().into_owned()).collect();
                seen.error = verdict.as_ref().err().cloned();
            }
        });
        verdict
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// One certificate, as people read it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CertSummary {
    /// Subject DN.
    pub subject: String,
    /// Issuer DN.
    pub issuer: String,
    /// DNS names of the subjectAltName.
    pub names: Vec<String>,
    /// Start of validity, RFC 3339.
    pub not_before: String,
    /// End of validity, RFC 3339.
    pub not_after: String,
}

/// Why a handshake did not complete.
#[derive(Debug, Clone, PartialEq)]
pub enum TlsFailure {
    /// The certificate did not verify (`UnknownIssuer`, `NotValidForName`, ...).
    Untrusted(String),
    /// The certificate is outside its validity period.
    Expired(String),
    /// The connection was reset after the ClientHello.
    Reset,
    /// The peer closed the connection after the ClientHello without a word.
    Closed,
    /// No ServerHello within the timeout: nothing, or nothing that began
    /// with one, came back.
    TimedOut,
    /// The ServerHello came, the rest of the handshake did not within the timeout.
    Stalled {
        /// Bytes the server had sent by then.
        received: u64,
    },
    /// The server's certificate message is larger than rustls accepts (64 KiB).
    ChainTooLarge {
        /// Bytes the server had sent by then.
        received: u64,
    },
    /// Anything else (an alert, a protocol error).
    Other(String),
}

/// What one handshake showed.
#[derive(Debug, Clone, PartialEq)]
pub struct TlsObservation {
    /// `None` when the handshake completed.
    pub failure: Option<TlsFailure>,
    /// `TLSv1.3`, `TLSv1.2`.
    pub version: Option<String>,
    /// Negotiated ALPN protocol.
    pub alpn: Option<String>,
    /// Presented chain, leaf first.
    pub chain: Vec<CertSummary>,
    /// Whether the chain verified against the trust store for this name.
    pub verified: bool,
    /// Time spent on the handshake.
    pub elapsed: Duration,
    /// This machine's clock at the handshake (RFC 3339), which validity is judged against.
    pub clock: String,
    /// The `http://` CRL distribution points and OCSP responders the
    /// presented certificates name, in chain order, each once.
    pub revocation_urls: Vec<String>,
}

/// The TLS connection the handshake hands back.
pub type Stream = client::TlsStream<Watched<TcpStream>>;

/// Shakes hands over `stream` with `host` as SNI; the connection is handed
/// back when the handshake completed, for the HTTP request.
pub async fn handshake(
    stream: TcpStream,
    host: &str,
    trust: &TrustStore,
    timeout: Duration,
) -> (TlsObservation, Option<Stream>) {
    let started = std::time::Instant::now();
    let seen = Arc::new(Mutex::new(Presented::default()));
    let mut obs = TlsObservation {
        failure: None,
        version: None,
        alpn: None,
        chain: Vec::new(),
        verified: false,
        elapsed: Duration::ZERO,
        clock: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        revocation_urls: Vec::new(),
    };
    let name = match ServerName::try_from(host.to_string()) {
        Ok(n) => n,
        Err(e) => {
            obs.failure = Some(TlsFailure::Other(format!("'{host}' is not a server name: {e}")));
            return (obs, None);
        }
    };
    let progress = Arc::new(Progress::default());
    let stream = Watched { inner: stream, progress: progress.clone() };
    let connector = TlsConnector::from(trust.config.clone());
    let result = PRESENTED.scope(seen.clone(), tokio::time::timeout(timeout, connector.connect(name, stream))).await;
    obs.elapsed = started.elapsed();
    let presented = seen.lock().map(|s| s.clone()).unwrap_or_default();
    obs.chain = presented.chain.iter().filter_map(|c| summarise(c)).collect();
    obs.revocation_urls = revocation_urls(&presented.chain);
    let received = progress.received.load(Ordering::Relaxed);
    match result {
        Err(_) if progress.server_hello.load(Ordering::Relaxed) => obs.failure = Some(TlsFailure::Stalled { received }),
        Err(_) => obs.failure = Some(TlsFailure::TimedOut),
        Ok(Ok(tls)) => {
            let (_, conn) = tls.get_ref();
            obs.version = conn.protocol_version().and_then(|v| v.as_str()).map(|v| v.replace('_', "."));
            obs.alpn = conn.alpn_protocol().map(|p| String::from_utf8_lossy(p).into_owned());
            obs.verified = true;
            return (obs, Some(tls));
        }
        Ok(Err(e)) => obs.failure = Some(classify(&e, presented.error.as_ref(), received)),
    }
    (obs, None)
}

/// What the server has sent so far under a handshake.
#[derive(Debug, Default)]
pub struct Progress {
    /// Bytes received.
    received: AtomicU64,
    /// Whether they began with a TLS handshake record holding a ServerHello.
    server_hello: AtomicBool,
    /// The first bytes, until there are enough to tell.
    start: Mutex<Vec<u8>>,
}

/// A connection whose incoming bytes are counted, so that a stalled
/// handshake can say how far it got. (rustls hides its state while a
/// handshake is in flight, and a timeout drops the handshake.)
#[derive(Debug)]
pub struct Watched<S> {
    inner: S,
    progress: Arc<Progress>,
}

impl<S> Watched<S> {
    /// The connection inside.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

/// TLS record type 22 (handshake), then a 2-byte version and 2-byte
/// length, then handshake type 2 (ServerHello, also a HelloRetryRequest).
const SERVER_HELLO_START: usize = 6;

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let new = &buf.filled()[before..];
        if !new.is_empty() {
            self.progress.received.fetch_add(new.len() as u64, Ordering::Relaxed);
            if let Ok(mut start) = self.progress.start.lock()
                && start.len() < SERVER_HELLO_START
            {
                let take = (SERVER_HELLO_START - start.len()).min(new.len());
                start.extend_from_slice(&new[..take]);
                if start.len() == SERVER_HELLO_START && start[0] == 22 && start[1] == 3 && start[5] == 2 {
                    self.progress.server_hello.store(true, Ordering::Relaxed);
                }
            }
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

fn classify(e: &io::Error, verdict: Option<&rustls::Error>, received: u64) -> TlsFailure {
    let rustls_error = verdict.or_else(|| e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()));
    // rustls caps a handshake message at 64 KiB: a larger certificate
    // message fails as a corrupt message, or as its read buffer filling up.
    if matches!(rustls_error, Some(rustls::Error::InvalidMessage(rustls::InvalidMessage::HandshakePayloadTooLarge)))
        || (e.kind() == io::ErrorKind::InvalidData && e.to_string().contains("message buffer full"))
    {
        return TlsFailure::ChainTooLarge { received };
    }
    if let Some(rustls::Error::InvalidCertificate(cert)) = rustls_error {
        return match cert {
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. } => TlsFailure::Expired(describe(cert)),
            other => TlsFailure::Untrusted(describe(other)),
        };
    }
    match e.kind() {
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted | io::ErrorKind::BrokenPipe => {
            TlsFailure::Reset
        }
        io::ErrorKind::UnexpectedEof => TlsFailure::Closed,
        _ => TlsFailure::Other(match rustls_error {
            Some(r) => r.to_string(),
            None => e.to_string(),
        }),
    }
}

fn describe(e: &CertificateError) -> String {
    match e {
        CertificateError::UnknownIssuer => "issuer not trusted by this machine".into(),
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            "certificate not valid for this name".into()
        }
        CertificateError::BadSignature => "bad signature".into(),
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => "certificate expired".into(),
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "certificate not valid yet".into()
        }
        other => format!("{other:?}"),
    }
}

fn summarise(der: &CertificateDer<'_>) -> Option<CertSummary> {
    let (_, cert) = X509Certificate::from_der(der.as_ref()).ok()?;
    let names = cert
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|san| {
            san.value
                .general_names
                .iter()
                .filter_map(|n| match n {
                    GeneralName::DNSName(d) => Some(escape_for_terminal(d)),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let time = |t: i64| {
        let at = if t >= 0 { UNIX_EPOCH + Duration::from_secs(t as u64) } else { UNIX_EPOCH };
        humantime::format_rfc3339_seconds(at).to_string()
    };
    Some(CertSummary {
        // Names come from the peer: escaped before anything can print them.
        subject: escape_for_terminal(&cert.subject().to_string()),
        issuer: escape_for_terminal(&cert.issuer().to_string()),
        names,
        not_before: time(cert.validity().not_before.timestamp()),
        not_after: time(cert.validity().not_after.timestamp()),
    })
}

/// Revocation URLs kept from one presented chain.
pub const MAX_REVOCATION_URLS: usize = 8;
/// The longest revocation URL kept.
pub const MAX_REVOCATION_URL_LEN: usize = 2048;

/// The `http://` URLs of the CRL distribution points and of the OCSP
/// responders (Authority Information Access) of `chain`, each once, in
/// chain order. Other schemes (ldap://) are not fetched by the clients
/// that matter here, and are left out.
///
/// A real chain names two to six; a hostile one may name thousands, each of
/// which would be a probe, so at most [`MAX_REVOCATION_URLS`] are kept, and
/// none longer than [`MAX_REVOCATION_URL_LEN`].
pub fn revocation_urls(chain: &[CertificateDer<'_>]) -> Vec<String> {
    let mut urls: Vec<String> = Vec::new();
    let mut add = |u: &str| {
        if urls.len() < MAX_REVOCATION_URLS
            && u.len() <= MAX_REVOCATION_URL_LEN
            && u.get(..7).is_some_and(|s| s.eq_ignore_ascii_case("http://"))
            && !urls.iter().any(|x| x == u)
        {
            urls.push(u.to_string());
        }
    };
    for der in chain {
        let Ok((_, cert)) = X509Certificate::from_der(der.as_ref()) else { continue };
        for ext in cert.extensions() {
            match ext.parsed_extension() {
                ParsedExtension::CRLDistributionPoints(points) => {
                    for point in points.iter() {
                        if let Some(DistributionPointName::FullName(names)) = &point.distribution_point {
                            for name in names {
                                if let GeneralName::URI(u) = name {
                                    add(u);
                                }
                            }
                        }
                    }
                }
                ParsedExtension::AuthorityInfoAccess(aia) => {
                    for access in &aia.accessdescs {
                        // id-ad-ocsp, 1.3.6.1.5.5.7.48.1
                        if access.access_method == x509_parser::oid_registry::OID_PKIX_ACCESS_DESCRIPTOR_OCSP
                            && let GeneralName::URI(u) = &access.access_location
                        {
                            add(u);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    urls
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_naming_many_revocation_urls_is_capped() {
        let mut params = rcgen::CertificateParams::new(vec!["many.test".to_string()]).unwrap();
        let long = rcgen::CrlDistributionPoint { uris: vec![format!("http://long.test/{}", "a".repeat(3000))] };
        params.crl_distribution_points = std::iter::once(long)
            .chain((0..40).map(|i| rcgen::CrlDistributionPoint { uris: vec![format!("http://crl{i}.test/x.crl")] }))
            .collect();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let urls = revocation_urls(&[cert.der().clone()]);
        assert_eq!(urls.len(), MAX_REVOCATION_URLS);
        assert_eq!(urls[0], "http://crl0.test/x.crl");
        assert!(urls.iter().all(|u| u.len() <= MAX_REVOCATION_URL_LEN));
    }
}
