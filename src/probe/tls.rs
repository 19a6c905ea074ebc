//! TLS: a handshake with SNI on the connection the TCP probe opened,
//! recording the presented chain whether or not it verifies, so a
//! TLS-inspecting firewall is named by its issuer and an SNI filter by the
//! reset it sends after the ClientHello.

use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::net::TcpStream;
use tokio_rustls::{TlsConnector, client};
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
    /// No ServerHello within the timeout.
    TimedOut,
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
}

/// Shakes hands over `stream` with `host` as SNI; the connection is handed
/// back when the handshake completed, for the HTTP request.
pub async fn handshake(
    stream: TcpStream,
    host: &str,
    trust: &TrustStore,
    timeout: Duration,
) -> (TlsObservation, Option<client::TlsStream<TcpStream>>) {
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
    };
    let name = match ServerName::try_from(host.to_string()) {
        Ok(n) => n,
        Err(e) => {
            obs.failure = Some(TlsFailure::Other(format!("'{host}' is not a server name: {e}")));
            return (obs, None);
        }
    };
    let connector = TlsConnector::from(trust.config.clone());
    let result = PRESENTED.scope(seen.clone(), tokio::time::timeout(timeout, connector.connect(name, stream))).await;
    obs.elapsed = started.elapsed();
    let presented = seen.lock().map(|s| s.clone()).unwrap_or_default();
    obs.chain = presented.chain.iter().filter_map(|c| summarise(c)).collect();
    match result {
        Err(_) => obs.failure = Some(TlsFailure::TimedOut),
        Ok(Ok(tls)) => {
            let (_, conn) = tls.get_ref();
            obs.version = conn.protocol_version().and_then(|v| v.as_str()).map(|v| v.replace('_', "."));
            obs.alpn = conn.alpn_protocol().map(|p| String::from_utf8_lossy(p).into_owned());
            obs.verified = true;
            return (obs, Some(tls));
        }
        Ok(Err(e)) => obs.failure = Some(classify(&e, presented.error.as_ref())),
    }
    (obs, None)
}

fn classify(e: &io::Error, verdict: Option<&rustls::Error>) -> TlsFailure {
    let rustls_error = verdict.or_else(|| e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()));
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
