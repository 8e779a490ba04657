//! The JSON-lines files the connector appends to (dead letters and `Storage` destinations),
//! opened again after a crash: whatever the file holds, the writer keeps every whole line,
//! cuts only a torn last line, and appends after it.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use sinks::file::{Durability, FileOptions, FileSinks, Line};
use tempfile::TempDir;
use tokio::runtime::Runtime;

static ROOT: LazyLock<TempDir> =
    LazyLock::new(|| tempfile::tempdir().expect("a temporary directory"));
static RUNTIME: LazyLock<Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime")
});

fuzz_target!(|data: &[u8]| {
    let path = ROOT.path().join("dead.jsonl");
    std::fs::write(&path, data).expect("write the file under test");
    let line = Line::json(&serde_json::json!({"n": data.len()})).expect("a line");
    let options = FileOptions {
        max_file_bytes: 0,
        keep: 0,
        durability: Durability::Written,
    };
    RUNTIME.block_on(async {
        let files = FileSinks::new(ROOT.path(), options);
        let delivery = files
            .append("dead.jsonl", line.clone())
            .await
            .expect("queued");
        delivery.await.expect("appended");
        files.close().await;
    });
    let kept = data.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let mut expected = data[..kept].to_vec();
    expected.extend_from_slice(line.as_bytes());
    assert_eq!(std::fs::read(&path).expect("read back"), expected);
});
