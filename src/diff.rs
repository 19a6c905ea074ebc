//! `amlnet diff OLD.json NEW.json`: what got fixed, what broke, which checks
//! changed status, and which checks only one of the two reports has. The
//! exit status is 1 when findings were added, so a script can gate on it.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Result, anyhow, bail};
use serde::Serialize;
use serde_json::Value;

/// Reads a JSON report of schema version 1 (capped like every input file),
/// naming the file in every error.
pub fn load_report(path: &Path) -> Result<Value> {
    let text = crate::input::read_input_file(path, "")?;
    let doc: Value = serde_json::from_str(&text).map_err(|e| anyhow!("{}: not valid JSON: {e}", path.display()))?;
    match doc.get("schema_version").and_then(Value::as_u64) {
        Some(1) => {}
        Some(v) => bail!("{}: schema_version {v} is not supported (expected 1)", path.display()),
        None => bail!("{}: not an amlnet JSON report (no schema_version)", path.display()),
    }
    for part in ["findings", "checks"] {
        if !doc.get(part).is_some_and(Value::is_array) {
            bail!("{}: not an amlnet JSON report (no {part} list)", path.display());
        }
    }
    Ok(doc)
}

/// One host of one finding.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct FindingHost {
    /// The finding code.
    pub code: String,
    /// `error`, `warning` or `info`.
    pub severity: String,
    /// The affected host.
    pub host: String,
}

/// A check whose status differs.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ChangedCheck {
    /// The check id (`tcp:HOST:PORT`).
    pub id: String,
    /// Status in the old report.
    pub was: String,
    /// Status in the new report.
    pub now: String,
}

/// A check only one of the reports has.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OneSidedCheck {
    /// The check id.
    pub id: String,
    /// Its status in the report that has it.
    pub status: String,
}

/// The difference between two reports.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Diff {
    /// Always 1.
    pub schema_version: u32,
    /// The old report's file.
    pub old: String,
    /// The new report's file.
    pub new: String,
    /// Finding hosts of the old report that the new one does not have.
    pub fixed: Vec<FindingHost>,
    /// Finding hosts of the new report that the old one did not have.
    pub added: Vec<FindingHost>,
    /// Checks in both whose status changed.
    pub changed: Vec<ChangedCheck>,
    /// Checks only the old report has.
    pub only_in_old: Vec<OneSidedCheck>,
    /// Checks only the new report has.
    pub only_in_new: Vec<OneSidedCheck>,
}

/// (code, host) -> severity, one entry per host of each finding.
fn findings(doc: &Value) -> BTreeMap<(String, String), String> {
    let mut out = BTreeMap::new();
    for f in doc.get("findings").and_then(Value::as_array).into_iter().flatten() {
        let code = f.get("code").and_then(Value::as_str).unwrap_or("?").to_string();
        let sev = f.get("severity").and_then(Value::as_str).unwrap_or("?").to_string();
        let hosts: Vec<&str> =
            f.get("hosts").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
        // A finding with no host is still a finding.
        for h in if hosts.is_empty() { vec![""] } else { hosts } {
            out.insert((code.clone(), h.to_string()), sev.clone());
        }
    }
    out
}

/// Check id -> status.
pub fn statuses(doc: &Value) -> BTreeMap<String, String> {
    doc.get("checks")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| Some((c.get("id")?.as_str()?.to_string(), c.get("status")?.as_str()?.to_string())))
        .collect()
}

impl Diff {
    /// Reads both reports and compares them.
    pub fn load(old: &Path, new: &Path) -> Result<Diff> {
        let (a, b) = (load_report(old)?, load_report(new)?);
        Ok(Diff::between(&a, &b, &old.display().to_string(), &new.display().to_string()))
    }

    /// Compares two parsed reports.
    pub fn between(a: &Value, b: &Value, old: &str, new: &str) -> Diff {
        let (fa, fb) = (findings(a), findings(b));
        let host = |((code, host), sev): (&(String, String), &String)| FindingHost {
            code: code.clone(),
            severity: sev.clone(),
            host: host.clone(),
        };
        let fixed = fa.iter().filter(|(k, _)| !fb.contains_key(*k)).map(host).collect();
        let added = fb.iter().filter(|(k, _)| !fa.contains_key(*k)).map(host).collect();
        let (sa, sb) = (statuses(a), statuses(b));
        let check = |(id, s): (&String, &String)| OneSidedCheck { id: id.clone(), status: s.clone() };
        let changed = sb
            .iter()
            .filter_map(|(id, s)| {
                sa.get(id).filter(|o| *o != s).map(|o| ChangedCheck { id: id.clone(), was: o.clone(), now: s.clone() })
            })
            .collect();
        let only_in_old = sa.iter().filter(|(id, _)| !sb.contains_key(*id)).map(check).collect();
        let only_in_new = sb.iter().filter(|(id, _)| !sa.contains_key(*id)).map(check).collect();
        Diff {
            schema_version: 1,
            old: old.to_string(),
            new: new.to_string(),
            fixed,
            added,
            changed,
            only_in_old,
            only_in_new,
        }
    }

    /// For a terminal.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let host = |h: &str| if h.is_empty() { "(no host)".to_string() } else { h.to_string() };
        out.push_str(&format!("Fixed ({})\n", self.fixed.len()));
        for f in &self.fixed {
            out.push_str(&format!("  - {} {}  {}\n", f.severity, f.code, host(&f.host)));
        }
        out.push_str(&format!("New ({})\n", self.added.len()));
        for f in &self.added {
            out.push_str(&format!("  + {} {}  {}\n", f.severity, f.code, host(&f.host)));
        }
        out.push_str(&format!("Checks that changed ({})\n", self.changed.len()));
        for c in &self.changed {
            out.push_str(&format!("  {}: {} -> {}\n", c.id, c.was, c.now));
        }
        for (title, list) in
            [(format!("Only in {}", self.old), &self.only_in_old), (format!("Only in {}", self.new), &self.only_in_new)]
        {
            if !list.is_empty() {
                out.push_str(&format!("{title} ({})\n", list.len()));
                for c in list {
                    out.push_str(&format!("  {} ({})\n", c.id, c.status));
                }
            }
        }
        out
    }

    /// For scripts.
    pub fn json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
        s.push('\n');
        s
    }
}
