//! The command line: flags parsed by clap, then resolved into the plain
//! settings the pipeline takes. Every input error becomes one line and exit
//! status 2 here, before anything is probed.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use ipnet::IpNet;

use crate::catalogue::Catalogue;
use crate::check::{CheckRequest, check};
use crate::diagnose::{AddressPolicy, DiagnoseSettings, Severity};
use crate::lab::{self, Lab};
use crate::local::hosts::HostsEntry;
use crate::local::proxy;
use crate::local::resolv::AZURE_DNS;
use crate::local::{self, HostInfo, Machine, MachinePaths};
use crate::plan::Plan;
use crate::probe::{ConnectTo, ProxyRoute, RunSettings, TrustStore};
use crate::report::{Environment, Format, Report};
use crate::target::{Cloud, Target, TargetFlags};

/// Exit status: no finding at or above the `--fail-on` threshold.
pub const EXIT_OK: u8 = 0;
/// Exit status: at least one finding at or above the threshold.
pub const EXIT_FINDINGS: u8 = 1;
/// Exit status: bad usage or bad input.
pub const EXIT_USAGE: u8 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "amlnet",
    version,
    about = "Checks whether this machine can use a network-isolated Azure Machine Learning workspace, and says why not.",
    long_about = None,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    check: CheckArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the diagnosis (the default command).
    Check(Box<CheckArgs>),
    /// Print what would be probed, sending no traffic.
    Plan(PlanArgs),
    /// Run a real check against a private network simulated on loopback.
    Demo(DemoArgs),
    /// Explain a finding code: cause, fix, documentation.
    Explain(ExplainArgs),
    /// Show what changed between two JSON reports.
    Diff(DiffArgs),
}

#[derive(Args, Debug, Clone, Default)]
struct TargetArgs {
    /// Output of `az ml workspace show -o json` or `az resource show` ('-' for stdin).
    #[arg(long, value_name = "FILE", help_heading = "Target")]
    workspace_json: Option<String>,
    /// Workspace GUID (properties.workspaceId).
    #[arg(long, value_name = "GUID", help_heading = "Target")]
    workspace_id: Option<String>,
    /// Workspace name.
    #[arg(long, value_name = "NAME", help_heading = "Target")]
    workspace_name: Option<String>,
    /// Region, e.g. eastus.
    #[arg(long, value_name = "REGION", help_heading = "Target")]
    region: Option<String>,
    /// Storage account name (repeatable).
    #[arg(long = "storage", value_name = "ACCOUNT", help_heading = "Target")]
    storage: Vec<String>,
    /// Key Vault name.
    #[arg(long, value_name = "NAME", help_heading = "Target")]
    key_vault: Option<String>,
    /// Container registry name.
    #[arg(long, value_name = "NAME", help_heading = "Target")]
    acr: Option<String>,
    /// Application Insights resource name (adds the Azure Monitor hosts).
    #[arg(long, value_name = "NAME", help_heading = "Target")]
    app_insights: Option<String>,
    /// Compute instance name (adds its host names).
    #[arg(long, value_name = "NAME", help_heading = "Target")]
    compute_instance: Option<String>,
    /// Azure cloud [default: public].
    #[arg(long, value_enum, help_heading = "Target")]
    cloud: Option<Cloud>,
    /// Extra catalogue files (*.toml), merged with the built-in ones.
    #[arg(long, value_name = "DIR", help_heading = "Target")]
    probes: Option<PathBuf>,
}

/// Areas for `--skip` and `--only`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum AreaName {
    Dns,
    Tcp,
    Udp,
    Tls,
    Http,
    Proxy,
    Local,
    Repos,
    Vscode,
}

#[derive(Args, Debug, Clone)]
struct ProbeArgs {
    /// Per-probe timeout.
    #[arg(long, value_name = "DUR", default_value = "3s", value_parser = crate::input::parse_timeout, help_heading = "Network")]
    timeout: Duration,
    /// Deadline for the whole run.
    #[arg(long, value_name = "DUR", default_value = "30s", value_parser = crate::input::parse_deadline, help_heading = "Network")]
    deadline: Duration,
    /// Probes in flight at once.
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..=1024), help_heading = "Network")]
    concurrency: u16,
}

