//! Status files under the state directory, each written atomically (a temporary file, synced,
//! renamed), so a reader sees the previous or the next version, never a part:
//!
//! ```text
//! STATE_DIR/status/status.json          the whole StatusReport
//! STATE_DIR/status/devices/NAME.json    one device's {status, health}
//! STATE_DIR/status/assets/NAME.json     one asset's {status, health}
//! ```
//!
//! [`spawn_writer`] keeps them current while the connector runs: within a second of a change
//! of state (a plan applied, a stream's state, an operation's schema; checked without
//! building anything), and every [`REWRITE_INTERVAL`] otherwise, which refreshes the counters
//! and `generatedAt` (so a reader can tell whether the connector still runs). The report is
//! built only when it is written: with 10,000 streams it is several megabytes.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::board::StatusBoard;
use crate::report::StatusReport;

/// How often the writer looks for changes.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(1);
/// The longest time between two writes while the connector runs.
pub const REWRITE_INTERVAL: Duration = Duration::from_secs(30);

/// Why status files could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be written.
    #[error("cannot write the status file {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: registry::Error,
    },
    /// The status file could not be read.
    #[error("cannot read the status file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The status file does not hold a status report.
    #[error("the status file {} is not a status report: {source}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What the JSON reader said.
        #[source]
        source: serde_json::Error,
    },
}

/// `STATE_DIR/status`.
pub fn directory(state_dir: &Path) -> PathBuf {
    state_dir.join("status")
}

/// `STATE_DIR/status/status.json`.
pub fn report_path(state_dir: &Path) -> PathBuf {
    directory(state_dir).join("status.json")
}

/// Writes every status file of `report`, and removes the files of devices and assets that
/// are gone.
///
/// # Errors
/// [`Error::Write`] when a file or directory cannot be written.
pub fn write(state_dir: &Path, report: &StatusReport) -> Result<(), Error> {
    let dir = directory(state_dir);
    let resources = [
        (
            "devices",
            report
                .devices
                .iter()
                .map(|d| {
                    (
                        d.name.as_str(),
                        serde_json::json!({"status": d.status, "health": d.health}),
                    )
                })
                .collect::<Vec<_>>(),
        ),
        (
            "assets",
            report
                .assets
                .iter()
                .map(|a| {
                    (
                        a.name.as_str(),
                        serde_json::json!({"status": a.status, "health": a.health}),
                    )
                })
                .collect(),
        ),
    ];
    for (kind, files) in resources {
        let kind_dir = dir.join(kind);
        let mut kept = BTreeSet::new();
        for (name, value) in files {
            // Names are Kubernetes names (validated), but never trust them with a path.
            if name.is_empty() || name.contains(['/', '\\', '\0']) || name.starts_with('.') {
                continue;
            }
            let file = format!("{name}.json");
            put(&kind_dir.join(&file), &value)?;
            kept.insert(file);
        }
        if let Ok(entries) = std::fs::read_dir(&kind_dir) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.ends_with(".json") && !kept.contains(&name) {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
    }
    put(&dir.join("status.json"), report)
}

fn put(path: &Path, value: &impl serde::Serialize) -> Result<(), Error> {
    let mut bytes = serde_json::to_vec_pretty(value).unwrap_or_default();
    bytes.push(b'\n');
    registry::write::atomic_write(path, &bytes, false).map_err(|source| Error::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads `STATE_DIR/status/status.json`.
///
/// # Errors
/// [`Error::Read`] when the file cannot be read (the connector never ran with this state
/// directory), [`Error::Format`] when it holds something else.
pub fn read(state_dir: &Path) -> Result<StatusReport, Error> {
    let path = report_path(state_dir);
    let bytes = std::fs::read(&path).map_err(|source| Error::Read {
        path: path.clone(),
        source,
    })?;
    serde_json::from_slice(&bytes).map_err(|source| Error::Format { path, source })
}

/// Keeps the status files of `board` current under `state_dir` until `stop`, then writes
/// them a last time.
pub fn spawn_writer(
    board: StatusBoard,
    state_dir: PathBuf,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut written_at: Option<tokio::time::Instant> = None;
        let mut tick = tokio::time::interval(CHECK_INTERVAL);
        loop {
            let stopping = tokio::select! {
                () = stop.cancelled() => true,
                _ = tick.tick() => false,
            };
            let due = written_at.is_none_or(|at| at.elapsed() >= REWRITE_INTERVAL);
            if !(board.take_changed() || stopping || due) {
                continue;
            }
            let report = board.report();
            let dir = state_dir.clone();
            match tokio::task::spawn_blocking(move || write(&dir, &report)).await {
                Ok(Ok(())) => written_at = Some(tokio::time::Instant::now()),
                Ok(Err(error)) => tracing::warn!(%error, "status files not written; trying again"),
                Err(error) => tracing::warn!(%error, "status files not written"),
            }
            if stopping {
                break;
            }
        }
    })
}
