//! Rules about HTTP answers: a firewall's or proxy's denial (Azure
//! Firewall's 470 with its action and reason, a proxy's own error page, a
//! block page) told apart from the service's own answer, even a refusal,
//! and from an answer that merely passed through a CDN (Fastly, in front of
//! pypi.org, puts `Via: 1.1 varnish` on every response).

use super::Code;
use super::paths::PathVerdict;
use crate::probe::HttpObservation;

/// Words of proxies and firewalls in `Server` and `Via` headers.
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
    "tinyproxy",
];
/// Words of block pages.
pub(super) const DENIAL_WORDS: &[&str] =
    &["access denied", "blocked", "action: deny", "web policy", "url filtering", "not allowed by", "policy violation"];

/// Who could have written an HTTP answer besides the service.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Answerer<'a> {
    /// The answer came over TLS whose certificate the service's own CA
    /// issued and this machine verified: nothing in between could have
    /// written it, whatever its headers say.
    pub service_tls: bool,
    /// The answer could be the proxy's own (plain HTTP through a proxy, or
    /// TLS re-signed by an inspecting device): a `Via` naming the proxy
    /// counts then, and only then.
    pub proxy_may_answer: bool,
    /// The configured proxy's host name, as a `Via` header would name it.
    pub proxy_host: Option<&'a str>,
}

/// The finding of one HTTP request, if any.
pub(super) fn judge(host: &str, http: &HttpObservation, required: bool, by: Answerer<'_>) -> Option<PathVerdict> {
    let verdict = |code: Code, evidence: String| PathVerdict { code, severity: code.severity(required), evidence };
    let Some(status) = http.status else {
        let why = http.error.clone().unwrap_or_else(|| "no answer".into());
        return Some(verdict(Code::HttpFailed, format!("http {host}: GET {}: {why}", http.url)));
    };
    if by.service_tls {
        return None;
    }
    let who = denied_by(status, http, by)?;
    let line = if http.status_line.is_empty() { status.to_string() } else { format!("\"{}\"", http.status_line) };
    let body = match (&http.body_line, status) {
        (Some(b), 470) => format!(": {}", azure_firewall_words(b)),
        (Some(b), _) => format!(": \"{b}\""),
        (None, _) => String::new(),
    };
    // A gateway error written by the proxy (plain HTTP, or TLS it
    // inspects) is its way out failing, not a refusal, unless its page says so.
    let refusal = DENIAL_WORDS.iter().any(|w| http.body_start.to_ascii_lowercase().contains(w));
    if matches!(status, 500 | 502 | 503 | 504) && !refusal {
        let evidence =
            format!("http {host}: GET {} answered {line} by {who}{body}: it could not reach the service", http.url);
        return Some(verdict(Code::ProxyUpstreamFailed, evidence));
    }
    Some(verdict(Code::HttpBlocked, format!("http {host}: GET {} answered {line} by {who}{body}", http.url)))
}

/// Who denied the request, when it was not the service.
fn denied_by(status: u16, http: &HttpObservation, by: Answerer<'_>) -> Option<String> {
    if status == 470 {
        return Some("Azure Firewall".to_string());
    }
    let server = http.server.clone().unwrap_or_default();
    let lower_server = server.to_ascii_lowercase();
    let service_itself = lower_server.contains("microsoft") || lower_server.contains("windows-azure");
    if !matches!(status, 403 | 407 | 451 | 500 | 502 | 503 | 504) || service_itself {
        return None;
    }
    if DENIAL_SERVERS.iter().any(|s| lower_server.contains(s)) {
        return Some(format!("Server: {server}"));
    }
    // A Via names every proxy and CDN the answer passed through: it says
    // who wrote the answer only when the proxy could have, and nothing else
    // (no Server of the origin's own) claims it.
    if let Some(via) = &http.via {
        let lower_via = via.to_ascii_lowercase();
        let names_proxy = DENIAL_SERVERS.iter().any(|s| lower_via.contains(s))
            || by.proxy_host.is_some_and(|p| !p.is_empty() && lower_via.contains(&p.to_ascii_lowercase()));
        if by.proxy_may_answer && names_proxy && server.is_empty() {
            return Some(format!("the proxy (Via: {via})"));
        }
    }
    let body = http.body_start.to_ascii_lowercase();
    if !DENIAL_WORDS.iter().any(|w| body.contains(w)) {
        return None;
    }
    let title = page_title(&http.body_start).map(|t| format!(" \"{t}\"")).unwrap_or_default();
    Some(if server.is_empty() {
        format!("a block page{title}")
    } else {
        format!("a block page{title} (Server: {server})")
    })
}

