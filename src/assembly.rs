//! One run, assembled once. Resolved settings plus a [`Machine`] (what was
//! read from this machine, or the lab's simulated one) become the
//! [`CheckRequest`] that `check` runs: which resolvers, whether Azure DNS
//! is asked too, which proxy is probed, which CAs are trusted, which hosts
//! entries pin planned names, what the local rules judge. `amlnet check`
//! and `amlnet demo` both come through here, so the demo exercises the
//! same decisions as a real run.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use ipnet::IpNet;

use crate::catalogue::Catalogue;
use crate::check::CheckRequest;
use crate::diagnose::DiagnoseSettings;
use crate::local::hosts::HostsEntry;
use crate::local::proxy::parse_proxy_url;
use crate::local::{HostInfo, Machine, ProxySettings};
use crate::net::{AZURE_DNS, AddressPolicy, MAX_NAMESERVERS, ResolverRules};
use crate::plan::Plan;
use crate::probe::{ConnectTo, ProxyRoute, RunSettings, TrustStore};
use crate::report::Environment;
use crate::target::{Facts, Target, TargetFlags};

/// The areas of `--skip` and `--only`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AreaName {
    /// Name resolution.
    Dns,
    /// TCP reachability.
    Tcp,
    /// UDP reachability.
    Udp,
    /// TLS handshakes.
    Tls,
    /// HTTP requests.
    Http,
    /// The proxy path.
    Proxy,
    /// This machine's settings.
    Local,
    /// Package repositories.
    Repos,
    /// VS Code hosts.
    Vscode,
}

/// Which areas run: all but `skip`, or only `only`.
#[derive(Debug, Clone, Default)]
pub struct Areas {
    /// `--skip`.
    pub skip: Vec<AreaName>,
    /// `--only`.
    pub only: Vec<AreaName>,
}

impl Areas {
    /// Whether `area` runs.
    pub fn wanted(&self, area: AreaName) -> bool {
        if self.only.is_empty() { !self.skip.contains(&area) } else { self.only.contains(&area) }
    }

    /// Leaves out the endpoints of unwanted groups (repos, vscode).
    pub fn filter_plan(&self, plan: &mut Plan) {
        let (repos, vscode) = (self.wanted(AreaName::Repos), self.wanted(AreaName::Vscode));
        plan.retain(|e| match e.group.as_str() {
            "repos" => repos,
            "vscode" => vscode,
            _ => true,
        });
    }
}

/// What names the workspace, before it is resolved into a [`Target`].
#[derive(Debug, Clone, Default)]
pub struct TargetInput {
    /// `--workspace-json FILE` (`-` for standard input).
    pub workspace_json: Option<String>,
    /// Every other target flag.
    pub flags: TargetFlags,
    /// `--probes DIR`.
    pub probes: Option<PathBuf>,
    /// `--hub-json FILE`: a project's hub, for the names the project uses.
    pub hub_json: Option<PathBuf>,
}

/// A resolved target with what its document says and the catalogue to plan it from.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The workspace.
    pub target: Target,
    /// Its shape: hub or project, managed network, notebooks host.
    pub facts: Facts,
    /// The built-in catalogue plus `--probes`.
    pub catalogue: Catalogue,
}

impl Loaded {
    /// The plan for this target, its host names checked.
    pub fn plan(&self) -> Result<Plan> {
        Plan::build_checked_for(&self.catalogue, &self.target, &self.facts)
    }
}

/// Reads the catalogue and the workspace description, then resolves the
/// target (flags over JSON over a compute instance's environment); the
/// catalogue's cloud table (with a `--probes` `clouds.toml`) judges the region.
pub fn load_target(input: &TargetInput) -> Result<Loaded> {
    let catalogue = match &input.probes {
        Some(dir) => Catalogue::with_extra_dir(dir)?,
        None => Catalogue::builtin().clone(),
    };
    let json = input.workspace_json.as_deref().map(crate::input::read_workspace_json).transpose()?;
    let hub = match &input.hub_json {
        Some(path) => {
            let text = crate::input::read_input_file(path, "--hub-json")?;
            Some((format!("--hub-json {}", path.display()), text))
        }
        None => None,
    };
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let (target, facts) = Target::resolve_with(as_pair(&json), as_pair(&hub), &input.flags, &env, &catalogue)?;
    Ok(Loaded { target, facts, catalogue })
}

