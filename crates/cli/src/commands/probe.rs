//! `sse-connector probe ready|live`: the exec probes of Kubernetes and of AIO's connector
//! metadata (`imageConfigurationSettings.readinessProbe`), answered from a heartbeat file.
//!
//! A running `run` keeps `STATE_DIR/heartbeat.json` ([`Heartbeat`]): written every
//! [`INTERVAL`] from the moment its first plan is applied and its HTTP listener is up, it says
//! when it was written and whether the connector is ready (connected to the broker, the check
//! of `GET /readyz`) or why not; it is removed when `run` stops. A file is written by a
//! tokio task, so a runtime that no longer runs its tasks stops refreshing it, and a
//! process killed with SIGKILL leaves a file that goes stale after [`STALE_AFTER`].
//!
//! - `live`: the file exists and is fresh.
//! - `ready`: the same, and the connector said it was ready.
//!
//! One line says why; exit status 0 when the check passes, 1 otherwise. The probe takes
//! `run`'s options and environment and finds the state directory the way `run` does (the
//! option, `SSE_CONNECTOR_STATE_DIR`, the config file, or in Akri mode the first persistent
//! volume), so a probe defined next to the container's arguments needs no more than they.
//!
//! Why a file and not the HTTP listener: the listener may be off, bound to an address the
//! probe cannot guess, or behind a token; the state directory is always there, and writing
//! a few bytes every two seconds costs nothing.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use serde::{Deserialize, Serialize};

use crate::commands::run::RunArgs;

/// How often a running connector rewrites its heartbeat file.
pub const INTERVAL: Duration = Duration::from_secs(2);

/// A heartbeat older than this is from a connector that stopped or no longer runs its
/// tasks: several missed writes, and still well inside Kubernetes' default probe tolerance
/// (three failures ten seconds apart).
pub const STALE_AFTER: Duration = Duration::from_secs(15);

/// The heartbeat file's name in the state directory.
const FILE_NAME: &str = "heartbeat.json";

/// Arguments of `probe`.
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// What to check: `live` (the connector runs and its runtime answers) or `ready` (also
    /// connected to its broker)
    #[arg(value_enum)]
    check: Check,

    /// The options of `run`, of which the probe uses those that find the state directory
    #[command(
        flatten,
        next_help_heading = "Options of run (to find the state directory)"
    )]
    run: RunArgs,
}

/// What a probe checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Check {
    /// The connector runs: its heartbeat is fresh.
    Live,
    /// The connector runs and is ready: connected to its broker.
    Ready,
}

/// What the heartbeat file holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Beat {
    /// When it was written, in milliseconds since the Unix epoch.
    at: u64,
    /// Whether the connector was ready then.
    ready: bool,
    /// Why it was not ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

/// `STATE_DIR/heartbeat.json`.
pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join(FILE_NAME)
}

/// Checks the heartbeat and prints why it passes (standard output) or fails (standard
/// error).
///
/// # Errors
/// When `run`'s options do not resolve (the same error `run` would report).
pub fn run(args: &ProbeArgs) -> anyhow::Result<ExitCode> {
    let state_dir = args.run.settings()?.state_dir;
    let file = path(&state_dir);
    let verdict = match std::fs::read(&file) {
        Ok(bytes) => match serde_json::from_slice::<Beat>(&bytes) {
            Ok(beat) => judge(args.check, &beat, now_millis()),
            Err(error) => Err(format!(
                "the heartbeat file {} is not valid: {error}",
                file.display()
            )),
        },
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Err(format!(
            "not running: no heartbeat file {} (the connector has not started, or stopped)",
            file.display()
        )),
        Err(error) => Err(format!("cannot read {}: {error}", file.display())),
    };
    Ok(match verdict {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(line) => {
            eprintln!("{line}");
            ExitCode::FAILURE
        }
    })
}

