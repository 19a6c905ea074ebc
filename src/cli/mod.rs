//! The command line: flags parsed by clap and resolved into the plain
//! settings `assembly` takes; results mapped to exit statuses. Every input
//! error becomes one line and exit status 2 here, before anything is probed.

mod args;
mod docs;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Result, anyhow, bail};
use clap::Parser;

use crate::assembly::{self, Areas, DnsChoice, Limits, RunOptions, TrustSource};
use crate::check::check;
use crate::diagnose::Severity;
use crate::interrupt::Interrupt;
use crate::lab::{self, Lab};
use crate::local::{HostInfo, Machine, MachinePaths};
use crate::report::Report;
use args::{
    CheckArgs, Cli, Command, DemoArgs, FailOn, JobArgs, MergeArgs, MergeFormat, OutputArgs, PlanArgs, PlanFormat,
    ProbeArgs,
};

/// Exit status: no finding at or above the `--fail-on` threshold.
pub const EXIT_OK: u8 = 0;
/// Exit status: at least one finding at or above the threshold.
pub const EXIT_FINDINGS: u8 = 1;
/// Exit status: bad usage or bad input.
pub const EXIT_USAGE: u8 = 2;

/// Runs amlnet with the process's arguments and environment.
pub fn main() -> ExitCode {
    let started = Instant::now();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    match run(cli, started) {
        Ok(code) => ExitCode::from(code),
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let msg = crate::term::escape_for_terminal(&format!("{e:#}").replace('\n', " "));
            crate::term::eprint_line(&format!("amlnet: {msg}"));
            ExitCode::from(EXIT_USAGE)
        }
    }
}

fn usage_error(e: clap::Error) -> ExitCode {
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
    ExitCode::from(EXIT_USAGE)
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}

fn run(cli: Cli, started: Instant) -> Result<u8> {
    match cli.command {
        None => run_check(cli.check, started),
        Some(Command::Check(args)) => run_check(*args, started),
        Some(Command::Plan(args)) => run_plan(args),
        Some(Command::Demo(args)) => run_demo(args, started),
        Some(Command::Explain(args)) => {
            write_stdout(&crate::report::explain::render(args.code.as_deref())?)?;
            Ok(EXIT_OK)
        }
        Some(Command::Diff(args)) => {
            let diff = crate::diff::Diff::load(&args.old, &args.new)?;
            write_stdout(&match args.output {
                PlanFormat::Text => diff.text(),
                PlanFormat::Json => diff.json(),
            })?;
            Ok(if diff.added.is_empty() { EXIT_OK } else { EXIT_FINDINGS })
        }
        Some(Command::Merge(args)) => run_merge(args),
        Some(Command::Job(args)) => run_job(*args),
        Some(Command::Completions(args)) => {
            write_stdout(&docs::completions(args.shell))?;
            Ok(EXIT_OK)
        }
        Some(Command::Man) => {
            write_stdout(&docs::man()?)?;
            Ok(EXIT_OK)
        }
    }
}

impl ProbeArgs {
    fn limits(&self, started: Instant) -> Limits {
        Limits {
            timeout: self.timeout,
            deadline: started + self.deadline,
            concurrency: self.concurrency.map(usize::from),
        }
    }
}

/// `--out FILE`, checked before anything is probed: a missing folder or a
/// read-only place is exit 2 now, not after the whole run.
struct OutFile {
    path: std::path::PathBuf,
    created: bool,
}

