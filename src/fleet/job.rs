//! `amlnet job`: writes an Azure ML CLI v2 command job that runs
//! `amlnet check` once on every node of a compute cluster, and copies the
//! executable beside it. Nothing is submitted: `az ml job create -f
//! DIR/job.yml` is the user's step.
//!
//! Microsoft's documentation this follows:
//! - the command job's YAML keys (`$schema`, `type: command`, `code`,
//!   `command`, `environment`, `compute: azureml:NAME`,
//!   `resources.instance_count`, `distribution`):
//!   <https://learn.microsoft.com/azure/machine-learning/reference-yaml-job-command>,
//!   whose source JSON schema is
//!   <https://azuremlschemas.azureedge.net/latest/commandJob.schema.json>;
//! - one process per node: a `pytorch` (or `mpi`) distribution with
//!   `process_count_per_instance: 1` makes Azure ML launch that many
//!   processes on each of the `instance_count` nodes and sets `NODE_RANK`
//!   (Open MPI: `OMPI_COMM_WORLD_RANK`) in each:
//!   <https://learn.microsoft.com/azure/machine-learning/how-to-train-distributed-gpu>;
//! - files a job writes to `./outputs` are uploaded with the job and come
//!   back with `az ml job download --all`:
//!   <https://learn.microsoft.com/cli/azure/ml/job#az-ml-job-download>.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};

use crate::assembly::{self, TargetInput};

/// A plain Ubuntu image from Microsoft's registry (amlnet is static, any
/// Linux image does; it has Open MPI for `--distribution mpi`).
pub const DEFAULT_IMAGE: &str = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest";

/// The `$schema` of a command job.
pub const SCHEMA_URL: &str = "https://azuremlschemas.azureedge.net/latest/commandJob.schema.json";

/// The first line of every job.yml amlnet writes (a rerun may replace it).
const MARK: &str = "# Written by amlnet job";

/// What the job runs in.
#[derive(Debug, Clone, PartialEq)]
pub enum Environment {
    /// An inline environment from a Docker image.
    Image(String),
    /// An environment of the workspace (`azureml:NAME@latest`, `azureml:NAME:VERSION`).
    Named(String),
}

/// How Azure ML starts one process per node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Distribution {
    /// `type: pytorch`: Azure ML sets NODE_RANK itself; no library needed in the image.
    Pytorch,
    /// `type: mpi`: Azure ML runs mpirun; the image needs an MPI library.
    Mpi,
}

/// Everything `amlnet job` was given.
#[derive(Debug, Clone)]
pub struct JobSpec {
    /// The compute cluster's name.
    pub compute: String,
    /// Nodes, one amlnet each.
    pub nodes: u16,
    /// The executable to ship; `None` for this one.
    pub binary: Option<PathBuf>,
    /// Image or named environment.
    pub environment: Environment,
    /// How one process per node is started.
    pub distribution: Distribution,
    /// The experiment the job is filed under.
    pub experiment_name: String,
    /// Target flags, forwarded to `amlnet check` on every node.
    pub target: TargetInput,
    /// More `amlnet check` flags, already checked to parse.
    pub check_args: Vec<String>,
}

/// What was written.
#[derive(Debug, Clone)]
pub struct Written {
    /// DIR/job.yml.
    pub job_yml: PathBuf,
    /// DIR/code.
    pub code: PathBuf,
    /// The check command line every node runs.
    pub check: String,
    /// Said to the user after the files.
    pub notes: Vec<String>,
}

impl Written {
    /// What to do next, for the terminal.
    pub fn summary(&self) -> String {
        let mut out =
            format!("wrote {}\nwrote {}/ (amlnet and its inputs)\n", self.job_yml.display(), self.code.display());
        out.push_str(&format!("every node runs: {}\n", self.check));
        for n in &self.notes {
            out.push_str(&format!("note: {n}\n"));
        }
        out.push_str(&format!(
            "next:\n  az ml job create -f {} --resource-group <rg> --workspace-name <workspace>\n  \
             az ml job download --name <job name> --all --download-path fleet\n  \
             amlnet merge fleet/artifacts/outputs/*.json\n",
            self.job_yml.display()
        ));
        out
    }
}

/// A value for the YAML file, double-quoted.
fn yaml_str(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A word for `sh`, single-quoted unless it is plainly safe.
pub fn sh_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | ':' | '=' | '@' | ','));
    if plain { s.to_string() } else { format!("'{}'", s.replace('\'', "'\\''")) }
}

fn no_control(what: &str, s: &str) -> Result<()> {
    if s.chars().any(char::is_control) {
        bail!("{what}: contains a control character");
    }
    Ok(())
}

