//! Rules about TLS handshakes: who issued the presented certificate (the
//! service's CA or an inspecting firewall's), and how a failed handshake
//! failed (reset after the ClientHello, silence, validity, trust).

use super::Code;
use super::paths::PathVerdict;
use crate::probe::{TlsFailure, TlsObservation};

/// The finding of one handshake, if any.
pub(super) fn judge(
    host: &str,
    port: u16,
    tls: &TlsObservation,
    expected: &[String],
    required: bool,
) -> Option<PathVerdict> {
    let issuer = tls.chain.first().map(|c| c.issuer.as_str());
    let inspected = issuer.is_some_and(|i| is_inspected(i, expected));
    let by = issuer.map(common_name).unwrap_or_else(|| "an unknown issuer".into());
    let at = format!("tls {host}:{port}");
    let (code, evidence) = match &tls.failure {
        None if inspected => (
            Code::TlsInspected,
            format!(
                "{at}: TLS inspection: certificate issued by {by}, not by the service's CA ({}); trusted by this machine",
                expected.join(" or ")
            ),
        ),
        None => return None,
        Some(TlsFailure::Untrusted(reason)) if inspected => {
            (Code::TlsUntrusted, format!("{at}: TLS inspection: certificate issued by {by} ({reason})"))
        }
        Some(TlsFailure::Untrusted(reason)) => (Code::TlsUntrusted, format!("{at}: {reason}; issued by {by}")),
        Some(TlsFailure::Expired(reason)) => (Code::TlsClockSkew, expired_words(&at, reason, tls, &by)),
        Some(TlsFailure::Reset) => {
            (Code::TlsReset, format!("{at}: TCP opened, reset right after the ClientHello (SNI {host})"))
        }
        Some(TlsFailure::Closed) => (
            Code::TlsReset,
            format!("{at}: TCP opened, closed without an answer right after the ClientHello (SNI {host})"),
        ),
        Some(TlsFailure::TimedOut) => (
            Code::TlsTimeout,
            format!(
                "{at}: TCP opened, no ServerHello after {} ms (filtering, or an MTU black hole on a VPN)",
                tls.elapsed.as_millis()
            ),
        ),
        Some(TlsFailure::Stalled { received }) => (
            Code::TlsTimeout,
            format!(
                "{at}: TCP opened and the ServerHello came, but the handshake did not complete in {} ms ({received} bytes received): the large certificate packets are lost (an MTU black hole on a VPN) or the link is too slow for the chain",
                tls.elapsed.as_millis()
            ),
        ),
        Some(TlsFailure::ChainTooLarge { received }) => (
            Code::TlsFailed,
            format!(
                "{at}: the ServerHello came, then a certificate message larger than the 64 KiB rustls accepts ({received} bytes received): the server or an inspecting device sends an oversized chain (hundreds of certificates); OpenSSL-based clients (curl, Python) accept 100 KiB, and fail the same way beyond"
            ),
        ),
        Some(TlsFailure::Other(message)) => (Code::TlsFailed, format!("{at}: {message}")),
    };
    Some(PathVerdict { code, severity: code.severity(required), evidence })
}

/// An issuer that is none of the service's own CAs.
pub(super) fn is_inspected(issuer: &str, expected: &[String]) -> bool {
    let lower = issuer.to_ascii_lowercase();
    !expected.is_empty() && !expected.iter().any(|x| lower.contains(&x.to_ascii_lowercase()))
}

fn expired_words(at: &str, reason: &str, tls: &TlsObservation, by: &str) -> String {
    let validity =
        tls.chain.first().map(|c| format!("valid from {} to {}", c.not_before, c.not_after)).unwrap_or_default();
    format!("{at}: {reason}: {validity}, this machine's clock reads {}; issued by {by}", tls.clock)
}

/// The CN of a DN, or the DN when it has none.
fn common_name(dn: &str) -> String {
    dn.split(',')
        .map(str::trim)
        .find_map(|part| part.strip_prefix("CN="))
        .map(str::to_string)
        .unwrap_or_else(|| dn.to_string())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::diagnose::Severity;
    use crate::probe::tls::CertSummary;

    fn seen(issuer: &str, failure: Option<TlsFailure>) -> TlsObservation {
        let verified = failure.is_none();
        TlsObservation {
            failure,
            version: Some("TLSv1.3".into()),
            alpn: None,
            chain: vec![CertSummary {
                subject: "CN=h".into(),
                issuer: issuer.into(),
                names: vec!["h".into()],
                not_before: "2026-01-01T00:00:00Z".into(),
                not_after: "2026-02-01T00:00:00Z".into(),
            }],
            verified,
            elapsed: Duration::from_millis(5),
            clock: "2026-11-29T18:00:00Z".into(),
            revocation_urls: Vec::new(),
        }
    }

    fn code_of(tls: &TlsObservation) -> Option<Code> {
        judge("h", 443, tls, &["Microsoft".into()], true).map(|v| v.code)
    }

    #[test]
    fn names_the_failure_and_the_issuer() {
        let service = "CN=Microsoft Azure RSA TLS Issuing CA 03, O=Microsoft Corporation";
        let firewall = "CN=Contoso Firewall CA, O=Contoso";
        assert_eq!(code_of(&seen(service, None)), None);
        assert_eq!(code_of(&seen(firewall, None)), Some(Code::TlsInspected));
        let untrusted = judge(
            "h",
            443,
            &seen(firewall, Some(TlsFailure::Untrusted("unknown issuer".into()))),
            &["Microsoft".into()],
            true,
        );
        assert!(
            untrusted.is_some_and(|v| v.evidence.contains("TLS inspection: certificate issued by Contoso Firewall CA"))
        );
        assert_eq!(code_of(&seen(service, Some(TlsFailure::Reset))), Some(Code::TlsReset));
        assert_eq!(code_of(&seen(service, Some(TlsFailure::TimedOut))), Some(Code::TlsTimeout));
        let stalled = judge("h", 443, &seen(service, Some(TlsFailure::Stalled { received: 1400 })), &[], true);
        assert!(stalled.is_some_and(|v| v.code == Code::TlsTimeout && v.evidence.contains("the ServerHello came")));
        let large = judge("h", 443, &seen(service, Some(TlsFailure::ChainTooLarge { received: 70000 })), &[], true);
        assert!(large.is_some_and(|v| v.code == Code::TlsFailed && v.evidence.contains("64 KiB")));
        assert_eq!(code_of(&seen(service, Some(TlsFailure::Other("alert".into())))), Some(Code::TlsFailed));
        let expired = judge("h", 443, &seen(service, Some(TlsFailure::Expired("expired".into()))), &[], false);
        let expired = expired.expect("a finding");
        assert_eq!((expired.code, expired.severity), (Code::TlsClockSkew, Severity::Warning));
        assert!(expired.evidence.contains("clock reads 2026-11-29T18:00:00Z"), "{}", expired.evidence);
    }
}