#[derive(Args, Debug, Clone)]
struct NetworkArgs {
    /// Ask this DNS server instead of the system's (repeatable, in order).
    #[arg(long, value_name = "IP[:PORT]", value_parser = local::parse_dns_server, help_heading = "Network")]
    dns_server: Vec<std::net::SocketAddr>,
    /// Read the system resolvers from this file.
    #[arg(long, value_name = "FILE", default_value = "/etc/resolv.conf", help_heading = "Network")]
    resolv_conf: PathBuf,
    /// What counts as inside the VNet (repeatable); default RFC 1918 and 100.64.0.0/10.
    #[arg(long, value_name = "CIDR", help_heading = "Network")]
    vnet_cidr: Vec<IpNet>,
    /// Dial ADDR:PORT for HOST:PORT, keeping the name (curl's meaning; HOST may be a resolved address).
    #[arg(long, value_name = "HOST:PORT:ADDR:PORT", value_parser = |s: &str| s.parse::<ConnectTo>(), help_heading = "Network")]
    connect_to: Vec<ConnectTo>,
    /// Skip an area (repeatable).
    #[arg(long, value_enum, value_name = "AREA", help_heading = "Network")]
    skip: Vec<AreaName>,
    /// Run only these areas (repeatable).
    #[arg(long, value_enum, value_name = "AREA", conflicts_with = "skip", help_heading = "Network")]
    only: Vec<AreaName>,
    /// Also trust the CA certificates in this PEM file (repeatable); the system
    /// store (SSL_CERT_FILE, SSL_CERT_DIR) is always used.
    #[arg(long, value_name = "FILE", help_heading = "Network")]
    ca_file: Vec<PathBuf>,
    /// Read proxy variables from this shell startup file [default: $HOME/.bashrc].
    #[arg(long, value_name = "FILE", help_heading = "This machine")]
    bashrc: Option<PathBuf>,
    /// Hosts file that may pin Azure names.
    #[arg(long, value_name = "FILE", default_value = "/etc/hosts", help_heading = "This machine")]
    hosts_file: PathBuf,
    /// Azure DNS, asked too when the resolver is a custom one [default: 168.63.129.16].
    #[arg(long, value_name = "IP[:PORT]", value_parser = local::parse_dns_server, help_heading = "Network")]
    azure_dns: Option<std::net::SocketAddr>,
    /// Never send a packet beyond loopback (for tests and demonstrations).
    #[arg(long, env = "AMLNET_LOOPBACK_ONLY", value_parser = clap::builder::FalseyValueParser::new(), help_heading = "Network")]
    loopback_only: bool,
    #[command(flatten)]
    probe: ProbeArgs,
}

#[derive(Args, Debug, Clone)]
struct OutputArgs {
    /// Report format.
    #[arg(long, short = 'o', value_enum, default_value = "text", help_heading = "Output")]
    output: Format,
    /// Write the report to FILE instead of standard output.
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    out: Option<PathBuf>,
    /// No colour, even on a terminal (NO_COLOR does the same).
    #[arg(long, help_heading = "Output")]
    no_color: bool,
    /// Tell on stderr what was read and decided before probing (secrets masked).
    #[arg(long, short = 'v', help_heading = "Output")]
    verbose: bool,
    /// Lowest severity that makes the exit status 1.
    #[arg(long, value_enum, default_value = "error", help_heading = "Output")]
    fail_on: FailOn,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FailOn {
    Warning,
    Error,
    Never,
}

#[derive(Args, Debug, Clone)]
struct CheckArgs {
    #[command(flatten)]
    target: TargetArgs,
    #[command(flatten)]
    network: NetworkArgs,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Args, Debug, Clone)]
struct PlanArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// `text` or `json`.
    #[arg(long, short = 'o', value_enum, default_value = "text")]
    output: PlanFormat,
    /// Leave out an area's endpoints (repos, vscode).
    #[arg(long, value_enum, value_name = "AREA")]
    skip: Vec<AreaName>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum PlanFormat {
    Text,
    Json,
}