/// Azure ML compute names: a letter, then letters, digits and hyphens (2 to 32 characters here).
fn check_compute(name: &str) -> Result<()> {
    let name = name.strip_prefix("azureml:").unwrap_or(name);
    let ok = (2..=32).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !ok {
        bail!("--compute {name}: not a compute name (a letter, then letters, digits and hyphens)");
    }
    Ok(())
}

/// The out dir must be new, empty, or one amlnet wrote before.
fn prepare_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        if !dir.is_dir() {
            bail!("--out-dir {}: exists and is not a directory", dir.display());
        }
        let mut entries = std::fs::read_dir(dir).map_err(|e| anyhow!("--out-dir {}: {e}", dir.display()))?;
        if entries.next().is_some() {
            let ours = std::fs::read_to_string(dir.join("job.yml")).is_ok_and(|t| t.starts_with(MARK));
            if !ours {
                bail!("--out-dir {}: not empty (give a new directory)", dir.display());
            }
            let _ = std::fs::remove_dir_all(dir.join("code"));
        }
    }
    std::fs::create_dir_all(dir.join("code")).map_err(|e| anyhow!("--out-dir {}: {e}", dir.display()))?;
    Ok(())
}

fn copy_executable(from: &Path, to: &Path) -> Result<()> {
    std::fs::copy(from, to).map_err(|e| anyhow!("--binary {}: {e}", from.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("cannot make {} executable", to.display()))?;
    }
    Ok(())
}

/// The flags that name the target, with paths rewritten to the copies in code/.
fn target_flags(spec: &JobSpec, code: &Path) -> Result<Vec<String>> {
    let mut args = Vec::new();
    if let Some(json) = &spec.target.workspace_json {
        let text = if json == "-" {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).context("--workspace-json -: cannot read standard input")?;
            text
        } else {
            std::fs::read_to_string(json).map_err(|e| anyhow!("--workspace-json {json}: {e}"))?
        };
        std::fs::write(code.join("workspace.json"), text)?;
        args.extend(["--workspace-json".to_string(), "workspace.json".to_string()]);
    }
    if let Some(hub) = &spec.target.hub_json {
        std::fs::copy(hub, code.join("hub.json")).map_err(|e| anyhow!("--hub-json {}: {e}", hub.display()))?;
        args.extend(["--hub-json".to_string(), "hub.json".to_string()]);
    }
    if let Some(dir) = &spec.target.probes {
        let to = code.join("probes");
        std::fs::create_dir_all(&to)?;
        for entry in std::fs::read_dir(dir).map_err(|e| anyhow!("--probes {}: {e}", dir.display()))? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "toml") {
                std::fs::copy(&path, to.join(path.file_name().unwrap_or_default()))
                    .map_err(|e| anyhow!("--probes {}: {e}", path.display()))?;
            }
        }
        args.extend(["--probes".to_string(), "probes".to_string()]);
    }
    let f = &spec.target.flags;
    let mut flag = |name: &str, value: &Option<String>| {
        if let Some(v) = value {
            args.extend([name.to_string(), v.clone()]);
        }
    };
    flag("--workspace-id", &f.workspace_id);
    flag("--workspace-name", &f.workspace_name);
    flag("--region", &f.region);
    flag("--key-vault", &f.key_vault);
    flag("--acr", &f.container_registry);
    flag("--app-insights", &f.app_insights);
    flag("--compute-instance", &f.compute_instance);
    for s in &f.storage_accounts {
        args.extend(["--storage".to_string(), s.clone()]);
    }
    if let Some(cloud) = f.cloud {
        use clap::ValueEnum;
        if let Some(v) = cloud.to_possible_value() {
            args.extend(["--cloud".to_string(), v.get_name().to_string()]);
        }
    }
    Ok(args)
}

/// The shell command every node runs: POSIX sh, one statement a line, each
/// ending in `;`, so that it means the same however the lines are joined.
/// The node's reports are written whatever amlnet's exit status; the job
/// itself always succeeds so that one node's findings stop no other node.
pub fn node_command(check_args: &[String]) -> String {
    let args: Vec<String> = check_args.iter().map(|a| sh_quote(a)).collect();
    let check = if args.is_empty() { String::new() } else { format!(" {}", args.join(" ")) };
    [
        "node=\"node-${NODE_RANK:-${OMPI_COMM_WORLD_RANK:-0}}\";".to_string(),
        "mkdir -p outputs;".to_string(),
        "chmod +x ./amlnet;".to_string(),
        format!(
            "./amlnet check{check} --no-color --save \"json:outputs/$node.json\" --save \"markdown:outputs/$node.md\";"
        ),
        "status=$?;".to_string(),
        "echo \"$status\" > \"outputs/$node.exit\";".to_string(),
        "echo \"amlnet on $node ($(hostname)): exit status $status\";".to_string(),
        "exit 0;".to_string(),
    ]
    .join("\n")
}

