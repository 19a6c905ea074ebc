//! Rules about the proxy: what it answered to CONNECT, and the proxy
//! variables themselves (usable URLs, no password, exported, the same in
//! ~/.bashrc and in this run, NO_PROXY covering what must go direct, per
//! client).

use super::{Code, Collector, Hit, Severity};
use crate::catalogue::Expect;
use crate::local::proxy::{self, Client, ProxyReading, parse_proxy_url, read_proxy_value};
use crate::local::{Machine, ProxySettings};
use crate::plan::Plan;
use crate::probe::PathOutcome;

/// The addresses that must never go through a proxy.
const METADATA: [&str; 2] = ["168.63.129.16", "169.254.169.254"];

/// The code of a CONNECT that did not open a tunnel: the proxy refused it
/// (403, Azure Firewall's 470, a block page), could not reach the
/// destination (a gateway error, or silence while it keeps trying), or
/// gave no usable answer.
pub(super) fn connect_code(outcome: &PathOutcome) -> Code {
    match outcome {
        PathOutcome::ProxyAnswered { status, body, .. } => {
            let refusal = body.as_deref().is_some_and(|b| {
                let lower = b.to_ascii_lowercase();
                super::http::DENIAL_WORDS.iter().any(|w| lower.contains(w))
            });
            // 500 and 503 too: tinyproxy answers 500 "Unable to connect",
            // squid 503 for a failed connection or lookup.
            if matches!(status, 500 | 502 | 503 | 504) && !refusal {
                Code::ProxyUpstreamFailed
            } else {
                Code::HttpBlocked
            }
        }
        PathOutcome::ProxyNoAnswer { .. } => Code::ProxyUpstreamFailed,
        PathOutcome::ProxyAuthRequired { .. } => Code::HttpProxyAuth,
        PathOutcome::ProxyUnreachable { .. } => Code::ProxyUnreachable,
        _ => Code::ProxyProtocolError,
    }
}

/// What the proxy did with a CONNECT, in words: its status line and the
/// first line of its body, as it sent them (escaped, capped).
pub(super) fn connect_words(outcome: &PathOutcome) -> String {
    match outcome {
        PathOutcome::ProxyUnreachable { outcome, .. } => match outcome.as_ref() {
            PathOutcome::NotDialled(why) => format!("the proxy could not be dialled: {why}"),
            other => format!("the proxy did not accept the connection ({})", super::paths::outcome_words(other)),
        },
        PathOutcome::ProxyAuthRequired { line, authenticate } => format!(
            "the proxy answered CONNECT with \"{line}\"{}",
            authenticate.as_deref().map(|a| format!(" (Proxy-Authenticate: {a})")).unwrap_or_default()
        ),
        PathOutcome::ProxyAnswered { status, line, server, body } => {
            let server = server.as_deref().map(|s| format!(" ({s})")).unwrap_or_default();
            let body = match (status, body) {
                (470, Some(b)) => format!(": Azure Firewall: {}", super::http::azure_firewall_words(b)),
                (_, Some(b)) => format!(": \"{b}\""),
                (_, None) => String::new(),
            };
            let meaning = match connect_code(outcome) {
                Code::ProxyUpstreamFailed => "; the proxy could not reach the destination",
                _ => "",
            };
            format!("the proxy answered CONNECT with \"{line}\"{server}{body}{meaning}")
        }
        PathOutcome::ProxyNoAnswer { waited } => format!(
            "the proxy accepted the connection and the CONNECT, then gave no answer in {} ms: it is most likely still trying to reach the destination",
            waited.as_millis()
        ),
        PathOutcome::ProxyFailed(m) => m.clone(),
        other => super::paths::outcome_words(other),
    }
}

/// Adds the findings about this machine's proxy variables.
pub(super) fn judge_variables(machine: &Machine, settings: &ProxySettings, plan: &Plan, out: &mut Collector) {
    judge_values(machine, out);
    judge_cases(machine, out);
    judge_bashrc(machine, out);
    judge_no_proxy(settings, plan, out);
}

