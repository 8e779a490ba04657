//! `sse-connector tap` end to end: the real binary against files, standard input and real
//! scripted HTTP(S) servers with certificates made at test time.
//!
//! Every run is bounded by [`DEADLINE`]: a child that hangs fails its test and is killed.

#![allow(clippy::unwrap_used)]

use std::ffi::OsStr;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use test_support::{ClientAuth, Response, SseServer, TestPki};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

/// The longest a single run may take (a reconnect waits about a second).
const DEADLINE: Duration = Duration::from_secs(30);

/// What a finished run left behind.
#[derive(Debug)]
struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Run {
    fn code(&self) -> i32 {
        self.status
            .code()
            .unwrap_or_else(|| panic!("killed by a signal: {self:?}"))
    }

    /// Standard output, one JSON value a line.
    fn json(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|line| {
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?} in {self:?}"))
            })
            .collect()
    }

    /// The `data` of every printed event.
    fn data(&self) -> Vec<String> {
        self.json()
            .iter()
            .map(|v| v["data"].as_str().unwrap().to_owned())
            .collect()
    }
}

/// `sse-connector tap ARGS`, with the given standard input (or none), logging at its default.
fn spawn(args: &[&OsStr], stdin: bool) -> Child {
    Command::new(env!("CARGO_BIN_EXE_sse-connector"))
        .arg("tap")
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

async fn finish(child: Child) -> Run {
    let output = tokio::time::timeout(DEADLINE, child.wait_with_output())
        .await
        .expect("sse-connector tap did not exit in time")
        .unwrap();
    Run {
        status: output.status,
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

async fn tap(args: &[&str]) -> Run {
    let args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    finish(spawn(&args, false)).await
}

/// `tap ARGS` with `input` on standard input, written while the output is read (a large
/// input would otherwise fill both pipes).
async fn tap_stdin(args: &[&str], input: &[u8]) -> Run {
    let args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    let mut child = spawn(&args, true);
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = tokio::spawn(async move { stdin.write_all(&input).await });
    let run = finish(child).await;
    writer.await.unwrap().unwrap();
    run
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn write_file(dir: &tempfile::TempDir, name: &str, contents: &[u8]) -> String {
    let file = dir.path().join(name);
    std::fs::write(&file, contents).unwrap();
    path(&file).to_owned()
}

/// An event stream response that sends `body` and then stays open.
fn stream(body: &'static str) -> Response {
    Response::sse().chunk(body).hang()
}

// ---------------------------------------------------------------- files and standard input

const CAPTURE: &str = "\
: a heartbeat
retry: 2500
id: 1
event: reading
data: {\"t\":21.5}

data: first line
data: second line

id: 2
data: ends without a blank line";

#[tokio::test]
async fn a_file_prints_one_json_object_per_event() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(&dir, "capture.sse", CAPTURE.as_bytes());
    let run = tap(&[&file]).await;
    assert_eq!(run.code(), 0, "{run:?}");
    assert_eq!(
        run.json(),
        [
            json!({"type": "reading", "data": "{\"t\":21.5}", "id": "1", "lastEventId": "1"}),
            json!({"type": "message", "data": "first line\nsecond line", "id": null, "lastEventId": "1"}),
        ],
        "the unterminated last event is not dispatched"
    );
    assert_eq!(run.stderr, "");
}

#[tokio::test]
async fn comments_adds_comment_and_retry_lines() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(&dir, "capture.sse", CAPTURE.as_bytes());
    let run = tap(&[&file, "--comments"]).await;
    assert_eq!(run.code(), 0, "{run:?}");
    let lines = run.json();
    assert_eq!(
        lines[..2],
        [json!({"comment": " a heartbeat"}), json!({"retry": 2500})]
    );
    assert_eq!(lines.len(), 4, "{run:?}");
}

#[tokio::test]
async fn count_prints_only_events_and_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(&dir, "capture.sse", CAPTURE.as_bytes());
    let run = tap(&[&file, "--count"]).await;
    assert_eq!(run.code(), 0, "{run:?}");
    assert_eq!(run.json(), [json!({"events": 2, "bytes": CAPTURE.len()})]);

    let run = tap(&[&file, "--count", "--max-events", "1"]).await;
    assert_eq!(run.json()[0]["events"], 1, "{run:?}");
}

/// Events whose strings need escaping, with the line `serde_json` would print for each.
fn tricky_events() -> (Vec<u8>, String) {
    let events: [(&str, &str, &[&[u8]]); 6] = [
        ("reading", "1", &[br#"{"t":"a\"b","p":"c:\\d"}"#]),
        (
            "q\"uote",
            "2\\",
            &[b"\t\x01\x1f\x7f \x08\x0c", b"second line"],
        ),
        (
            "u",
            "\u{2028}",
            &["line\u{2028}sep\u{2029} \u{e9}\u{1F600}".as_bytes()],
        ),
        ("bad", "3", &[b"a\xFFb\xE2\x82"]),
        (
            "long",
            "4",
            &[b"1234567\"12345678\"\"\"\"\"\"\"\"\\abcdefghijklmnopqrstuvwxyz"],
        ),
        ("empty", "5", &[b""]),
    ];
    let (mut input, mut expected) = (Vec::new(), String::new());
    for (event_type, id, lines) in events {
        input.extend_from_slice(format!("event: {event_type}\nid: {id}\n").as_bytes());
        for line in lines {
            input.extend_from_slice(b"data: ");
            input.extend_from_slice(line);
            input.push(b'\n');
        }
        input.push(b'\n');
        let data = String::from_utf8_lossy(&lines.join(&b'\n')).into_owned();
        let [event_type, data, id] =
            [event_type, &data, id].map(|s| serde_json::to_string(s).unwrap());
        expected += &format!(
            "{{\"type\":{event_type},\"data\":{data},\"id\":{id},\"lastEventId\":{id}}}\n"
        );
    }
    (input, expected)
}

#[tokio::test]
async fn strings_are_escaped_byte_for_byte_as_serde_json_does() {
    let (input, expected) = tricky_events();
    let run = tap_stdin(&["-"], &input).await;
    assert_eq!(run.code(), 0, "{run:?}");
    assert_eq!(run.stdout, expected);

    let run = tap_stdin(&["-", "--count"], &input).await;
    assert_eq!(
        run.stdout,
        format!("{{\"events\":6,\"bytes\":{}}}\n", input.len())
    );
}

#[tokio::test]
async fn standard_input_with_bom_and_crlf() {
    let input = "\u{feff}id: 7\r\nevent: a\r\ndata: x\r\n\r\ndata: y\r\n\r\n";
    let run = tap_stdin(&["-"], input.as_bytes()).await;
    assert_eq!(run.code(), 0, "{run:?}");
    assert_eq!(
        run.json(),
        [
            json!({"type": "a", "data": "x", "id": "7", "lastEventId": "7"}),
            json!({"type": "message", "data": "y", "id": null, "lastEventId": "7"}),
        ]
    );
}

#[tokio::test]
async fn oversized_events_are_dropped_with_a_warning_and_reading_goes_on() {
    let input = format!("data: {}\n\ndata: small\n\n", "x".repeat(2000));
    let run = tap_stdin(&["-", "--max-event-bytes", "1KiB"], input.as_bytes()).await;
    assert_eq!(run.code(), 0, "{run:?}");
    assert_eq!(run.data(), ["small"]);
    assert!(run.stderr.contains("WARN"), "{run:?}");
    assert!(
        run.stderr.contains("maximum event size of 1024 bytes"),
        "{run:?}"
    );
    assert_eq!(run.stderr.lines().count(), 1, "{run:?}");
}

/// Input much larger than one read (256 KiB), with events of varied sizes, so that events
/// and lines cross the ends of reads: from a file and through a pipe, every event comes out
/// once, in order, whole.
#[tokio::test]
async fn a_large_input_crosses_reads_without_losing_an_event() {
    const EVENTS: usize = 20_000;
    let mut input = String::new();
    for i in 0..EVENTS {
        let padding = "p".repeat(i % 700);
        input.push_str(&format!(
            "id: {i}\nevent: e{}\ndata: {i} {padding}\n\n",
            i % 3
        ));
    }
    assert!(input.len() > 8 * 256 * 1024, "{}", input.len());
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(&dir, "large.sse", input.as_bytes());
    for run in [
        tap(&[&file]).await,
        tap_stdin(&["-"], input.as_bytes()).await,
    ] {
        assert_eq!(run.code(), 0, "{}", run.stderr);
        let lines = run.json();
        assert_eq!(lines.len(), EVENTS);
        for (i, line) in lines.iter().enumerate() {
            let expected = format!("{i} {}", "p".repeat(i % 700));
            assert_eq!(line["data"], expected.as_str(), "event {i}");
            assert_eq!(line["id"], i.to_string(), "event {i}");
            assert_eq!(line["type"], format!("e{}", i % 3), "event {i}");
        }
    }
    let run = tap_stdin(&["-", "--count"], input.as_bytes()).await;
    assert_eq!(
        run.json(),
        [json!({"events": EVENTS, "bytes": input.len()})]
    );
}

/// A live pipe: each event is printed as it arrives, not when a buffer fills or the input
/// ends; and Ctrl-C while waiting for input prints the count and exits 130.
#[cfg(unix)]
#[tokio::test]
async fn standard_input_is_printed_live_and_ctrl_c_while_waiting_prints_the_count() {
    let mut child = spawn(&[OsStr::new("-")], true);
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    for i in 0..3 {
        stdin
            .write_all(format!("data: {i}\n\n").as_bytes())
            .await
            .unwrap();
        let mut line = String::new();
        tokio::time::timeout(DEADLINE, stdout.read_line(&mut line))
            .await
            .expect("the event was not printed while the input stays open")
            .unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&line).unwrap()["data"],
            i.to_string()
        );
    }
    drop(stdin);
    drop(stdout);
    assert_eq!(finish(child).await.code(), 0);

    let mut child = spawn(&[OsStr::new("-"), OsStr::new("--count")], true);
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"data: a\n\ndata: b\n\n").await.unwrap();
    stdin.flush().await.unwrap();
    // Give the child time to read them; then it waits for more, in a read.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let pid = child.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let run = finish(child).await;
    drop(stdin);
    assert_eq!(run.code(), 130, "{run:?}");
    assert_eq!(run.json(), [json!({"events": 2, "bytes": 18})]);
}

#[tokio::test]
async fn a_missing_file_exits_1() {
    let run = tap(&["/nonexistent/capture.sse"]).await;
    assert_eq!(run.code(), 1, "{run:?}");
    assert!(
        run.stderr.contains("cannot open /nonexistent/capture.sse"),
        "{run:?}"
    );
}

// ---------------------------------------------------------------- usage errors

#[tokio::test]
async fn usage_errors_exit_2() {
    let server = SseServer::http([]).await;
    let url = server.url("/events");
    let cases: &[(&[&str], &str)] = &[
        (
            &["capture.sse", "--ca", "ca.pem"],
            "--ca cannot be used with a file",
        ),
        (
            &["-", "-H", "X-A: 1", "--idle-timeout", "5s"],
            "--header, --idle-timeout",
        ),
        (&["ftp://host/events"], "scheme `ftp`"),
        (&[&url, "--username", "u"], "--password-file"),
        (&[&url, "--cert", "c.pem"], "--key"),
        (
            &[
                &url,
                "--username",
                "u",
                "--password-file",
                "p",
                "--cert",
                "c",
                "--key",
                "k",
            ],
            "cannot be used with",
        ),
        (&[&url, "--count", "--comments"], "cannot be used with"),
        (&[&url, "--max-events", "0"], "--max-events"),
        (&[&url, "--idle-timeout", "0s"], "greater than zero"),
        (&[&url, "--password", "x"], "--password"),
        (&["https://user:pw@host/events"], "user information"),
    ];
    for (args, expected) in cases {
        let run = tap(args).await;
        assert_eq!(run.code(), 2, "{args:?}: {run:?}");
        assert!(run.stderr.contains(expected), "{args:?}: {run:?}");
        assert!(!run.stderr.contains("user:pw"), "{args:?}: {run:?}");
    }
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn an_invalid_header_is_a_usage_error_that_does_not_echo_the_value() {
    let run = tap(&["http://127.0.0.1:1/", "-H", "X-Api-Key s3cret-key"]).await;
    assert_eq!(run.code(), 2, "{run:?}");
    assert!(run.stderr.contains("Name: Value"), "{run:?}");
    assert!(!run.stderr.contains("s3cret-key"), "{run:?}");
}

// ---------------------------------------------------------------- URLs

#[tokio::test]
async fn a_url_prints_events_until_max_events() {
    let server = SseServer::http([Response::sse()
        .chunk("id: 1\nevent: reading\ndata: {\"t\":1}\n\n")
        .chunk("data: two\n\n")
        .chunk("data: three\n\n")
        .hang()])
    .await;
    let run = tap(&[&server.url("/events"), "--max-events", "2"]).await;
    assert_eq!(run.code(), 0, "{run:?}");
    assert_eq!(
        run.json(),
        [
            json!({"type": "reading", "data": "{\"t\":1}", "id": "1", "lastEventId": "1"}),
            json!({"type": "message", "data": "two", "id": null, "lastEventId": "1"}),
        ]
    );
    assert!(
        run.stderr.contains("connected to http://127.0.0.1:"),
        "{run:?}"
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, "/events");
    assert_eq!(requests[0].header("accept"), Some("text/event-stream"));
}

#[tokio::test]
async fn count_and_comments_on_a_url() {
    const BODY: &str = ": ping\n\ndata: a\n\n: ping\ndata: b\n\n";
    let server = SseServer::http([stream(BODY), stream(BODY)]).await;
    let url = server.url("/");

    let run = tap(&[&url, "--comments", "--max-events", "2"]).await;
    assert_eq!(run.code(), 0, "{run:?}");
    assert_eq!(
        run.json(),
        [
            json!({"comment": " ping"}),
            json!({"type": "message", "data": "a", "id": null, "lastEventId": ""}),
            json!({"comment": " ping"}),
            json!({"type": "message", "data": "b", "id": null, "lastEventId": ""}),
        ]
    );

    let run = tap(&[&url, "--count", "--max-events", "2"]).await;
    assert_eq!(run.code(), 0, "{run:?}");
    assert_eq!(run.json(), [json!({"events": 2, "bytes": BODY.len()})]);
}

#[tokio::test]
async fn headers_and_last_event_id_are_sent() {
    let server = SseServer::http([stream("data: a\n\n")]).await;
    let run = tap(&[
        &server.url("/events?site=1"),
        "-H",
        "X-Api-Key: key-123",
        "--header",
        "X-Trace:  t-1 ",
        "--last-event-id",
        "41",
        "--max-events",
        "1",
    ])
    .await;
    assert_eq!(run.code(), 0, "{run:?}");
    let request = &server.requests()[0];
    assert_eq!(request.path, "/events?site=1");
    assert_eq!(request.header("x-api-key"), Some("key-123"));
    assert_eq!(request.header("x-trace"), Some("t-1"));
    assert_eq!(request.header("last-event-id"), Some("41"));
    assert_eq!(
        run.json()[0]["lastEventId"],
        "41",
        "events inherit the resume point"
    );
}

#[tokio::test]
async fn a_reconnect_is_one_line_on_stderr_and_resumes_with_last_event_id() {
    let server = SseServer::http([
        Response::sse().chunk("id: 5\ndata: before\n\n"),
        stream("data: after\n\n"),
    ])
    .await;
    let run = tap(&[&server.url("/"), "--max-events", "2"]).await;
    assert_eq!(run.code(), 0, "{run:?}");
    assert_eq!(run.data(), ["before", "after"]);
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].header("last-event-id"), Some("5"));
    let warnings: Vec<&str> = run.stderr.lines().filter(|l| l.contains("WARN")).collect();
    assert_eq!(warnings.len(), 1, "{run:?}");
    assert!(warnings[0].contains("ended the stream"), "{run:?}");
    assert!(warnings[0].contains("attempt 1"), "{run:?}");
}

