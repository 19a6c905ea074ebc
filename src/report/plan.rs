//! Rendering of `amlnet plan`: the expanded catalogue, as text or JSON.

use serde::Serialize;

use crate::catalogue::Expect;
use crate::plan::{Omission, Plan, PlannedEndpoint};
use crate::target::Target;

#[derive(Serialize)]
struct PlanDocument<'a> {
    schema_version: u32,
    target: &'a Target,
    endpoints: &'a [PlannedEndpoint],
    omitted: &'a [Omission],
    notes: &'a [String],
}

/// `{"schema_version": 1, "target", "endpoints", "omitted", "notes"}`.
pub fn json(plan: &Plan) -> String {
    let doc = PlanDocument {
        schema_version: super::SCHEMA_VERSION,
        target: &plan.target,
        endpoints: &plan.endpoints,
        omitted: &plan.omitted,
        notes: &plan.notes,
    };
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}

/// One line per endpoint, grouped as the catalogue groups them.
pub fn text(plan: &Plan) -> String {
    let mut out = String::new();
    let t = &plan.target;
    out.push_str(&format!(
        "Plan for {} in {} ({} cloud): {} endpoints, no traffic sent\n",
        t.workspace_name.as_deref().or(t.workspace_id.as_deref()).unwrap_or("an unnamed workspace"),
        t.region.as_deref().unwrap_or("an unknown region"),
        t.cloud,
        plan.endpoints.len()
    ));
    for n in &plan.notes {
        out.push_str(&textwrap::fill(
            &format!("note: {n}"),
            textwrap::Options::new(80)
                .subsequent_indent("      ")
                .break_words(false)
                .word_splitter(textwrap::WordSplitter::NoHyphenation),
        ));
        out.push('\n');
    }
    let mut group = "";
    for e in &plan.endpoints {
        if e.group != group {
            group = &e.group;
            out.push_str(&format!("\n{group}\n"));
        }
        let expect = match e.expect {
            Expect::Private => "private",
            Expect::Public => "public ",
        };
        let need = if e.required { "required" } else { "situational" };
        out.push_str(&format!("  {}/{:<5} {expect} {need:<11} {}\n", e.protocol, e.port, e.host));
        if let Some(zone) = &e.privatelink_zone {
            out.push_str(&format!("      via zone {zone}\n"));
        }
        if let Some(w) = &e.stands_for {
            out.push_str(&format!("      stands for {w}\n"));
        }
        if let Some(s) = &e.situation {
            out.push_str(&textwrap::fill(
                &format!("when: {s}"),
                textwrap::Options::new(80).initial_indent("      ").subsequent_indent("        "),
            ));
            out.push('\n');
        }
    }
    // Not endpoints of the catalogue: found in what the handshakes present.
    out.push_str("\nderived at run time\n");
    out.push_str(&textwrap::fill(
        "tcp/80 the CRL distribution points and OCSP responders named by the certificates the TLS handshakes present: each distinct URL once, after the handshakes (not with --skip tls or --skip http)",
        textwrap::Options::new(80).initial_indent("  ").subsequent_indent("      "),
    ));
    out.push('\n');
    if !plan.omitted.is_empty() {
        out.push_str("\nnot planned\n");
        for o in &plan.omitted {
            out.push_str(&textwrap::fill(
                &format!("{}: {}", o.id, o.reason),
                textwrap::Options::new(80).initial_indent("  ").subsequent_indent("      "),
            ));
            out.push('\n');
        }
    }
    out
}
