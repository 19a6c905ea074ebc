//! `amlnet explain`: every code's words, from the one table in
//! `diagnose/codes.rs`.

use anyhow::{Result, anyhow};

use crate::diagnose::Code;

/// The list of codes (no `code`), or one code's cause, fix and documentation.
pub fn render(code: Option<&str>) -> Result<String> {
    let Some(code) = code else {
        return Ok(Code::ALL.iter().map(|c| format!("{:<24} {}\n", c.as_str(), c.info().title)).collect());
    };
    let info = Code::parse(code)
        .ok_or_else(|| anyhow!("explain: unknown finding code '{code}' (amlnet explain lists them)"))?
        .info();
    let mut text = format!("{}: {}\n\n", info.code, info.title);
    let wrap = |s: &str| textwrap::fill(s, textwrap::Options::new(78).initial_indent("  ").subsequent_indent("  "));
    text.push_str(&format!("Cause\n{}\n\nFix\n{}\n\n", wrap(info.cause), wrap(info.remedy)));
    text.push_str(&format!("Workspace diagnostics category: {}\n", info.category));
    if matches!(info.code.as_str().split('-').next(), Some("tcp" | "udp")) {
        text.push_str("\nInbound rules cannot be tested from inside: a compute with a public IP also needs\nAzureMachineLearning TCP 44224 inbound (older setups: BatchNodeManagement 29876-29877).\n");
    }
    if !info.docs.is_empty() {
        text.push_str("\nDocumentation\n");
        for d in info.docs {
            text.push_str(&format!("  {d}\n"));
        }
    }
    Ok(text)
}
