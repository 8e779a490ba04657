//! Backoff timing on paused tokio time: the stream waits exactly what the policy says, and
//! the attempt count grows, against a port where nothing listens (connection refused).

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use sse_client::{ErrorKind, RetryPolicy, StreamConfig, StreamItem};
use tokio::time::Instant;

#[tokio::test(start_paused = true)]
async fn refused_connections_back_off_exponentially_up_to_the_cap() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let policy = RetryPolicy::try_new(
        Duration::from_secs(1),
        Duration::from_secs(8),
        Duration::from_secs(60),
        0.0,
    )
    .unwrap();
    let config = StreamConfig::new(&format!("http://127.0.0.1:{port}/"))
        .unwrap()
        .with_retry_policy(policy);
    let mut stream = anonymous().stream(config);

    let mut previous: Option<(Instant, Duration)> = None;
    let mut delays = Vec::new();
    for expected_attempt in 1..=6 {
        let item = stream.next().await.unwrap();
        let StreamItem::Reconnecting {
            attempt,
            delay,
            error,
        } = item
        else {
            panic!("expected Reconnecting, got {item:?}");
        };
        assert!(
            matches!(error.kind(), ErrorKind::Connect | ErrorKind::ConnectTimeout),
            "{error}"
        );
        assert_eq!(attempt, expected_attempt);
        let now = Instant::now();
        if let Some((then, waited)) = previous {
            assert!(
                now - then >= waited,
                "reconnected after {:?}, before the {waited:?} delay",
                now - then
            );
        }
        previous = Some((now, delay));
        delays.push(delay.as_secs());
    }
    assert_eq!(delays, [1, 2, 4, 8, 8, 8]);
}