#[derive(Args, Debug, Clone)]
struct DemoArgs {
    /// Which simulated network (`--list` shows them).
    #[arg(long, default_value = "healthy")]
    scenario: String,
    /// List the scenarios and exit.
    #[arg(long)]
    list: bool,
    #[command(flatten)]
    probe: ProbeArgs,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Args, Debug, Clone)]
struct ExplainArgs {
    /// A finding code, e.g. dns-public-answer; none lists them all.
    code: Option<String>,
}

#[derive(Args, Debug, Clone)]
struct DiffArgs {
    /// The earlier JSON report.
    old: PathBuf,
    /// The later JSON report.
    new: PathBuf,
}

/// Runs amlnet with the process's arguments and environment.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                let _ = e.print();
                return ExitCode::from(EXIT_USAGE);
            }
            let first = e.to_string().lines().next().unwrap_or("bad usage").trim_start_matches("error: ").to_string();
            crate::term::eprint_line(&format!("amlnet: {first} (see amlnet --help)"));
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            let msg = crate::term::escape_for_terminal(&format!("{e:#}").replace('\n', " "));
            crate::term::eprint_line(&format!("amlnet: {msg}"));
            ExitCode::from(EXIT_USAGE)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}

fn run(cli: Cli) -> Result<u8> {
    match cli.command {
        None => run_check(cli.check),
        Some(Command::Check(args)) => run_check(*args),
        Some(Command::Plan(args)) => run_plan(args),
        Some(Command::Demo(args)) => run_demo(args),
        Some(Command::Explain(args)) => run_explain(args),
        Some(Command::Diff(args)) => crate::diff::run(&args.old, &args.new).and_then(|text| {
            write_stdout(&text)?;
            Ok(EXIT_OK)
        }),
    }
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn build_target(args: &TargetArgs) -> Result<(Target, Catalogue)> {
    let catalogue = match &args.probes {
        Some(dir) => Catalogue::with_extra_dir(dir)?,
        None => Catalogue::builtin().clone(),
    };
    let json = args.workspace_json.as_deref().map(crate::input::read_workspace_json).transpose()?;
    let flags = TargetFlags {
        cloud: args.cloud,
        workspace_id: args.workspace_id.clone(),
        workspace_name: args.workspace_name.clone(),
        region: args.region.clone(),
        storage_accounts: args.storage.clone(),
        key_vault: args.key_vault.clone(),
        container_registry: args.acr.clone(),
        app_insights: args.app_insights.clone(),
        compute_instance: args.compute_instance.clone(),
    };
    let target = Target::resolve(json.as_ref().map(|(s, t)| (s.as_str(), t.as_str())), &flags, &env_var)?;
    Ok((target, catalogue))
}

fn filter_groups(plan: &mut Plan, skip: &[AreaName], only: &[AreaName]) {
    let wanted = |area: AreaName| {
        if only.is_empty() { !skip.contains(&area) } else { only.contains(&area) }
    };
    let (repos, vscode) = (wanted(AreaName::Repos), wanted(AreaName::Vscode));
    plan.retain(|e| match e.group.as_str() {
        "repos" => repos,
        "vscode" => vscode,
        _ => true,
    });
}

fn run_plan(args: PlanArgs) -> Result<u8> {
    let (target, catalogue) = build_target(&args.target)?;
    let mut plan = Plan::build_checked(&catalogue, &target)?;
    filter_groups(&mut plan, &args.skip, &[]);
    let text = match args.output {
        PlanFormat::Json => crate::report::plan::json(&plan),
        PlanFormat::Text => crate::report::plan::text(&plan),
    };
    write_stdout(&text)?;
    Ok(EXIT_OK)
}

fn run_check(args: CheckArgs) -> Result<u8> {
    let (target, catalogue) = build_target(&args.target)?;
    let net = &args.network;
    if target.region.is_none() && target.workspace_id.is_none() {
        bail!(
            "no workspace named: give --workspace-json FILE (az ml workspace show -o json), or --workspace-id with --region; `amlnet demo` shows a check on a simulated network"
        );
    }
    let mut plan = Plan::build_checked(&catalogue, &target)?;
    filter_groups(&mut plan, &net.skip, &net.only);
    if plan.endpoints.is_empty() {
        bail!("nothing to check: every catalogue entry was left out (see `amlnet plan`)");
    }
    let wanted = |area: AreaName| {
        if net.only.is_empty() { !net.skip.contains(&area) } else { net.only.contains(&area) }
    };
    let machine = Machine::read(
        &MachinePaths {
            bashrc: net.bashrc.clone(),
            hosts_file: net.hosts_file.clone(),
            resolv_conf: net.resolv_conf.clone(),
        },
        &env_var,
    );
    let (dns_servers, source) = if net.dns_server.is_empty() {
        match &machine.resolv {
            Some(rc) if !rc.nameservers.is_empty() => (rc.servers(), rc.path.clone()),
            Some(rc) => bail!("{}: no nameserver lines (give --dns-server)", rc.path),
            None => bail!("{} (give --dns-server or --resolv-conf)", machine.resolv_error.clone().unwrap_or_default()),
        }
    } else {
        (net.dns_server.clone(), "--dns-server".to_string())
    };
    if net.loopback_only
        && let Some(outside) = dns_servers.iter().find(|s| !s.ip().is_loopback())
    {
        bail!("--loopback-only: the DNS server {outside} is not on loopback (give --dns-server 127.0.0.1:PORT)");
    }
    let azure = std::net::SocketAddr::new(AZURE_DNS, 53);
    let uses_azure_dns = dns_servers.iter().any(|s| s.ip() == azure.ip());
    // With a custom resolver, Azure DNS is asked too, to tell a missing
    // forwarder from a missing zone; never when the resolver is Azure DNS.
    let azure_dns = net.azure_dns.or((!uses_azure_dns).then_some(azure));
    // The HTTPS proxy of this environment, parsed once: probed when it is an
    // http:// proxy, noted when it is one amlnet cannot speak to.
    let get = |n: &str| machine.env(n);
    let https_proxy = proxy::https_proxy_value(&get)
        .and_then(|(variable, value)| proxy::parse_proxy_url(&value).ok().map(|url| (variable, url)));
    let proxy_route = match &https_proxy {
        Some((variable, url)) if url.scheme == "http" && wanted(AreaName::Proxy) => Some(ProxyRoute {
            url: url.clone(),
            addr: None,
            no_proxy: proxy::no_proxy_value(&get).map(|(_, v)| v).unwrap_or_default(),
            variable: variable.clone(),
        }),
        _ => None,
    };
    let planned: Vec<&str> = plan.hosts();
    let pinned: Vec<HostsEntry> =
        machine.hosts.iter().filter(|h| planned.contains(&h.name.as_str())).cloned().collect();
    let run = RunSettings {
        dns_servers: dns_servers.clone(),
        connect_to: net.connect_to.clone(),
        timeout: net.probe.timeout,
        deadline: net.probe.deadline,
        concurrency: net.probe.concurrency as usize,
        tcp: wanted(AreaName::Tcp),
        udp: wanted(AreaName::Udp),
        loopback_only: net.loopback_only,
        trust: if wanted(AreaName::Tls) {
            let extra = net
                .ca_file
                .iter()
                .map(|p| TrustStore::read_pem(p))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| anyhow!(e))?;
            Some(TrustStore::load(true, &extra).map_err(|e| anyhow!("--ca-file {e}"))?)
        } else {
            None
        },
        http: wanted(AreaName::Http) && wanted(AreaName::Tls),
        proxy: proxy_route,
        azure_dns,
        hosts_overrides: pinned.clone(),
    };
    let mut notes: Vec<String> = machine
        .bashrc
        .iter()
        .flat_map(|f| f.notes.iter())
        .map(|n| match n.line {
            Some(l) => format!("{} line {l}: {}", n.file, n.message),
            None => format!("{}: {}", n.file, n.message),
        })
        .collect();
    notes.extend(machine.resolv_error.clone());
    notes.extend(machine.hosts_error.clone());
    if machine.resolv.as_ref().is_some_and(|r| r.is_systemd_stub()) && net.dns_server.is_empty() {
        notes.push(
            "resolv.conf points at systemd-resolved (127.0.0.53); `resolvectl status` shows the servers behind it"
                .into(),
        );
    }
    if let Some((name, url)) = &https_proxy
        && url.scheme != "http"
    {
        notes.push(format!(
            "{name} is not an http:// proxy: the proxy path was not probed (amlnet speaks HTTP CONNECT)"
        ));
    }
    let environment = Environment {
        resolvers: dns_servers.iter().map(|s| s.to_string()).collect(),
        resolvers_source: source,
        proxy: machine.proxy_report(),
        hosts_overrides: pinned,
        interfaces: machine.interfaces.clone(),
        resolv_conf: machine.resolv.clone(),
        uses_azure_dns,
        machine_read: true,
        notes,
        address_rule: None,
    };
    if args.output.verbose {
        verbose_settings(&run, &environment);
    }
    let diagnose = DiagnoseSettings {
        policy: AddressPolicy::new(net.vnet_cidr.clone()),
        judge_dns: wanted(AreaName::Dns),
        machine,
        judge_local: wanted(AreaName::Local),
    };
    let request = CheckRequest { plan, run, diagnose, environment, host: HostInfo::detect() };
    let progress = progress(request.plan.endpoints.len());
    let report = runtime()?.block_on(check(request));
    progress.finish_and_clear();
    emit(&report?, &args.output)
}

