//! Markdown: for a support ticket. Findings as sections, evidence as tables.

use super::Report;
use super::record::CheckRecord;
use crate::diagnose::{Area, Status};

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// Renders the report as GitHub-flavoured Markdown.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let t = &r.target;
    out.push_str("# amlnet report\n\n");
    out.push_str(&format!(
        "- tool: amlnet {}\n- started: {}\n- duration: {} ms\n- host: {} ({}, {})\n- workspace: {} ({})\n- region: {}, {} cloud\n- resolvers: {} ({})\n",
        r.tool.version,
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
        "\n**{} errors, {} warnings, {} checks passed.**\n",
        r.summary.errors, r.summary.warnings, r.summary.passed
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
    out.push_str("## Names\n\n| status | host | CNAME chain | addresses | resolver |\n|---|---|---|---|---|\n");
    for c in r.checks.iter().map(CheckRecord::of).filter(|c| c.area == Area::Dns) {
        let addrs: Vec<String> = c.addresses.iter().map(|a| a.to_string()).collect();
        out.push_str(&format!(
            "| {} | `{}` | {} | {} | {} |\n",
            status(c.status),
            c.host,
            cell(&c.cname_chain.join(" → ")),
            cell(&if addrs.is_empty() { c.error.unwrap_or_default().to_string() } else { addrs.join(", ") }),
            c.resolver.as_deref().unwrap_or("")
        ));
    }
    out.push_str(
        "\n## Paths\n\n| status | protocol | host | port | state | TLS issuer | HTTP | ms |\n|---|---|---|---|---|---|---|---|\n",
    );
    for c in r.checks.iter().map(CheckRecord::of).filter(|c| c.area != Area::Dns) {
        out.push_str(&format!(
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
    if !r.omitted.is_empty() {
        out.push_str("\n## Not checked\n\n");
        for o in &r.omitted {
            out.push_str(&format!("- `{}`: {}\n", o.id, o.reason));
        }
    }
    out
}

fn status(s: Status) -> &'static str {
    match s {
        Status::Pass => "pass",
        Status::Warn => "⚠ warn",
        Status::Fail => "❌ fail",
        Status::Skip => "skip",
    }
}
