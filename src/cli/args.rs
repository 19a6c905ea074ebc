//! The flags, as clap reads them: raw values only. `cli/mod.rs` turns them
//! into the settings the run takes.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use ipnet::IpNet;

use crate::assembly::{AreaName, TargetInput};
use crate::local;
use crate::probe::ConnectTo;
use crate::report::Format;
use crate::target::{Cloud, TargetFlags};

#[derive(Parser, Debug)]
#[command(
    name = "amlnet",
    version = crate::report::VERSION_LINE,
    about = "Checks whether this machine can use a network-isolated Azure Machine Learning workspace, and says why not.",
    long_about = None,
    args_conflicts_with_subcommands = true
)]
pub(super) struct Cli {
    #[command(subcommand)]
    pub(super) command: Option<Command>,
    #[command(flatten)]
    pub(super) check: CheckArgs,
}

#[derive(Subcommand, Debug)]
pub(super) enum Command {
    /// Run the diagnosis (the default command).
    Check(Box<CheckArgs>),
    /// Print what would be probed, sending no traffic.
    Plan(PlanArgs),
    /// Run a real check against a private network simulated on loopback.
    Demo(DemoArgs),
    /// Explain a finding code: cause, fix, documentation.
    Explain(ExplainArgs),
    /// Show what changed between two JSON reports (exit 1 when findings were added).
    Diff(DiffArgs),
    /// One fleet view of the JSON reports of several machines.
    Merge(MergeArgs),
    /// Write an Azure ML command job that runs `amlnet check` on every node of a cluster.
    Job(Box<JobArgs>),
    /// Print a shell completion script to standard output.
    Completions(CompletionsArgs),
    /// Print the man page (roff) to standard output.
    Man,
}

#[derive(Args, Debug, Clone, Default)]
pub(super) struct TargetArgs {
    /// Output of `az ml workspace show -o json` or `az resource show` ('-' for stdin).
    #[arg(long, value_name = "FILE", help_heading = "Target")]
    pub(super) workspace_json: Option<String>,
    /// Workspace GUID (properties.workspaceId).
    #[arg(long, value_name = "GUID", help_heading = "Target")]
    pub(super) workspace_id: Option<String>,
    /// Workspace name.
    #[arg(long, value_name = "NAME", help_heading = "Target")]
    pub(super) workspace_name: Option<String>,
    /// Region, e.g. eastus.
    #[arg(long, value_name = "REGION", help_heading = "Target")]
    pub(super) region: Option<String>,
    /// Storage account name (repeatable).
    #[arg(long = "storage", value_name = "ACCOUNT", help_heading = "Target")]
    pub(super) storage: Vec<String>,
    /// Key Vault name.
    #[arg(long, value_name = "NAME", help_heading = "Target")]
    pub(super) key_vault: Option<String>,
    /// Container registry name.
    #[arg(long, value_name = "NAME", help_heading = "Target")]
    pub(super) acr: Option<String>,
    /// Application Insights resource name (adds the Azure Monitor hosts).
    #[arg(long, value_name = "NAME", help_heading = "Target")]
    pub(super) app_insights: Option<String>,
    /// Compute instance name (adds its host names).
    #[arg(long, value_name = "NAME", help_heading = "Target")]
    pub(super) compute_instance: Option<String>,
    /// Azure cloud [default: public].
    #[arg(long, value_enum, help_heading = "Target")]
    pub(super) cloud: Option<Cloud>,
    /// Extra catalogue files (*.toml), merged with the built-in ones.
    #[arg(long, value_name = "DIR", help_heading = "Target")]
    pub(super) probes: Option<PathBuf>,
    /// A project's hub: the output of `az resource show --ids <hubResourceId> -o json`, for the storage, Key Vault and registry names the project uses.
    #[arg(long, value_name = "FILE", help_heading = "Target")]
    pub(super) hub_json: Option<PathBuf>,
}

impl TargetArgs {
    pub(super) fn input(&self) -> TargetInput {
        TargetInput {
            workspace_json: self.workspace_json.clone(),
            flags: TargetFlags {
                cloud: self.cloud,
                workspace_id: self.workspace_id.clone(),
                workspace_name: self.workspace_name.clone(),
                region: self.region.clone(),
                storage_accounts: self.storage.clone(),
                key_vault: self.key_vault.clone(),
                container_registry: self.acr.clone(),
                app_insights: self.app_insights.clone(),
                compute_instance: self.compute_instance.clone(),
            },
            probes: self.probes.clone(),
            hub_json: self.hub_json.clone(),
        }
    }
}