/// The job.yml text.
pub fn job_yaml(spec: &JobSpec, check_args: &[String]) -> String {
    let compute = spec.compute.strip_prefix("azureml:").unwrap_or(&spec.compute);
    let mut y = String::new();
    y.push_str(&format!("{MARK} {}.\n", crate::report::VERSION_LINE));
    y.push_str("# Submit: az ml job create -f job.yml --resource-group <rg> --workspace-name <workspace>\n");
    y.push_str("# Keys: https://learn.microsoft.com/azure/machine-learning/reference-yaml-job-command\n");
    y.push_str("# One process per node (distribution, process_count_per_instance: 1):\n");
    y.push_str("#   https://learn.microsoft.com/azure/machine-learning/how-to-train-distributed-gpu\n");
    y.push_str(&format!("$schema: {SCHEMA_URL}\n"));
    y.push_str("type: command\n");
    y.push_str(&format!("display_name: {}\n", yaml_str(&format!("amlnet check on {} nodes of {compute}", spec.nodes))));
    y.push_str(&format!("experiment_name: {}\n", yaml_str(&spec.experiment_name)));
    y.push_str(
        "description: \"amlnet check once on every node; reports in outputs/node-<rank>.json and .md, \
         the exit status in outputs/node-<rank>.exit\"\n",
    );
    y.push_str("code: code\n");
    y.push_str("command: |\n");
    for line in node_command(check_args).lines() {
        y.push_str(&format!("  {line}\n"));
    }
    match &spec.environment {
        Environment::Image(image) => y.push_str(&format!("environment:\n  image: {}\n", yaml_str(image))),
        Environment::Named(name) => y.push_str(&format!("environment: {}\n", yaml_str(name))),
    }
    y.push_str(&format!("compute: {}\n", yaml_str(&format!("azureml:{compute}"))));
    y.push_str(&format!("resources:\n  instance_count: {}\n", spec.nodes));
    let kind = match spec.distribution {
        Distribution::Pytorch => "pytorch",
        Distribution::Mpi => "mpi",
    };
    y.push_str(&format!("distribution:\n  type: {kind}\n  process_count_per_instance: 1\n"));
    y
}

/// Checks the inputs, then writes DIR/job.yml and DIR/code/.
pub fn write(spec: &JobSpec, dir: &Path) -> Result<Written> {
    check_compute(&spec.compute)?;
    no_control("--experiment-name", &spec.experiment_name)?;
    match &spec.environment {
        Environment::Image(i) if i.is_empty() || i.contains(char::is_whitespace) => {
            bail!("--image {i:?}: not an image reference")
        }
        Environment::Image(i) => no_control("--image", i)?,
        Environment::Named(n) => no_control("--environment", n)?,
    }
    for a in &spec.check_args {
        no_control("the check flags after --", a)?;
    }
    let binary = match &spec.binary {
        Some(b) => b.clone(),
        None if cfg!(windows) => bail!("--binary: give the Linux amlnet to ship (this one is a Windows program)"),
        None => std::env::current_exe().context("cannot find this executable; give --binary")?,
    };
    if !binary.is_file() {
        bail!("--binary {}: not a file", binary.display());
    }
    // Bad target input fails here, before anything is written.
    if spec.target.workspace_json.as_deref() != Some("-") {
        assembly::load_target(&spec.target)?;
    }
    prepare_dir(dir)?;
    let code = dir.join("code");
    copy_executable(&binary, &code.join("amlnet"))?;
    let mut args = target_flags(spec, &code)?;
    if spec.target.workspace_json.as_deref() == Some("-") {
        let mut copy = spec.target.clone();
        copy.workspace_json = Some(code.join("workspace.json").display().to_string());
        copy.probes = spec.target.probes.clone();
        assembly::load_target(&copy)?;
    }
    let mut notes = Vec::new();
    if args.is_empty() {
        notes.push(
            "no target flags: each node finds the workspace in its environment (MLFLOW_TRACKING_URI, which Azure ML sets in a job)"
                .to_string(),
        );
    }
    const FILE_FLAGS: [&str; 5] = ["--ca-file", "--resolv-conf", "--bashrc", "--hosts-file", "--out"];
    let names_a_file = |a: &String| FILE_FLAGS.iter().any(|f| a == f || a.starts_with(&format!("{f}=")));
    if spec.check_args.iter().any(names_a_file) {
        notes.push(
            "file paths after -- are used as given on the node; files are not copied (put them in code/)".to_string(),
        );
    }
    args.extend(spec.check_args.iter().cloned());
    let yaml = job_yaml(spec, &args);
    let job_yml = dir.join("job.yml");
    std::fs::write(&job_yml, yaml).map_err(|e| anyhow!("{}: {e}", job_yml.display()))?;
    let check = format!("amlnet check {}", args.iter().map(|a| sh_quote(a)).collect::<Vec<_>>().join(" "));
    Ok(Written { job_yml, code, check: check.trim_end().to_string(), notes })
}