#[tokio::test]
async fn a_dropped_event_on_a_url_is_a_warning() {
    let big: &'static str = format!("data: {}\n\ndata: ok\n\n", "x".repeat(4096)).leak();
    let server = SseServer::http([stream(big)]).await;
    let run = tap(&[
        &server.url("/"),
        "--max-event-bytes",
        "1000",
        "--max-events",
        "1",
    ])
    .await;
    assert_eq!(run.code(), 0, "{run:?}");
    assert_eq!(run.data(), ["ok"]);
    assert!(run.stderr.contains("dropped"), "{run:?}");
    assert!(run.stderr.contains("1000 bytes"), "{run:?}");
}

#[tokio::test]
async fn not_found_exits_1_with_the_reason() {
    let server = SseServer::http([Response::status(404)]).await;
    let run = tap(&[&server.url("/nope")]).await;
    assert_eq!(run.code(), 1, "{run:?}");
    assert!(run.stdout.is_empty(), "{run:?}");
    let error = run.stderr.lines().last().unwrap();
    assert!(
        error.starts_with("error: 404 Not Found from http://"),
        "{run:?}"
    );
    assert!(error.contains("check the address"), "{run:?}");
    assert_eq!(server.requests().len(), 1, "a 404 is not retried");
}

#[tokio::test]
async fn no_content_ends_the_stream_with_a_note_and_exit_0() {
    let server = SseServer::http([Response::status(204)]).await;
    let run = tap(&[&server.url("/"), "--count"]).await;
    assert_eq!(run.code(), 0, "{run:?}");
    assert_eq!(run.json(), [json!({"events": 0, "bytes": 0})]);
    assert!(run.stderr.contains("204 No Content"), "{run:?}");
}

