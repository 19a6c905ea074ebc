//! `amlnet merge REPORT.json...`: one fleet view. For each finding, which
//! machines have it and a one-line summary ("3 of 8 nodes cannot reach
//! crcontoso.azurecr.io: tcp-timeout"); the checks whose status differs
//! between machines; the exit status over all machines.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use anyhow::{Result, bail};
use serde::Serialize;
use serde_json::Value;

use crate::diagnose::Severity;
use crate::diff::{load_report, statuses};

/// One report, one machine.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Machine {
    /// Its host name, or its file name where host names repeat.
    pub name: String,
    /// The report file.
    pub file: String,
    /// The report's own `summary` (`{errors, warnings, passed}`).
    pub summary: Value,
}

/// One finding code at one severity, over the machines that have it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FleetFinding {
    /// The finding code.
    pub code: String,
    /// `error`, `warning` or `info`.
    pub severity: String,
    /// Its title (as the first machine's report words it).
    pub title: String,
    /// Names of the machines that have it.
    pub machines: Vec<String>,
    /// Every affected host, over all those machines.
    pub hosts: Vec<String>,
    /// One line: "3 of 8 nodes cannot reach crcontoso.azurecr.io: tcp-timeout".
    pub summary: String,
}

/// A check whose status is not the same on every machine.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DifferingCheck {
    /// The check id.
    pub id: String,
    /// Machine name -> status (`absent` where its report has no such check).
    pub statuses: BTreeMap<String, String>,
}

/// The fleet view.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Fleet {
    /// Always 1.
    pub schema_version: u32,
    /// One entry per report, in the order given.
    pub machines: Vec<Machine>,
    /// Errors first, then by how many machines have it.
    pub findings: Vec<FleetFinding>,
    /// Checks that differ between machines.
    pub differing_checks: Vec<DifferingCheck>,
}

/// A finding's title, the machines that have it, and their hosts.
type Seen = (String, BTreeSet<String>, BTreeSet<String>);

