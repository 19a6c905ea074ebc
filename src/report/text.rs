//! Text: for a person over a plain SSH session, 80 columns, colour only
//! when the caller says the terminal wants it. Findings first, then the
//! evidence grouped by area: names, paths, this machine.

use colored::{ColoredString, Colorize};

use super::Report;
use super::record::CheckRecord;
use crate::diagnose::{Area, Severity, Status};

const WIDTH: usize = 80;

struct Painter {
    color: bool,
}

impl Painter {
    fn paint(&self, s: &str, f: fn(&str) -> ColoredString) -> String {
        if self.color { f(s).to_string() } else { s.to_string() }
    }
    fn status(&self, status: Status) -> String {
        match status {
            Status::Pass => self.paint("ok  ", |s| s.green()),
            Status::Warn => self.paint("WARN", |s| s.yellow().bold()),
            Status::Fail => self.paint("FAIL", |s| s.red().bold()),
            Status::Skip => self.paint("skip", |s| s.dimmed()),
        }
    }
    fn severity(&self, sev: Severity) -> String {
        match sev {
            Severity::Error => self.paint("ERROR  ", |s| s.red().bold()),
            Severity::Warning => self.paint("WARNING", |s| s.yellow().bold()),
            Severity::Info => self.paint("INFO   ", |s| s.cyan()),
        }
    }
    fn heading(&self, s: &str) -> String {
        self.paint(s, |s| s.bold())
    }
}

fn wrap(out: &mut String, text: &str, indent: &str, first: &str) {
    // Host names carry hyphens; never split a word there.
    let opts = textwrap::Options::new(WIDTH)
        .initial_indent(first)
        .subsequent_indent(indent)
        .break_words(false)
        .word_splitter(textwrap::WordSplitter::NoHyphenation);
    for line in textwrap::wrap(text, opts) {
        out.push_str(&line);
        out.push('\n');
    }
}

/// Renders the report for a terminal.
pub fn render(r: &Report, color: bool) -> String {
    let p = Painter { color };
    let mut out = String::new();
    header(&mut out, &p, r);
    findings(&mut out, &p, r);
    let records: Vec<CheckRecord> = r.checks.iter().map(CheckRecord::of).collect();
    names(&mut out, &p, &records);
    paths(&mut out, &p, &records);
    this_machine(&mut out, &p, r);
    if !r.omitted.is_empty() {
        out.push_str(&format!("\n{} ({})\n", p.heading("Not checked"), r.omitted.len()));
        for o in &r.omitted {
            wrap(&mut out, &format!("{}: {}", o.id, o.reason), "      ", "  ");
        }
    }
    summary(&mut out, &p, r);
    out
}

fn header(out: &mut String, p: &Painter, r: &Report) {
    let t = &r.target;
    let ws = match (&t.workspace_name, &t.workspace_id) {
        (Some(n), Some(id)) => format!("workspace {n} ({id})"),
        (Some(n), None) => format!("workspace {n} (GUID unknown)"),
        (None, Some(id)) => format!("workspace {id}"),
        (None, None) => "no workspace named".to_string(),
    };
    out.push_str(&format!("{} {} · {ws}\n", p.heading("amlnet"), r.tool.version));
    let region = t.region.as_deref().unwrap_or("region unknown");
    let source = if t.sources.is_empty() { "nothing".to_string() } else { t.sources.join(", ") };
    out.push_str(&format!("{region} · {} cloud · target from {source}\n", t.cloud));
    out.push('\n');
}

fn findings(out: &mut String, p: &Painter, r: &Report) {
    out.push_str(&format!("{}\n", p.heading("Findings")));
    if r.findings.is_empty() {
        out.push_str("  none: every check passed or was skipped\n");
    }
    for f in &r.findings {
        out.push_str(&format!("  {}  {}  {}\n", p.severity(f.severity), p.heading(f.code.as_str()), f.title));
        let ind = "           ";
        wrap(out, &f.hosts.join(", "), &format!("{ind}       "), &format!("{ind}hosts: "));
        let mut parts = f.detail.splitn(2, "\n\n");
        if let Some(cause) = parts.next() {
            wrap(out, cause, ind, ind);
        }
        if let Some(evidence) = parts.next() {
            for line in evidence.lines() {
                wrap(out, line, &format!("{ind}  "), ind);
            }
        }
        wrap(out, &f.remedy, &format!("{ind}     "), &format!("{ind}fix: "));
        for d in &f.docs {
            out.push_str(&format!("{ind}docs: {d}\n"));
        }
        out.push_str(&format!("{ind}more: amlnet explain {}\n\n", f.code));
    }
}

