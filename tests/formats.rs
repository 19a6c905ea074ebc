//! Output conventions: JUnit that the common Jenkins/xunit schema accepts,
//! Markdown with folded tables, "This machine" and correct plurals.

mod util;

use util::*;

/// Attributes the Jenkins/xunit JUnit schema (the xunit plugin's
/// junit-10.xsd) allows on each element amlnet writes.
fn allowed(element: &str) -> &'static [&'static str] {
    match element {
        "testsuites" => &["name", "time", "tests", "failures", "disabled", "errors"],
        "testsuite" => &[
            "name",
            "tests",
            "failures",
            "errors",
            "time",
            "disabled",
            "skipped",
            "timestamp",
            "hostname",
            "id",
            "package",
        ],
        "testcase" => &["name", "assertions", "time", "classname", "status"],
        "failure" | "error" | "skipped" => &["message", "type"],
        "system-out" | "system-err" => &[],
        other => panic!("element <{other}> is not in the schema"),
    }
}

fn count(node: roxmltree::Node, attr: &str) -> usize {
    node.attribute(attr).unwrap_or_else(|| panic!("<{}> has no {attr}", node.tag_name().name())).parse().unwrap()
}

/// Checks the document against the schema's rules; returns (suite, case, failure message) triples.
fn validate(xml: &str) -> Vec<(String, String, Option<String>)> {
    let doc = roxmltree::Document::parse(xml).unwrap_or_else(|e| panic!("not XML: {e}\n{xml}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    for node in root.descendants().filter(|n| n.is_element()) {
        for a in node.attributes() {
            assert!(
                allowed(node.tag_name().name()).contains(&a.name()),
                "<{}> may not carry {}",
                node.tag_name().name(),
                a.name()
            );
        }
    }
    let mut cases = Vec::new();
    let (mut tests, mut failures) = (0, 0);
    for suite in root.children().filter(|n| n.is_element()) {
        assert_eq!(suite.tag_name().name(), "testsuite");
        let name = suite.attribute("name").expect("testsuite name is required").to_string();
        let children: Vec<_> = suite.children().filter(|n| n.has_tag_name("testcase")).collect();
        assert_eq!(count(suite, "tests"), children.len(), "{name}: tests");
        assert_eq!(count(suite, "errors"), 0, "{name}: errors is present on every testsuite");
        let failed = children.iter().filter(|c| c.children().any(|x| x.has_tag_name("failure"))).count();
        assert_eq!(count(suite, "failures"), failed, "{name}: failures");
        let skipped = children.iter().filter(|c| c.children().any(|x| x.has_tag_name("skipped"))).count();
        assert_eq!(count(suite, "skipped"), skipped, "{name}: skipped");
        tests += children.len();
        failures += failed;
        for c in children {
            let failure =
                c.children().find(|x| x.has_tag_name("failure")).map(|f| f.attribute("message").unwrap().to_string());
            cases.push((name.clone(), c.attribute("name").expect("testcase name is required").to_string(), failure));
        }
    }
    assert_eq!(count(root, "tests"), tests);
    assert_eq!(count(root, "failures"), failures);
    assert_eq!(count(root, "errors"), 0);
    cases
}

#[test]
fn junit_follows_the_jenkins_schema_and_shows_every_failure() {
    let o = run(&["demo", "--scenario", "firewall-rejects", "--output", "junit", "--timeout", "2s"]);
    assert_eq!(code(&o), 1);
    let cases = validate(&stdout(&o));
    let failed: Vec<_> = cases.iter().filter(|c| c.2.is_some()).collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].0, "tcp");
    assert_eq!(failed[0].1, "tcp:management.azure.com:443");
    assert!(failed[0].2.as_deref().unwrap().starts_with("tcp-refused: "));
    assert!(cases.iter().any(|c| c.0 == "names") && cases.iter().any(|c| c.0 == "udp"));
    assert!(stdout(&o).contains("Fix: "), "the failure's text carries the fix");
}

#[test]
fn junit_turns_findings_without_a_check_into_test_cases() {
    // NO_PROXY not covering the private endpoints is a finding about this
    // machine's settings: no probe check carries it.
    let o = run(&["demo", "--scenario", "no-proxy-incomplete", "--output", "junit", "--timeout", "2s"]);
    let (_, r) = demo("no-proxy-incomplete");
    let error_codes: Vec<String> = findings(&r).into_iter().filter(|f| f.0 == "error").map(|f| f.1).collect();
    assert!(error_codes.contains(&"no-proxy-missing-private".to_string()), "{error_codes:?}");
    let cases = validate(&stdout(&o));
    let loose = cases.iter().find(|c| c.0 == "findings" && c.1 == "no-proxy-missing-private").expect("a test case");
    assert!(loose.2.as_deref().unwrap().starts_with("no-proxy-missing-private: "));
    // Every error finding fails at least one test case.
    for code in error_codes {
        assert!(
            cases.iter().any(|c| c.2.as_deref().is_some_and(|m| m.starts_with(&format!("{code}: ")))),
            "{code} fails no test case"
        );
    }
}

#[test]
fn markdown_folds_long_tables_and_has_this_machine() {
    let o = run(&["demo", "--scenario", "proxy-blocks-pypi", "--output", "markdown", "--timeout", "2s"]);
    let md = stdout(&o);
    assert!(md.contains("**0 errors, 1 warning, 112 checks passed, 0 skipped.**"), "{md}");
    assert!(
        md.contains("## Names (54)\n\n<details><summary>54 names looked up</summary>\n\n| status | host |"),
        "{md}"
    );
    assert!(md.contains("<details><summary>60 paths probed</summary>"), "{md}");
    assert_eq!(md.matches("<details>").count(), md.matches("</details>").count());
    let machine = md.split("## This machine\n\n").nth(1).expect("a This machine section");
    assert!(machine.contains("- resolvers: 127.0.0.1:"), "{machine}");
    assert!(machine.contains("- proxy: `https_proxy=http://127.0.0.1:"), "{machine}");
    assert!(machine.contains("- note: demo: this machine's proxy variables"), "{machine}");
    let o = run(&["demo", "--scenario", "firewall-rejects", "--output", "markdown", "--timeout", "2s"]);
    assert!(stdout(&o).contains("**1 error, 1 warning, 112 checks passed, 0 skipped.**"), "{}", stdout(&o));
}