/// `--verbose`: what the run will use, one fact a line, every value masked.
fn verbose_settings(run: &RunSettings, env: &Environment) {
    let say = |s: String| crate::term::eprint_line(&format!("amlnet: {}", crate::redact::mask_url(&s)));
    say(format!("resolvers {} (from {})", env.resolvers.join(", "), env.resolvers_source));
    if let Some(a) = run.azure_dns {
        say(format!("Azure DNS {a} is asked too for private names answered badly"));
    }
    match &run.proxy {
        Some(p) => say(format!(
            "HTTPS goes through {} (from {}); NO_PROXY='{}' read as Python requests reads it",
            p.url.masked(),
            p.variable,
            p.no_proxy
        )),
        None => say("no HTTPS proxy in this environment: everything is dialled directly".into()),
    }
    for v in &env.proxy {
        say(format!("proxy variable {}={} ({:?})", v.name, v.value, v.origin));
    }
    if let Some(t) = &run.trust {
        for n in &t.notes {
            say(format!("trust: {n}"));
        }
    }
    for h in &run.hosts_overrides {
        say(format!("{} line {} pins {} to {}", h.file, h.line, h.name, h.address));
    }
    for n in &env.notes {
        say(n.clone());
    }
    say(format!("timeout {:?} per probe, deadline {:?}, {} in flight", run.timeout, run.deadline, run.concurrency));
}

