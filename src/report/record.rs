//! The JSON shape of a check (schema v1): one flat record for names and
//! paths alike, every field present (null or empty where it does not
//! apply), so that scripts read every check the same way. The report layer
//! owns these shapes; the stages before it hold typed observations.

use std::net::IpAddr;

use serde::{Serialize, Serializer};

use crate::catalogue::Protocol;
use crate::diagnose::{Area, Check, Code, NameCheck, PathCheck, Status};
use crate::probe::{HttpObservation, NameObservation, PathOutcome, TlsFailure, TlsObservation};

/// What one kind of process gets from this machine's startup files.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ProcessRecord {
    /// `ssh_login`, `ssh_command`, `interactive`, `login_script`, `script`, `cron`, `service`.
    pub kind: &'static str,
    /// In words.
    pub label: &'static str,
    /// The files it reads first-hand, in order.
    pub reads: Vec<String>,
    /// The proxy variables its programs get, or that amlnet did not evaluate.
    pub proxy: Vec<ProcessProxyRecord>,
}

/// A proxy variable as one kind of process gets it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ProcessProxyRecord {
    /// The name.
    pub name: String,
    /// The value, secrets masked; null when not evaluated.
    pub value: Option<String>,
    /// Where it was last set.
    pub file: String,
    /// That line.
    pub line: usize,
    /// False when it is set by a command substitution, an alias, an eval
    /// or under a condition amlnet does not decide: its value is not guessed.
    pub evaluated: bool,
}

/// One check as the JSON report writes it.
#[derive(Debug, Serialize)]
pub struct CheckRecord<'a> {
    /// `dns:<host>`, `tcp:<host>:<port>` or `udp:<host>:<port>`.
    pub id: String,
    /// `dns`, `tcp` or `udp`.
    pub area: Area,
    /// Host name.
    pub host: &'a str,
    /// Port (paths only).
    pub port: Option<u16>,
    /// `tcp` or `udp` (paths only).
    pub protocol: Option<Protocol>,
    /// Verdict.
    pub status: Status,
    /// Time spent.
    pub elapsed_ms: u64,
    /// Final addresses (names only).
    pub addresses: &'a [IpAddr],
    /// CNAME targets from the name on (names only).
    pub cname_chain: &'a [String],
    /// The DNS server that answered (names only).
    pub resolver: Option<String>,
    /// `open`, `refused`, `timeout`, `unreachable` (TCP paths).
    pub tcp_state: Option<&'static str>,
    /// `rejected`, `answered`, `no-rejection` (UDP paths).
    pub udp_state: Option<&'static str>,
    /// How long silence was waited for after the datagram (UDP paths).
    pub udp_wait_ms: Option<u64>,
    /// The address dialled.
    pub dialled: Option<String>,
    /// Set when a `--connect-to` rule chose the address.
    pub via_connect_to: bool,
    /// The proxy the path went through (masked), if any.
    pub via_proxy: Option<&'a str>,
    /// What Azure DNS answered for this name, when it was asked too.
    pub azure_dns: Option<AzureDnsRecord<'a>>,
    /// The TLS handshake (TLS paths).
    pub tls: Option<TlsRecord>,
    /// The HTTP answer (paths whose use is HTTP).
    pub http: Option<HttpRecord<'a>>,
    /// The finding code this check contributed to.
    pub code: Option<Code>,
    /// What went wrong, in words.
    pub error: Option<&'a str>,
}

/// What Azure DNS answered, next to the configured resolver's answer.
#[derive(Debug, Serialize)]
pub struct AzureDnsRecord<'a> {
    /// Azure DNS's address, when it answered.
    pub resolver: Option<String>,
    /// Its final addresses.
    pub addresses: &'a [IpAddr],
    /// Its CNAME chain.
    pub cname_chain: &'a [String],
    /// Whether it answered at all.
    pub answered: bool,
}

/// A TLS handshake: the presented leaf certificate and the verdict.
#[derive(Debug, Serialize)]
pub struct TlsRecord {
    /// `TLSv1.3`, `TLSv1.2`.
    pub version: Option<String>,
    /// Negotiated ALPN protocol.
    pub alpn: Option<String>,
    /// The leaf's issuer DN.
    pub issuer: Option<String>,
    /// The leaf's subject DN.
    pub subject: Option<String>,
    /// The leaf's DNS names.
    pub names: Vec<String>,
    /// Start of validity.
    pub not_before: Option<String>,
    /// End of validity.
    pub not_after: Option<String>,
    /// Issuers of the presented chain, leaf first.
    pub chain_issuers: Vec<String>,
    /// Whether the chain verified for this name.
    pub verified: bool,
    /// Why the handshake failed.
    pub error: Option<String>,
    /// Time spent on the handshake.
    pub elapsed_ms: u64,
}

/// An HTTP answer.
#[derive(Debug, Serialize)]
pub struct HttpRecord<'a> {
    /// The URL requested (no query string).
    pub url: &'a str,
    /// Status code.
    pub status: Option<u16>,
    /// `Server` header.
    pub server: Option<&'a str>,
    /// `Via` header.
    pub via: Option<&'a str>,
    /// `Location` header.
    pub location: Option<&'a str>,
    /// Whether the request went through a proxy.
    pub via_proxy: bool,
    /// Why no answer came.
    pub error: Option<&'a str>,
    /// Time spent.
    pub elapsed_ms: u64,
}

