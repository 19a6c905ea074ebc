//! Rules about revocation endpoints: a CRL distribution point or OCSP
//! responder that a presented certificate names and this machine cannot
//! fetch (filtered, refused, no route, a proxy's or firewall's denial) is a
//! warning, since Windows and .NET clients stall on it; one that answers,
//! whatever its status, is fine.

use super::http::{self, Answerer};
use super::{Code, Collector, Hit, PathCheck, Status, Verdict, paths};
use crate::probe::PathOutcome;
use crate::probe::revocation::RevocationObservation;

/// Judges one revocation URL and records its finding.
pub(super) fn judge(seen: &RevocationObservation, out: &mut Collector) -> PathCheck {
    let path = &seen.path;
    let url = seen.url.clone();
    let mut verdict = Verdict::pass(None);
    let how = match &path.outcome {
        PathOutcome::Open => match &path.http {
            Some(h) if h.status.is_some() => {
                let proxy_host = path.via_proxy.as_deref().and_then(http::proxy_host);
                let by = Answerer { service_tls: false, proxy_may_answer: path.via_proxy.is_some(), proxy_host };
                http::judge(&path.host, h, false, by)
                    .filter(|v| matches!(v.code, Code::HttpBlocked | Code::ProxyUpstreamFailed))
                    .map(|v| {
                        // "http HOST: GET URL answered ... by ..." without its prefix.
                        v.evidence
                            .split_once(&format!("GET {} ", h.url))
                            .map(|(_, rest)| rest.to_string())
                            .unwrap_or(v.evidence)
                    })
            }
            Some(h) => Some(format!("no HTTP answer: {}", h.error.as_deref().unwrap_or("none"))),
            None => None,
        },
        PathOutcome::NotDialled(why) if why.contains("did not resolve") => Some(why.clone()),
        // A socket this machine could not open says nothing of the endpoint
        // (the paths' own local-dial-failed finding names it).
        PathOutcome::NotDialled(_)
        | PathOutcome::Failed(_)
        | PathOutcome::LocalError(_)
        | PathOutcome::DeadlineExceeded
        | PathOutcome::Interrupted => {
            verdict.status = Status::Skip;
            verdict.error = Some(paths::outcome_words(&path.outcome));
            return PathCheck { seen: path.clone(), verdict };
        }
        other => Some(format!("{} after {} ms", paths::outcome_words(other), path.elapsed.as_millis())),
    };
    if let Some(how) = how {
        let code = Code::TlsRevocationUnreachable;
        let through = path.via_proxy.as_deref().map(|p| format!(" through proxy {p}")).unwrap_or_default();
        let evidence = format!("{url}{through} (named by the certificate of {}): {how}", named_by(&seen.named_by));
        verdict.status = Status::of(code.severity(false));
        verdict.code = Some(code);
        verdict.error = Some(how);
        out.add(code, code.severity(false), Hit::new(url, evidence));
    }
    PathCheck { seen: path.clone(), verdict }
}

/// The endpoints whose certificates name a URL: the first few, and how many more.
fn named_by(endpoints: &[String]) -> String {
    const SHOWN: usize = 3;
    match endpoints.len() {
        n if n <= SHOWN => endpoints.join(", "),
        n => format!("{} and {} more", endpoints[..SHOWN].join(", "), n - SHOWN),
    }
}