fn severity(s: &str) -> Option<Severity> {
    match s {
        "error" => Some(Severity::Error),
        "warning" => Some(Severity::Warning),
        "info" => Some(Severity::Info),
        _ => None,
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// "a, b and c", or "a, b, c and 4 more".
fn list(items: &[String]) -> String {
    match items.len() {
        0 => "no host".to_string(),
        1 => items[0].clone(),
        2..=3 => format!("{} and {}", items[..items.len() - 1].join(", "), items[items.len() - 1]),
        n => format!("{} and {} more", items[..3].join(", "), n - 3),
    }
}

/// What the machines cannot do, in words, for the codes where one verb says it.
fn verb(code: &str) -> Option<&'static str> {
    match code {
        c if c.starts_with("tcp-") || c.starts_with("tls-") || c.starts_with("http-") || c == "udp-rejected" => {
            Some("cannot reach")
        }
        "dns-nxdomain" | "dns-timeout" | "dns-server-error" | "dns-no-address" => Some("cannot resolve"),
        "dns-public-answer" | "dns-custom-no-forwarder" | "dns-no-privatelink" => Some("get a public answer for"),
        _ => None,
    }
}

fn one_line(f: &FleetFinding, total: usize) -> String {
    let who = format!("{} of {}", f.machines.len(), plural(total, "node", "nodes"));
    match verb(&f.code) {
        Some(v) => format!("{who} {v} {}: {}", list(&f.hosts), f.code),
        None if f.hosts.is_empty() => format!("{who}: {} ({})", f.title, f.code),
        None => format!("{who}: {} ({}) for {}", f.title, f.code, list(&f.hosts)),
    }
}

impl Fleet {
    /// Reads every report; any unreadable one is an input error naming it.
    pub fn load(files: &[PathBuf]) -> Result<Fleet> {
        if files.is_empty() {
            bail!("no report given");
        }
        let mut docs = Vec::new();
        for f in files {
            docs.push((f.display().to_string(), load_report(f)?));
        }
        Ok(Fleet::from_reports(&docs))
    }

    /// Builds the view from (file, report) pairs.
    pub fn from_reports(docs: &[(String, Value)]) -> Fleet {
        let hostname = |d: &Value| d["host"]["hostname"].as_str().unwrap_or("").to_string();
        let mut count: BTreeMap<String, usize> = BTreeMap::new();
        for (_, d) in docs {
            *count.entry(hostname(d)).or_default() += 1;
        }
        let base = |file: &str| {
            std::path::Path::new(file).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
        };
        let mut base_count: BTreeMap<String, usize> = BTreeMap::new();
        for (file, _) in docs {
            *base_count.entry(base(file)).or_default() += 1;
        }
        let machines: Vec<Machine> = docs
            .iter()
            .map(|(file, d)| {
                let host = hostname(d);
                let name = if !host.is_empty() && count[&host] == 1 {
                    host
                } else if base_count[&base(file)] == 1 {
                    base(file)
                } else {
                    file.clone()
                };
                Machine { name, file: file.clone(), summary: d["summary"].clone() }
            })
            .collect();

        // (code, severity) -> finding, in first-seen order.
        let mut order: Vec<(String, String)> = Vec::new();
        let mut found: BTreeMap<(String, String), Seen> = BTreeMap::new();
        for ((_, d), m) in docs.iter().zip(&machines) {
            for f in d["findings"].as_array().into_iter().flatten() {
                let key =
                    (f["code"].as_str().unwrap_or("?").to_string(), f["severity"].as_str().unwrap_or("?").to_string());
                let entry = found.entry(key.clone()).or_insert_with(|| {
                    order.push(key.clone());
                    (f["title"].as_str().unwrap_or("").to_string(), BTreeSet::new(), BTreeSet::new())
                });
                entry.1.insert(m.name.clone());
                entry.2.extend(f["hosts"].as_array().into_iter().flatten().filter_map(Value::as_str).map(String::from));
            }
        }
        let total = machines.len();
        let mut findings: Vec<FleetFinding> = order
            .into_iter()
            .map(|key| {
                let (title, on, hosts) = found.remove(&key).unwrap_or_default();
                // Machines in the order given, not alphabetically.
                let on: Vec<String> =
                    machines.iter().filter(|m| on.contains(&m.name)).map(|m| m.name.clone()).collect();
                let mut f = FleetFinding {
                    code: key.0,
                    severity: key.1,
                    title,
                    machines: on,
                    hosts: hosts.into_iter().collect(),
                    summary: String::new(),
                };
                f.summary = one_line(&f, total);
                f
            })
            .collect();
        findings
            .sort_by_key(|f| (severity(&f.severity).unwrap_or(Severity::Info), std::cmp::Reverse(f.machines.len())));

        let per_machine: Vec<BTreeMap<String, String>> = docs.iter().map(|(_, d)| statuses(d)).collect();
        let ids: BTreeSet<&String> = per_machine.iter().flat_map(|s| s.keys()).collect();
        let differing_checks = ids
            .into_iter()
            .filter_map(|id| {
                let statuses: BTreeMap<String, String> = machines
                    .iter()
                    .zip(&per_machine)
                    .map(|(m, s)| (m.name.clone(), s.get(id).cloned().unwrap_or_else(|| "absent".to_string())))
                    .collect();
                let distinct: BTreeSet<&String> = statuses.values().collect();
                (distinct.len() > 1).then(|| DifferingCheck { id: id.clone(), statuses })
            })
            .collect();
        Fleet { schema_version: 1, machines, findings, differing_checks }
    }

    /// The worst severity on any machine, for the exit status.
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().filter_map(|f| severity(&f.severity)).min()
    }

    /// Status -> machines, for one differing check, in the machines' order.
    fn grouped(&self, c: &DifferingCheck) -> Vec<(String, Vec<String>)> {
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        for m in &self.machines {
            let status = c.statuses.get(&m.name).cloned().unwrap_or_default();
            match groups.iter_mut().find(|(s, _)| *s == status) {
                Some((_, names)) => names.push(m.name.clone()),
                None => groups.push((status, vec![m.name.clone()])),
            }
        }
        groups
    }

    fn counts(&self) -> (usize, usize) {
        let with = |sev: &str| {
            self.machines
                .iter()
                .filter(|m| self.findings.iter().any(|f| f.severity == sev && f.machines.contains(&m.name)))
                .count()
        };
        (with("error"), with("warning"))
    }

    /// For a terminal.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let n = self.machines.len();
        let (errors, warnings) = self.counts();
        out.push_str(&format!(
            "amlnet fleet · {} · {} with errors, {} with warnings\n\n",
            plural(n, "machine", "machines"),
            errors,
            warnings
        ));
        out.push_str("Findings\n");
        if self.findings.is_empty() {
            out.push_str("  none on any machine\n");
        }
        for f in &self.findings {
            out.push_str(&format!("  {:<7}  {}\n", f.severity.to_uppercase(), f.summary));
            out.push_str(&format!("           on: {}\n", f.machines.join(", ")));
        }
        out.push_str(&format!("\nChecks that differ between machines ({})\n", self.differing_checks.len()));
        for c in &self.differing_checks {
            let parts: Vec<String> =
                self.grouped(c).into_iter().map(|(s, names)| format!("{s} on {}", names.join(", "))).collect();
            out.push_str(&format!("  {}: {}\n", c.id, parts.join("; ")));
        }
        out.push_str("\nMachines\n");
        for m in &self.machines {
            out.push_str(&format!("  {}  {}  ({})\n", m.name, summary_words(&m.summary), m.file));
        }
        out
    }

    /// For scripts.
    pub fn json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
        s.push('\n');
        s
    }

    /// For a ticket or a wiki page.
    pub fn markdown(&self) -> String {
        let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
        let mut out = String::from("# amlnet fleet report\n\n");
        let (errors, warnings) = self.counts();
        out.push_str(&format!(
            "**{}: {} with errors, {} with warnings.**\n\n## Findings\n\n",
            plural(self.machines.len(), "machine", "machines"),
            errors,
            warnings
        ));
        if self.findings.is_empty() {
            out.push_str("None on any machine.\n");
        }
        for f in &self.findings {
            out.push_str(&format!("- **{}** {}\n", f.severity, cell(&f.summary)));
            out.push_str(&format!("  (on {})\n", f.machines.join(", ")));
        }
        out.push_str(&format!("\n## Checks that differ between machines ({})\n\n", self.differing_checks.len()));
        if !self.differing_checks.is_empty() {
            out.push_str("<details><summary>Show the checks</summary>\n\n| check | status |\n|---|---|\n");
            for c in &self.differing_checks {
                let parts: Vec<String> =
                    self.grouped(c).into_iter().map(|(s, names)| format!("{s} on {}", names.join(", "))).collect();
                out.push_str(&format!("| `{}` | {} |\n", cell(&c.id), cell(&parts.join("; "))));
            }
            out.push_str("\n</details>\n");
        }
        out.push_str("\n## Machines\n\n| machine | result | report |\n|---|---|---|\n");
        for m in &self.machines {
            out.push_str(&format!("| {} | {} | `{}` |\n", cell(&m.name), summary_words(&m.summary), cell(&m.file)));
        }
        out
    }
}

/// "1 error, 2 warnings, 110 passed" from a report's summary object.
fn summary_words(s: &Value) -> String {
    let n = |k: &str| s[k].as_u64().unwrap_or(0) as usize;
    format!(
        "{}, {}, {} passed",
        plural(n("errors"), "error", "errors"),
        plural(n("warnings"), "warning", "warnings"),
        n("passed")
    )
}
