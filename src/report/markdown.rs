//! Markdown: for a support ticket. Findings as sections, evidence as
//! tables (folded into `<details>` when long), then this machine's setup,
//! as the text report has it.

use super::Report;
use super::record::CheckRecord;
use crate::diagnose::{Area, Status};

/// Tables longer than this are folded into `<details>`.
const FOLD_ROWS: usize = 10;

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A table, folded when it has more than [`FOLD_ROWS`] rows.
fn table(out: &mut String, what: &str, header: &str, rows: &[String]) {
    let fold = rows.len() > FOLD_ROWS;
    if fold {
        out.push_str(&format!("<details><summary>{what}</summary>\n\n"));
    }
    out.push_str(header);
    for r in rows {
        out.push_str(r);
    }
    if fold {
        out.push_str("\n</details>\n");
    }
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// Renders the report as GitHub-flavoured Markdown.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let t = &r.target;
    out.push_str("# amlnet report\n\n");
    out.push_str(&format!(
        "- tool: amlnet {} (commit {}, {})\n- started: {}\n- duration: {} ms\n- host: {} ({}, {})\n- workspace: {} ({})\n- region: {}, {} cloud\n- resolvers: {} ({})\n",
        r.tool.version,
        r.tool.commit,
        r.tool.target,
        r.started_at,
        r.duration_ms,
        r.host.hostname,
        r.host.os,
        r.host.kind,
        t.workspace_name.as_deref().unwrap_or("?"),
        t.workspace_id.as_deref().unwrap_or("GUID unknown"),
        t.region.as_deref().unwrap_or("?"),
        t.cloud,
        r.environment.resolvers.join(", "),
        r.environment.resolvers_source,
    ));
    out.push_str(&format!(
        "\n**{}, {}, {} passed, {} skipped.**\n",
        plural(r.summary.errors, "error", "errors"),
        plural(r.summary.warnings, "warning", "warnings"),
        plural(r.summary.passed, "check", "checks"),
        r.summary.skipped
    ));
    out.push_str("\n## Findings\n\n");
    if r.findings.is_empty() {
        out.push_str("None.\n");
    }
    for f in &r.findings {
        out.push_str(&format!("### {:?}: `{}` {}\n\n", f.severity, f.code, f.title));
        out.push_str(&format!(
            "Hosts: {}\n\n",
            f.hosts.iter().map(|h| format!("`{h}`")).collect::<Vec<_>>().join(", ")
        ));
        out.push_str(&format!("{}\n\n", f.detail));
        out.push_str(&format!("**Fix:** {}\n\n", f.remedy));
        for d in &f.docs {
            out.push_str(&format!("- <{d}>\n"));
        }
        out.push('\n');
    }
    let records: Vec<CheckRecord> = r.checks.iter().map(CheckRecord::of).collect();
    let mut rows = Vec::new();
    for c in records.iter().filter(|c| c.area == Area::Dns) {
        let addrs: Vec<String> = c.addresses.iter().map(|a| a.to_string()).collect();
        rows.push(format!(
            "| {} | `{}` | {} | {} | {} |\n",
            status(c.status),
            c.host,
            cell(&c.cname_chain.join(" → ")),
            cell(&if addrs.is_empty() { c.error.unwrap_or_default().to_string() } else { addrs.join(", ") }),
            c.resolver.as_deref().unwrap_or("")
        ));
    }
    if !rows.is_empty() {
        out.push_str(&format!("## Names ({})\n\n", rows.len()));
        let header = "| status | host | CNAME chain | addresses | resolver |\n|---|---|---|---|---|\n";
        table(&mut out, &format!("{} looked up", plural(rows.len(), "name", "names")), header, &rows);
    }
    let mut rows = Vec::new();
    for c in records.iter().filter(|c| c.area != Area::Dns) {
        rows.push(format!(
            "| {} | {} | `{}` | {} | {} | {} | {} | {} |\n",
            status(c.status),
            c.protocol.map(|p| p.to_string()).unwrap_or_default(),
            c.host,
            c.port.unwrap_or(0),
            cell(c.tcp_state.or(c.udp_state).or(c.error).unwrap_or("")),
            cell(c.tls.as_ref().and_then(|t| t.issuer.as_deref()).unwrap_or("")),
            c.http.as_ref().and_then(|h| h.status).map(|s| s.to_string()).unwrap_or_default(),
            c.elapsed_ms
        ));
    }
    if !rows.is_empty() {
        out.push_str(&format!("\n## Paths ({})\n\n", rows.len()));
        let header =
            "| status | protocol | host | port | state | TLS issuer | HTTP | ms |\n|---|---|---|---|---|---|---|---|\n";
        table(&mut out, &format!("{} probed", plural(rows.len(), "path", "paths")), header, &rows);
    }
    this_machine(&mut out, r);
    if !r.omitted.is_empty() {
        out.push_str("\n## Not checked\n\n");
        for o in &r.omitted {
            out.push_str(&format!("- `{}`: {}\n", o.id, o.reason));
        }
    }
    out
}

/// The same facts as the text report's "This machine".
fn this_machine(out: &mut String, r: &Report) {
    let e = &r.environment;
    out.push_str("\n## This machine\n\n");
    let azure = if e.uses_azure_dns { "Azure DNS" } else { "custom DNS" };
    out.push_str(&format!("- resolvers: {} ({}; {azure})\n", e.resolvers.join(", "), e.resolvers_source));
    if let Some(rc) = &e.resolv_conf {
        if !rc.search.is_empty() {
            out.push_str(&format!("- search: `{}`\n", rc.search.join(" ")));
        }
        if !rc.options.is_empty() {
            out.push_str(&format!("- options: `{}`\n", rc.options.join(" ")));
        }
    }
    if let Some(rule) = &e.address_rule {
        out.push_str(&format!("- private means: {} ({})\n", rule.ranges.join(", "), rule.rule));
    }
    if e.proxy.is_empty() && e.machine_read {
        out.push_str("- proxy: no proxy variables set\n");
    }
    for v in &e.proxy {
        let from = super::origin_words(&v.origin);
        out.push_str(&format!("- proxy: `{}={}` ({from})\n", v.name, v.value));
    }
    for line in super::process_lines(e) {
        out.push_str(&format!("- startup files, {line}\n"));
    }
    for h in &e.hosts_overrides {
        out.push_str(&format!("- hosts file: {} line {}: `{} {}`\n", h.file, h.line, h.address, h.name));
    }
    let addresses = super::local_addresses(e);
    if !addresses.is_empty() {
        out.push_str(&format!("- addresses: {}\n", addresses.join(", ")));
    }
    for n in &e.notes {
        out.push_str(&format!("- note: {}\n", cell(n)));
    }
    out.push_str(&format!("- host: {} ({}, {})\n", r.host.hostname, r.host.os, r.host.kind));
}

fn status(s: Status) -> &'static str {
    match s {
        Status::Pass => "pass",
        Status::Warn => "⚠ warn",
        Status::Fail => "❌ fail",
        Status::Skip => "skip",
    }
}
