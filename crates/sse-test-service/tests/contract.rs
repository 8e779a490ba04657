//! The test service's REST API, exercised the way the contract-test harness uses it: the test
//! plays the harness, with a scripted SSE server (`test-support`) as the mock stream endpoint
//! and a small axum server as the callback endpoint.

#![allow(clippy::unwrap_used, missing_docs)]

use std::process::Stdio;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::{Value, json};
use sse_test_service::params::{CallbackMessage, EventMessage, Status};
use sse_test_service::{CAPABILITIES, Service};
use test_support::{Response, SseServer};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How long the harness waits for each callback.
const AWAIT: Duration = Duration::from_secs(5);

fn http() -> reqwest::Client {
    // reqwest is built without a default crypto provider; the test client needs one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// The service, served in-process on a free port.
struct TestService {
    base: String,
    http: reqwest::Client,
    service: Service,
    served: JoinHandle<std::io::Result<()>>,
}

impl TestService {
    async fn start() -> Self {
        let service = Service::new().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let served = tokio::spawn(service.clone().serve(listener));
        Self {
            base,
            http: http(),
            service,
            served,
        }
    }

    /// `POST /` with `params`; the raw answer.
    async fn create_raw(&self, params: &Value) -> reqwest::Response {
        self.http
            .post(&self.base)
            .header("content-type", "application/json")
            .body(params.to_string())
            .send()
            .await
            .unwrap()
    }

    /// Creates a stream and returns its resource URL.
    async fn create(&self, params: Value) -> String {
        let response = self.create_raw(&params).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        assert!(
            location.starts_with(&self.base) && location.contains("/streams/"),
            "{location}"
        );
        location
    }

    async fn command(&self, stream: &str, body: &str) -> reqwest::Response {
        self.http
            .post(stream)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
    }

    async fn delete(&self, url: &str) -> StatusCode {
        self.http.delete(url).send().await.unwrap().status()
    }
}

impl Drop for TestService {
    fn drop(&mut self) {
        self.service.shutdown_token().cancel();
    }
}

/// The harness' callback endpoint of one stream: checks the numbering and decodes bodies.
struct Callbacks {
    url: String,
    received: mpsc::UnboundedReceiver<(String, String)>,
    expected: u64,
    _server: JoinHandle<()>,
}

impl Callbacks {
    async fn start() -> Self {
        let (tx, received) = mpsc::unbounded_channel();
        let app = Router::new()
            .route(
                "/callbacks/{n}",
                post(
                    |State(tx): State<mpsc::UnboundedSender<(String, String)>>,
                     Path(n): Path<String>,
                     body: String| async move {
                        let _ = tx.send((n, body));
                        StatusCode::ACCEPTED
                    },
                ),
            )
            .with_state(tx);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/callbacks", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            url,
            received,
            expected: 1,
            _server: server,
        }
    }

    /// The next callback, which must carry the next number.
    async fn next(&mut self) -> CallbackMessage {
        let (n, body) = tokio::time::timeout(AWAIT, self.received.recv())
            .await
            .unwrap_or_else(|_| panic!("no callback {} within {AWAIT:?}", self.expected))
            .unwrap();
        assert_eq!(n, self.expected.to_string(), "callbacks out of order");
        self.expected += 1;
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("bad callback body {body}: {e}"))
    }

    async fn next_event(&mut self) -> EventMessage {
        match self.next().await {
            CallbackMessage::Event { event } => event,
            other => panic!("expected an event, got {other:?}"),
        }
    }

    async fn next_error(&mut self) -> String {
        match self.next().await {
            CallbackMessage::Error { error } => error,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    /// Asserts that nothing arrives for `quiet`.
    async fn assert_silent(&mut self, quiet: Duration) {
        if let Ok(Some((n, body))) = tokio::time::timeout(quiet, self.received.recv()).await {
            panic!("unexpected callback {n}: {body}");
        }
    }
}

fn event(event_type: &str, data: &str, id: Option<&str>) -> EventMessage {
    EventMessage {
        event_type: event_type.to_owned(),
        data: data.to_owned(),
        id: id.map(str::to_owned),
    }
}

fn comment(text: &str) -> CallbackMessage {
    CallbackMessage::Comment {
        comment: text.to_owned(),
    }
}

#[tokio::test]
async fn status_lists_exactly_the_supported_capabilities() {
    let service = TestService::start().await;
    let response = service.http.get(&service.base).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let status: Status = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(status.capabilities, CAPABILITIES);
    for required in [
        "bom",
        "comments",
        "headers",
        "last-event-id",
        "read-timeout",
        "restart",
        "server-directed-shutdown-request",
    ] {
        assert!(
            status.capabilities.iter().any(|c| c == required),
            "{required}"
        );
    }
    for honest_absence in ["post", "report", "event-type-listeners"] {
        assert!(
            !status.capabilities.iter().any(|c| c == honest_absence),
            "{honest_absence}"
        );
    }
}

#[tokio::test]
async fn events_and_comments_are_reported_in_order() {
    let sse = SseServer::http([Response::sse()
        .chunk(":hello\n")
        .chunk("event: greeting\nid: abc\ndata: Hello\n\n")
        .chunk("data: second\n\n:after\n")
        .chunk("id: \ndata: line 1\ndata: line 2\n\n")
        .chunk("data: multi-byte \u{1F600}\n\n")
        .hang()])
    .await;
    let service = TestService::start().await;
    let mut callbacks = Callbacks::start().await;
    service
        .create(json!({"tag": "t", "streamUrl": sse.url("/stream"), "callbackUrl": callbacks.url}))
        .await;

    assert_eq!(callbacks.next().await, comment("hello"));
    assert_eq!(
        callbacks.next_event().await,
        event("greeting", "Hello", Some("abc"))
    );
    // The id persists to later events without one.
    assert_eq!(
        callbacks.next_event().await,
        event("message", "second", Some("abc"))
    );
    assert_eq!(callbacks.next().await, comment("after"));
    // An empty `id:` clears it: no id in the callback.
    assert_eq!(
        callbacks.next_event().await,
        event("message", "line 1\nline 2", None)
    );
    assert_eq!(
        callbacks.next_event().await,
        event("message", "multi-byte \u{1F600}", None)
    );
}

#[tokio::test]
async fn many_events_in_one_chunk_keep_their_order() {
    let body: String = (0..100).map(|i| format!("data: {i}\n\n")).collect();
    let sse = SseServer::http([Response::sse().chunk(body).hang()]).await;
    let service = TestService::start().await;
    let mut callbacks = Callbacks::start().await;
    service
        .create(json!({"streamUrl": sse.url("/"), "callbackUrl": callbacks.url}))
        .await;
    for i in 0..100 {
        assert_eq!(callbacks.next_event().await.data, i.to_string());
    }
}

#[tokio::test]
async fn a_leading_bom_is_stripped_even_when_split() {
    let sse = SseServer::http([Response::sse()
        .chunk(&b"\xEF\xBB"[..])
        .chunk(&b"\xBFdata: x\n\n"[..])
        .hang()])
    .await;
    let service = TestService::start().await;
    let mut callbacks = Callbacks::start().await;
    service
        .create(json!({"streamUrl": sse.url("/"), "callbackUrl": callbacks.url}))
        .await;
    assert_eq!(callbacks.next_event().await, event("message", "x", None));
}

#[tokio::test]
async fn headers_and_the_initial_last_event_id_are_sent() {
    let sse = SseServer::http([Response::sse().hang()]).await;
    let service = TestService::start().await;
    let callbacks = Callbacks::start().await;
    service
        .create(json!({
            "streamUrl": sse.url("/stream"),
            "callbackUrl": callbacks.url,
            "lastEventId": "abc",
            "headers": {"header-name-1": "value-1", "header-name-2": "value-2"},
        }))
        .await;
    let requests = sse.wait_for_requests(1, AWAIT).await;
    let request = &requests[0];
    assert_eq!(request.method, "GET");
    assert_eq!(request.path, "/stream");
    assert_eq!(request.header("accept"), Some("text/event-stream"));
    assert_eq!(request.header("cache-control"), Some("no-cache"));
    assert_eq!(request.header("header-name-1"), Some("value-1"));
    assert_eq!(request.header("header-name-2"), Some("value-2"));
    assert_eq!(request.header("last-event-id"), Some("abc"));
}

#[tokio::test]
async fn no_last_event_id_is_sent_by_default() {
    let sse = SseServer::http([Response::sse().hang()]).await;
    let service = TestService::start().await;
    let callbacks = Callbacks::start().await;
    service
        .create(json!({"streamUrl": sse.url("/"), "callbackUrl": callbacks.url}))
        .await;
    let requests = sse.wait_for_requests(1, AWAIT).await;
    assert_eq!(requests[0].header("last-event-id"), None);
}

#[tokio::test]
async fn restart_reconnects_with_the_last_event_id_and_no_error() {
    let sse = SseServer::http([
        Response::sse().chunk("id: 1\ndata: one\n\n").hang(),
        Response::sse().chunk("data: two\n\n").hang(),
    ])
    .await;
    let service = TestService::start().await;
    let mut callbacks = Callbacks::start().await;
    let stream = service
        .create(
            json!({"streamUrl": sse.url("/"), "callbackUrl": callbacks.url, "initialDelayMs": 0}),
        )
        .await;
    assert_eq!(
        callbacks.next_event().await,
        event("message", "one", Some("1"))
    );

    let answer = service.command(&stream, r#"{"command":"restart"}"#).await;
    assert!(answer.status().is_success(), "{}", answer.status());

    // The harness requires the next message to be the new connection's event, not an error.
    assert_eq!(
        callbacks.next_event().await,
        event("message", "two", Some("1"))
    );
    let requests = sse.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].header("last-event-id"), Some("1"));
}

