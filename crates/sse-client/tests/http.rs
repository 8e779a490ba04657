//! Plain-HTTP behaviour against a real scripted server: headers, Basic auth, statuses,
//! reconnects with `Last-Event-ID`, `retry:`, `Retry-After`, redirects, limits, cancel safety.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use http::{HeaderMap, HeaderValue};
use sse_client::{ErrorKind, HealthCode, RetryPolicy, StreamItem};
use test_support::{Response, SseServer};

/// Long enough for a wrongly scheduled retry to show up in the request log.
const SETTLE: Duration = Duration::from_millis(300);

#[tokio::test]
async fn sends_accept_cache_control_and_custom_headers() {
    let server = SseServer::http([Response::sse().chunk("data: hello\n\n").hang()]).await;
    let mut headers = HeaderMap::new();
    headers.insert("x-device-token", HeaderValue::from_static("t0k"));
    let mut stream = anonymous().stream(config(&server.url("/events?x=1")).with_headers(headers));

    expect_connected(&mut stream).await;
    assert_eq!(expect_event(&mut stream).await, "hello");
    assert_eq!(stream.bytes_received(), "data: hello\n\n".len() as u64);

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "GET");
    assert_eq!(request.path, "/events?x=1");
    assert_eq!(request.header("accept"), Some("text/event-stream"));
    assert_eq!(request.header("cache-control"), Some("no-cache"));
    assert_eq!(request.header("x-device-token"), Some("t0k"));
    assert_eq!(
        request.header("last-event-id"),
        None,
        "no id yet, so no Last-Event-ID"
    );
    assert_eq!(request.header("authorization"), None);
}

#[tokio::test]
async fn basic_auth_is_accepted() {
    let server = SseServer::http([Response::sse().chunk("data: in\n\n").hang()]).await;
    server.require_basic_auth("user", "pa:ss");
    let mut stream = client(basic("user", "pa:ss")).stream(config(&server.url("/")));

    expect_connected(&mut stream).await;
    assert_eq!(expect_event(&mut stream).await, "in");
    let requests = server.requests();
    assert_eq!(
        requests[0].header("authorization"),
        Some("Basic dXNlcjpwYTpzcw==")
    );
}

#[tokio::test]
async fn wrong_password_is_unauthorized_and_not_retried() {
    let server = SseServer::http([]).await;
    server.require_basic_auth("user", "right");
    let mut stream = client(basic("user", "wrong-secret")).stream(config(&server.url("/api")));

    let error = expect_failed(&mut stream, ErrorKind::Unauthorized).await;
    let text = error.to_string();
    assert!(text.contains(&server.url("/api")), "{text}");
    assert!(
        text.contains("401 Unauthorized") && text.contains("check the username and password"),
        "{text}"
    );
    assert!(
        !text.contains("wrong-secret") && !format!("{error:?}").contains("wrong-secret"),
        "{error:?}"
    );
    assert_eq!(error.reason_code(), "http_unauthorized");
    assert_eq!(error.health_code(), HealthCode::StreamError);
    assert_eq!(error.health_code().as_str(), "SseConnectorStreamError");

    tokio::time::sleep(SETTLE).await;
    assert_eq!(server.requests().len(), 1, "a 401 must not be retried");
}

#[tokio::test]
async fn final_statuses_are_not_retried() {
    for (status, kind) in [
        (400, ErrorKind::BadRequest),
        (403, ErrorKind::Forbidden),
        (404, ErrorKind::NotFound),
        (405, ErrorKind::MethodNotAllowed),
        (406, ErrorKind::NotAcceptable),
        (410, ErrorKind::Gone),
        (418, ErrorKind::ClientError),
    ] {
        let server = SseServer::http([Response::status(status)]).await;
        let mut stream = anonymous().stream(config(&server.url("/")));
        let error = expect_failed(&mut stream, kind).await;
        assert_eq!(error.status().map(|s| s.as_u16()), Some(status));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(server.requests().len(), 1, "{status} must not be retried");
    }
}

