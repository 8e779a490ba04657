//! The supervisor's telemetry: per-stream and per-operation counters and the latency
//! histogram behind `Supervisor::metrics`, the `traceparent` of sampled messages, and the
//! live tail.

mod common;

use std::time::Duration;

use common::*;
use sinks::PublishError;
use supervisor::{Supervisor, SupervisorConfig};
use telemetry::{ErrorCategory, MetricsProducer as _, Tracer};
use test_support::{Response, SseServer};

fn config(dir: &tempfile::TempDir) -> SupervisorConfig {
    SupervisorConfig::new(dir.path(), "client")
}

#[tokio::test]
async fn counters_latency_and_traceparent_per_operation() {
    let server = SseServer::http([Response::sse()
        .chunk("id: 1\ndata: aa\n\nid: 2\ndata: bbb\n\nid: 3\nevent: other\ndata: c\n\n")
        .hang()])
    .await;
    let stream = spec(&server.url("/s"));
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::new(Mode::Hold);
    let mut sup =
        Supervisor::new(config(&dir), recorder.clone()).with_tracer(Tracer::without_export(1.0));
    let mut only_default = dataset("x", stream.clone(), "/s", mqtt("t/x"));
    only_default.matching = types(&["message"]);
    sup.apply(&plan([only_default]));
    let metrics = sup.metrics();
    let messages = recorder.wait_for(2).await;
    for m in &messages {
        let traceparent = prop(m, "traceparent").expect("sampled at ratio 1");
        assert_eq!(traceparent.len(), 55, "{traceparent}");
    }
    tokio::time::sleep(Duration::from_millis(5)).await;
    recorder.resolve(0, Ok(()));
    recorder.resolve(1, Err(PublishError::Closed));
    eventually("2 resolved", || {
        metrics
            .operations()
            .first()
            .is_some_and(|o| o.forwarded + o.failed == 2)
    })
    .await;
    let op = &metrics.operations()[0];
    assert_eq!(op.operation, "mysseasset/datasets/x");
    assert_eq!((op.forwarded, op.failed, op.bytes_out), (1, 1, 2));
    assert_eq!(op.latency.count, 1);
    assert!(op.latency.sum_us >= 5_000, "{:?}", op.latency);
    let s = &metrics.streams()[0];
    assert_eq!((s.received, s.dropped, s.bytes_in), (3, 1, 6));
    assert_eq!(s.errors[&ErrorCategory::Delivery], 1);
    sup.shutdown().await;
}

#[tokio::test]
async fn no_traceparent_without_tracing_and_the_tail_feeds_listeners() {
    let server = SseServer::http([Response::sse()
        .chunk("id: 1\ndata: {\"a\":1}\n\n")
        .delay(Duration::from_millis(300))
        .chunk("id: 2\ndata: {\"a\":2}\n\n")
        .hang()])
    .await;
    let stream = spec(&server.url("/s"));
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::new(Mode::Ack);
    let mut sup = Supervisor::new(config(&dir), recorder.clone());
    let mut tail = sup.tail().subscribe("mysseasset");
    sup.apply(&plan([dataset("x", stream, "/s", mqtt("t/x"))]));
    let messages = recorder.wait_for(2).await;
    assert!(messages.iter().all(|m| prop(m, "traceparent").is_none()));
    let first = tokio::time::timeout(Duration::from_secs(10), tail.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.operation, "mysseasset/datasets/x");
    assert_eq!(first.destination, "t/x");
    assert_eq!(first.sse_id, "1");
    assert_eq!(&first.payload[..], b"{\"a\":1}");
    assert_eq!(first.content_type, "application/json");
    sup.shutdown().await;
}
