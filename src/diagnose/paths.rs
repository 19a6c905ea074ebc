//! Rules about paths: how the dial ended (open, refused, filtered, no
//! route; or what the proxy said), then the TLS handshake and the HTTP
//! answer on top. A path whose name already failed is not judged again.

use super::{
    Code, Collector, Hit, PathCheck, PlannedEndpoint, Severity, Status, Verdict, any_required, http, proxy, tls,
};
use crate::probe::{PathObservation, PathOutcome};

/// One finding a path contributes to.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct PathVerdict {
    pub code: Code,
    pub severity: Severity,
    pub evidence: String,
}

/// How the dial itself ended, as far as judging goes.
enum Reach {
    /// Nothing to say.
    Fine,
    /// A finding.
    Finding(PathVerdict),
    /// Not dialled (no address, or the loopback guard): not judged; the name carries the finding.
    Unjudged,
    /// The deadline or an interrupt came first.
    Unfinished(Code, &'static str),
}

/// Judges one path and records its findings.
pub(super) fn judge(
    path: &PathObservation,
    endpoints: &[&PlannedEndpoint],
    name_failed: bool,
    out: &mut Collector,
) -> PathCheck {
    let required = any_required(endpoints);
    let mut verdict = Verdict::pass(check_words(&path.outcome));
    let mut found = Vec::new();
    match reach(path, required) {
        Reach::Fine => {}
        Reach::Finding(v) => found.push(v),
        Reach::Unjudged => verdict.status = Status::Skip,
        Reach::Unfinished(code, why) => {
            verdict.status = Status::Skip;
            let label = format!("{} {}:{}", path.protocol, path.host, path.port);
            out.add(code, code.severity(required), Hit::new(&label, format!("{label}: {why}")));
        }
    }
    let expected: Vec<String> = endpoints.iter().flat_map(|e| e.expected_issuers.iter().cloned()).collect();
    if let Some(seen) = &path.tls {
        found.extend(tls::judge(&path.host, path.port, seen, &expected, required));
    }
    if let Some(seen) = &path.http {
        found.extend(http::judge(&path.host, seen, required, answerer(path, &expected)));
    }
    if found.is_empty() {
        return PathCheck { seen: path.clone(), verdict };
    }
    if name_failed {
        verdict.status = Status::Skip;
        verdict.error = Some("not judged because the name itself failed".to_string());
        return PathCheck { seen: path.clone(), verdict };
    }
    apply(&mut verdict, &found, &path.host);
    let service_tag = endpoints.first().map(|e| e.service_tag.clone());
    for v in found {
        let label = match (&path.via_proxy, v.code) {
            (Some(proxy), Code::ProxyUnreachable) => proxy.clone(),
            _ => format!("{}:{}", path.host, path.port),
        };
        out.add(v.code, v.severity, Hit { service_tag: service_tag.clone(), ..Hit::new(label, v.evidence) });
    }
    PathCheck { seen: path.clone(), verdict }
}

/// The worst finding decides the check's status, code and words.
fn apply(verdict: &mut Verdict, found: &[PathVerdict], host: &str) {
    let Some(worst) = found.iter().map(|v| v.severity).min() else { return };
    if worst != Severity::Info {
        verdict.status = Status::of(worst);
    }
    let Some(main) = found.iter().find(|v| v.severity == worst) else { return };
    verdict.code = Some(main.code);
    if worst != Severity::Info || verdict.error.is_none() {
        verdict.error = Some(strip_host(&main.evidence, host));
    }
}

fn reach(path: &PathObservation, required: bool) -> Reach {
    let code = match &path.outcome {
        PathOutcome::Open | PathOutcome::UdpAnswered | PathOutcome::UdpNoRejection => return Reach::Fine,
        PathOutcome::NotDialled(_) => return Reach::Unjudged,
        PathOutcome::DeadlineExceeded => {
            return Reach::Unfinished(Code::RunDeadlineExceeded, "unfinished at the deadline");
        }
        PathOutcome::Interrupted => return Reach::Unfinished(Code::RunInterrupted, "interrupted before it finished"),
        PathOutcome::Refused => Code::TcpRefused,
        PathOutcome::TimedOut => Code::TcpTimeout,
        PathOutcome::Unreachable => Code::TcpUnreachable,
        // An error the kernel gave that says nothing of the network is this machine's.
        PathOutcome::LocalError(_) | PathOutcome::Failed(_) => Code::LocalDialFailed,
        PathOutcome::UdpRejected => Code::UdpRejected,
        PathOutcome::ProxyUnreachable { .. } => Code::ProxyUnreachable,
        PathOutcome::ProxyAuthRequired { .. } => Code::HttpProxyAuth,
        PathOutcome::ProxyAnswered { .. } | PathOutcome::ProxyNoAnswer { .. } | PathOutcome::ProxyFailed(_) => {
            proxy::connect_code(&path.outcome)
        }
    };
    let evidence = match &path.via_proxy {
        Some(proxy) => {
            format!("{}:{} through proxy {proxy}: {}", path.host, path.port, proxy::connect_words(&path.outcome))
        }
        None => {
            let dialled = path.dialled.map(|a| a.to_string()).unwrap_or_default();
            let how = if path.via_connect_to { " (via --connect-to)" } else { "" };
            format!(
                "{} {}:{} dialled at {dialled}{how}: {} after {} ms",
                path.protocol,
                path.host,
                path.port,
                outcome_words(&path.outcome),
                path.elapsed.as_millis()
            )
        }
    };
    Reach::Finding(PathVerdict { code, severity: code.severity(required), evidence })
}

/// The check's words for an outcome: nothing for a plain success.
fn check_words(outcome: &PathOutcome) -> Option<String> {
    match outcome {
        PathOutcome::Open | PathOutcome::UdpAnswered => None,
        other => Some(outcome_words(other)),
    }
}

/// A path outcome in a few words.
pub(super) fn outcome_words(outcome: &PathOutcome) -> String {
    match outcome {
        PathOutcome::Open => "open".into(),
        PathOutcome::Refused => "connection refused".into(),
        PathOutcome::TimedOut => "no answer to SYN".into(),
        PathOutcome::Unreachable => "no route to host".into(),
        PathOutcome::UdpRejected => "ICMP port unreachable".into(),
        PathOutcome::UdpAnswered => "answered".into(),
        PathOutcome::UdpNoRejection => "no rejection seen (open or filtered)".into(),
        PathOutcome::NotDialled(why) => format!("not dialled: {why}"),
        PathOutcome::Failed(e) | PathOutcome::ProxyFailed(e) | PathOutcome::LocalError(e) => e.clone(),
        PathOutcome::DeadlineExceeded => "deadline reached".into(),
        PathOutcome::Interrupted => "interrupted".into(),
        PathOutcome::ProxyUnreachable { proxy, outcome } => format!("proxy {proxy}: {}", outcome_words(outcome)),
        PathOutcome::ProxyAuthRequired { line, .. } => format!("proxy asks for authentication: {line}"),
        PathOutcome::ProxyAnswered { line, .. } => format!("proxy answered CONNECT with {line}"),
        PathOutcome::ProxyNoAnswer { waited } => {
            format!("proxy gave no answer to CONNECT in {} ms", waited.as_millis())
        }
    }
}

/// Who could have written the path's HTTP answer besides the service.
fn answerer<'a>(path: &'a PathObservation, expected: &[String]) -> http::Answerer<'a> {
    let issuer = path.tls.as_ref().filter(|t| t.verified).and_then(|t| t.chain.first()).map(|c| c.issuer.as_str());
    let service_tls = issuer.is_some_and(|i| !expected.is_empty() && !tls::is_inspected(i, expected));
    let proxy_host = path.via_proxy.as_deref().and_then(http::proxy_host);
    // Over TLS, only a device that re-signs (an issuer that is not the
    // service's) can write the answer; in plain HTTP, the proxy can.
    let proxy_may_answer = path.tls.is_none() || !service_tls;
    http::Answerer { service_tls, proxy_may_answer: proxy_may_answer && path.via_proxy.is_some(), proxy_host }
}