/// Azure Firewall's 470 body in words: its action, and the reason or the
/// rule collection and rule that decided. The body is one line of plain
/// text, e.g. (as captured from a real firewall, curl -v):
///
/// ```text
/// HTTP/1.1 470 status code 470
/// Content-Length: 70
/// Content-Type: text/plain; charset=utf-8
///
/// Action: Deny. Reason: No rule matched. Proceeding with default action.
/// ```
///
/// (gist.github.com/weltonrodrigo/be8cd941d8825ddcb5031e4017ecb399); a
/// deny rule that matched is named as in the firewall's application rule
/// log: "Action: Deny. Rule Collection: NAME. Rule: NAME".
pub(super) fn azure_firewall_words(body: &str) -> String {
    let mut fields: Vec<(String, String)> = Vec::new();
    for sentence in body.split(". ") {
        let sentence = sentence.trim().trim_end_matches('.');
        match sentence.split_once(':') {
            Some((key, value))
                if ["action", "reason", "rule collection", "rule", "policy"]
                    .contains(&key.trim().to_ascii_lowercase().as_str()) =>
            {
                fields.push((key.trim().to_ascii_lowercase(), value.trim().to_string()));
            }
            _ => {
                // Text after a field continues it ("No rule matched. Proceeding with default action").
                if let Some(last) = fields.last_mut().filter(|_| !sentence.is_empty()) {
                    last.1 = format!("{}. {sentence}", last.1);
                }
            }
        }
    }
    if fields.is_empty() {
        return format!("\"{body}\"");
    }
    fields.iter().map(|(k, v)| format!("{k} \"{v}\"")).collect::<Vec<_>>().join(", ")
}

/// The host of a (masked) proxy URL, as a Via header would name it.
pub(super) fn proxy_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    rest.split([':', '/']).next().filter(|h| !h.is_empty())
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
        judge("pypi.org", http, false, Answerer::default()).map(|v| v.code)
    }

    #[test]
    fn tells_a_denial_from_the_service() {
        assert_eq!(code_of(&answer(470, None, None, "Action: Deny. No rule matched.")), Some(Code::HttpBlocked));
        assert_eq!(code_of(&answer(403, Some("squid/5.7"), None, "")), Some(Code::HttpBlocked));
        // The proxy's own gateway error: it could not reach the service.
        assert_eq!(code_of(&answer(502, Some("squid/5.7"), None, "")), Some(Code::ProxyUpstreamFailed));
        assert_eq!(code_of(&answer(503, Some("squid"), None, "Access Denied")), Some(Code::HttpBlocked));
        assert_eq!(code_of(&answer(504, Some("nginx"), None, "")), None, "the service's own gateway");
        // A Via alone is no evidence: Fastly (pypi.org) sends one on every answer.
        assert_eq!(code_of(&answer(403, None, Some("1.1 varnish"), "Forbidden")), None);
        assert_eq!(code_of(&answer(503, Some("nginx"), Some("1.1 varnish, 1.1 varnish"), "")), None);
        assert_eq!(
            code_of(&answer(403, None, Some("1.1 proxy.corp"), "")),
            None,
            "the proxy cannot write into a tunnel"
        );
        let plain_via_proxy =
            Answerer { proxy_may_answer: true, proxy_host: Some("proxy.corp"), ..Answerer::default() };
        let judged = |h: &HttpObservation| judge("pypi.org", h, false, plain_via_proxy).map(|v| v.code);
        assert_eq!(judged(&answer(403, None, Some("1.1 proxy.corp:3128"), "")), Some(Code::HttpBlocked));
        assert_eq!(judged(&answer(403, Some("nginx"), Some("1.1 proxy.corp (squid/5.7)"), "")), None, "forwarded");
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
        assert_eq!(judge("pypi.org", &failed, false, Answerer::default()).map(|v| v.severity), Some(Severity::Warning));
        // Over TLS from the service's own CA, nothing in between wrote the answer.
        let genuine = Answerer { service_tls: true, ..Answerer::default() };
        assert_eq!(judge("h", &answer(403, Some("squid"), None, "access denied"), false, genuine), None);
    }

    #[test]
    fn a_block_page_title_is_quoted() {
        let v = judge(
            "pypi.org",
            &answer(403, Some("nginx"), None, "<TITLE> Blocked by policy </TITLE>"),
            true,
            Answerer::default(),
        );
        assert!(v.is_some_and(|v| v.evidence.ends_with("\"Blocked by policy\" (Server: nginx)")));
    }

    #[test]
    fn azure_firewall_names_its_action_and_reason() {
        assert_eq!(
            azure_firewall_words("Action: Deny. Reason: No rule matched. Proceeding with default action."),
            "action \"Deny\", reason \"No rule matched. Proceeding with default action\""
        );
        assert_eq!(
            azure_firewall_words("Action: Deny. Rule Collection: deny-packages. Rule: pypi"),
            "action \"Deny\", rule collection \"deny-packages\", rule \"pypi\""
        );
        assert_eq!(azure_firewall_words("something else"), "\"something else\"");
        let mut h = answer(470, None, None, "Action: Deny. Reason: No rule matched. Proceeding with default action.");
        h.status_line = "HTTP/1.1 470 status code 470".into();
        h.body_line = Some(h.body_start.clone());
        let v = judge("pypi.org", &h, true, Answerer::default()).expect("a finding");
        assert_eq!(
            v.evidence,
            "http pypi.org: GET https://pypi.org/simple/ answered \"HTTP/1.1 470 status code 470\" by Azure Firewall: action \"Deny\", reason \"No rule matched. Proceeding with default action\""
        );
    }
}
