//! One whole run: plan in, report out (run -> diagnose -> report). Shared
//! by `amlnet check` and `amlnet demo`, so the demo exercises the real path.

use std::time::{Instant, SystemTime};

use anyhow::{Result, anyhow};

use crate::diagnose::{self, DiagnoseSettings};
use crate::interrupt::Interrupt;
use crate::local::HostInfo;
use crate::plan::Plan;
use crate::probe::{self, RunSettings};
use crate::report::{Environment, Report, SCHEMA_VERSION, Tool};

/// Everything a run needs, already validated.
#[derive(Debug, Clone)]
pub struct CheckRequest {
    /// What to probe.
    pub plan: Plan,
    /// How to probe it.
    pub run: RunSettings,
    /// How to judge it.
    pub diagnose: DiagnoseSettings,
    /// This machine's setup, read before the run.
    pub environment: Environment,
    /// This machine's identity.
    pub host: HostInfo,
}

/// Probes, diagnoses and assembles the report; on an interrupt, the report
/// of what finished.
pub async fn check(request: CheckRequest, interrupt: &Interrupt) -> Result<Report> {
    let started_at = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let clock = Instant::now();
    let observations = probe::run(&request.plan, &request.run, interrupt).await.map_err(|e| anyhow!(e))?;
    let diagnosis = diagnose::diagnose(&request.plan, &observations, &request.diagnose);
    let mut environment = request.environment;
    environment.address_rule = Some(request.diagnose.policy.rule());
    let summary = Report::summarise(&diagnosis.findings, &diagnosis.checks);
    Ok(Report {
        schema_version: SCHEMA_VERSION,
        tool: Tool::default(),
        started_at,
        duration_ms: clock.elapsed().as_millis() as u64,
        host: request.host,
        target: request.plan.target.clone(),
        omitted: request.plan.omitted.clone(),
        environment,
        checks: diagnosis.checks,
        findings: diagnosis.findings,
        summary,
    })
}