fn names(out: &mut String, p: &Painter, records: &[CheckRecord]) {
    let names: Vec<&CheckRecord> = records.iter().filter(|c| c.area == Area::Dns).collect();
    if names.is_empty() {
        return;
    }
    out.push_str(&format!("\n{} ({})\n", p.heading("Names"), names.len()));
    for c in names {
        let addrs: Vec<String> = c.addresses.iter().map(|a| a.to_string()).collect();
        let right = if addrs.is_empty() { c.error.unwrap_or_default().to_string() } else { addrs.join(", ") };
        line(out, &p.status(c.status), c.host, &right);
        if c.status != Status::Pass && !c.cname_chain.is_empty() {
            wrap(out, &format!("via {}", c.cname_chain.join(" -> ")), "          ", "        ");
        }
        if let Some(code) = c.code {
            out.push_str(&format!("        ({code})\n"));
        }
    }
}

fn paths(out: &mut String, p: &Painter, records: &[CheckRecord]) {
    let paths: Vec<&CheckRecord> = records.iter().filter(|c| c.area != Area::Dns).collect();
    if paths.is_empty() {
        return;
    }
    out.push_str(&format!("\n{} ({})\n", p.heading("Paths"), paths.len()));
    for c in paths {
        let proto = c.protocol.map(|p| p.to_string()).unwrap_or_default();
        let what = format!("{proto}/{} {}", c.port.unwrap_or(0), c.host);
        let mut state = c.tcp_state.or(c.udp_state).unwrap_or("-").to_string();
        if let Some(tls) = &c.tls {
            match &tls.version {
                Some(v) => state.push_str(&format!(" · {v}")),
                None => state.push_str(" · TLS failed"),
            }
        }
        if let Some(status) = c.http.as_ref().and_then(|h| h.status) {
            state.push_str(&format!(" · HTTP {status}"));
        }
        let right = match c.status {
            Status::Skip => "skipped".to_string(),
            _ => format!("{state} · {} ms", c.elapsed_ms),
        };
        line(out, &p.status(c.status), &what, &right);
        if let (true, Some(e)) = (c.status != Status::Pass || c.code.is_some(), c.error) {
            wrap(out, e, "          ", "        ");
        }
        if let (Some(code), Status::Pass) = (c.code, c.status) {
            out.push_str(&format!("        ({code})\n"));
        }
    }
}

fn this_machine(out: &mut String, p: &Painter, r: &Report) {
    out.push_str(&format!("\n{}\n", p.heading("This machine")));
    let e = &r.environment;
    let azure = if e.uses_azure_dns { "Azure DNS" } else { "custom DNS" };
    out.push_str(&format!("  resolvers: {} ({}; {azure})\n", e.resolvers.join(", "), e.resolvers_source));
    if let Some(rc) = &e.resolv_conf {
        if !rc.search.is_empty() {
            wrap(out, &format!("search: {}", rc.search.join(" ")), "    ", "  ");
        }
        if !rc.options.is_empty() {
            wrap(out, &format!("options: {}", rc.options.join(" ")), "    ", "  ");
        }
    }
    if let Some(rule) = &e.address_rule {
        wrap(out, &format!("private means: {} ({})", rule.ranges.join(", "), rule.rule), "    ", "  ");
    }
    if e.proxy.is_empty() && e.machine_read {
        out.push_str("  proxy: no proxy variables set\n");
    }
    for v in &e.proxy {
        let from = super::origin_words(&v.origin);
        wrap(out, &format!("{}={} ({from})", v.name, v.value), "      ", "  ");
    }
    for line in super::process_lines(e) {
        wrap(out, &format!("startup files, {line}"), "      ", "  ");
    }
    for h in &e.hosts_overrides {
        wrap(out, &format!("{} line {}: {} {}", h.file, h.line, h.address, h.name), "      ", "  ");
    }
    let addresses = super::local_addresses(e);
    if !addresses.is_empty() {
        wrap(out, &format!("addresses: {}", addresses.join(", ")), "    ", "  ");
    }
    for n in &e.notes {
        wrap(out, &format!("note: {n}"), "    ", "  ");
    }
    out.push_str(&format!("  host: {} ({}, {})\n", r.host.hostname, r.host.os, r.host.kind));
}

fn summary(out: &mut String, p: &Painter, r: &Report) {
    let s = &r.summary;
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let summary = format!(
        "{} error{}, {} warning{}, {} check{} passed, {} skipped in {:.1} s",
        s.errors,
        plural(s.errors),
        s.warnings,
        plural(s.warnings),
        s.passed,
        plural(s.passed),
        s.skipped,
        r.duration_ms as f64 / 1000.0
    );
    let painted = if s.errors > 0 {
        p.paint(&summary, |s| s.red().bold())
    } else if s.warnings > 0 {
        p.paint(&summary, |s| s.yellow().bold())
    } else {
        p.paint(&summary, |s| s.green().bold())
    };
    out.push_str(&format!("\n{painted}\n"));
}

/// `  STAT  left    right`, the right part on its own line when both do not fit.
fn line(out: &mut String, status: &str, left: &str, right: &str) {
    let used = 2 + 4 + 2 + left.chars().count() + 2 + right.chars().count();
    if used <= WIDTH {
        out.push_str(&format!("  {status}  {left}  {right}\n"));
    } else {
        out.push_str(&format!("  {status}  {left}\n"));
        out.push_str(&format!("        {right}\n"));
    }
}
