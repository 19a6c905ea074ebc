//! Rules about this machine's own setup: proxy variables in the live
//! environment and in ~/.bashrc, NO_PROXY coverage per client, and local
//! addresses or routes inside Docker's bridge range.

use super::address::DOCKER_BRIDGE;
use super::{Collector, Hit, Severity};
use crate::catalogue::Expect;
use crate::local::Machine;
use crate::local::proxy::{self, Client, bypasses, parse_proxy_url};
use crate::plan::Plan;

/// The addresses that must never go through a proxy.
const METADATA: [&str; 2] = ["168.63.129.16", "169.254.169.254"];

fn hit(label: impl Into<String>, evidence: impl Into<String>) -> Hit {
    Hit { label: label.into(), evidence: evidence.into(), zone: None, service_tag: None }
}

/// Adds this machine's findings to `out`.
pub(super) fn judge(machine: &Machine, plan: &Plan, out: &mut Collector) {
    judge_values(machine, out);
    judge_bashrc(machine, out);
    judge_no_proxy(machine, plan, out);
    judge_interfaces(machine, out);
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
    for (label, value, live) in values {
        let var = label.split_whitespace().next().unwrap_or_default().to_string();
        if !proxy::is_proxy_url_variable(&var) || value.trim().is_empty() {
            continue;
        }
        match parse_proxy_url(&value) {
            Err(why) => {
                let severity = if live { Severity::Error } else { Severity::Warning };
                out.add(
                    "proxy-malformed",
                    severity,
                    hit(var.clone(), format!("{label} = '{}': {why}", machine.mask(&var, &value))),
                );
            }
            Ok(url) => {
                if url.scheme_missing {
                    out.add(
                        "proxy-malformed",
                        Severity::Warning,
                        hit(
                            var.clone(),
                            format!(
                                "{label} = '{}': no scheme; curl assumes http://, Python requests, pip and conda reject it",
                                machine.mask(&var, &value)
                            ),
                        ),
                    );
                }
                if url.password.is_some() {
                    out.add(
                        "proxy-credentials-in-clear",
                        Severity::Warning,
                        hit(var.clone(), format!("{label} = '{}' carries a password", url.masked())),
                    );
                }
            }
        }
    }
    // Upper and lower case disagree: curl and Python take the lower, Go the upper.
    for (upper, lower) in [("HTTPS_PROXY", "https_proxy"), ("HTTP_PROXY", "http_proxy"), ("NO_PROXY", "no_proxy")] {
        if let (Some(u), Some(l)) = (machine.env(upper), machine.env(lower))
            && u != l
        {
            out.add(
                "proxy-env-mismatch",
                Severity::Warning,
                hit(
                    upper,
                    format!(
                        "{upper}='{}' but {lower}='{}' in this environment: curl and Python use {lower}, Go uses {upper}",
                        machine.mask(upper, &u),
                        machine.mask(lower, &l)
                    ),
                ),
            );
        }
    }
}

/// Set but not exported; set in the file but not in this run.
fn judge_bashrc(machine: &Machine, out: &mut Collector) {
    let Some(file) = &machine.bashrc else { return };
    let guard = file.interactive_guard.as_ref();
    for name in proxy::PROXY_VARIABLES {
        let Some(a) = file.last(name) else { continue };
        let at = format!("{} line {}", a.file, a.line);
        if !a.exported {
            out.add(
                "proxy-not-exported",
                Severity::Warning,
                hit(
                    a.name.clone(),
                    format!("{at}: {}='{}' is assigned but never exported", a.name, machine.mask(&a.name, &a.value)),
                ),
            );
            continue;
        }
        if a.dynamic {
            continue;
        }
        let live = machine.env(name);
        if live.as_deref() != Some(a.value.as_str()) {
            let now = match &live {
                Some(v) => format!("this run has {name}='{}'", machine.mask(name, v)),
                None => format!("this run's environment has no {name}"),
            };
            let mut why = String::new();
            if a.interactive_only
                && let Some((gfile, gline)) = guard
            {
                why = format!(
                    "; it comes after the non-interactive guard ({gfile} line {gline}), so setup scripts, cron and services never get it"
                );
            } else if a.conditional {
                why = "; it is set inside a conditional block".to_string();
            }
            out.add(
                "proxy-env-mismatch",
                Severity::Warning,
                hit(name.to_string(), format!("{at} sets {name}='{}', but {now}{why}", machine.mask(name, &a.value))),
            );
        }
    }
}

/// Hosts a proxy would receive, per client.
fn judge_no_proxy(machine: &Machine, plan: &Plan, out: &mut Collector) {
    // The live environment decides; without one, the interactive shell's file does.
    let from_file =
        |n: &str| machine.bashrc.as_ref().and_then(|f| f.last(n)).filter(|a| a.exported).map(|a| a.value.clone());
    let get = |n: &str| machine.env(n).or_else(|| if machine.env_proxy.is_empty() { from_file(n) } else { None });
    let no_proxy = proxy::no_proxy_value(&get).map(|(_, v)| v).unwrap_or_default();
    if proxy::https_proxy_value(&get).is_some() {
        let mut private: Vec<&str> =
            plan.endpoints.iter().filter(|e| e.expect == Expect::Private).map(|e| e.host.as_str()).collect();
        private.dedup();
        for host in private {
            let proxied: Vec<Client> = Client::ALL.into_iter().filter(|c| !bypasses(*c, &no_proxy, host)).collect();
            if proxied.is_empty() {
                continue;
            }
            out.add("no-proxy-missing-private", Severity::Error, hit(host, clients_line(host, &proxied)));
        }
    }
    let http_proxy =
        ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"].iter().any(|n| get(n).is_some_and(|v| !v.is_empty()));
    if http_proxy {
        for ip in METADATA {
            let proxied: Vec<Client> = Client::ALL.into_iter().filter(|c| !bypasses(*c, &no_proxy, ip)).collect();
            if !proxied.is_empty() {
                out.add("no-proxy-missing-metadata", Severity::Warning, hit(ip, clients_line(ip, &proxied)));
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

/// Local addresses and routes in Docker's bridge range that are not Docker's own.
fn judge_interfaces(machine: &Machine, out: &mut Collector) {
    let docker_own = |iface: &str| iface == "docker0";
    for a in &machine.interfaces {
        if DOCKER_BRIDGE.contains(&a.address.addr()) && !docker_own(&a.interface) {
            out.add(
                "docker-bridge-overlap",
                Severity::Error,
                hit(
                    format!("{} ({})", a.address, a.interface),
                    format!("this machine's address {} on {} is inside 172.17.0.0/16", a.address, a.interface),
                ),
            );
        }
    }
    for r in &machine.routes {
        let overlaps = r.destination.prefix_len() > 0
            && (DOCKER_BRIDGE.contains(&r.destination) || r.destination.contains(&DOCKER_BRIDGE.network()));
        if overlaps && !docker_own(&r.interface) {
            out.add(
                "docker-bridge-overlap",
                Severity::Error,
                hit(
                    format!("route {} ({})", r.destination, r.interface),
                    format!("a route to {} via {} overlaps 172.17.0.0/16", r.destination, r.interface),
                ),
            );
        }
    }
}
