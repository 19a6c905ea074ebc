//! The report: one data structure, documented by `schema/report-v1.json`
//! (JSON schema v1), and one renderer per format. Renderers only format
//! what they are given; `record.rs` owns the JSON shape of a check.

pub mod explain;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod plan;
pub mod record;
pub mod text;

use serde::Serialize;

use crate::diagnose::{Check, Finding, Severity, Status};
use crate::local::HostInfo;
use crate::local::hosts::HostsEntry;
use crate::local::interfaces::InterfaceAddress;
use crate::local::proxy::ProxyVariable;
use crate::local::resolv::ResolvConf;
use crate::net::AddressRule;
use crate::plan::Omission;
use crate::target::Target;

/// The JSON report's version; bump on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// For a person at a terminal.
    Text,
    /// For scripts (schema v1).
    Json,
    /// For a support ticket.
    Markdown,
    /// For CI systems.
    Junit,
}

/// The tool that wrote the report.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Tool {
    /// `amlnet`.
    pub name: &'static str,
    /// Crate version.
    pub version: &'static str,
    /// The git commit it was built from (`unknown` outside a git checkout).
    pub commit: &'static str,
    /// The target triple it was built for.
    pub target: &'static str,
}

/// The git commit the binary was built from (set by build.rs).
pub const COMMIT: &str = env!("AMLNET_GIT_COMMIT");
/// The target triple the binary was built for (set by build.rs).
pub const TARGET: &str = env!("AMLNET_TARGET");
/// What `amlnet --version` prints after the name.
pub const VERSION_LINE: &str =
    concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("AMLNET_GIT_COMMIT"), ", ", env!("AMLNET_TARGET"), ")");

impl Default for Tool {
    fn default() -> Self {
        Tool { name: "amlnet", version: env!("CARGO_PKG_VERSION"), commit: COMMIT, target: TARGET }
    }
}

/// How this machine was set up when it ran.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Environment {
    /// DNS servers asked, in order.
    pub resolvers: Vec<String>,
    /// Where the resolvers came from (`--dns-server`, a resolv.conf path, `lab`).
    pub resolvers_source: String,
    /// Proxy variables of the live environment and the shell startup file, secrets masked.
    pub proxy: Vec<ProxyVariable>,
    /// `/etc/hosts` entries that pin planned names.
    pub hosts_overrides: Vec<HostsEntry>,
    /// This machine's addresses.
    pub interfaces: Vec<InterfaceAddress>,
    /// The resolv.conf as written (servers, search, options).
    pub resolv_conf: Option<ResolvConf>,
    /// Whether the resolvers include Azure DNS (168.63.129.16).
    pub uses_azure_dns: bool,
    /// Whether this machine's own settings were read (not in `demo`).
    pub machine_read: bool,
    /// What each kind of process gets from the startup files.
    pub processes: Vec<record::ProcessRecord>,
    /// Remarks on what was read (an unreadable bashrc, a sourced file not found).
    pub notes: Vec<String>,
    /// The rule that decided what is private.
    pub address_rule: Option<AddressRule>,
}

/// Counts for the last line and for scripts.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Summary {
    /// Error findings.
    pub errors: usize,
    /// Warning findings.
    pub warnings: usize,
    /// Checks that passed.
    pub passed: usize,
    /// Checks that were not probed or not judged (each says why).
    pub skipped: usize,
}

/// Everything one run produced.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Name and version.
    pub tool: Tool,
    /// RFC 3339 start time.
    pub started_at: String,
    /// Whole run, milliseconds.
    pub duration_ms: u64,
    /// Where it ran.
    pub host: HostInfo,
    /// What it checked.
    pub target: Target,
    /// Plan entries that could not be checked, and why.
    pub omitted: Vec<Omission>,
    /// This machine's setup.
    pub environment: Environment,
    /// Every check.
    pub checks: Vec<Check>,
    /// Every finding, errors first.
    pub findings: Vec<Finding>,
    /// Counts.
    pub summary: Summary,
}

impl Report {
    /// Counts findings and checks.
    pub fn summarise(findings: &[Finding], checks: &[Check]) -> Summary {
        Summary {
            errors: findings.iter().filter(|f| f.severity == Severity::Error).count(),
            warnings: findings.iter().filter(|f| f.severity == Severity::Warning).count(),
            passed: checks.iter().filter(|c| c.status() == Status::Pass).count(),
            skipped: checks.iter().filter(|c| c.status() == Status::Skip).count(),
        }
    }

    /// Renders in `format`; `color` only matters for text.
    pub fn render(&self, format: Format, color: bool) -> String {
        match format {
            Format::Text => text::render(self, color),
            Format::Json => json::render(self),
            Format::Markdown => markdown::render(self),
            Format::Junit => junit::render(self),
        }
    }
}

/// Where a proxy variable was read, as the text and Markdown reports say it.
fn origin_words(origin: &crate::local::proxy::Origin) -> String {
    use crate::local::proxy::Origin;
    match origin {
        Origin::Environment => "environment".to_string(),
        Origin::File { file, line, exported, .. } => {
            format!("{file} line {line}{}", if *exported { "" } else { ", not exported" })
        }
    }
}

/// What each kind of process gets from the startup files, one line per
/// set of kinds that get the same, as the text and Markdown reports say it.
fn process_lines(e: &Environment) -> Vec<String> {
    let mut groups: Vec<(Vec<&str>, &[record::ProcessProxyRecord])> = Vec::new();
    for p in &e.processes {
        match groups.iter_mut().find(|(_, vars)| *vars == p.proxy.as_slice()) {
            Some((labels, _)) => labels.push(p.label),
            None => groups.push((vec![p.label], &p.proxy)),
        }
    }
    if groups.iter().all(|(_, vars)| vars.is_empty()) {
        // Nothing from any file: the proxy line above says so already.
        return Vec::new();
    }
    groups
        .into_iter()
        .map(|(labels, vars)| {
            let what = if vars.is_empty() {
                "no proxy variable".to_string()
            } else {
                let vars: Vec<String> = vars
                    .iter()
                    .map(|v| match &v.value {
                        Some(value) => format!("{}={value} ({} line {})", v.name, v.file, v.line),
                        None => format!("{} not evaluated ({} line {})", v.name, v.file, v.line),
                    })
                    .collect();
                vars.join(", ")
            };
            format!("{}: {what}", labels.join("; "))
        })
        .collect()
}

/// This machine's addresses other than loopback, as `interface address`.
fn local_addresses(e: &Environment) -> Vec<String> {
    e.interfaces
        .iter()
        .filter(|i| !i.address.addr().is_loopback())
        .map(|i| format!("{} {}", i.interface, i.address))
        .collect()
}