#[tokio::test]
async fn a_broken_connection_reports_an_error_and_resumes_quickly() {
    let sse = SseServer::http([
        Response::sse()
            .chunk("id: abc\ndata: Hello\n\nid: def\ndata: partial")
            .abort(),
        Response::sse().chunk("data: again\n\n").hang(),
    ])
    .await;
    let service = TestService::start().await;
    let mut callbacks = Callbacks::start().await;
    service
        .create(
            json!({"streamUrl": sse.url("/"), "callbackUrl": callbacks.url, "initialDelayMs": 0}),
        )
        .await;
    assert_eq!(
        callbacks.next_event().await,
        event("message", "Hello", Some("abc"))
    );
    callbacks.next_error().await;
    // The partial event's id is discarded.
    assert_eq!(
        callbacks.next_event().await,
        event("message", "again", Some("abc"))
    );
    assert_eq!(sse.requests()[1].header("last-event-id"), Some("abc"));
}

#[tokio::test]
async fn a_read_timeout_reports_an_error_then_reconnects() {
    let sse = SseServer::http([
        Response::sse().chunk("data: Hello\n\n").hang(),
        Response::sse().chunk("data: again\n\n").hang(),
    ])
    .await;
    let service = TestService::start().await;
    let mut callbacks = Callbacks::start().await;
    service
        .create(json!({
            "streamUrl": sse.url("/"),
            "callbackUrl": callbacks.url,
            "initialDelayMs": 0,
            "readTimeoutMs": 300,
        }))
        .await;
    assert_eq!(
        callbacks.next_event().await,
        event("message", "Hello", None)
    );
    let error = callbacks.next_error().await;
    assert!(error.contains("idle_timeout"), "{error}");
    assert_eq!(
        callbacks.next_event().await,
        event("message", "again", None)
    );
    assert_eq!(sse.requests().len(), 2);
}