/// The verdict of `check` on `beat` at `now` (milliseconds since the epoch): the line to
/// print, `Ok` when the check passes. A heartbeat from the future (clocks set back) counts
/// as fresh.
fn judge(check: Check, beat: &Beat, now: u64) -> Result<String, String> {
    let age = Duration::from_millis(now.saturating_sub(beat.at));
    if age > STALE_AFTER {
        return Err(format!(
            "not live: last heartbeat {} s ago (the connector stopped or is stuck)",
            age.as_secs()
        ));
    }
    match check {
        Check::Live => Ok(format!("live: heartbeat {} s ago", age.as_secs())),
        Check::Ready if beat.ready => Ok("ready".to_owned()),
        Check::Ready => Err(format!(
            "not ready: {}",
            beat.reason.as_deref().unwrap_or("no reason given")
        )),
    }
}

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The heartbeat of a running connector: rewrites the file every [`INTERVAL`] while it
/// lives, and removes it when dropped (at the end of `run`, or when `run` fails).
pub struct Heartbeat {
    /// The file, until the drop takes it: the writer writes only while it is there, under
    /// this lock, so no write can land after the removal.
    file: Arc<Mutex<Option<PathBuf>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Heartbeat {
    /// Writes the first heartbeat now and starts the task that keeps it; `readiness` says
    /// whether the connector is ready, as `/readyz` does.
    pub fn start(state_dir: &Path, readiness: Arc<dyn api::Readiness>) -> Self {
        let file = Arc::new(Mutex::new(Some(path(state_dir))));
        let shared = file.clone();
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(INTERVAL);
            let mut failing = false;
            loop {
                ticks.tick().await;
                let reason = readiness.not_ready();
                let beat = Beat {
                    at: now_millis(),
                    ready: reason.is_none(),
                    reason,
                };
                let guard = shared.lock().unwrap_or_else(PoisonError::into_inner);
                let Some(file) = guard.as_ref() else { return };
                match write(file, &beat) {
                    Ok(()) => failing = false,
                    // Once per failure streak: the next write may well succeed.
                    Err(error) if !failing => {
                        failing = true;
                        tracing::warn!("{error:#}; `probe live|ready` will fail");
                    }
                    Err(_) => {}
                }
            }
        });
        Self { file, task }
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.task.abort();
        let taken = self
            .file
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(file) = taken
            && let Err(error) = std::fs::remove_file(&file)
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(file = %file.display(), %error, "cannot remove the heartbeat file");
        }
    }
}

/// Replaces `file` with `beat`: a temporary file beside it, renamed over it. Not synced: a
/// heartbeat lost in a crash is what a crash should look like.
fn write(file: &Path, beat: &Beat) -> anyhow::Result<()> {
    let tmp = file.with_file_name(format!(".{FILE_NAME}.tmp"));
    let bytes = serde_json::to_vec(beat).context("cannot encode the heartbeat")?;
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, file))
        .with_context(|| format!("cannot write the heartbeat file {}", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_000_000_000;

    fn beat(age: Duration, ready: bool, reason: Option<&str>) -> Beat {
        Beat {
            at: NOW - u64::try_from(age.as_millis()).unwrap_or(0),
            ready,
            reason: reason.map(str::to_owned),
        }
    }

    #[test]
    fn verdicts() {
        let fresh = Duration::from_secs(3);
        let stale = STALE_AFTER + Duration::from_millis(1);
        let reason = Some("not connected to the MQTT broker");
        let cases = [
            (
                Check::Live,
                beat(fresh, true, None),
                Ok("live: heartbeat 3 s ago"),
            ),
            (
                Check::Live,
                beat(fresh, false, reason),
                Ok("live: heartbeat 3 s ago"),
            ),
            (Check::Ready, beat(fresh, true, None), Ok("ready")),
            (
                Check::Ready,
                beat(fresh, false, reason),
                Err("not ready: not connected to the MQTT broker"),
            ),
            (
                Check::Ready,
                beat(fresh, false, None),
                Err("not ready: no reason given"),
            ),
            (Check::Ready, beat(STALE_AFTER, true, None), Ok("ready")),
            (
                Check::Live,
                beat(stale, true, None),
                Err("not live: last heartbeat 15 s ago (the connector stopped or is stuck)"),
            ),
            (
                Check::Ready,
                beat(stale, true, None),
                Err("not live: last heartbeat 15 s ago (the connector stopped or is stuck)"),
            ),
        ];
        for (check, beat, expected) in cases {
            let expected = expected.map(str::to_owned).map_err(str::to_owned);
            assert_eq!(judge(check, &beat, NOW), expected, "{check:?} {beat:?}");
        }
    }

    #[test]
    fn a_heartbeat_from_the_future_is_fresh() {
        let beat = Beat {
            at: NOW + 60_000,
            ready: true,
            reason: None,
        };
        assert_eq!(
            judge(Check::Live, &beat, NOW),
            Ok("live: heartbeat 0 s ago".to_owned())
        );
    }

    #[test]
    fn the_file_round_trips() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let file = path(dir.path());
        let written = beat(Duration::ZERO, false, Some("why"));
        write(&file, &written).expect("the heartbeat is written");
        let text = std::fs::read_to_string(&file).expect("the heartbeat is read");
        assert_eq!(
            text,
            format!(r#"{{"at":{NOW},"ready":false,"reason":"why"}}"#)
        );
        assert_eq!(serde_json::from_str::<Beat>(&text).ok(), Some(written));
    }
}