/// Evidence lines start with `tcp host:port`; the check already names its host.
fn strip_host(evidence: &str, host: &str) -> String {
    match evidence.find(host) {
        Some(i) if i < 8 => evidence[i + host.len()..]
            .trim_start_matches(|c: char| c == ':' || c.is_ascii_digit() || c == ' ')
            .to_string(),
        _ => evidence.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_check_does_not_repeat_its_host() {
        assert_eq!(
            strip_host("tcp a.example:443 dialled at 10.0.0.4:443: refused", "a.example"),
            "dialled at 10.0.0.4:443: refused"
        );
        assert_eq!(strip_host("the proxy said no to a.example", "a.example"), "the proxy said no to a.example");
    }

    #[test]
    fn a_plain_success_has_no_words_and_udp_silence_says_what_it_means() {
        assert_eq!(check_words(&PathOutcome::Open), None);
        assert_eq!(check_words(&PathOutcome::UdpNoRejection).as_deref(), Some("no rejection seen (open or filtered)"));
        let nested =
            PathOutcome::ProxyUnreachable { proxy: "http://p:3128".into(), outcome: Box::new(PathOutcome::Refused) };
        assert_eq!(outcome_words(&nested), "proxy http://p:3128: connection refused");
    }

    #[test]
    fn info_keeps_the_status_and_the_worst_finding_names_the_check() {
        let info =
            PathVerdict { code: Code::TlsInspected, severity: Severity::Info, evidence: "tls h:443: inspected".into() };
        let mut v = Verdict::pass(None);
        apply(&mut v, std::slice::from_ref(&info), "h");
        assert_eq!((v.status, v.code), (Status::Pass, Some(Code::TlsInspected)));
        let error =
            PathVerdict { code: Code::TlsReset, severity: Severity::Error, evidence: "tls h:443: reset".into() };
        let mut v = Verdict::pass(None);
        apply(&mut v, &[info, error], "h");
        assert_eq!((v.status, v.code, v.error.as_deref()), (Status::Fail, Some(Code::TlsReset), Some("reset")));
    }
}