fn as_pair(x: &Option<(String, String)>) -> Option<(&str, &str)> {
    x.as_ref().map(|(s, t)| (s.as_str(), t.as_str()))
}

/// How long and how wide a run may be.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Per probe.
    pub timeout: Duration,
    /// When the whole run must be over: `--deadline` counted from the
    /// process's start, so reading the catalogue and this machine count too.
    pub deadline: Instant,
    /// Probes in flight at once; `None` sizes it from the open-files limit.
    pub concurrency: Option<usize>,
}

/// DNS servers chosen explicitly instead of the machine's resolv.conf.
#[derive(Debug, Clone)]
pub struct DnsChoice {
    /// The servers, in order.
    pub servers: Vec<SocketAddr>,
    /// Where they came from, for the report (`--dns-server`, a lab scenario).
    pub source: String,
}

/// The CAs a run trusts.
#[derive(Debug, Clone, Default)]
pub struct TrustSource {
    /// The operating system's store (with SSL_CERT_FILE / SSL_CERT_DIR).
    pub system: bool,
    /// `--ca-file` paths.
    pub files: Vec<PathBuf>,
    /// CA certificates given as PEM text, with a name each (the lab's).
    pub pem: Vec<(String, Vec<u8>)>,
}

/// Everything a run is told, resolved from flags (or by the demo).
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Explicit DNS servers; `None` asks the machine's resolv.conf.
    pub dns: Option<DnsChoice>,
    /// Azure DNS to ask too when the resolver is custom; `None` means 168.63.129.16.
    pub azure_dns: Option<SocketAddr>,
    /// What counts as inside the VNet.
    pub vnet_cidr: Vec<IpNet>,
    /// Dialling overrides.
    pub connect_to: Vec<ConnectTo>,
    /// Which areas run.
    pub areas: Areas,
    /// Trust for TLS.
    pub trust: TrustSource,
    /// Never send a packet beyond loopback.
    pub loopback_only: bool,
    /// Time and width.
    pub limits: Limits,
}

/// Builds the request for one run of `plan`.
pub fn assemble(plan: Plan, options: &RunOptions, machine: Machine, host: HostInfo) -> Result<CheckRequest> {
    let (dns_servers, dns_rules, source) = resolvers(options, &machine)?;
    let uses_azure_dns = dns_servers.iter().any(|s| s.ip() == AZURE_DNS);
    let azure_dns = azure_dns(options, uses_azure_dns, &dns_servers);
    let proxy = windows_proxy(&machine).unwrap_or_else(|| machine.proxy_settings());
    let areas = &options.areas;
    let route = proxy_route(&proxy).filter(|_| areas.wanted(AreaName::Proxy));
    let planned: HashSet<&str> = plan.endpoints.iter().map(|e| e.host.as_str()).collect();
    let pinned: Vec<HostsEntry> = machine.hosts.iter().filter(|h| planned.contains(h.name.as_str())).cloned().collect();
    let trust = if areas.wanted(AreaName::Tls) { Some(trust_store(&options.trust)?) } else { None };
    let run = RunSettings {
        dns_servers: dns_servers.clone(),
        dns_rules,
        dns: areas.wanted(AreaName::Dns),
        connect_to: options.connect_to.clone(),
        timeout: options.limits.timeout,
        deadline: options.limits.deadline,
        // Raised either way: a given --concurrency needs the descriptors too.
        concurrency: {
            let fit = crate::probe::schedule::auto_concurrency();
            options.limits.concurrency.unwrap_or(fit)
        },
        tcp: areas.wanted(AreaName::Tcp),
        udp: areas.wanted(AreaName::Udp),
        loopback_only: options.loopback_only,
        trust,
        http: areas.wanted(AreaName::Http) && areas.wanted(AreaName::Tls),
        proxy: route,
        http_proxy: http_proxy_route(&machine, &proxy).filter(|_| areas.wanted(AreaName::Proxy)),
        azure_dns,
        hosts_overrides: pinned.clone(),
    };
    let environment = Environment {
        resolvers: dns_servers.iter().map(|s| s.to_string()).collect(),
        resolvers_source: source,
        proxy: machine.proxy_report(),
        hosts_overrides: pinned,
        interfaces: machine.interfaces.clone(),
        resolv_conf: machine.resolv.clone(),
        uses_azure_dns,
        machine_read: !machine.simulated,
        processes: processes(&machine),
        notes: plan.notes.iter().cloned().chain(notes(options, &machine, &proxy)).collect(),
        address_rule: None,
    };
    let diagnose = DiagnoseSettings {
        policy: AddressPolicy::new(options.vnet_cidr.clone()),
        judge_dns: areas.wanted(AreaName::Dns),
        machine,
        proxy,
        judge_local: areas.wanted(AreaName::Local),
    };
    Ok(CheckRequest { plan, run, diagnose, environment, host })
}