// ---------------------------------------------------------------- credentials and TLS

#[tokio::test]
async fn basic_auth_reads_the_password_file() {
    let dir = tempfile::tempdir().unwrap();
    let password = write_file(&dir, "password", b"pa55-w0rd\n");
    let server = SseServer::http([stream("data: in\n\n")]).await;
    server.require_basic_auth("ops", "pa55-w0rd");
    let run = tap(&[
        &server.url("/"),
        "--username",
        "ops",
        "--password-file",
        &password,
        "--max-events",
        "1",
    ])
    .await;
    assert_eq!(run.code(), 0, "{run:?}");
    assert_eq!(run.data(), ["in"]);
}

#[tokio::test]
async fn a_wrong_password_exits_1_without_showing_it() {
    let dir = tempfile::tempdir().unwrap();
    let password = write_file(&dir, "password", b"not-the-pa55word\r\n");
    let server = SseServer::http([]).await;
    server.require_basic_auth("ops", "pa55-w0rd");
    let run = tap(&[
        &server.url("/"),
        "--username",
        "ops",
        "--password-file",
        &password,
    ])
    .await;
    assert_eq!(run.code(), 1, "{run:?}");
    assert!(run.stderr.contains("401 Unauthorized"), "{run:?}");
    assert!(!run.stderr.contains("not-the-pa55word"), "{run:?}");
    let basic = test_support::sse_server::base64(b"ops:not-the-pa55word");
    assert!(!run.stderr.contains(&basic), "{run:?}");
    assert_eq!(
        server.requests()[0].header("authorization"),
        Some(format!("Basic {basic}").as_str()),
        "CRLF is trimmed from the password file"
    );

    let run = tap(&[
        &server.url("/"),
        "--username",
        "ops",
        "--password-file",
        "/nonexistent",
    ])
    .await;
    assert_eq!(run.code(), 1, "{run:?}");
    assert!(
        run.stderr
            .contains("cannot read the password file /nonexistent"),
        "{run:?}"
    );
}