/// Every proxy URL, from the environment and the file: usable, and without a password?
fn judge_values(machine: &Machine, out: &mut Collector) {
    let mut values: Vec<(String, String, bool)> =
        machine.env_proxy.iter().map(|(n, v)| (format!("{n} (environment)"), v.0.clone(), true)).collect();
    if let Some(file) = &machine.bashrc {
        for name in proxy::PROXY_VARIABLES {
            if let Some(a) = file.last(name).filter(|a| !a.dynamic) {
                values.push((format!("{} ({} line {})", a.name, a.file, a.line), a.value.clone(), false));
            }
        }
    }
    // What the other startup files give (/etc/environment, /etc/profile, ...).
    for v in machine.startup.iter().flat_map(|s| s.views.iter()).flat_map(|v| v.variables.iter()) {
        let label = format!("{} ({} line {})", v.name, v.file, v.line);
        if let Some(value) = &v.value
            && !values.iter().any(|(l, _, _)| *l == label)
        {
            values.push((label, value.clone(), false));
        }
    }
    for (label, value, live) in values {
        let var = label.split_whitespace().next().unwrap_or_default().to_string();
        if proxy::is_proxy_url_variable(&var) && !value.trim().is_empty() {
            judge_value(machine, &var, &label, &value, live, out);
        }
    }
}

fn judge_value(machine: &Machine, var: &str, label: &str, value: &str, live: bool, out: &mut Collector) {
    let masked = machine.mask(var, value);
    let readings: Vec<(Client, ProxyReading)> = Client::ALL.map(|c| (c, read_proxy_value(c, value))).into();
    let unusable =
        readings.iter().filter(|(_, r)| !matches!(r, ProxyReading::Uses { host, .. } if !misread(value, host))).count();
    let troubles = reading_troubles(value, &readings, &masked);
    if !troubles.is_empty() {
        let evidence = format!("{label} = '{masked}': {}", troubles.join("; "));
        let severity = if unusable == readings.len() { Code::ProxyMalformed.severity(live) } else { Severity::Warning };
        out.add(Code::ProxyMalformed, severity, Hit::new(var, evidence));
    }
    // A password is a finding even in a value no client can use: it is
    // still in the environment of every process, and in the file.
    if proxy::has_password(value) {
        let shown = parse_proxy_url(value).map(|u| u.masked()).unwrap_or(masked);
        let evidence = format!("{label} = '{shown}' carries a password");
        out.add(Code::ProxyCredentialsInClear, Code::ProxyCredentialsInClear.severity(live), Hit::new(var, evidence));
    }
}

/// Whether a client's proxy host is the value's own scheme: Go re-reads
/// `socks5h://p:1080` after `http://` and dials the host `socks5h`.
fn misread(value: &str, host: &str) -> bool {
    value.trim().split_once("://").is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case(host))
}