#[tokio::test]
async fn a_204_ends_the_stream_after_exactly_one_request() {
    let sse = SseServer::http([Response::status(204)]).await;
    let service = TestService::start().await;
    let mut callbacks = Callbacks::start().await;
    service
        .create(
            json!({"streamUrl": sse.url("/"), "callbackUrl": callbacks.url, "initialDelayMs": 0}),
        )
        .await;
    let error = callbacks.next_error().await;
    assert!(error.contains("closed_by_server"), "{error}");
    callbacks.assert_silent(Duration::from_secs(1)).await;
    assert_eq!(sse.requests().len(), 1);
}

#[tokio::test]
async fn a_redirect_without_location_is_an_error() {
    let sse = SseServer::http([Response::status(307)]).await;
    let service = TestService::start().await;
    let mut callbacks = Callbacks::start().await;
    service
        .create(json!({"streamUrl": sse.url("/"), "callbackUrl": callbacks.url}))
        .await;
    let error = callbacks.next_error().await;
    assert!(error.contains("invalid_redirect"), "{error}");
}

#[tokio::test]
async fn bad_parameters_are_refused_with_400_and_a_reason() {
    let service = TestService::start().await;
    let stream = "http://127.0.0.1:1/";
    let callback = "http://127.0.0.1:1/cb";
    let cases = [
        (json!({"callbackUrl": callback}), "streamUrl"),
        (json!({"streamUrl": stream}), "callbackUrl"),
        (
            json!({"streamUrl": "not a url", "callbackUrl": callback}),
            "streamUrl",
        ),
        (
            json!({"streamUrl": stream, "callbackUrl": "ftp://h/"}),
            "callbackUrl",
        ),
        (
            json!({"streamUrl": stream, "callbackUrl": callback, "method": "REPORT", "body": "{}"}),
            "REPORT",
        ),
        (
            json!({"streamUrl": stream, "callbackUrl": callback, "readTimeoutMs": 0}),
            "readTimeoutMs",
        ),
        (
            json!({"streamUrl": stream, "callbackUrl": callback, "initialDelayMs": "soon"}),
            "invalid JSON",
        ),
        (json!("just a string"), "invalid JSON"),
    ];
    for (params, expected) in cases {
        let response = service.create_raw(&params).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{params}");
        let reason = response.text().await.unwrap();
        assert!(reason.contains(expected), "{params}: {reason}");
    }
}