#[tokio::test]
async fn https_needs_the_ca_from_the_trust_list() {
    let pki = TestPki::generate();
    let server = SseServer::https(
        pki.server_config(ClientAuth::None),
        [stream("data: secure\n\n")],
    )
    .await;
    let url = server.url("/");

    let run = tap(&[&url]).await;
    assert_eq!(run.code(), 1, "{run:?}");
    assert!(run.stderr.contains("TLS verification"), "{run:?}");

    let run = tap(&[
        &url,
        "--ca",
        path(&pki.rogue_ca_pem),
        "--ca",
        path(&pki.ca_pem),
        "--max-events",
        "1",
    ])
    .await;
    assert_eq!(run.code(), 0, "{run:?}");
    assert_eq!(run.data(), ["secure"]);
}

#[tokio::test]
async fn mutual_tls_with_cert_and_key() {
    let pki = TestPki::generate();
    let server = SseServer::https(
        pki.server_config(ClientAuth::Required),
        [stream("data: one\n\n"), stream("data: two\n\n")],
    )
    .await;
    let url = server.url("/");

    let run = tap(&[
        &url,
        "--ca",
        path(&pki.ca_pem),
        "--cert",
        path(&pki.client.cert),
        "--key",
        path(&pki.client.key),
        "--max-events",
        "1",
    ])
    .await;
    assert_eq!(run.code(), 0, "{run:?}");
    assert_eq!(run.data(), ["one"]);

    let via = &pki.client_via_intermediate;
    let run = tap(&[
        &url,
        "--ca",
        path(&pki.ca_pem),
        "--cert",
        path(&via.cert),
        "--key",
        path(&via.key),
        "--cert-chain",
        path(&pki.intermediate_pem),
        "--max-events",
        "1",
    ])
    .await;
    assert_eq!(run.code(), 0, "{run:?}");
    assert_eq!(run.data(), ["two"]);
}