/// The servers asked, how (as glibc would, for resolv.conf's; once each,
/// in order, for servers given on the command line; glibc's defaults for a
/// Windows machine's adapters, whose own client is not modelled), and where
/// they came from.
fn resolvers(options: &RunOptions, machine: &Machine) -> Result<(Vec<SocketAddr>, ResolverRules, String)> {
    let (servers, rules, source) = match (&options.dns, &machine.resolv, &machine.windows) {
        (Some(choice), _, _) => (choice.servers.clone(), ResolverRules::one_try(), choice.source.clone()),
        (None, Some(rc), _) if !rc.nameservers.is_empty() => {
            (rc.servers(), rc.rules(machine.env("RES_OPTIONS").as_deref()), rc.path.clone())
        }
        (None, Some(rc), _) => bail!("{}: no nameserver lines (give --dns-server)", rc.path),
        (None, None, Some(w)) if !w.dns.is_empty() => (w.dns_servers(), ResolverRules::default(), w.dns_source()),
        (None, None, Some(w)) if machine.resolv_error.is_none() => match &w.adapters_error {
            Some(e) => bail!("the network adapters could not be read ({e}); give --dns-server"),
            None => bail!("no network adapter that is up has a DNS server; give --dns-server"),
        },
        (None, None, _) => {
            bail!("{} (give --dns-server or --resolv-conf)", machine.resolv_error.clone().unwrap_or_default())
        }
    };
    if options.loopback_only
        && let Some(outside) = servers.iter().find(|s| !s.ip().is_loopback())
    {
        bail!("--loopback-only: the DNS server {outside} is not on loopback (give --dns-server 127.0.0.1:PORT)");
    }
    Ok((servers, rules, source))
}

/// With a custom resolver, Azure DNS is asked too, to tell a missing
/// forwarder from a missing zone; never when the resolver is Azure DNS,
/// and never beyond loopback when the run is confined to it.
fn azure_dns(options: &RunOptions, uses_azure_dns: bool, servers: &[SocketAddr]) -> Option<SocketAddr> {
    let azure = options.azure_dns.or((!uses_azure_dns).then_some(SocketAddr::new(AZURE_DNS, 53)))?;
    let allowed = !options.loopback_only || azure.ip().is_loopback();
    (allowed && !servers.contains(&azure)).then_some(azure)
}

/// The proxy `http://` URLs (the revocation endpoints) go through: the
/// first of http_proxy, HTTP_PROXY, all_proxy, ALL_PROXY that is set, as
/// curl and Python requests pick it, when it is an http:// proxy.
fn http_proxy_route(machine: &Machine, proxy: &ProxySettings) -> Option<ProxyRoute> {
    let (variable, value) = ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"]
        .iter()
        .find_map(|n| machine.env(n).filter(|v| !v.trim().is_empty()).map(|v| (n.to_string(), v)))?;
    let url = parse_proxy_url(&value).ok().filter(|u| u.scheme == "http")?;
    Some(ProxyRoute { url, addr: None, no_proxy: proxy.no_proxy.clone(), variable })
}

/// On Windows, when the environment sets no proxy variable at all, the
/// Internet settings' proxy, as Python's urllib (pip, az) picks it.
fn windows_proxy(machine: &Machine) -> Option<ProxySettings> {
    machine.windows.as_ref().filter(|_| machine.env_proxy.is_empty()).and_then(|w| w.proxy_settings())
}

/// The proxy the HTTPS paths go through, when it is one amlnet can speak to.
fn proxy_route(proxy: &ProxySettings) -> Option<ProxyRoute> {
    let (variable, value) = proxy.https.as_ref()?;
    let url = parse_proxy_url(&value.0).ok().filter(|u| u.scheme == "http")?;
    Some(ProxyRoute { url, addr: None, no_proxy: proxy.no_proxy.clone(), variable: variable.clone() })
}