#[tokio::test]
async fn no_content_closes_the_stream_for_good() {
    let server = SseServer::http([Response::status(204)]).await;
    let mut stream = anonymous().stream(config(&server.url("/")));

    match next(&mut stream).await {
        StreamItem::Closed(error) => {
            assert_eq!(error.kind(), ErrorKind::ClosedByServer);
            assert_eq!(error.health_code().as_str(), "SseConnectorStreamClosed");
        }
        other => panic!("expected Closed, got {other:?}"),
    }
    assert!(stream.next().await.is_none());
    assert!(stream.is_done());
    tokio::time::sleep(SETTLE).await;
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn wrong_content_type_is_not_retried() {
    let server = SseServer::http([Response::status(200)
        .header("content-type", "text/html")
        .chunk("<html>")])
    .await;
    let mut stream = anonymous().stream(config(&server.url("/page")));

    let error = expect_failed(&mut stream, ErrorKind::WrongContentType).await;
    assert!(error.to_string().contains("text/html"), "{error}");
    tokio::time::sleep(SETTLE).await;
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn content_type_parameters_and_case_are_accepted() {
    let server = SseServer::http([Response::status(200)
        .header("content-type", "Text/Event-Stream; charset=utf-8")
        .chunk("data: ok\n\n")
        .hang()])
    .await;
    let mut stream = anonymous().stream(config(&server.url("/")));
    expect_connected(&mut stream).await;
    assert_eq!(expect_event(&mut stream).await, "ok");
}

#[tokio::test]
async fn server_error_is_retried_then_recovers() {
    let server = SseServer::http([
        Response::status(500),
        Response::status(503),
        Response::sse().chunk("data: back\n\n").hang(),
    ])
    .await;
    let mut stream = anonymous().stream(config(&server.url("/")));

    let (attempt, delay, _) = expect_reconnecting(&mut stream, ErrorKind::ServerError).await;
    assert_eq!((attempt, delay), (1, Duration::from_millis(50)));
    let (attempt, delay, _) = expect_reconnecting(&mut stream, ErrorKind::ServerError).await;
    assert_eq!((attempt, delay), (2, Duration::from_millis(100)));
    expect_connected(&mut stream).await;
    assert_eq!(expect_event(&mut stream).await, "back");
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn idle_timeout_reconnects_with_the_last_committed_id() {
    let server = SseServer::http([
        // Two committed ids, then an unterminated block whose id must not count.
        Response::sse()
            .chunk("id: 1\ndata: a\n\n")
            .chunk(": heartbeat\n\nid: 2\ndata: b\n\nid: 3\ndata: partial")
            .hang(),
        // An empty id resets the last event id.
        Response::sse().chunk("data: c\n\nid\ndata: d\n\n"),
        Response::sse().chunk("data: e\n\n").hang(),
    ])
    .await;
    let config = config(&server.url("/"))
        .with_idle_timeout(Duration::from_millis(200))
        .unwrap();
    let mut stream = anonymous().stream(config);

    expect_connected(&mut stream).await;
    assert_eq!(expect_event(&mut stream).await, "a");
    assert!(matches!(next(&mut stream).await, StreamItem::Comment(c) if &*c == " heartbeat"));
    assert_eq!(expect_event(&mut stream).await, "b");
    let (_, _, message) = expect_reconnecting(&mut stream, ErrorKind::IdleTimeout).await;
    assert!(message.contains("idle timeout"), "{message}");
    assert_eq!(stream.last_event_id(), "2");

    expect_connected(&mut stream).await;
    assert_eq!(expect_event(&mut stream).await, "c");
    assert_eq!(expect_event(&mut stream).await, "d");
    expect_reconnecting(&mut stream, ErrorKind::EndOfStream).await;
    expect_connected(&mut stream).await;
    assert_eq!(expect_event(&mut stream).await, "e");

    let requests = server.requests();
    assert_eq!(requests[0].header("last-event-id"), None);
    assert_eq!(requests[1].header("last-event-id"), Some("2"));
    assert_eq!(
        requests[2].header("last-event-id"),
        None,
        "an id reset to empty is not sent"
    );
}

#[tokio::test]
async fn comments_keep_an_idle_stream_alive() {
    let mut heartbeat = Response::sse();
    for _ in 0..6 {
        heartbeat = heartbeat.delay(Duration::from_millis(100)).chunk(":\n");
    }
    let server = SseServer::http([heartbeat.chunk("data: after\n\n").hang()]).await;
    let config = config(&server.url("/"))
        .with_idle_timeout(Duration::from_millis(300))
        .unwrap();
    let mut stream = anonymous().stream(config);

    expect_connected(&mut stream).await;
    assert_eq!(
        expect_event(&mut stream).await,
        "after",
        "600 ms of comments, no idle timeout"
    );
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn initial_last_event_id_is_sent() {
    let server = SseServer::http([Response::sse().hang()]).await;
    let mut stream = anonymous().stream(config(&server.url("/")).with_last_event_id("resume-42"));
    expect_connected(&mut stream).await;
    assert_eq!(
        server.requests()[0].header("last-event-id"),
        Some("resume-42")
    );
}

#[tokio::test]
async fn retry_field_is_the_base_delay() {
    let server = SseServer::http([
        Response::sse().chunk("retry: 300\ndata: first\n\n"),
        Response::sse().chunk("data: second\n\n").hang(),
    ])
    .await;
    let policy = RetryPolicy::try_new(
        Duration::from_millis(50),
        Duration::from_secs(5),
        Duration::from_secs(60),
        0.0,
    )
    .unwrap();
    let mut stream = anonymous().stream(config(&server.url("/")).with_retry_policy(policy));

    expect_connected(&mut stream).await;
    assert_eq!(expect_event(&mut stream).await, "first");
    let (attempt, delay, _) = expect_reconnecting(&mut stream, ErrorKind::EndOfStream).await;
    assert_eq!(
        (attempt, delay),
        (1, Duration::from_millis(300)),
        "retry: replaces the initial delay"
    );
    expect_connected(&mut stream).await;
    assert_eq!(expect_event(&mut stream).await, "second");

    let requests = server.requests();
    let gap = requests[1].at - requests[0].at;
    assert!(
        gap >= Duration::from_millis(300),
        "reconnected after {gap:?}"
    );
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let server = SseServer::http([
        Response::status(429).header("retry-after", "1"),
        Response::sse().chunk("data: ok\n\n").hang(),
    ])
    .await;
    let mut stream = anonymous().stream(config(&server.url("/")));

    let (_, delay, _) = expect_reconnecting(&mut stream, ErrorKind::TooManyRequests).await;
    assert!(delay >= Duration::from_secs(1), "{delay:?}");
    expect_connected(&mut stream).await;
    let requests = server.requests();
    let gap = requests[1].at - requests[0].at;
    assert!(gap >= Duration::from_secs(1), "reconnected after {gap:?}");
}

#[tokio::test]
async fn backoff_resets_after_a_healthy_period() {
    let server = SseServer::http([
        Response::status(500),
        Response::status(500),
        Response::sse()
            .chunk("data: up\n\n")
            .delay(Duration::from_millis(250)),
        Response::status(500),
    ])
    .await;
    let policy = RetryPolicy::try_new(
        Duration::from_millis(50),
        Duration::from_secs(1),
        Duration::from_millis(200),
        0.0,
    )
    .unwrap();
    let mut stream = anonymous().stream(config(&server.url("/")).with_retry_policy(policy));

    assert_eq!(
        expect_reconnecting(&mut stream, ErrorKind::ServerError)
            .await
            .0,
        1
    );
    assert_eq!(
        expect_reconnecting(&mut stream, ErrorKind::ServerError)
            .await
            .0,
        2
    );
    expect_connected(&mut stream).await;
    assert_eq!(expect_event(&mut stream).await, "up");
    let (attempt, delay, _) = expect_reconnecting(&mut stream, ErrorKind::EndOfStream).await;
    assert_eq!(
        (attempt, delay),
        (1, Duration::from_millis(50)),
        "healthy for 250 ms ≥ 200 ms resets"
    );
    assert_eq!(
        expect_reconnecting(&mut stream, ErrorKind::ServerError)
            .await
            .0,
        2
    );
}

#[tokio::test]
async fn event_then_dropped_connection_is_retried() {
    let server = SseServer::http([
        Response::sse().chunk("id: 7\ndata: one\n\n").abort(),
        Response::sse().chunk("data: two\n\n").hang(),
    ])
    .await;
    let mut stream = anonymous().stream(config(&server.url("/")));

    expect_connected(&mut stream).await;
    assert_eq!(expect_event(&mut stream).await, "one");
    match next(&mut stream).await {
        StreamItem::Reconnecting { error, .. } => {
            assert!(
                matches!(error.kind(), ErrorKind::Transport | ErrorKind::EndOfStream),
                "{error}"
            );
        }
        other => panic!("expected Reconnecting, got {other:?}"),
    }
    expect_connected(&mut stream).await;
    assert_eq!(expect_event(&mut stream).await, "two");
    assert_eq!(server.requests()[1].header("last-event-id"), Some("7"));
}

#[tokio::test]
async fn redirects_301_and_307_are_followed_with_credentials_on_the_same_origin() {
    let server = SseServer::http([]).await;
    server.push(Response::redirect(301, "/moved"));
    server.push(Response::redirect(307, &server.url("/final")));
    server.push(Response::sse().chunk("data: here\n\n").hang());
    let mut stream = client(basic("user", "pw")).stream(config(&server.url("/start")));

    let url = expect_connected(&mut stream).await;
    assert_eq!(url.as_str(), server.url("/final"));
    assert_eq!(expect_event(&mut stream).await, "here");
    let requests = server.requests();
    let paths: Vec<_> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/start", "/moved", "/final"]);
    for request in &requests {
        assert_eq!(
            request.header("authorization"),
            Some("Basic dXNlcjpwdw=="),
            "{}",
            request.path
        );
    }
}

#[tokio::test]
async fn credentials_and_custom_headers_are_not_sent_to_another_origin() {
    let other = SseServer::http([Response::sse().chunk("data: elsewhere\n\n").hang()]).await;
    let origin = SseServer::http([Response::redirect(307, &other.url("/there"))]).await;
    let mut headers = HeaderMap::new();
    headers.insert("x-api-key", HeaderValue::from_static("k3y"));
    let mut stream =
        client(basic("user", "pw")).stream(config(&origin.url("/here")).with_headers(headers));

    let url = expect_connected(&mut stream).await;
    assert_eq!(url.as_str(), other.url("/there"));
    assert_eq!(expect_event(&mut stream).await, "elsewhere");

    let first = &origin.requests()[0];
    assert!(first.header("authorization").is_some());
    assert_eq!(first.header("x-api-key"), Some("k3y"));
    let hop = &other.requests()[0];
    assert_eq!(
        hop.header("authorization"),
        None,
        "Basic credentials leaked to another origin"
    );
    assert_eq!(
        hop.header("x-api-key"),
        None,
        "custom headers leaked to another origin"
    );
    assert_eq!(hop.header("accept"), Some("text/event-stream"));
}

#[tokio::test]
async fn redirect_without_location_fails() {
    for response in [Response::status(302), Response::redirect(308, "")] {
        let server = SseServer::http([response]).await;
        let mut stream = anonymous().stream(config(&server.url("/")));
        let error = expect_failed(&mut stream, ErrorKind::InvalidRedirect).await;
        assert!(error.to_string().contains("Location"), "{error}");
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(server.requests().len(), 1);
    }
}

#[tokio::test]
async fn redirect_loops_are_cut_at_the_hop_limit() {
    let server = SseServer::http([]).await;
    server.set_fallback(Response::redirect(302, "/loop"));
    let mut stream = anonymous().stream(config(&server.url("/loop")));
    expect_failed(&mut stream, ErrorKind::TooManyRedirects).await;
    assert_eq!(server.requests().len(), sse_client::MAX_REDIRECTS + 1);
}

#[tokio::test]
async fn oversized_event_is_dropped_and_the_stream_goes_on() {
    let big = format!("data: {}\n\n", "x".repeat(500));
    let server =
        SseServer::http([Response::sse().chunk(big).chunk("data: small\n\n").hang()]).await;
    let mut stream = anonymous().stream(config(&server.url("/")).with_max_event_size(100));

    expect_connected(&mut stream).await;
    match next(&mut stream).await {
        StreamItem::EventDropped(error) => {
            assert_eq!(error.kind(), ErrorKind::EventTooLarge);
            assert_eq!(error.reason_code(), "event_too_large");
        }
        other => panic!("expected EventDropped, got {other:?}"),
    }
    assert_eq!(expect_event(&mut stream).await, "small");
    assert!(stream.is_connected());
}

#[tokio::test]
async fn next_is_cancel_safe() {
    let server = SseServer::http([Response::sse()
        .delay(Duration::from_millis(120))
        .chunk("data: a\n\n")
        .delay(Duration::from_millis(120))
        .chunk("data: b\n\n")
        .hang()])
    .await;
    let mut stream = anonymous().stream(config(&server.url("/")));

    // Poll with a deadline much shorter than the server's pauses, dropping many futures.
    let mut items = Vec::new();
    let started = std::time::Instant::now();
    while items.len() < 3 && started.elapsed() < STEP {
        if let Ok(item) = tokio::time::timeout(Duration::from_millis(15), stream.next()).await {
            items.push(item.unwrap());
        }
    }
    assert!(
        matches!(items[0], StreamItem::Connected { .. }),
        "{items:?}"
    );
    assert!(
        matches!(&items[1], StreamItem::Event(e) if &*e.data == "a"),
        "{items:?}"
    );
    assert!(
        matches!(&items[2], StreamItem::Event(e) if &*e.data == "b"),
        "{items:?}"
    );
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn restart_reconnects_now_and_keeps_the_last_event_id() {
    let server = SseServer::http([
        Response::sse().chunk("id: 9\ndata: a\n\n").hang(),
        Response::sse().chunk("data: b\n\n").hang(),
    ])
    .await;
    let mut stream = anonymous().stream(config(&server.url("/")));
    expect_connected(&mut stream).await;
    assert_eq!(expect_event(&mut stream).await, "a");

    stream.restart();
    expect_connected(&mut stream).await;
    assert_eq!(expect_event(&mut stream).await, "b");
    assert_eq!(server.requests()[1].header("last-event-id"), Some("9"));
}
