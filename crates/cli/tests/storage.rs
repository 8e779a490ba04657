//! `Storage` destinations through the real binary: a dataset and an event of one stream
//! append JSON lines to files below `--storage-root`, rotated at `--storage-max-file-bytes`.
//! The connector is killed with SIGKILL mid-run and started again on the same state
//! directory: every event id is in the files at least once, every line of every file is one
//! whole JSON object, and the files were rotated.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Connector, LIMIT, asset_head, checkpoints, device, run_command, write_atomic};
use test_support::{Gate, Mosquitto, ResumableSource, SourceConfig};

const TOTAL: u64 = 400;

/// A registry with one device on `source`, and an asset whose dataset (every event) and
/// event (type `reading`) of `/stream` go to `Storage` files.
fn registry(source: &ResumableSource) -> tempfile::TempDir {
    let registry = tempfile::tempdir().unwrap();
    write_atomic(
        &registry.path().join("devices/dev.yaml"),
        &device("dev", "ep", &source.base_url(), &[]),
    );
    let asset = asset_head("plant", "dev", "ep", &[])
        + "  datasets:\n    - name: readings\n      dataSource: /stream\n      destinations:\n\
           \x20       - target: Storage\n          configuration:\n            \
           path: data/readings.jsonl\n\
           \x20 eventGroups:\n    - name: alerts\n      dataSource: /stream\n      events:\n\
           \x20       - name: reading\n          dataSource: reading\n          destinations:\n\
           \x20           - target: Storage\n              configuration:\n                \
           path: events/reading.jsonl\n";
    write_atomic(&registry.path().join("assets/plant.yaml"), &asset);
    registry
}

/// The files of one destination: `name.jsonl` and its rotations `name.N.jsonl`.
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    files
}

/// The `sse-id`s of the whole lines in `dir`'s files. With `strict`, every file must end
/// with a line break (nothing is being written); otherwise a last line without one is a
/// write in progress and skipped, and so is a file rotated away meanwhile. Every whole line
/// must be a JSON object of `subject`.
fn sse_ids(dir: &Path, subject: &str, strict: bool) -> Vec<u64> {
    let mut ids = Vec::new();
    for path in files(dir) {
        let data = match std::fs::read(&path) {
            Ok(data) => data,
            // Rotated away between the listing and the read, while the connector writes.
            Err(e) if !strict && e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => panic!("cannot read {}: {e}", path.display()),
        };
        let mut lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
        let tail = lines.pop().unwrap_or_default();
        assert!(
            !strict || tail.is_empty(),
            "{} ends with a torn line: {:?}",
            path.display(),
            String::from_utf8_lossy(tail)
        );
        for line in lines {
            let value: serde_json::Value = serde_json::from_slice(line).unwrap_or_else(|e| {
                panic!(
                    "{}: not a JSON line ({e}): {:?}",
                    path.display(),
                    String::from_utf8_lossy(line)
                )
            });
            assert_eq!(value["subject"], subject, "{value}");
            let id = value["sse-id"].as_str().unwrap().parse().unwrap();
            assert_eq!(value["data"]["n"], id, "{value}");
            ids.push(id);
        }
    }
    ids
}

async fn wait_for_ids(dir: &Path, subject: &str, what: &str, done: impl Fn(&[u64]) -> bool) {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let ids = sse_ids(dir, subject, false);
        if done(&ids) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}; {} lines in {}",
            ids.len(),
            dir.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn has_all(ids: &[u64]) -> bool {
    let seen: BTreeSet<u64> = ids.iter().copied().collect();
    (1..=TOTAL).all(|n| seen.contains(&n))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_is_in_the_files_across_a_crash_with_rotation() {
    // The kill comes mid-stream even on a slow machine: events after 200 wait for the restart.
    let rest = Gate::new();
    let source = ResumableSource::start(
        SourceConfig::new(TOTAL)
            .interval(Duration::from_millis(2))
            .event_type("reading")
            .hold_after(200, &rest),
    )
    .await;
    let registry = registry(&source);
    let state = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let events = root.path().join("events");
    // The broker only carries the connector's session here; files are the destinations.
    let mosquitto = Mosquitto::start();
    let command = || {
        let mut command = run_command();
        command
            .arg("--registry")
            .arg(registry.path())
            .arg("--state-dir")
            .arg(state.path())
            .arg("--storage-root")
            .arg(root.path())
            // About 170 bytes a line: 400 lines rotate a few times, within the 5 kept.
            .args(["--storage-max-file-bytes", "24KiB", "--http", "off"])
            .arg("--broker")
            .arg(mosquitto.url());
        command
    };

    let first = Connector::spawn(command(), false, false).await;
    wait_for_ids(&data, "plant/readings", "120 dataset lines", |ids| {
        ids.len() >= 120
    })
    .await;
    common::eventually("a checkpoint past event 50", || {
        checkpoints(state.path())
            .first()
            .is_some_and(|(_, id)| id.parse::<u64>().unwrap() > 50)
    })
    .await;
    first.kill().await;
    let (_, checkpoint) = checkpoints(state.path()).remove(0);

    let second = Connector::spawn(command(), false, false).await;
    rest.open();
    let requests = source.wait_for_requests(2, LIMIT).await;
    assert_eq!(
        requests[1].header("last-event-id"),
        Some(checkpoint.as_str()),
        "resumed from the checkpoint"
    );
    wait_for_ids(&data, "plant/readings", "every dataset event", has_all).await;
    wait_for_ids(&events, "plant/alerts/reading", "every event", has_all).await;
    let status = second.terminate().await;
    assert!(status.success(), "{status}");

    // Stopped: every file ends with a whole line, every line is JSON, nothing is missing.
    for (dir, subject) in [(&data, "plant/readings"), (&events, "plant/alerts/reading")] {
        let ids = sse_ids(dir, subject, true);
        assert!(has_all(&ids), "{}: {} lines", dir.display(), ids.len());
        let names: Vec<String> = files(dir)
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        let stem = if dir == &data { "readings" } else { "reading" };
        assert!(
            names.contains(&format!("{stem}.1.jsonl")) && names.contains(&format!("{stem}.jsonl")),
            "rotated: {names:?}"
        );
        for path in files(dir) {
            let size = std::fs::metadata(&path).unwrap().len();
            assert!(size <= 24 * 1024, "{} has {size} bytes", path.display());
        }
    }
}