/// What goes wrong with a proxy value, per client: a client that rejects or
/// ignores it, and clients that read it as different proxies. A host is
/// named only when it is part of the masked value (never a piece of a
/// password).
fn reading_troubles(value: &str, readings: &[(Client, ProxyReading)], masked: &str) -> Vec<String> {
    let mut troubles: Vec<String> = Vec::new();
    for (client, reading) in readings {
        match reading {
            ProxyReading::Rejects(why) => troubles.push(format!("{} rejects it: {why}", client.label())),
            ProxyReading::Ignores(why) => {
                troubles.push(format!("{} ignores it and connects directly: {why}", client.label()))
            }
            ProxyReading::Uses { .. } => {}
        }
    }
    let uses: Vec<(Client, &str, &str, u16)> = readings
        .iter()
        .filter_map(|(c, r)| match r {
            ProxyReading::Uses { scheme, host, port } => Some((*c, scheme.as_str(), host.as_str(), *port)),
            _ => None,
        })
        .collect();
    let differ = uses.windows(2).any(|w| (w[0].2, w[0].3) != (w[1].2, w[1].3));
    // Where some client fails, say what the others do with it too.
    if differ || (!troubles.is_empty() && !uses.is_empty()) {
        let each: Vec<String> = uses
            .iter()
            .map(|(c, scheme, host, port)| {
                if misread(value, host) {
                    format!("{} reads the scheme as the host name and dials it on port {port}", c.label())
                } else if !host.is_empty() && masked.to_ascii_lowercase().contains(host) {
                    let host = if host.contains(':') { format!("[{host}]") } else { host.to_string() };
                    format!("{} dials {scheme}://{host}:{port}", c.label())
                } else {
                    format!("{} dials another host, on port {port}", c.label())
                }
            })
            .collect();
        let lead = if differ { "the clients read it differently: " } else { "" };
        troubles.push(format!("{lead}{}", each.join(", ")));
    }
    troubles
}

/// Upper and lower case disagree: curl and Python take the lower, Go the upper.
fn judge_cases(machine: &Machine, out: &mut Collector) {
    for (upper, lower) in [("HTTPS_PROXY", "https_proxy"), ("HTTP_PROXY", "http_proxy"), ("NO_PROXY", "no_proxy")] {
        if let (Some(u), Some(l)) = (machine.env(upper), machine.env(lower))
            && u != l
        {
            let evidence = format!(
                "{upper}='{}' but {lower}='{}' in this environment: curl and Python use {lower}, Go uses {upper}",
                machine.mask(upper, &u),
                machine.mask(lower, &l)
            );
            out.add(Code::ProxyEnvMismatch, Severity::Warning, Hit::new(upper, evidence));
        }
    }
}

/// Set but not exported; set in the file but not in this run.
fn judge_bashrc(machine: &Machine, out: &mut Collector) {
    let Some(file) = &machine.bashrc else { return };
    for name in proxy::PROXY_VARIABLES {
        let Some(a) = file.last(name) else { continue };
        let at = format!("{} line {}", a.file, a.line);
        // Exported all the same where an earlier file exported it (the
        // shell keeps the export attribute): a shell that really reads the
        // file exports it.
        let exported_in_a_shell = machine.startup.as_ref().is_some_and(|s| {
            s.views.iter().any(|v| v.variables.iter().any(|x| x.name == *name && x.file == a.file && x.line == a.line))
        });
        if !a.exported && !exported_in_a_shell {
            let evidence =
                format!("{at}: {}='{}' is assigned but never exported", a.name, machine.mask(&a.name, &a.value));
            out.add(Code::ProxyNotExported, Severity::Warning, Hit::new(&a.name, evidence));
            continue;
        }
        let live = machine.env(name);
        if a.dynamic || live.as_deref() == Some(a.value.as_str()) {
            continue;
        }
        let now = match &live {
            Some(v) => format!("this run has {name}='{}'", machine.mask(name, v)),
            None => format!("this run's environment has no {name}"),
        };
        let why = match &file.interactive_guard {
            Some((gfile, gline)) if a.interactive_only => format!(
                "; it comes after the non-interactive guard ({gfile} line {gline}), so setup scripts, cron and services never get it"
            ),
            _ if a.conditional => "; it is set inside a conditional block".to_string(),
            _ => String::new(),
        };
        let gets = processes_getting(machine, name, &a.value);
        let evidence = format!("{at} sets {name}='{}', but {now}{why}{gets}", machine.mask(name, &a.value));
        out.add(Code::ProxyEnvMismatch, Severity::Warning, Hit::new(*name, evidence));
    }
}