fn run_demo(args: DemoArgs) -> Result<u8> {
    if args.list {
        let mut text = String::new();
        for s in lab::scenarios() {
            text.push_str(&format!("{:<30} {}\n", s.name, s.summary));
        }
        write_stdout(&text)?;
        return Ok(EXIT_OK);
    }
    let scenario = lab::find(&args.scenario).ok_or_else(|| {
        let names: Vec<&str> = lab::scenarios().iter().map(|s| s.name.as_str()).collect();
        anyhow!("--scenario {}: no such scenario (one of: {})", args.scenario, names.join(", "))
    })?;
    let target = lab::lab_target();
    let plan = Plan::build(Catalogue::builtin(), &target);
    let rt = runtime()?;
    let report = rt.block_on(async {
        let lab = Lab::start(scenario, &plan).await?;
        if std::io::stderr().is_terminal() {
            crate::term::eprint_line(&format!(
                "amlnet demo: scenario '{}' on a lab network at {} (loopback only)",
                scenario.name, lab.dns
            ));
        }
        let request = CheckRequest {
            plan: plan.clone(),
            run: RunSettings {
                dns_servers: vec![lab.dns],
                connect_to: lab.connect_to.clone(),
                timeout: args.probe.timeout,
                deadline: args.probe.deadline,
                concurrency: args.probe.concurrency as usize,
                tcp: true,
                udp: true,
                loopback_only: true,
                // The lab's own CA only: the demo must not depend on this machine's store.
                trust: Some(TrustStore::load(false, &lab.trusted_roots()).map_err(|e| anyhow!(e))?),
                http: true,
                proxy: lab.proxy.clone(),
                azure_dns: lab.azure_dns,
                hosts_overrides: Vec::new(),
            },
            // The demo judges the simulated network, not this machine's own setup.
            diagnose: DiagnoseSettings {
                policy: AddressPolicy::new(lab.vnet_cidr.clone()),
                judge_dns: true,
                machine: Machine::default(),
                judge_local: false,
            },
            environment: Environment {
                resolvers: vec![lab.dns.to_string()],
                resolvers_source: format!("lab scenario '{}'", scenario.name),
                notes: vec![
                    "demo: this machine's proxy variables, ~/.bashrc, /etc/hosts and addresses are not read".into(),
                ],
                ..Environment::default()
            },
            host: HostInfo::detect(),
        };
        let report = check(request).await;
        drop(lab);
        report
    })?;
    emit(&report, &args.output)
}

