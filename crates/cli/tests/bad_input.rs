//! Hostile and broken input through the real binary, one test a row of RELIABILITY.md's
//! bad-input tables: what the user sees, exactly, and that nothing already accepted is lost.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use test_support::{Response, SseServer};

/// The longest a `tap` run may take (a retried request waits about a second).
const DEADLINE: Duration = Duration::from_secs(30);

const GOOD_DEVICE: &str = "apiVersion: namespaces.deviceregistry.microsoft.com/v1
kind: Device
metadata: {name: gw}
spec:
  endpoints:
    inbound:
      sse:
        endpointType: Microsoft.SSEHttp
        address: https://gw.local/events
        authentication: {method: Anonymous}
";

/// `sse-connector validate -q` on a registry holding a valid device and `file` with
/// `contents`: exit code, and standard output then standard error, by line.
fn validate_with(file: &str, contents: &[u8]) -> (Option<i32>, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("registry");
    write(&registry.join("devices/gw.yaml"), GOOD_DEVICE.as_bytes());
    write(&registry.join(file), contents);
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_sse-connector"))
        .current_dir(dir.path())
        .args(["validate", "--registry", "registry"])
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    (output.status.code(), lines(&output))
}

fn write(path: &Path, contents: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, contents).unwrap();
}

fn lines(output: &Output) -> Vec<String> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    stdout
        .lines()
        .chain(stderr.lines())
        .map(str::to_owned)
        .collect()
}

/// The summary when the one valid device is all that is in force.
fn summary(files: usize) -> String {
    format!(
        "invalid (1 error): 1 device, 0 assets, 0 data operations on 0 streams, 0 warnings in \
         {files} files"
    )
}

// ---------------------------------------------------------------- definitions

#[test]
fn a_definition_file_that_is_not_utf8() {
    let (code, out) = validate_with("devices/binary.yaml", b"\xff\xfeapiVersion: x\n");
    assert_eq!(code, Some(1));
    assert_eq!(
        out,
        [
            "registry/devices/binary.yaml: -: (document): not UTF-8 text".to_owned(),
            summary(2)
        ]
    );
}

#[test]
fn a_yaml_alias_bomb() {
    let mut bomb = String::from("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for (previous, name) in ('a'..'j').zip('b'..='j') {
        let aliases = vec![format!("*{previous}"); 9].join(", ");
        bomb.push_str(&format!("{name}: &{name} [{aliases}]\n"));
    }
    let (code, out) = validate_with("devices/bomb.yaml", bomb.as_bytes());
    assert_eq!(code, Some(1));
    assert_eq!(
        out,
        [
            "registry/devices/bomb.yaml: -: line 6, column 16: budget breached: \
             Nodes { nodes: 250001 } at line 1, column 28 (defined at line 5, column 7) \
             (used at line 6, column 16)"
                .to_owned(),
            summary(2)
        ]
    );
}

#[test]
fn json_nested_deeper_than_the_recursion_limit() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let (code, out) = validate_with("devices/deep.json", deep.as_bytes());
    assert_eq!(code, Some(1));
    assert_eq!(
        out,
        [
            "registry/devices/deep.json: -: line 1, column 128: recursion limit exceeded"
                .to_owned(),
            summary(2)
        ]
    );
}

#[test]
fn a_document_that_is_not_a_mapping() {
    let (code, out) = validate_with("devices/scalar.yaml", b"just a string\n");
    assert_eq!(code, Some(1));
    assert_eq!(
        out,
        [
            "registry/devices/scalar.yaml: document 1: (document): line 1, column 1: a \
             document must be a mapping (a Kubernetes resource or an ARM resource)"
                .to_owned(),
            summary(2)
        ]
    );
}

#[test]
fn a_definition_file_cut_off_in_the_middle() {
    let cut = &GOOD_DEVICE.replace("gw", "gw-2")[..120];
    let (code, out) = validate_with("devices/half.yaml", cut.as_bytes());
    assert_eq!(code, Some(1));
    assert_eq!(
        out,
        [
            "registry/devices/half.yaml: Device/gw-2: spec.endpoints: line 6, column 5: invalid \
             type: string \"inboun\", expected struct Endpoints"
                .to_owned(),
            summary(2)
        ]
    );
}

// ---------------------------------------------------------------- secrets and certificates

#[test]
fn a_trust_list_that_holds_no_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("registry");
    write(&registry.join("devices/gw.yaml"), GOOD_DEVICE.as_bytes());
    let trusting = GOOD_DEVICE.replace("name: gw}", "name: plant}").replace(
        "{method: Anonymous}\n",
        "{method: Anonymous}\n        trustSettings: {trustList: plant-ca}\n",
    );
    write(&registry.join("devices/plant.yaml"), trusting.as_bytes());
    write(
        &registry.join("trust/plant-ca/ca.pem"),
        b"not a certificate\n",
    );
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_sse-connector"))
        .current_dir(dir.path())
        .args(["validate", "--registry", "registry"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        lines(&output),
        [
            "registry/devices/plant.yaml: Device/plant: spec.endpoints.inbound.sse.trustSettings\
             .trustList: trust list \"plant-ca\": registry/trust/plant-ca holds no PEM certificate"
                .to_owned(),
            summary(2)
        ]
    );
}

// ---------------------------------------------------------------- HTTP status and headers

struct Tap {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

async fn tap(args: &[&str]) -> Tap {
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_sse-connector"))
        .arg("tap")
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let output = tokio::time::timeout(DEADLINE, child.wait_with_output())
        .await
        .expect("tap did not exit in time")
        .unwrap();
    Tap {
        code: output.status.code(),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

#[tokio::test]
async fn a_response_that_is_not_an_event_stream() {
    let server = SseServer::http([Response::status(200)
        .header("content-type", "text/html")
        .chunk("<html>")])
    .await;
    let url = server.url("/events");
    let run = tap(&[&url]).await;
    assert_eq!(run.code, Some(1));
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        format!(
            "error: {url} answered 200 OK with Content-Type \"text/html\": the URL is not an \
             event stream (expected text/event-stream); check the path\n"
        )
    );
    assert_eq!(server.requests().len(), 1, "not retried");
}

#[tokio::test]
async fn a_redirect_without_location() {
    let server = SseServer::http([Response::status(302)]).await;
    let url = server.url("/events");
    let run = tap(&[&url]).await;
    assert_eq!(run.code, Some(1));
    assert_eq!(
        run.stderr,
        format!(
            "error: redirect from {url} has no Location header: the server sent a redirect \
             without a usable Location; point the URL at the final location\n"
        )
    );
}

#[tokio::test]
async fn a_server_error_with_a_garbled_retry_after_is_retried_and_loses_nothing() {
    let server = SseServer::http([
        Response::status(503).header("retry-after", "soon, maybe"),
        Response::sse().chunk("id: 1\ndata: first\n\n").hang(),
    ])
    .await;
    let url = server.url("/events");
    let run = tap(&[&url, "--max-events", "1"]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.contains("\"data\":\"first\""), "{}", run.stdout);
    // The garbled header is ignored: the client's own backoff (1 s, jitter up to 50 %).
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", run.stderr);
    let warning = format!(
        "WARN 503 Service Unavailable from {url}: the server failed; retrying (attempt 1, next in"
    );
    assert!(lines[0].contains(&warning), "{}", run.stderr);
    assert!(
        lines[1].ends_with(&format!("INFO connected to {url}")),
        "{}",
        run.stderr
    );
}