/// Which kinds of process get `name` = `value` from the startup files, in words.
fn processes_getting(machine: &Machine, name: &str, value: &str) -> String {
    let Some(startup) = &machine.startup else { return String::new() };
    let (get, miss): (Vec<_>, Vec<_>) =
        startup.views.iter().partition(|v| v.get(name).is_some_and(|x| x == Some(value)));
    let labels = |v: &[&crate::local::startup::ProcessView]| -> String {
        v.iter().map(|v| v.kind.label()).collect::<Vec<_>>().join(", ")
    };
    match (get.is_empty(), miss.is_empty()) {
        (true, _) => "; no kind of process gets it from the startup files".to_string(),
        (false, true) => String::new(),
        (false, false) => format!("; from the startup files it reaches: {}; not: {}", labels(&get), labels(&miss)),
    }
}

/// Hosts a proxy would receive, per client: each client picks its own
/// proxy and NO_PROXY variables (Go reads the upper case first, curl never
/// HTTP_PROXY) and reads NO_PROXY its own way.
fn judge_no_proxy(settings: &ProxySettings, plan: &Plan, out: &mut Collector) {
    let get = |name: &str| settings.variables.iter().find(|(n, _)| n == name).map(|(_, v)| v.0.clone());
    let proxied_by = |scheme: &str, host: &str| -> Vec<Client> {
        Client::ALL.into_iter().filter(|c| proxy::route_for(*c, scheme, host, None, &get).is_some()).collect()
    };
    if settings.https.is_some() {
        let mut seen = std::collections::HashSet::new();
        let private = plan
            .endpoints
            .iter()
            .filter(|e| e.expect == Expect::Private)
            .map(|e| e.host.as_str())
            .filter(|h| seen.insert(*h));
        for host in private {
            let proxied = proxied_by("https", host);
            if !proxied.is_empty() {
                let code = Code::NoProxyMissingPrivate;
                out.add(code, code.severity(true), Hit::new(host, clients_line(host, &proxied)));
            }
        }
    }
    if settings.http_set {
        for ip in METADATA {
            let proxied = proxied_by("http", ip);
            if !proxied.is_empty() {
                let code = Code::NoProxyMissingMetadata;
                out.add(code, code.severity(true), Hit::new(ip, clients_line(ip, &proxied)));
            }
        }
    }
}