fn run_explain(args: ExplainArgs) -> Result<u8> {
    use crate::diagnose::codes;
    let Some(code) = args.code else {
        let mut text = String::new();
        for c in codes::CODES {
            text.push_str(&format!("{:<24} {}\n", c.code, c.title));
        }
        write_stdout(&text)?;
        return Ok(EXIT_OK);
    };
    let info = codes::lookup(&code)
        .ok_or_else(|| anyhow!("explain: unknown finding code '{code}' (amlnet explain lists them)"))?;
    let mut text = format!("{}: {}\n\n", info.code, info.title);
    let wrap = |s: &str| textwrap::fill(s, textwrap::Options::new(78).initial_indent("  ").subsequent_indent("  "));
    text.push_str(&format!("Cause\n{}\n\nFix\n{}\n\n", wrap(info.cause), wrap(info.remedy)));
    text.push_str(&format!("Workspace diagnostics category: {}\n", info.category));
    if info.code.starts_with("tcp-") || info.code.starts_with("udp-") {
        text.push_str("\nInbound rules cannot be tested from inside: a compute with a public IP also needs\nAzureMachineLearning TCP 44224 inbound (older setups: BatchNodeManagement 29876-29877).\n");
    }
    if !info.docs.is_empty() {
        text.push_str("\nDocumentation\n");
        for d in info.docs {
            text.push_str(&format!("  {d}\n"));
        }
    }
    write_stdout(&text)?;
    Ok(EXIT_OK)
}

/// A spinner on stderr while probing; indicatif draws nothing when stderr
/// is not a terminal, so scripts and setup-script logs stay clean.
fn progress(endpoints: usize) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_message(format!("probing {endpoints} endpoints"));
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")
}

fn emit(report: &Report, out: &OutputArgs) -> Result<u8> {
    let to_terminal = out.out.is_none() && std::io::stdout().is_terminal();
    let color = to_terminal && !out.no_color && env_var("NO_COLOR").is_none();
    colored::control::set_override(color);
    let text = report.render(out.output, color);
    match &out.out {
        Some(path) => std::fs::write(path, text).map_err(|e| anyhow!("--out {}: {e}", path.display()))?,
        None => write_stdout(&text)?,
    }
    let threshold = match out.fail_on {
        FailOn::Never => return Ok(EXIT_OK),
        FailOn::Warning => Severity::Warning,
        FailOn::Error => Severity::Error,
    };
    let failing = report.findings.iter().any(|f| f.severity <= threshold);
    Ok(if failing { EXIT_FINDINGS } else { EXIT_OK })
}

fn write_stdout(text: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(())
}