impl OutFile {
    fn prepare(path: Option<&std::path::Path>) -> Result<Option<OutFile>> {
        let Some(path) = path else { return Ok(None) };
        let existed = path.exists();
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| anyhow!("--out {}: {e}", path.display()))?;
        Ok(Some(OutFile { path: path.to_path_buf(), created: !existed }))
    }

    /// A run that ends without a report leaves no empty file behind.
    fn discard(self) {
        if self.created {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn run_plan(args: PlanArgs) -> Result<u8> {
    let mut plan = assembly::load_target(&args.target.input())?.plan()?;
    Areas { skip: args.skip, only: Vec::new() }.filter_plan(&mut plan);
    write_stdout(&match args.output {
        PlanFormat::Json => crate::report::plan::json(&plan),
        PlanFormat::Text => crate::report::plan::text(&plan),
    })?;
    Ok(EXIT_OK)
}

fn run_check(args: CheckArgs, started: Instant) -> Result<u8> {
    let out = OutFile::prepare(args.output.out.as_deref())?;
    let result = check_with(args, started);
    if result.is_err()
        && let Some(out) = out
    {
        out.discard();
    }
    result
}

fn check_with(args: CheckArgs, started: Instant) -> Result<u8> {
    let loaded = assembly::load_target(&args.target.input())?;
    let net = args.network;
    if loaded.target.region.is_none() && loaded.target.workspace_id.is_none() {
        bail!(
            "no workspace named: give --workspace-json FILE (az ml workspace show -o json), or --workspace-id with --region; `amlnet demo` shows a check on a simulated network"
        );
    }
    let areas = Areas { skip: net.skip, only: net.only };
    let mut plan = loaded.plan()?;
    areas.filter_plan(&mut plan);
    if plan.endpoints.is_empty() {
        bail!("nothing to check: every catalogue entry was left out (see `amlnet plan`)");
    }
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let paths = MachinePaths { bashrc: net.bashrc, hosts_file: net.hosts_file, resolv_conf: net.resolv_conf };
    let machine = Machine::read(&paths, &env);
    let options = RunOptions {
        dns: (!net.dns_server.is_empty())
            .then(|| DnsChoice { servers: net.dns_server, source: "--dns-server".to_string() }),
        azure_dns: net.azure_dns,
        vnet_cidr: net.vnet_cidr,
        connect_to: net.connect_to,
        areas,
        trust: TrustSource { system: true, files: net.ca_file, pem: Vec::new() },
        loopback_only: net.loopback_only,
        limits: net.probe.limits(started),
    };
    let request = assembly::assemble(plan, &options, machine, HostInfo::detect())?;
    if args.output.verbose {
        for line in assembly::describe(&request) {
            crate::term::eprint_line(&format!("amlnet: {line}"));
        }
    }
    let progress = progress(request.plan.endpoints.len());
    let (report, interrupt) = crate::check::block_on(async {
        let interrupt = Interrupt::listen();
        (check(request, &interrupt).await, interrupt)
    })?;
    progress.finish_and_clear();
    let status = emit(&report?, &args.output)?;
    Ok(interrupt.exit_status().unwrap_or(status))
}

fn run_demo(args: DemoArgs, started: Instant) -> Result<u8> {
    if args.list {
        let rows: String = lab::scenarios().iter().map(|s| format!("{:<30} {}\n", s.name, s.summary)).collect();
        write_stdout(&rows)?;
        return Ok(EXIT_OK);
    }
    let scenario = lab::find(&args.scenario).ok_or_else(|| {
        let names: Vec<&str> = lab::scenarios().iter().map(|s| s.name.as_str()).collect();
        anyhow!("--scenario {}: no such scenario (one of: {})", args.scenario, names.join(", "))
    })?;
    let plan = assembly::demo_plan();
    let out = OutFile::prepare(args.output.out.as_deref())?;
    let limits = args.probe.limits(started);
    let result = crate::check::block_on(async {
        let interrupt = Interrupt::listen();
        let lab = Lab::start(scenario, &plan).await?;
        if std::io::stderr().is_terminal() {
            crate::term::eprint_line(&format!(
                "amlnet demo: scenario '{}' on a lab network at {} (loopback only)",
                scenario.name, lab.dns
            ));
        }
        let options = assembly::demo_options(&lab, &scenario.name, limits);
        let request = assembly::assemble(plan, &options, lab.machine(), HostInfo::detect())?;
        let report = check(request, &interrupt).await;
        drop(lab);
        report.map(|r| (r, interrupt))
    })?;
    let (report, interrupt) = match result {
        Ok(done) => done,
        Err(e) => {
            if let Some(out) = out {
                out.discard();
            }
            return Err(e);
        }
    };
    let status = emit(&report, &args.output)?;
    Ok(interrupt.exit_status().unwrap_or(status))
}

/// A spinner on stderr while probing; indicatif draws nothing when stderr
/// is not a terminal, so scripts and setup-script logs stay clean.
fn progress(endpoints: usize) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_message(format!("probing {endpoints} endpoints"));
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

fn emit(report: &Report, out: &OutputArgs) -> Result<u8> {
    let to_terminal = out.out.is_none() && std::io::stdout().is_terminal();
    let color = to_terminal && !out.no_color && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    colored::control::set_override(color);
    let text = report.render(out.output, color);
    for (format, path) in &out.save {
        std::fs::write(path, report.render(*format, false)).map_err(|e| anyhow!("--save {}: {e}", path.display()))?;
    }
    match &out.out {
        Some(path) => std::fs::write(path, text).map_err(|e| anyhow!("--out {}: {e}", path.display()))?,
        None => write_stdout(&text)?,
    }
    let failing = threshold(out.fail_on).is_some_and(|t| report.findings.iter().any(|f| f.severity <= t));
    Ok(if failing { EXIT_FINDINGS } else { EXIT_OK })
}

/// The lowest severity that fails the run; `None` for `--fail-on never`.
fn threshold(fail_on: FailOn) -> Option<Severity> {
    match fail_on {
        FailOn::Never => None,
        FailOn::Warning => Some(Severity::Warning),
        FailOn::Error => Some(Severity::Error),
    }
}

fn run_merge(args: MergeArgs) -> Result<u8> {
    let fleet = crate::fleet::merge::Fleet::load(&args.reports)?;
    write_stdout(&match args.output {
        MergeFormat::Text => fleet.text(),
        MergeFormat::Json => fleet.json(),
        MergeFormat::Markdown => fleet.markdown(),
    })?;
    let failing = threshold(args.fail_on).is_some_and(|t| fleet.worst().is_some_and(|w| w <= t));
    Ok(if failing { EXIT_FINDINGS } else { EXIT_OK })
}

fn run_job(args: JobArgs) -> Result<u8> {
    // The extra check flags must parse as `amlnet check` flags here, not on the cluster.
    let mut probe = vec!["amlnet".to_string(), "check".to_string()];
    probe.extend(args.check_args.iter().cloned());
    if let Err(e) = Cli::try_parse_from(&probe) {
        let first = e.to_string().lines().next().unwrap_or("bad flag").trim_start_matches("error: ").to_string();
        bail!("the check flags after --: {first}");
    }
    let spec = crate::fleet::job::JobSpec {
        compute: args.compute,
        nodes: args.nodes,
        binary: args.binary,
        environment: match args.environment {
            Some(env) => crate::fleet::job::Environment::Named(env),
            None => crate::fleet::job::Environment::Image(args.image),
        },
        distribution: args.distribution,
        experiment_name: args.experiment_name,
        target: args.target.input(),
        check_args: args.check_args,
    };
    let written = crate::fleet::job::write(&spec, &args.out_dir)?;
    write_stdout(&written.summary())?;
    Ok(EXIT_OK)
}

fn write_stdout(text: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(())
}
