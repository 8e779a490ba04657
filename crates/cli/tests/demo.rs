//! `sse-connector demo` end to end: broker, simulated device, registry, connector and view.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The API token's variable: unset, so that loopback needs no token.
const TOKEN_ENV: &str = "SSE_CONNECTOR_HTTP_TOKEN";

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
            // Not the default web UI port, which the test below probes at the same time.
            "--http",
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

/// The banner gives the web UI's address (the default, or a free port when it is busy, which
/// it then says), and that address serves the UI page and the status API, without a token.
#[test]
fn the_banner_gives_the_web_ui_address_and_it_answers() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sse-connector"))
        .args([
            "demo",
            "--duration",
            "20s",
            "--broker-addr",
            "127.0.0.1:0",
            "--dir",
        ])
        .arg(dir.path())
        .env("RUST_LOG", "warn")
        .env_remove(TOKEN_ENV)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut banner = Vec::new();
    let mut ui = None;
    for line in stderr.lines() {
        let line = line.unwrap();
        banner.push(line.clone());
        if let Some(rest) = line.trim().strip_prefix("web UI") {
            ui = Some(rest.trim().to_owned());
            break;
        }
        if banner.len() > 20 {
            break;
        }
    }
    let Some(ui) = ui else {
        let _ = child.kill();
        panic!("no web UI line in the banner:\n{}", banner.join("\n"));
    };
    let (url, note) = ui.split_once(' ').unwrap_or((&ui, ""));
    let addr: SocketAddr = url
        .strip_prefix("http://")
        .and_then(|rest| rest.strip_suffix('/'))
        .unwrap_or_else(|| panic!("not an http URL: {ui:?}"))
        .parse()
        .unwrap();
    assert!(addr.ip().is_loopback(), "{ui}");
    if addr.port() == 8080 {
        assert_eq!(note, "", "{ui}");
    } else {
        assert_eq!(note, "(127.0.0.1:8080 is busy)", "{ui}");
    }

    let page = get_when_up(addr, "/");
    let status = get(addr, "/api/v1/status");
    let _ = child.kill();
    let _ = child.wait();
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("<title>sse-connector</title>"), "{page}");
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    assert!(status.contains("application/json"), "{status}");
    assert!(
        status.contains("sse-connector-demo"),
        "the client id: {status}"
    );
}

/// `GET path` on `addr`: the whole response, head and body.
fn get(addr: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

/// [`get`] once the listener accepts connections (it starts just after the banner).
fn get_when_up(addr: SocketAddr, path: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {addr}");
        std::thread::sleep(Duration::from_millis(50));
    }
    get(addr, path)
}
