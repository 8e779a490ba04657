//! Stopping on Ctrl-C (SIGINT) or SIGTERM.
//!
//! The first signal asks the running command to stop: it finishes what it is doing, flushes
//! its output and exits with `128 + signal number` (130 for Ctrl-C, 143 for SIGTERM), as
//! shells do. A second signal exits at once, for when stopping cleanly hangs (e.g. on a
//! blocked write to a pipe nobody reads).

use std::process::ExitCode;

use tokio::sync::watch;

/// A signal that asks the process to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT, Ctrl-C.
    Interrupt,
    /// SIGTERM, e.g. from `kill` or a service manager.
    Terminate,
}

impl Signal {
    /// `128 + signal number`, the exit status shells report for a process killed by it.
    pub fn exit_status(self) -> u8 {
        match self {
            Self::Interrupt => 130,
            Self::Terminate => 143,
        }
    }

    /// [`exit_status`](Self::exit_status) as an [`ExitCode`].
    pub fn exit_code(self) -> ExitCode {
        ExitCode::from(self.exit_status())
    }
}

/// A handle that reports the first stop signal; cheap to clone.
#[derive(Debug, Clone)]
pub struct Shutdown {
    received: watch::Receiver<Option<Signal>>,
}

impl Shutdown {
    /// Starts listening for signals. Call it inside the tokio runtime, once.
    pub fn install() -> Self {
        let (sender, received) = watch::channel(None);
        tokio::spawn(async move {
            let mut signals = match Signals::new() {
                Ok(signals) => signals,
                Err(error) => {
                    tracing::warn!("cannot listen for Ctrl-C / SIGTERM: {error}");
                    return;
                }
            };
            let first = signals.next().await;
            sender.send_replace(Some(first));
            let second = signals.next().await;
            std::process::exit(second.exit_status().into());
        });
        Self { received }
    }

    /// Waits for the first stop signal (immediately when it already came).
    ///
    /// # Cancel safety
    /// Cancel safe: it only watches a channel.
    pub async fn requested(&self) -> Signal {
        let mut received = self.received.clone();
        match received.wait_for(Option::is_some).await {
            Ok(signal) => signal.unwrap_or(Signal::Interrupt),
            // The listener is gone (it could not install its handlers): no signal will come.
            Err(_) => std::future::pending().await,
        }
    }
}

/// The OS signal streams.
struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    #[cfg(unix)]
    fn new() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    #[cfg(unix)]
    async fn next(&mut self) -> Signal {
        tokio::select! {
            _ = self.interrupt.recv() => Signal::Interrupt,
            _ = self.terminate.recv() => Signal::Terminate,
        }
    }

    #[cfg(not(unix))]
    fn new() -> std::io::Result<Self> {
        Ok(Self {})
    }

    #[cfg(not(unix))]
    async fn next(&mut self) -> Signal {
        match tokio::signal::ctrl_c().await {
            Ok(()) => Signal::Interrupt,
            Err(_) => std::future::pending().await,
        }
    }
}