fn trust_store(source: &TrustSource) -> Result<TrustStore> {
    let mut pem = source.pem.clone();
    for path in &source.files {
        pem.push(TrustStore::read_pem(path).map_err(|e| anyhow!(e))?);
    }
    TrustStore::load(source.system, &pem).map_err(|e| anyhow!("--ca-file {e}"))
}

/// What each kind of process gets from the startup files, values masked.
fn processes(machine: &Machine) -> Vec<crate::report::record::ProcessRecord> {
    use crate::report::record::{ProcessProxyRecord, ProcessRecord};
    let Some(startup) = &machine.startup else { return Vec::new() };
    startup
        .views
        .iter()
        .map(|v| ProcessRecord {
            kind: v.kind.name(),
            label: v.kind.label(),
            reads: v.reads.clone(),
            proxy: v
                .variables
                .iter()
                .map(|p| ProcessProxyRecord {
                    name: p.name.clone(),
                    value: p.value.as_ref().map(|value| match p.cut && !value.is_empty() {
                        true => crate::redact::MASK.to_string(),
                        false => machine.mask(&p.name, value),
                    }),
                    file: p.file.clone(),
                    line: p.line,
                    evaluated: p.value.is_some(),
                })
                .collect(),
        })
        .collect()
}

/// Remarks on what was read, for the report.
fn notes(options: &RunOptions, machine: &Machine, proxy: &ProxySettings) -> Vec<String> {
    let mut notes: Vec<String> = Vec::new();
    if machine.simulated {
        notes.push("demo: this machine's proxy variables, ~/.bashrc, /etc/hosts and addresses are not read".into());
    }
    notes.extend(machine.bashrc.iter().flat_map(|f| f.notes.iter()).map(|n| match n.line {
        Some(l) => format!("{} line {l}: {}", n.file, n.message),
        None => format!("{}: {}", n.file, n.message),
    }));
    if let Some(w) = &machine.windows {
        notes.extend(w.notes.iter().cloned());
        notes.extend(w.proxy_notes(!machine.env_proxy.is_empty()));
    }
    for n in machine.startup.iter().flat_map(|s| s.notes.iter()) {
        let line = match n.line {
            Some(l) => format!("{} line {l}: {}", n.file, n.message),
            None => format!("{}: {}", n.file, n.message),
        };
        if !notes.contains(&line) {
            notes.push(line);
        }
    }
    notes.extend(machine.resolv_error.clone());
    if options.dns.is_none()
        && let Some(rc) = &machine.resolv
        && let Some(ignored) = rc.ignored_nameservers()
    {
        notes.push(format!(
            "{}: nameserver {ignored} not asked: glibc uses the first {MAX_NAMESERVERS} (MAXNS)",
            rc.path
        ));
    }
    notes.extend(machine.hosts_error.clone());
    if options.dns.is_none() && machine.resolv.as_ref().is_some_and(|r| r.is_systemd_stub()) {
        notes.push(
            "resolv.conf points at systemd-resolved (127.0.0.53); `resolvectl status` shows the servers behind it"
                .into(),
        );
    }
    if let Some((name, value)) = &proxy.https
        && parse_proxy_url(&value.0).is_ok_and(|u| u.scheme != "http")
    {
        notes.push(format!(
            "{name} is not an http:// proxy: the proxy path was not probed (amlnet speaks HTTP CONNECT)"
        ));
    }
    notes
}

/// What a run will use, one fact a line, every value masked: `--verbose`.
pub fn describe(request: &CheckRequest) -> Vec<String> {
    let (run, env) = (&request.run, &request.environment);
    let rules = &run.dns_rules;
    let mut lines = vec![format!(
        "resolvers {} (from {}), asked as glibc does: {} s a try, {} round(s){}{}",
        env.resolvers.join(", "),
        env.resolvers_source,
        rules.timeout.as_secs(),
        rules.attempts,
        if rules.rotate { ", rotate" } else { "" },
        if rules.tcp_only { ", TCP only" } else { "" },
    )];
    match run.azure_dns {
        Some(a) => lines.push(format!("Azure DNS {a} is asked too for private names answered badly")),
        None => lines.push("Azure DNS is not asked (the resolver is Azure DNS, or the run is loopback-only)".into()),
    }
    match &run.proxy {
        Some(p) => lines.push(format!(
            "HTTPS goes through {} (from {}); NO_PROXY='{}' read as Python requests reads it",
            p.url.masked(),
            p.variable,
            p.no_proxy
        )),
        None => lines.push("no HTTPS proxy in this environment: everything is dialled directly".into()),
    }
    for v in &env.proxy {
        lines.push(format!("proxy variable {}={} ({:?})", v.name, v.value, v.origin));
    }
    if let Some(t) = &run.trust {
        lines.extend(t.notes.iter().map(|n| format!("trust: {n}")));
    }
    for h in &run.hosts_overrides {
        lines.push(format!("{} line {} pins {} to {}", h.file, h.line, h.name, h.address));
    }
    lines.extend(env.notes.iter().cloned());
    lines.push(format!(
        "timeout {:?} per probe, deadline in {:?}, {} in flight",
        run.timeout,
        run.deadline.saturating_duration_since(Instant::now()),
        run.concurrency
    ));
    lines.into_iter().map(|l| crate::redact::mask_url(&l)).collect()
}

