//! `amlnet diff OLD.json NEW.json`: what got fixed, what broke, and which
//! checks changed status between two reports.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Result, anyhow, bail};
use serde_json::Value;

fn load(path: &Path) -> Result<Value> {
    let text = crate::input::read_input_file(path, "")?;
    let doc: Value = serde_json::from_str(&text).map_err(|e| anyhow!("{}: not valid JSON: {e}", path.display()))?;
    match doc.get("schema_version").and_then(Value::as_u64) {
        Some(1) => Ok(doc),
        Some(v) => bail!("{}: schema_version {v} is not supported (expected 1)", path.display()),
        None => bail!("{}: not an amlnet JSON report (no schema_version)", path.display()),
    }
}

/// (code, host) -> severity, one entry per host of each finding.
fn findings(doc: &Value) -> BTreeMap<(String, String), String> {
    let mut out = BTreeMap::new();
    for f in doc.get("findings").and_then(Value::as_array).into_iter().flatten() {
        let code = f.get("code").and_then(Value::as_str).unwrap_or("?").to_string();
        let sev = f.get("severity").and_then(Value::as_str).unwrap_or("?").to_string();
        for h in f.get("hosts").and_then(Value::as_array).into_iter().flatten() {
            out.insert((code.clone(), h.as_str().unwrap_or("?").to_string()), sev.clone());
        }
    }
    out
}

fn statuses(doc: &Value) -> BTreeMap<String, String> {
    doc.get("checks")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| Some((c.get("id")?.as_str()?.to_string(), c.get("status")?.as_str()?.to_string())))
        .collect()
}

/// The difference as text.
pub fn run(old: &Path, new: &Path) -> Result<String> {
    let (a, b) = (load(old)?, load(new)?);
    let (fa, fb) = (findings(&a), findings(&b));
    let mut out = String::new();
    let fixed: Vec<_> = fa.keys().filter(|k| !fb.contains_key(*k)).collect();
    let broke: Vec<_> = fb.keys().filter(|k| !fa.contains_key(*k)).collect();
    out.push_str(&format!("Fixed ({})\n", fixed.len()));
    for (code, host) in &fixed {
        out.push_str(&format!("  - {code}  {host}\n"));
    }
    out.push_str(&format!("New ({})\n", broke.len()));
    for k in &broke {
        out.push_str(&format!("  + {} {}  {}\n", fb[*k], k.0, k.1));
    }
    let (sa, sb) = (statuses(&a), statuses(&b));
    let changed: Vec<_> = sb.iter().filter_map(|(id, s)| sa.get(id).filter(|o| *o != s).map(|o| (id, o, s))).collect();
    out.push_str(&format!("Checks that changed ({})\n", changed.len()));
    for (id, was, now) in changed {
        out.push_str(&format!("  {id}: {was} -> {now}\n"));
    }
    Ok(out)
}
