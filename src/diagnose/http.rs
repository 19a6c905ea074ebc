//! Rules about HTTP answers: a firewall's or proxy's denial (Azure
//! Firewall's 470, a 403 with a proxy's Server or Via header, a block page)
//! told apart from the service's own answer, even a refusal.

use super::Code;
use super::paths::PathVerdict;
use crate::probe::HttpObservation;

/// Words of proxies and firewalls in `Server` headers and block pages.
const DENIAL_SERVERS: &[&str] = &[
    "squid",
    "zscaler",
    "fortigate",
    "bluecoat",
    "palo alto",
    "pan-os",
    "firewall",
    "proxy",
    "netskope",
    "forcepoint",
    "sophos",
    "mcafee",
];
const DENIAL_WORDS: &[&str] =
    &["access denied", "blocked", "action: deny", "web policy", "url filtering", "not allowed by", "policy violation"];

/// The finding of one HTTP request, if any.
pub(super) fn judge(host: &str, http: &HttpObservation, required: bool) -> Option<PathVerdict> {
    let verdict = |code: Code, evidence: String| PathVerdict { code, severity: code.severity(required), evidence };
    let Some(status) = http.status else {
        let why = http.error.clone().unwrap_or_else(|| "no answer".into());
        return Some(verdict(Code::HttpFailed, format!("http {host}: GET {}: {why}", http.url)));
    };
    let who = denied_by(status, http)?;
    let title = page_title(&http.body_start).map(|t| format!(" \"{t}\"")).unwrap_or_default();
    Some(verdict(Code::HttpBlocked, format!("http {host}: GET {} answered {status} by {who}{title}", http.url)))
}

/// Who denied the request, when it was not the service.
fn denied_by(status: u16, http: &HttpObservation) -> Option<String> {
    if status == 470 {
        return Some("Azure Firewall (status 470)".to_string());
    }
    let server = http.server.clone().unwrap_or_default();
    let lower_server = server.to_ascii_lowercase();
    let service_itself = lower_server.contains("microsoft") || lower_server.contains("windows-azure");
    if !matches!(status, 403 | 407 | 451 | 502 | 503) || service_itself {
        return None;
    }
    if DENIAL_SERVERS.iter().any(|s| lower_server.contains(s)) {
        return Some(format!("Server: {server}"));
    }
    if let Some(via) = &http.via {
        return Some(format!("Via: {via}"));
    }
    let body = http.body_start.to_ascii_lowercase();
    if !DENIAL_WORDS.iter().any(|w| body.contains(w)) {
        return None;
    }
    Some(if server.is_empty() { "a block page".to_string() } else { format!("a block page (Server: {server})") })
}

fn page_title(body: &str) -> Option<String> {
    let lower = body.to_ascii_lowercase();
    let start = lower.find("<title>")? + "<title>".len();
    let end = lower[start..].find("</title>")? + start;
    Some(body.get(start..end)?.trim().chars().take(80).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::Severity;

    fn answer(status: u16, server: Option<&str>, via: Option<&str>, body: &str) -> HttpObservation {
        HttpObservation {
            url: "https://pypi.org/simple/".into(),
            status: Some(status),
            server: server.map(str::to_string),
            via: via.map(str::to_string),
            body_start: body.into(),
            ..HttpObservation::default()
        }
    }

    fn code_of(http: &HttpObservation) -> Option<Code> {
        judge("pypi.org", http, false).map(|v| v.code)
    }

    #[test]
    fn tells_a_denial_from_the_service() {
        assert_eq!(code_of(&answer(470, None, None, "Action: Deny. No rule matched.")), Some(Code::HttpBlocked));
        assert_eq!(code_of(&answer(403, Some("squid/5.7"), None, "")), Some(Code::HttpBlocked));
        assert_eq!(code_of(&answer(403, None, Some("1.1 proxy.corp"), "")), Some(Code::HttpBlocked));
        assert_eq!(
            code_of(&answer(403, Some("nginx"), None, "<title>Blocked</title> access denied")),
            Some(Code::HttpBlocked)
        );
        // The service's own answers, even refusals, mean the path works.
        assert_eq!(code_of(&answer(403, Some("Microsoft-HTTPAPI/2.0"), None, "access denied")), None);
        assert_eq!(code_of(&answer(404, Some("nginx"), None, "not found")), None);
        assert_eq!(code_of(&answer(200, None, None, "")), None);
        let failed = HttpObservation { error: Some("operation timed out".into()), ..HttpObservation::default() };
        assert_eq!(code_of(&failed), Some(Code::HttpFailed));
        assert_eq!(judge("pypi.org", &failed, false).map(|v| v.severity), Some(Severity::Warning));
    }

    #[test]
    fn a_block_page_title_is_quoted() {
        let v = judge("pypi.org", &answer(403, Some("nginx"), None, "<TITLE> Blocked by policy </TITLE>"), true);
        assert!(v.is_some_and(|v| v.evidence.ends_with("\"Blocked by policy\"")));
    }
}
