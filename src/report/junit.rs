//! JUnit XML: one test case per check, so a CI system shows each failure.

use super::Report;
use super::record::CheckRecord;
use crate::diagnose::{Area, Status};

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

/// Renders the checks as a JUnit test report.
pub fn render(r: &Report) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let records: Vec<CheckRecord> = r.checks.iter().map(CheckRecord::of).collect();
    let failures = records.iter().filter(|c| c.status == Status::Fail).count();
    let skipped = records.iter().filter(|c| c.status == Status::Skip).count();
    out.push_str(&format!(
        "<testsuites name=\"amlnet\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\" time=\"{:.3}\">\n",
        records.len(),
        r.duration_ms as f64 / 1000.0
    ));
    for (area, name) in [(Area::Dns, "names"), (Area::Tcp, "tcp"), (Area::Udp, "udp")] {
        let checks: Vec<&CheckRecord> = records.iter().filter(|c| c.area == area).collect();
        if checks.is_empty() {
            continue;
        }
        let f = checks.iter().filter(|c| c.status == Status::Fail).count();
        out.push_str(&format!("  <testsuite name=\"{name}\" tests=\"{}\" failures=\"{f}\">\n", checks.len()));
        for c in checks {
            out.push_str(&format!(
                "    <testcase classname=\"amlnet.{name}\" name=\"{}\" time=\"{:.3}\"",
                xml(&c.id),
                c.elapsed_ms as f64 / 1000.0
            ));
            let msg =
                xml(&format!("{}{}", c.code.map(|c| format!("{c}: ")).unwrap_or_default(), c.error.unwrap_or("")));
            match c.status {
                Status::Pass => out.push_str("/>\n"),
                Status::Fail => out.push_str(&format!(">\n      <failure message=\"{msg}\"/>\n    </testcase>\n")),
                Status::Warn => {
                    out.push_str(&format!(">\n      <system-out>warning: {msg}</system-out>\n    </testcase>\n"))
                }
                Status::Skip => out.push_str(&format!(">\n      <skipped message=\"{msg}\"/>\n    </testcase>\n")),
            }
        }
        out.push_str("  </testsuite>\n");
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