/// The workspace the demo's lab simulates, planned from the built-in catalogue.
pub fn demo_plan() -> Plan {
    Plan::build(Catalogue::builtin(), &crate::lab::lab_target())
}

/// The options of a demo run against `lab`: its DNS server, its address
/// rules, its CAs only (never this machine's store), loopback only.
pub fn demo_options(lab: &crate::lab::Lab, scenario: &str, limits: Limits) -> RunOptions {
    RunOptions {
        dns: Some(DnsChoice { servers: vec![lab.dns], source: format!("lab scenario '{scenario}'") }),
        azure_dns: lab.azure_dns,
        vnet_cidr: lab.vnet_cidr.clone(),
        connect_to: lab.connect_to.clone(),
        areas: Areas::default(),
        trust: TrustSource { system: false, files: Vec::new(), pem: lab.trusted_roots() },
        loopback_only: true,
        limits,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::windows::{Adapter, InternetSettingsValues, Snapshot, WindowsMachine};

    fn windows_machine(env_proxy: Vec<(String, crate::local::Secret)>) -> Machine {
        let vpn = Adapter {
            friendly_name: "Contoso VPN".into(),
            description: "Cisco AnyConnect Secure Mobility Client Virtual Miniport Adapter for Windows x64".into(),
            up: true,
            tunnel: false,
            metric: 1,
            dns_servers: vec!["10.1.0.4".parse().unwrap()],
        };
        let snapshot = Snapshot {
            adapters: Ok(vec![vpn]),
            internet: Ok(InternetSettingsValues {
                enable: Some(1),
                server: Some("proxy.contoso.com:8080".into()),
                overrides: Some("*.privatelink.api.azureml.ms".into()),
                autoconfig: None,
            }),
            winhttp: Ok(None),
        };
        Machine { env_proxy, windows: Some(WindowsMachine::from_snapshot(&snapshot)), ..Machine::default() }
    }

    fn options() -> RunOptions {
        RunOptions {
            dns: None,
            azure_dns: None,
            vnet_cidr: Vec::new(),
            connect_to: Vec::new(),
            areas: Areas::default(),
            trust: TrustSource::default(),
            loopback_only: false,
            limits: Limits { timeout: Duration::from_secs(1), deadline: Instant::now(), concurrency: Some(1) },
        }
    }

    #[test]
    fn on_windows_the_adapters_resolve_and_the_internet_settings_proxy() {
        let machine = windows_machine(Vec::new());
        let (servers, _, source) = resolvers(&options(), &machine).unwrap();
        assert_eq!(servers, vec!["10.1.0.4:53".parse::<SocketAddr>().unwrap()]);
        assert!(source.starts_with("Windows adapter 'Contoso VPN' (Cisco AnyConnect"), "{source}");
        assert!(source.ends_with(", VPN)"), "{source}");
        let proxy = windows_proxy(&machine).unwrap();
        assert_eq!(proxy.https.unwrap().1.0, "http://proxy.contoso.com:8080");
        assert_eq!(proxy.no_proxy, ".privatelink.api.azureml.ms");
        // A proxy variable in the environment decides instead, as it does for pip and az.
        let env = vec![("NO_PROXY".to_string(), crate::local::Secret("*".into()))];
        assert_eq!(windows_proxy(&windows_machine(env)), None);
        // No adapter with a DNS server: one line asking for --dns-server.
        let mut bare = windows_machine(Vec::new());
        bare.windows.as_mut().unwrap().dns.clear();
        let e = resolvers(&options(), &bare).unwrap_err().to_string();
        assert!(e.contains("give --dns-server"), "{e}");
    }
}