#[derive(Args, Debug, Clone)]
pub(super) struct ProbeArgs {
    /// Per-probe timeout.
    #[arg(long, value_name = "DUR", default_value = "3s", value_parser = crate::input::parse_timeout, help_heading = "Network")]
    pub(super) timeout: Duration,
    /// Deadline for the whole run.
    #[arg(long, value_name = "DUR", default_value = "30s", value_parser = crate::input::parse_deadline, help_heading = "Network")]
    pub(super) deadline: Duration,
    /// Probes in flight at once [default: from the open-files limit, up to 4096].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=16384), help_heading = "Network")]
    pub(super) concurrency: Option<u16>,
}

#[derive(Args, Debug, Clone)]
pub(super) struct NetworkArgs {
    /// Ask this DNS server instead of the system's (repeatable, in order).
    #[arg(long, value_name = "IP[:PORT]", value_parser = local::parse_dns_server, help_heading = "Network")]
    pub(super) dns_server: Vec<std::net::SocketAddr>,
    /// Read the system resolvers from this file [default: /etc/resolv.conf; on Windows the network adapters' DNS servers].
    #[arg(long, value_name = "FILE", help_heading = "Network")]
    pub(super) resolv_conf: Option<PathBuf>,
    /// What counts as inside the VNet (repeatable); default RFC 1918 and 100.64.0.0/10.
    #[arg(long, value_name = "CIDR", help_heading = "Network")]
    pub(super) vnet_cidr: Vec<IpNet>,
    /// Dial ADDR:PORT for HOST:PORT, keeping the name (curl's meaning; HOST may be a resolved address).
    #[arg(long, value_name = "HOST:PORT:ADDR:PORT", value_parser = |s: &str| s.parse::<ConnectTo>(), help_heading = "Network")]
    pub(super) connect_to: Vec<ConnectTo>,
    /// Skip an area (repeatable).
    #[arg(long, value_enum, value_name = "AREA", help_heading = "Network")]
    pub(super) skip: Vec<AreaName>,
    /// Run only these areas (repeatable).
    #[arg(long, value_enum, value_name = "AREA", conflicts_with = "skip", help_heading = "Network")]
    pub(super) only: Vec<AreaName>,
    /// Also trust the CA certificates in this PEM file (repeatable); the system
    /// store (SSL_CERT_FILE, SSL_CERT_DIR) is always used.
    #[arg(long, value_name = "FILE", help_heading = "Network")]
    pub(super) ca_file: Vec<PathBuf>,
    /// Read proxy variables from this shell startup file [default: $HOME/.bashrc; none on Windows].
    #[arg(long, value_name = "FILE", help_heading = "This machine")]
    pub(super) bashrc: Option<PathBuf>,
    /// Hosts file that may pin Azure names [default: /etc/hosts; on Windows %SystemRoot%\System32\drivers\etc\hosts].
    #[arg(long, value_name = "FILE", help_heading = "This machine")]
    pub(super) hosts_file: Option<PathBuf>,
    /// Azure DNS, asked too when the resolver is a custom one [default: 168.63.129.16].
    #[arg(long, value_name = "IP[:PORT]", value_parser = local::parse_dns_server, help_heading = "Network")]
    pub(super) azure_dns: Option<std::net::SocketAddr>,
    /// Never send a packet beyond loopback (for tests and demonstrations).
    #[arg(long, env = "AMLNET_LOOPBACK_ONLY", value_parser = clap::builder::FalseyValueParser::new(), help_heading = "Network")]
    pub(super) loopback_only: bool,
    #[command(flatten)]
    pub(super) probe: ProbeArgs,
}

#[derive(Args, Debug, Clone)]
pub(super) struct OutputArgs {
    /// Report format.
    #[arg(long, short = 'o', value_enum, default_value = "text", help_heading = "Output")]
    pub(super) output: Format,
    /// Write the report to FILE instead of standard output.
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub(super) out: Option<PathBuf>,
    /// No colour, even on a terminal (NO_COLOR does the same).
    #[arg(long, help_heading = "Output")]
    pub(super) no_color: bool,
    /// Tell on stderr what was read and decided before probing (secrets masked).
    #[arg(long, short = 'v', help_heading = "Output")]
    pub(super) verbose: bool,
    /// Lowest severity that makes the exit status 1.
    #[arg(long, value_enum, default_value = "error", help_heading = "Output")]
    pub(super) fail_on: FailOn,
    /// Also write the report as FORMAT to FILE (repeatable), e.g. --save json:report.json.
    #[arg(long, value_name = "FORMAT:FILE", value_parser = parse_save, help_heading = "Output")]
    pub(super) save: Vec<(Format, PathBuf)>,
}

