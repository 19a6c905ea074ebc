//! Ctrl-C and SIGTERM. The first stops probing so that the partial report
//! is still written (unfinished checks marked as interrupted) and the exit
//! status says which signal came (130, 143); the second ends the process at
//! once. A support engineer who gives up on a slow run still has a report.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use tokio::sync::watch;

/// Exit status after SIGINT (128 + 2).
pub const EXIT_SIGINT: u8 = 130;
/// Exit status after SIGTERM (128 + 15).
pub const EXIT_SIGTERM: u8 = 143;

/// The signal state of a run.
#[derive(Debug, Clone)]
pub struct Interrupt {
    stop: watch::Receiver<bool>,
    status: Arc<AtomicU8>,
}

impl Interrupt {
    /// Starts listening; must be called inside a tokio runtime.
    pub fn listen() -> Interrupt {
        let (tx, stop) = watch::channel(false);
        let status = Arc::new(AtomicU8::new(0));
        let seen = status.clone();
        tokio::spawn(async move {
            let Some(first) = next_signal().await else { return };
            seen.store(first, Ordering::SeqCst);
            let _ = tx.send(true);
            if let Some(second) = next_signal().await {
                std::process::exit(i32::from(second));
            }
        });
        Interrupt { stop, status }
    }

    /// Resolves when the first signal has come; never otherwise.
    pub async fn stopped(&self) {
        let mut stop = self.stop.clone();
        if stop.wait_for(|s| *s).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// The exit status the signal asks for, once one came.
    pub fn exit_status(&self) -> Option<u8> {
        match self.status.load(Ordering::SeqCst) {
            0 => None,
            s => Some(s),
        }
    }
}

#[cfg(unix)]
async fn next_signal() -> Option<u8> {
    use tokio::signal::unix::{SignalKind, signal};
    // Registered once per call; a registration that fails leaves the default action.
    let mut int = signal(SignalKind::interrupt()).ok()?;
    let mut term = signal(SignalKind::terminate()).ok()?;
    tokio::select! {
        _ = int.recv() => Some(EXIT_SIGINT),
        _ = term.recv() => Some(EXIT_SIGTERM),
    }
}

#[cfg(not(unix))]
async fn next_signal() -> Option<u8> {
    tokio::signal::ctrl_c().await.ok().map(|_| EXIT_SIGINT)
}