fn clients_line(host: &str, proxied: &[Client]) -> String {
    let names: Vec<&str> = proxied.iter().map(|c| c.label()).collect();
    let direct: Vec<&str> = Client::ALL.iter().filter(|c| !proxied.contains(c)).map(|c| c.label()).collect();
    if direct.is_empty() {
        format!("{host}: every client sends it to the proxy")
    } else {
        format!("{host}: sent to the proxy by {}; direct for {}", names.join(", "), direct.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Catalogue;
    use crate::lab::lab_target;
    use crate::local::{Secret, bashrc};

    fn judged(machine: &Machine) -> Vec<super::super::Finding> {
        let plan = Plan::build(Catalogue::builtin(), &lab_target());
        let mut out = Collector::default();
        judge_variables(machine, &machine.proxy_settings(), &plan, &mut out);
        out.into_findings()
    }

    fn env(vars: &[(&str, &str)]) -> Machine {
        let env_proxy = vars.iter().map(|(k, v)| (k.to_string(), Secret(v.to_string()))).collect();
        Machine { env_proxy, ..Machine::default() }
    }

    fn answered(status: u16, line: &str, body: Option<&str>) -> PathOutcome {
        PathOutcome::ProxyAnswered {
            status,
            line: line.into(),
            server: Some("squid/5.7".into()),
            body: body.map(str::to_string),
        }
    }

    #[test]
    fn a_connect_answer_is_a_refusal_an_upstream_failure_or_a_protocol_error() {
        let gateway =
            answered(502, "HTTP/1.1 502 Bad Gateway", Some("ERROR: The requested URL could not be retrieved"));
        assert_eq!(connect_code(&gateway), Code::ProxyUpstreamFailed);
        assert_eq!(
            connect_words(&gateway),
            "the proxy answered CONNECT with \"HTTP/1.1 502 Bad Gateway\" (squid/5.7): \"ERROR: The requested URL could not be retrieved\"; the proxy could not reach the destination"
        );
        assert_eq!(connect_code(&answered(403, "HTTP/1.1 403 Forbidden", None)), Code::HttpBlocked);
        assert_eq!(connect_code(&answered(503, "HTTP/1.1 503 x", Some("Access denied by policy"))), Code::HttpBlocked);
        let azure =
            answered(470, "HTTP/1.1 470 status code 470", Some("Action: Deny. Rule Collection: deny-all. Rule: pypi"));
        assert_eq!(connect_code(&azure), Code::HttpBlocked);
        assert!(
            connect_words(&azure)
                .ends_with(": Azure Firewall: action \"Deny\", rule collection \"deny-all\", rule \"pypi\""),
            "{}",
            connect_words(&azure)
        );
        let silent = PathOutcome::ProxyNoAnswer { waited: std::time::Duration::from_millis(3000) };
        assert_eq!(connect_code(&silent), Code::ProxyUpstreamFailed);
        assert_eq!(connect_code(&PathOutcome::ProxyFailed("x".into())), Code::ProxyProtocolError);
    }

    #[test]
    fn a_password_is_a_finding_and_never_shown() {
        let f = judged(&env(&[("HTTP_PROXY", "http://bob:hunter2@proxy.corp:3128"), ("NO_PROXY", "*")]));
        let credentials = f.iter().find(|f| f.code == Code::ProxyCredentialsInClear).expect("found");
        assert!(credentials.detail.contains("***@proxy.corp:3128"), "{}", credentials.detail);
        assert!(!credentials.detail.contains("bob"), "the user name is masked too: {}", credentials.detail);
        assert!(f.iter().all(|f| !f.detail.contains("hunter2")));
    }

    #[test]
    fn a_proxy_value_is_judged_by_each_client_s_own_parser() {
        let malformed = |value: &str| {
            judged(&env(&[("HTTPS_PROXY", value), ("NO_PROXY", "*")]))
                .into_iter()
                .filter(|f| f.code == Code::ProxyMalformed)
                .collect::<Vec<_>>()
        };
        assert!(malformed("127.0.0.1:7890").is_empty(), "curl, requests and Go all take IP:PORT without a scheme");
        assert!(malformed("http://proxy.corp:3128/").is_empty());
        let name = malformed("localhost:3128");
        assert_eq!(name.len(), 1);
        let detail = &name[0].detail;
        assert!(detail.contains("Python requests (pip, conda, az) rejects it"), "{detail}");
        assert!(!detail.contains("curl rejects") && !detail.contains("Go (azcopy, docker) rejects"), "{detail}");
        assert_eq!(name[0].severity, Severity::Warning, "curl and Go can use it");
        assert!(detail.contains("curl dials http://localhost:3128"), "{detail}");
        let socks = malformed("socks5h://proxy.corp:1080");
        let go_misreads = "Go (azcopy, docker) reads the scheme as the host name and dials it on port 80";
        assert!(socks[0].detail.contains(go_misreads), "{}", socks[0].detail);
        let ftp = malformed("ftp://proxy.corp:21");
        assert_eq!(ftp[0].severity, Severity::Error, "Go dials the host 'ftp': no client can use it");
        let no_port = malformed("http://proxy.corp");
        assert!(no_port[0].detail.contains("curl dials http://proxy.corp:1080"), "{}", no_port[0].detail);
    }

    #[test]
    fn a_password_beside_a_bad_port_is_still_a_finding_and_still_masked() {
        let f = judged(&env(&[("HTTP_PROXY", "http://bob:hunter2@proxy.corp:99999/"), ("NO_PROXY", "*")]));
        let codes: Vec<Code> = f.iter().map(|f| f.code).collect();
        assert!(codes.contains(&Code::ProxyMalformed), "{codes:?}");
        assert!(codes.contains(&Code::ProxyCredentialsInClear), "{codes:?}");
        let malformed = f.iter().find(|f| f.code == Code::ProxyMalformed).unwrap();
        assert_eq!(malformed.severity, Severity::Error, "no client can use it: {}", malformed.detail);
        for c in ["curl rejects", "requests (pip, conda, az) rejects", "Go (azcopy, docker) rejects"] {
            assert!(malformed.detail.contains(c), "{c}: {}", malformed.detail);
        }
        assert!(f.iter().all(|f| !f.detail.contains("hunter2") && !f.detail.contains("bob")), "{f:?}");
    }

    #[test]
    fn no_proxy_is_judged_per_client() {
        let f =
            judged(&env(&[("HTTPS_PROXY", "http://proxy.corp:3128"), ("NO_PROXY", "*.vault.azure.net,.azureml.ms")]));
        let private = f.iter().find(|f| f.code == Code::NoProxyMissingPrivate).expect("found");
        let kv = private.detail.lines().find(|l| l.contains("kv-contoso-ml-lab.vault.azure.net")).expect("the vault");
        assert!(kv.contains("direct for Go (azcopy, docker)"), "only Go reads '*.': {kv}");
        assert!(!private.hosts.iter().any(|h| h.ends_with(".api.azureml.ms")), "a leading dot works for every client");
    }

    #[test]
    fn an_unexported_assignment_and_a_stale_export_are_named_with_their_line() {
        let file = bashrc::parse_str("HTTPS_PROXY=http://p:3128\nexport NO_PROXY=.corp\n", "~/.bashrc");
        let machine = Machine { bashrc: Some(file), ..env(&[("NO_PROXY", ".other")]) };
        let f = judged(&machine);
        let codes: Vec<Code> = f.iter().map(|f| f.code).collect();
        assert!(codes.contains(&Code::ProxyNotExported) && codes.contains(&Code::ProxyEnvMismatch), "{codes:?}");
        assert!(f.iter().any(|f| f.detail.contains("~/.bashrc line 2 sets NO_PROXY='.corp'")));
    }

    #[test]
    fn the_file_decides_only_when_the_environment_has_no_proxy() {
        let file = bashrc::parse_str("export https_proxy=http://p:3128\n", "~/.bashrc");
        let from_file = Machine { bashrc: Some(file.clone()), ..Machine::default() }.proxy_settings();
        assert_eq!(from_file.https.as_ref().map(|(v, _)| v.as_str()), Some("https_proxy (~/.bashrc line 1)"));
        let live = Machine { bashrc: Some(file), ..env(&[("NO_PROXY", ".corp")]) }.proxy_settings();
        assert_eq!(live.https, None, "the live environment has proxy variables: it decides");
        assert_eq!(live.no_proxy, ".corp");
    }

    #[test]
    fn an_assignment_exported_by_an_earlier_file_is_not_unexported() {
        use crate::local::startup::{ProcessKind, ProcessVariable, ProcessView, Startup};
        let file = bashrc::parse_str("https_proxy=http://p:3128\n", "~/.bashrc");
        let view = |kind| ProcessView {
            kind,
            reads: vec!["/etc/environment".into(), "~/.bashrc".into()],
            variables: vec![ProcessVariable {
                name: "https_proxy".into(),
                value: Some("http://p:3128".into()),
                file: "~/.bashrc".into(),
                line: 1,
                cut: false,
            }],
        };
        let startup = Startup { views: vec![view(ProcessKind::SshLogin)], notes: Vec::new() };
        let alone = Machine { bashrc: Some(file.clone()), ..Machine::default() };
        assert!(judged(&alone).iter().any(|f| f.code == Code::ProxyNotExported));
        let with_pam = Machine { bashrc: Some(file), startup: Some(startup), ..Machine::default() };
        assert!(!judged(&with_pam).iter().any(|f| f.code == Code::ProxyNotExported), "/etc/environment exported it");
    }
}
