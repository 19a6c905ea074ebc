//! JUnit XML, valid against the common Jenkins/xunit schema: one test case
//! per check (names, tcp, udp), plus one per finding that no check carries
//! (this machine's settings), so a CI system shows every failure. Every
//! `testsuite` has `tests`, `failures`, `errors` and `skipped`; the
//! `testsuites` root has no `skipped`, which that schema does not allow.

use super::Report;
use super::record::CheckRecord;
use crate::diagnose::{Area, Severity, Status};

fn xml(s: &str) -> String {
    // XML 1.0 allows no other control characters (not even escaped), nor
    // U+FFFE/U+FFFF: they are dropped.
    let allowed = |c: &char| {
        matches!(c, '\t' | '\n' | '\r')
            || (!c.is_control() && !matches!(c, '\u{fffe}' | '\u{ffff}'))
            || ('\u{80}'..='\u{9f}').contains(c)
    };
    s.chars()
        .filter(allowed)
        .collect::<String>()
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

enum Outcome {
    Pass,
    /// message, body
    Fail(String, String),
    Warn(String),
    Skip(String),
}

struct Case {
    name: String,
    time_ms: u64,
    outcome: Outcome,
}

fn seconds(ms: u64) -> String {
    format!("{:.3}", ms as f64 / 1000.0)
}

fn suite(out: &mut String, name: &str, cases: &[Case]) {
    let failures = cases.iter().filter(|c| matches!(c.outcome, Outcome::Fail(..))).count();
    let skipped = cases.iter().filter(|c| matches!(c.outcome, Outcome::Skip(_))).count();
    let time: u64 = cases.iter().map(|c| c.time_ms).sum();
    out.push_str(&format!(
        "  <testsuite name=\"{name}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{}\">\n",
        cases.len(),
        seconds(time)
    ));
    for c in cases {
        out.push_str(&format!(
            "    <testcase classname=\"amlnet.{name}\" name=\"{}\" time=\"{}\"",
            xml(&c.name),
            seconds(c.time_ms)
        ));
        match &c.outcome {
            Outcome::Pass => out.push_str("/>\n"),
            Outcome::Fail(msg, body) => out.push_str(&format!(
                ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>\n",
                xml(msg),
                xml(msg.split(':').next().unwrap_or("failure")),
                xml(body)
            )),
            Outcome::Warn(msg) => {
                out.push_str(&format!(">\n      <system-out>warning: {}</system-out>\n    </testcase>\n", xml(msg)))
            }
            Outcome::Skip(msg) => {
                out.push_str(&format!(">\n      <skipped message=\"{}\"/>\n    </testcase>\n", xml(msg)))
            }
        }
    }
    out.push_str("  </testsuite>\n");
}

/// Renders the checks and the findings no check carries as a JUnit test report.
pub fn render(r: &Report) -> String {
    let records: Vec<CheckRecord> = r.checks.iter().map(CheckRecord::of).collect();
    let remedy = |code: Option<crate::diagnose::Code>| {
        code.and_then(|c| r.findings.iter().find(|f| f.code == c))
            .map(|f| format!("{}\n\nFix: {}", f.title, f.remedy))
            .unwrap_or_default()
    };
    let mut suites: Vec<(&str, Vec<Case>)> = Vec::new();
    for (area, name) in [(Area::Dns, "names"), (Area::Tcp, "tcp"), (Area::Udp, "udp")] {
        let cases: Vec<Case> = records
            .iter()
            .filter(|c| c.area == area)
            .map(|c| {
                let msg = format!("{}{}", c.code.map(|c| format!("{c}: ")).unwrap_or_default(), c.error.unwrap_or(""));
                let outcome = match c.status {
                    Status::Pass => Outcome::Pass,
                    Status::Fail => Outcome::Fail(msg, remedy(c.code)),
                    Status::Warn => Outcome::Warn(msg),
                    Status::Skip => Outcome::Skip(msg),
                };
                Case { name: c.id.clone(), time_ms: c.elapsed_ms, outcome }
            })
            .collect();
        if !cases.is_empty() {
            suites.push((name, cases));
        }
    }
    // Findings that no check carries: this machine's settings, mostly.
    let loose: Vec<Case> = r
        .findings
        .iter()
        .filter(|f| !records.iter().any(|c| c.code == Some(f.code)))
        .map(|f| {
            let msg = format!("{}: {}", f.code, f.title);
            let body = format!("{}\n\nHosts: {}\n\nFix: {}", f.detail, f.hosts.join(", "), f.remedy);
            let outcome = match f.severity {
                Severity::Error => Outcome::Fail(msg, body),
                Severity::Warning | Severity::Info => Outcome::Warn(format!("{msg}\n{body}")),
            };
            Case { name: f.code.to_string(), time_ms: 0, outcome }
        })
        .collect();
    if !loose.is_empty() {
        suites.push(("findings", loose));
    }
    let tests: usize = suites.iter().map(|(_, c)| c.len()).sum();
    let failures: usize = suites.iter().flat_map(|(_, c)| c).filter(|c| matches!(c.outcome, Outcome::Fail(..))).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"amlnet\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" time=\"{}\">\n",
        seconds(r.duration_ms)
    ));
    for (name, cases) in &suites {
        suite(&mut out, name, cases);
    }
    out.push_str("</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn characters_xml_does_not_allow_are_dropped() {
        assert_eq!(super::xml("a\u{1b}[2J\u{0}b\u{ffff}<c>\t"), "a[2Jb&lt;c&gt;\t");
    }
}