#[tokio::test]
async fn unknown_streams_are_404_and_unknown_commands_400() {
    let sse = SseServer::http([Response::sse().hang()]).await;
    let service = TestService::start().await;
    let callbacks = Callbacks::start().await;
    let stream = service
        .create(json!({"streamUrl": sse.url("/"), "callbackUrl": callbacks.url}))
        .await;

    for unknown in ["/streams/999", "/streams/abc"] {
        let url = format!("{}{unknown}", service.base);
        let restart = service.command(&url, r#"{"command":"restart"}"#).await;
        assert_eq!(restart.status(), StatusCode::NOT_FOUND, "{unknown}");
        assert_eq!(
            service.delete(&url).await,
            StatusCode::NOT_FOUND,
            "{unknown}"
        );
    }
    let listen = service
        .command(&stream, r#"{"command":"listen","listen":{"type":"x"}}"#)
        .await;
    assert_eq!(listen.status(), StatusCode::BAD_REQUEST);
    let garbage = service.command(&stream, "{").await;
    assert_eq!(garbage.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn closing_a_stream_stops_its_callbacks() {
    let sse = SseServer::http([Response::sse()
        .chunk("data: a\n\n")
        .delay(Duration::from_millis(300))
        .chunk("data: b\n\n")
        .hang()])
    .await;
    let service = TestService::start().await;
    let mut callbacks = Callbacks::start().await;
    let stream = service
        .create(json!({"streamUrl": sse.url("/"), "callbackUrl": callbacks.url}))
        .await;
    assert_eq!(callbacks.next_event().await.data, "a");

    assert_eq!(service.delete(&stream).await, StatusCode::NO_CONTENT);
    callbacks.assert_silent(Duration::from_millis(800)).await;
    assert_eq!(sse.requests().len(), 1);
    assert_eq!(service.delete(&stream).await, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_ended_stream_is_still_closable_and_restartable() {
    let sse = SseServer::http([
        Response::status(204),
        Response::sse().chunk("data: back\n\n").hang(),
    ])
    .await;
    let service = TestService::start().await;
    let mut callbacks = Callbacks::start().await;
    let stream = service
        .create(json!({"streamUrl": sse.url("/"), "callbackUrl": callbacks.url}))
        .await;
    callbacks.next_error().await;
    let restart = service.command(&stream, r#"{"command":"restart"}"#).await;
    assert!(restart.status().is_success());
    assert_eq!(callbacks.next_event().await.data, "back");
    assert_eq!(service.delete(&stream).await, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn delete_root_stops_the_service_and_its_streams() {
    let sse = SseServer::http([Response::sse().hang()]).await;
    let mut service = TestService::start().await;
    let callbacks = Callbacks::start().await;
    service
        .create(json!({"streamUrl": sse.url("/"), "callbackUrl": callbacks.url}))
        .await;
    sse.wait_for_requests(1, AWAIT).await;

    assert_eq!(service.delete(&service.base).await, StatusCode::NO_CONTENT);
    let served = tokio::time::timeout(AWAIT, &mut service.served)
        .await
        .expect("the service did not stop");
    served.unwrap().unwrap();
}

/// Picks a port that is free right now (the binary needs a fixed `--port`).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn the_binary_serves_on_its_port_and_exits_on_delete() {
    let port = free_port();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_sse-test-service"))
        .args(["--port", &port.to_string()])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}/");
    let client = http();

    // Poll like the harness does until the service is up.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let status: Status = loop {
        if let Ok(response) = client.get(&base).send().await {
            assert_eq!(response.status(), StatusCode::OK);
            break serde_json::from_str(&response.text().await.unwrap()).unwrap();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the binary did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status.capabilities, CAPABILITIES);

    let stopped = client.delete(&base).send().await.unwrap();
    assert_eq!(stopped.status(), StatusCode::NO_CONTENT);
    let exit = tokio::time::timeout(AWAIT, child.wait())
        .await
        .expect("the binary did not exit")
        .unwrap();
    assert!(exit.success(), "{exit}");
}
