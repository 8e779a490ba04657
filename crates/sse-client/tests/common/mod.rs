//! Helpers shared by the integration tests.

#![allow(clippy::unwrap_used, dead_code)]

use std::time::Duration;

use sse_client::{
    Auth, ClientConfig, ErrorKind, EventStream, RetryPolicy, SseClient, StreamConfig, StreamItem,
};

/// A real-time bound on any single wait, so a broken test fails instead of hanging.
pub const STEP: Duration = Duration::from_secs(10);

/// Fast retries for tests: 50 ms initial, 300 ms max, no jitter.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy::try_new(
        Duration::from_millis(50),
        Duration::from_millis(300),
        Duration::from_secs(60),
        0.0,
    )
    .unwrap()
}

pub fn client(auth: Auth) -> SseClient {
    SseClient::new(&ClientConfig::new(auth)).unwrap()
}

pub fn anonymous() -> SseClient {
    client(Auth::Anonymous)
}

pub fn basic(username: &str, password: &str) -> Auth {
    Auth::Basic {
        username: username.into(),
        password: password.into(),
    }
}

pub fn config(url: &str) -> StreamConfig {
    StreamConfig::new(url)
        .unwrap()
        .with_retry_policy(fast_retry())
}

/// The next item, failing the test if none comes within [`STEP`].
pub async fn next(stream: &mut EventStream) -> StreamItem {
    tokio::time::timeout(STEP, stream.next())
        .await
        .expect("the stream produced nothing in time")
        .expect("the stream ended")
}

pub async fn expect_connected(stream: &mut EventStream) -> url::Url {
    match next(stream).await {
        StreamItem::Connected { url, status } => {
            assert_eq!(status, 200);
            url
        }
        other => panic!("expected Connected, got {other:?}"),
    }
}

/// The next event's data, skipping comments.
pub async fn expect_event(stream: &mut EventStream) -> String {
    loop {
        match next(stream).await {
            StreamItem::Event(event) => return event.data.to_string(),
            StreamItem::Comment(_) => {}
            other => panic!("expected an event, got {other:?}"),
        }
    }
}

/// Expects `Reconnecting` with the given kind; returns (attempt, delay, message).
pub async fn expect_reconnecting(
    stream: &mut EventStream,
    kind: ErrorKind,
) -> (u32, Duration, String) {
    match next(stream).await {
        StreamItem::Reconnecting {
            attempt,
            delay,
            error,
        } => {
            assert_eq!(error.kind(), kind, "{error}");
            assert!(error.is_retryable());
            (attempt, delay, error.to_string())
        }
        other => panic!("expected Reconnecting({kind:?}), got {other:?}"),
    }
}

/// Expects `Failed` with the given kind, then the end of the stream; returns the error.
pub async fn expect_failed(stream: &mut EventStream, kind: ErrorKind) -> sse_client::Error {
    match next(stream).await {
        StreamItem::Failed(error) => {
            assert_eq!(error.kind(), kind, "{error}");
            assert!(!error.is_retryable());
            assert!(stream.next().await.is_none(), "a failed stream must end");
            error
        }
        other => panic!("expected Failed({kind:?}), got {other:?}"),
    }
}