impl TlsRecord {
    /// The record of one handshake.
    pub fn of(tls: &TlsObservation) -> TlsRecord {
        let leaf = tls.chain.first();
        let error = tls.failure.as_ref().map(|f| match f {
            TlsFailure::Untrusted(r) | TlsFailure::Expired(r) | TlsFailure::Other(r) => r.clone(),
            TlsFailure::Reset => "reset after the ClientHello".to_string(),
            TlsFailure::Closed => "closed after the ClientHello".to_string(),
            TlsFailure::TimedOut => "no ServerHello before the timeout".to_string(),
            TlsFailure::Stalled { received } => {
                format!("ServerHello received, handshake incomplete at the timeout ({received} bytes received)")
            }
            TlsFailure::ChainTooLarge { .. } => "certificate message larger than 64 KiB".to_string(),
        });
        TlsRecord {
            version: tls.version.clone(),
            alpn: tls.alpn.clone(),
            issuer: leaf.map(|c| c.issuer.clone()),
            subject: leaf.map(|c| c.subject.clone()),
            names: leaf.map(|c| c.names.clone()).unwrap_or_default(),
            not_before: leaf.map(|c| c.not_before.clone()),
            not_after: leaf.map(|c| c.not_after.clone()),
            chain_issuers: tls.chain.iter().map(|c| c.issuer.clone()).collect(),
            verified: tls.verified,
            error,
            elapsed_ms: tls.elapsed.as_millis() as u64,
        }
    }
}

impl<'a> HttpRecord<'a> {
    /// The record of one request.
    pub fn of(http: &'a HttpObservation) -> HttpRecord<'a> {
        HttpRecord {
            url: &http.url,
            status: http.status,
            server: http.server.as_deref(),
            via: http.via.as_deref(),
            location: http.location.as_deref(),
            via_proxy: http.via_proxy,
            error: http.error.as_deref(),
            elapsed_ms: http.elapsed.as_millis() as u64,
        }
    }
}

impl<'a> AzureDnsRecord<'a> {
    fn of(answer: &'a NameObservation) -> AzureDnsRecord<'a> {
        AzureDnsRecord {
            resolver: answer.resolver.map(|r| r.to_string()),
            addresses: &answer.addresses,
            cname_chain: &answer.cname_chain,
            answered: answer.resolver.is_some(),
        }
    }
}

/// `tcp_state` and `udp_state` of a path outcome.
pub fn path_states(outcome: &PathOutcome) -> (Option<&'static str>, Option<&'static str>) {
    match outcome {
        PathOutcome::Open => (Some("open"), None),
        PathOutcome::Refused => (Some("refused"), None),
        PathOutcome::TimedOut => (Some("timeout"), None),
        PathOutcome::Unreachable => (Some("unreachable"), None),
        PathOutcome::UdpRejected => (None, Some("rejected")),
        PathOutcome::UdpAnswered => (None, Some("answered")),
        PathOutcome::UdpNoRejection => (None, Some("no-rejection")),
        _ => (None, None),
    }
}

impl<'a> CheckRecord<'a> {
    /// The record of one check.
    pub fn of(check: &'a Check) -> CheckRecord<'a> {
        match check {
            Check::Name(n) => Self::of_name(check, n),
            Check::Path(p) => Self::of_path(check, p),
        }
    }

    fn common(check: &'a Check) -> CheckRecord<'a> {
        let verdict = check.verdict();
        CheckRecord {
            id: check.id(),
            area: check.area(),
            host: check.host(),
            port: None,
            protocol: None,
            status: verdict.status,
            elapsed_ms: check.elapsed_ms(),
            addresses: &[],
            cname_chain: &[],
            resolver: None,
            tcp_state: None,
            udp_state: None,
            udp_wait_ms: None,
            dialled: None,
            via_connect_to: false,
            via_proxy: None,
            azure_dns: None,
            tls: None,
            http: None,
            code: verdict.code,
            error: verdict.error.as_deref(),
        }
    }

    fn of_name(check: &'a Check, n: &'a NameCheck) -> CheckRecord<'a> {
        CheckRecord {
            addresses: &n.seen.addresses,
            cname_chain: &n.seen.cname_chain,
            resolver: n.seen.resolver.map(|r| r.to_string()),
            azure_dns: n.seen.azure_answer.as_deref().map(AzureDnsRecord::of),
            ..Self::common(check)
        }
    }

    fn of_path(check: &'a Check, p: &'a PathCheck) -> CheckRecord<'a> {
        let (tcp_state, udp_state) = path_states(&p.seen.outcome);
        CheckRecord {
            port: Some(p.seen.port),
            protocol: Some(p.seen.protocol),
            tcp_state,
            udp_state,
            udp_wait_ms: p.seen.udp_wait.map(|w| w.as_millis() as u64),
            dialled: p.seen.dialled.map(|a| a.to_string()),
            via_connect_to: p.seen.via_connect_to,
            via_proxy: p.seen.via_proxy.as_deref(),
            tls: p.seen.tls.as_ref().map(TlsRecord::of),
            http: p.seen.http.as_ref().map(HttpRecord::of),
            ..Self::common(check)
        }
    }
}

impl Serialize for Check {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        CheckRecord::of(self).serialize(serializer)
    }
}