#[tokio::test]
async fn an_unreadable_client_key_exits_1_naming_the_file() {
    let pki = TestPki::generate();
    let run = tap(&[
        "https://localhost:1/",
        "--cert",
        path(&pki.client.cert),
        "--key",
        "/nonexistent/key.pem",
    ])
    .await;
    assert_eq!(run.code(), 1, "{run:?}");
    assert!(run.stderr.contains("/nonexistent/key.pem"), "{run:?}");
}

// ---------------------------------------------------------------- output and signals

#[tokio::test]
async fn a_closed_output_ends_the_run_cleanly() {
    let mut response = Response::sse();
    for i in 0..500 {
        response = response
            .chunk(format!("data: {i}\n\n"))
            .delay(Duration::from_millis(5));
    }
    let server = SseServer::http([response.hang()]).await;
    let url = server.url("/");
    let mut child = spawn(&[OsStr::new(&url)], false);
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    tokio::time::timeout(DEADLINE, stdout.read_line(&mut first))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(serde_json::from_str::<Value>(&first).unwrap()["data"], "0");
    drop(stdout);
    let run = finish(child).await;
    assert_eq!(run.code(), 0, "{run:?}");
    assert!(!run.stderr.contains("panicked"), "{run:?}");
    assert!(!run.stderr.contains("error"), "{run:?}");
}

#[cfg(unix)]
#[tokio::test]
async fn ctrl_c_flushes_prints_the_count_and_exits_130() {
    let server = SseServer::http([stream("data: a\n\n")]).await;
    let url = server.url("/");
    let child = spawn(&[OsStr::new(&url), OsStr::new("--count")], false);
    server.wait_for_requests(1, DEADLINE).await;
    // The event is sent with the response head; give the child time to read it.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let pid = child.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let run = finish(child).await;
    assert_eq!(run.code(), 130, "{run:?}");
    assert_eq!(run.json(), [json!({"events": 1, "bytes": 9})]);
}
