//! Golden reports: the whole JSON report of fixed scenarios, with what
//! varies from run to run (times, ports, host name) normalised. A change to
//! the schema or to the words of a finding shows up here for review.

mod util;

use regex::Regex;
use serde_json::Value;
use util::*;

fn normalise(mut r: Value) -> String {
    r["started_at"] = "<started_at>".into();
    r["duration_ms"] = 0.into();
    r["host"]["hostname"] = "<hostname>".into();
    r["host"]["kind"] = "<kind>".into();
    r["tool"]["version"] = "<version>".into();
    r["tool"]["commit"] = "<commit>".into();
    r["tool"]["target"] = "<target>".into();
    for c in r["checks"].as_array_mut().unwrap() {
        c["elapsed_ms"] = 0.into();
        if c["udp_wait_ms"].is_u64() {
            c["udp_wait_ms"] = 0.into();
        }
        for part in ["tls", "http"] {
            if c[part].is_object() {
                c[part]["elapsed_ms"] = 0.into();
            }
        }
    }
    let text = serde_json::to_string_pretty(&r).unwrap();
    let port = Regex::new(r"127\.0\.0\.1:\d+").unwrap();
    let ms = Regex::new(r"after \d+ ms").unwrap();
    let text = port.replace_all(&text, "127.0.0.1:<port>");
    ms.replace_all(&text, "after <n> ms").into_owned()
}

#[test]
fn golden_report_storage_zone_unlinked() {
    let (_, r) = demo("storage-zone-unlinked");
    insta::assert_snapshot!("storage-zone-unlinked", normalise(r));
}

#[test]
fn golden_report_tls_inspection() {
    let (_, r) = demo("tls-inspection");
    insta::assert_snapshot!("tls-inspection", normalise(r));
}

#[test]
fn golden_report_firewall_rejects() {
    let (_, r) = demo("firewall-rejects");
    insta::assert_snapshot!("firewall-rejects", normalise(r));
}