fn parse_save(s: &str) -> Result<(Format, PathBuf), String> {
    let (format, file) =
        s.split_once(':').ok_or_else(|| format!("'{s}': expected FORMAT:FILE, e.g. json:report.json"))?;
    let format = Format::from_str(format, true)
        .map_err(|_| format!("'{s}': {format} is not a format (text, json, markdown, junit)"))?;
    if file.is_empty() {
        return Err(format!("'{s}': no file after the format"));
    }
    Ok((format, PathBuf::from(file)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum FailOn {
    Warning,
    Error,
    Never,
}

#[derive(Args, Debug, Clone)]
pub(super) struct CheckArgs {
    #[command(flatten)]
    pub(super) target: TargetArgs,
    #[command(flatten)]
    pub(super) network: NetworkArgs,
    #[command(flatten)]
    pub(super) output: OutputArgs,
}

#[derive(Args, Debug, Clone)]
pub(super) struct PlanArgs {
    #[command(flatten)]
    pub(super) target: TargetArgs,
    /// `text` or `json`.
    #[arg(long, short = 'o', value_enum, default_value = "text")]
    pub(super) output: PlanFormat,
    /// Leave out an area's endpoints (repos, vscode).
    #[arg(long, value_enum, value_name = "AREA")]
    pub(super) skip: Vec<AreaName>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum PlanFormat {
    Text,
    Json,
}

#[derive(Args, Debug, Clone)]
pub(super) struct DemoArgs {
    /// Which simulated network (`--list` shows them).
    #[arg(long, default_value = "healthy")]
    pub(super) scenario: String,
    /// List the scenarios and exit.
    #[arg(long)]
    pub(super) list: bool,
    #[command(flatten)]
    pub(super) probe: ProbeArgs,
    #[command(flatten)]
    pub(super) output: OutputArgs,
}

#[derive(Args, Debug, Clone)]
pub(super) struct ExplainArgs {
    /// A finding code, e.g. dns-public-answer; none lists them all.
    pub(super) code: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub(super) struct DiffArgs {
    /// The earlier JSON report.
    pub(super) old: PathBuf,
    /// The later JSON report.
    pub(super) new: PathBuf,
    /// `text` or `json`.
    #[arg(long, short = 'o', value_enum, default_value = "text")]
    pub(super) output: PlanFormat,
}

#[derive(Args, Debug, Clone)]
pub(super) struct MergeArgs {
    /// JSON reports (`amlnet check --output json`), one per machine.
    #[arg(required = true, value_name = "REPORT.json")]
    pub(super) reports: Vec<PathBuf>,
    /// `text`, `json` or `markdown`.
    #[arg(long, short = 'o', value_enum, default_value = "text")]
    pub(super) output: MergeFormat,
    /// Lowest severity, on any machine, that makes the exit status 1.
    #[arg(long, value_enum, default_value = "error")]
    pub(super) fail_on: FailOn,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum MergeFormat {
    Text,
    Json,
    Markdown,
}

#[derive(Args, Debug, Clone)]
pub(super) struct JobArgs {
    /// The compute cluster to run on (its name in the workspace).
    #[arg(long, value_name = "CLUSTER")]
    pub(super) compute: String,
    /// How many nodes: one amlnet per node.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub(super) nodes: u16,
    /// Where to write job.yml and code/ (created; an existing one must be empty or an earlier `amlnet job` output).
    #[arg(long, value_name = "DIR")]
    pub(super) out_dir: PathBuf,
    /// The Linux amlnet to ship [default: this executable].
    #[arg(long, value_name = "FILE")]
    pub(super) binary: Option<PathBuf>,
    /// Docker image the job runs in (any Linux image: amlnet is static).
    #[arg(long, value_name = "IMAGE", default_value = crate::fleet::job::DEFAULT_IMAGE, conflicts_with = "environment")]
    pub(super) image: String,
    /// An environment of the workspace instead of --image, e.g. azureml:my-env@latest.
    #[arg(long, value_name = "ENV")]
    pub(super) environment: Option<String>,
    /// How Azure ML starts one process per node.
    #[arg(long, value_enum, default_value = "pytorch")]
    pub(super) distribution: crate::fleet::job::Distribution,
    /// The job's experiment name.
    #[arg(long, value_name = "NAME", default_value = "amlnet-fleet")]
    pub(super) experiment_name: String,
    #[command(flatten)]
    pub(super) target: TargetArgs,
    /// More `amlnet check` flags for every node, after `--` (e.g. -- --vnet-cidr 10.0.0.0/16).
    #[arg(last = true, value_name = "CHECK FLAGS")]
    pub(super) check_args: Vec<String>,
}

#[derive(Args, Debug, Clone)]
pub(super) struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub(super) shell: clap_complete::Shell,
}
