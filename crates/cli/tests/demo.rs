//! `sse-connector demo` end to end: broker, simulated device, registry, connector and view.

#![allow(clippy::unwrap_used)]

use std::process::Command;

#[test]
fn demo_delivers_the_dataset_and_both_events_to_the_broker() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_sse-connector"))
        .args([
            "demo",
            "--duration",
            "7s",
            "--broker-addr",
            "127.0.0.1:0",
            "--dir",
        ])
        .arg(dir.path())
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "stderr:\n{stderr}");
    for topic in [
        "demo/line/environment",
        "demo/line/events",
        "demo/line/alarms",
    ] {
        assert!(stdout.contains(topic), "no message on {topic}:\n{stdout}");
    }
    assert!(
        stdout.contains("reading  id 1 "),
        "readings start at id 1:\n{stdout}"
    );
    assert!(stderr.contains("messages reached the broker"), "{stderr}");
    // The registry is a real one and stays valid.
    let validate = Command::new(env!("CARGO_BIN_EXE_sse-connector"))
        .args(["validate", "--registry"])
        .arg(dir.path().join("registry"))
        .output()
        .unwrap();
    assert!(validate.status.success());
    // Checkpoints were saved at the stop.
    let checkpoints = std::fs::read_dir(dir.path().join("state/checkpoints"))
        .unwrap()
        .count();
    assert_eq!(checkpoints, 2, "one checkpoint per stream");
}
