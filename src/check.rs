//! One whole run: plan in, report out (run -> diagnose -> report). Shared
//! by `amlnet check` and `amlnet demo`, so the demo exercises the real path.

use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, anyhow};

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

/// How long the runtime's threads are waited for once the work is done.
pub const SHUTDOWN_WAIT: Duration = Duration::from_millis(250);

/// Runs `work` on a fresh multi-threaded runtime, then shuts it down
/// waiting at most [`SHUTDOWN_WAIT`]: dropping a runtime waits without
/// limit for its threads, so one thread stuck in a blocking call or in a
/// poll that never returns would keep the process alive after the report.
pub fn block_on<T>(work: impl std::future::Future<Output = T>) -> Result<T> {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")?;
    let out = runtime.block_on(work);
    runtime.shutdown_timeout(SHUTDOWN_WAIT);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    #[test]
    fn a_stuck_thread_does_not_keep_the_runtime() {
        let started = Instant::now();
        let out = super::block_on(async {
            // A task that blocks its worker and never yields, as a poll that never returns does.
            tokio::spawn(async { std::thread::sleep(Duration::from_secs(5)) });
            tokio::task::yield_now().await;
            7
        })
        .unwrap();
        assert_eq!(out, 7);
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    }
}
