//! Findings: the rules report hits (one affected host and its evidence)
//! under a code; hits of the same code and severity become one finding,
//! with the code's words, the zones and service tags involved.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Code, Severity};

/// A problem, its cause and its fix.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Finding {
    /// Stable code (`amlnet explain CODE`).
    pub code: Code,
    /// Severity.
    pub severity: Severity,
    /// One-line title.
    pub title: String,
    /// Probable cause and the evidence, one line per host.
    pub detail: String,
    /// Affected hosts (`host` or `host:port`).
    pub hosts: Vec<String>,
    /// What to change.
    pub remedy: String,
    /// Documentation links.
    pub docs: Vec<String>,
}

/// One affected host behind a finding.
#[derive(Debug, Clone)]
pub(super) struct Hit {
    /// How the host is listed (`host`, `host:port`, a proxy, a variable).
    pub label: String,
    /// One line of evidence.
    pub evidence: String,
    /// The privatelink zone to name in the fix.
    pub zone: Option<String>,
    /// The service tag to name in the fix.
    pub service_tag: Option<String>,
}

impl Hit {
    /// A hit with no zone or service tag.
    pub fn new(label: impl Into<String>, evidence: impl Into<String>) -> Hit {
        Hit { label: label.into(), evidence: evidence.into(), zone: None, service_tag: None }
    }
}

/// Gathers hits; ordered by severity, then by the code's place in the table.
#[derive(Default)]
pub(super) struct Collector {
    hits: BTreeMap<(Severity, Code), Vec<Hit>>,
}

impl Collector {
    /// Records one hit.
    pub fn add(&mut self, code: Code, severity: Severity, hit: Hit) {
        self.hits.entry((severity, code)).or_default().push(hit);
    }

    /// One finding per (severity, code), errors first.
    pub fn into_findings(self) -> Vec<Finding> {
        self.hits.into_iter().map(|((severity, code), hits)| finding(code, severity, &hits)).collect()
    }
}

fn finding(code: Code, severity: Severity, hits: &[Hit]) -> Finding {
    let info = code.info();
    let mut detail = info.cause.to_string();
    detail.push('\n');
    for h in hits {
        detail.push_str(&format!("\n- {}", h.evidence));
    }
    let mut remedy = info.remedy.to_string();
    let zones = distinct(hits.iter().filter_map(|h| h.zone.as_deref()));
    if !zones.is_empty() {
        remedy.push_str(&format!(" Zones: {}.", zones.join(", ")));
    }
    let tags = distinct(hits.iter().filter_map(|h| h.service_tag.as_deref()));
    if !tags.is_empty() {
        remedy.push_str(&format!(" Service tags: {}.", tags.join(", ")));
    }
    Finding {
        code,
        severity,
        title: info.title.to_string(),
        detail,
        hosts: distinct(hits.iter().map(|h| h.label.as_str())),
        remedy,
        docs: info.docs.iter().map(|d| d.to_string()).collect(),
    }
}

/// The items in first-seen order, each once.
fn distinct<'a>(items: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    items.filter(|i| seen.insert(*i)).map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_of_one_code_become_one_finding_listing_each_host_once() {
        let mut c = Collector::default();
        let zoned =
            |label: &str| Hit { zone: Some("privatelink.blob.core.windows.net".into()), ..Hit::new(label, label) };
        c.add(Code::DnsPublicAnswer, Severity::Error, zoned("a"));
        c.add(Code::DnsPublicAnswer, Severity::Error, zoned("b"));
        c.add(Code::DnsPublicAnswer, Severity::Error, zoned("a"));
        c.add(Code::TcpTimeout, Severity::Warning, Hit::new("c:443", "c"));
        let f = c.into_findings();
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].code, Code::DnsPublicAnswer);
        assert_eq!(f[0].hosts, vec!["a", "b"]);
        assert!(f[0].remedy.ends_with("Zones: privatelink.blob.core.windows.net."), "{}", f[0].remedy);
        assert_eq!(f[1].severity, Severity::Warning);
    }

    #[test]
    fn errors_come_first_then_table_order() {
        let mut c = Collector::default();
        c.add(Code::ProxyMalformed, Severity::Warning, Hit::new("x", "x"));
        c.add(Code::TcpTimeout, Severity::Error, Hit::new("y", "y"));
        c.add(Code::DnsNxdomain, Severity::Error, Hit::new("z", "z"));
        let codes: Vec<Code> = c.into_findings().iter().map(|f| f.code).collect();
        assert_eq!(codes, vec![Code::DnsNxdomain, Code::TcpTimeout, Code::ProxyMalformed]);
    }
}
