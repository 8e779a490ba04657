//! At least once: checkpoints move only after acknowledgements, survive a restart, never skip
//! a failed delivery; the in-flight limit stops reading.

mod common;

use std::time::Duration;

use common::*;
use sinks::PublishError;
use supervisor::{CheckpointStore, Supervisor, SupervisorConfig};
use test_support::{Response, SseServer};

fn config(dir: &tempfile::TempDir) -> SupervisorConfig {
    let mut cfg = SupervisorConfig::new(dir.path(), "client");
    cfg.checkpoint_interval = Duration::from_millis(20);
    cfg
}

fn refused() -> PublishError {
    PublishError::Refused {
        topic: "t".into(),
        reason: "quota exceeded".into(),
    }
}

#[tokio::test]
async fn checkpoint_moves_only_after_acks_in_order_and_is_used_to_resume() {
    let server = SseServer::http([
        Response::sse()
            .chunk("id: 1\ndata: a\n\nid: 2\ndata: b\n\nid: 3\ndata: c\n\n")
            .hang(),
        Response::sse().chunk("id: 4\ndata: d\n\n").hang(),
    ])
    .await;
    let stream = spec(&server.url("/s"));
    let dir = tempfile::tempdir().unwrap();
    let store = CheckpointStore::new(dir.path());
    let saved = || store.load(&stream.url).unwrap();
    // Two operations on the stream: each event has two deliveries.
    let plan = plan([
        dataset("x", stream.clone(), "/s", mqtt("t/x")),
        dataset("y", stream.clone(), "/s", mqtt("t/y")),
    ]);

    let recorder = Recorder::new(Mode::Hold);
    let mut sup = Supervisor::new(config(&dir), recorder.clone());
    sup.apply(&plan);
    let messages = recorder.wait_for(6).await;
    let index = |id: &str, topic: &str| {
        messages
            .iter()
            .position(|m| prop(m, "sse-id") == Some(id) && m.topic == topic)
            .unwrap()
    };
    settle().await;
    assert_eq!(saved(), None, "nothing acknowledged");

    recorder.resolve(index("1", "t/x"), Ok(()));
    settle().await;
    assert_eq!(saved(), None, "event 1 has a delivery pending");
    recorder.resolve(index("1", "t/y"), Ok(()));
    eventually("checkpoint 1", || saved().as_deref() == Some("1")).await;

    recorder.resolve(index("3", "t/x"), Ok(()));
    recorder.resolve(index("3", "t/y"), Ok(()));
    recorder.resolve(index("2", "t/x"), Ok(()));
    settle().await;
    assert_eq!(saved().as_deref(), Some("1"), "event 2 not done: 3 waits");
    recorder.resolve(index("2", "t/y"), Ok(()));
    eventually("checkpoint 3", || saved().as_deref() == Some("3")).await;
    sup.shutdown().await;

    // A new supervisor resumes after event 3.
    let recorder = Recorder::new(Mode::Ack);
    let mut sup = Supervisor::new(config(&dir), recorder.clone());
    sup.apply(&plan);
    let requests = server.wait_for_requests(2, Duration::from_secs(30)).await;
    assert_eq!(requests[0].header("last-event-id"), None);
    assert_eq!(requests[1].header("last-event-id"), Some("3"));
    recorder.wait_for(2).await;
    eventually("checkpoint 4", || saved().as_deref() == Some("4")).await;
    sup.shutdown().await;
}

#[tokio::test]
async fn a_failed_delivery_stops_the_checkpoint_and_is_counted() {
    let server = SseServer::http([Response::sse()
        .chunk("id: 1\ndata: a\n\nid: 2\ndata: b\n\nid: 3\ndata: c\n\n")
        .hang()])
    .await;
    let stream = spec(&server.url("/s"));
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::new(Mode::Hold);
    let mut sup = Supervisor::new(config(&dir), recorder.clone());
    sup.apply(&plan([dataset("x", stream.clone(), "/s", mqtt("t/x"))]));
    recorder.wait_for(3).await;
    recorder.resolve(0, Ok(()));
    recorder.resolve(1, Err(refused()));
    recorder.resolve(2, Ok(()));
    let stats = sup.stream(&stream.url).unwrap().stats;
    eventually("3 resolved", || {
        let s = stats.snapshot();
        s.delivered + s.delivery_failures == 3
    })
    .await;
    assert_eq!(stats.snapshot().delivery_failures, 1);
    sup.shutdown().await;
    let saved = CheckpointStore::new(dir.path()).load(&stream.url).unwrap();
    assert_eq!(saved.as_deref(), Some("1"), "never past the failed event 2");
}

#[tokio::test]
async fn reading_stops_at_the_in_flight_limit_until_deliveries_complete() {
    let events: String = (1..=40)
        .map(|i| format!("id: {i}\ndata: {i}\n\n"))
        .collect();
    let server = SseServer::http([Response::sse().chunk(events).hang()]).await;
    let stream = spec(&server.url("/s"));
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&dir);
    cfg.max_in_flight = 3.try_into().unwrap();
    let recorder = Recorder::new(Mode::Hold);
    let mut sup = Supervisor::new(cfg, recorder.clone());
    sup.apply(&plan([dataset("x", stream.clone(), "/s", mqtt("t/x"))]));
    let stats = sup.stream(&stream.url).unwrap().stats;

    recorder.wait_for(3).await;
    settle().await;
    assert_eq!(
        recorder.count(),
        3,
        "no fourth message while three are in flight"
    );
    assert_eq!(stats.snapshot().events, 3, "the stream is not read");

    recorder.release_all();
    recorder.wait_for(6).await;
    settle().await;
    assert_eq!(recorder.count(), 6, "three more, then it stops again");

    recorder.set_mode(Mode::Ack);
    recorder.release_all();
    let all = recorder.wait_for(40).await;
    let ids: Vec<_> = all
        .iter()
        .map(|m| prop(m, "sse-id").unwrap().to_owned())
        .collect();
    let expected: Vec<_> = (1..=40).map(|i| i.to_string()).collect();
    assert_eq!(ids, expected, "in order, none lost");
    sup.shutdown().await;
    let saved = CheckpointStore::new(dir.path()).load(&stream.url).unwrap();
    assert_eq!(saved.as_deref(), Some("40"));
}

#[tokio::test]
async fn shutdown_waits_for_deliveries_or_gives_up_after_the_grace_period() {
    let server = SseServer::http([Response::sse()
        .chunk("id: 1\ndata: a\n\nid: 2\ndata: b\n\n")
        .hang()])
    .await;
    let stream = spec(&server.url("/s"));
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::new(Mode::Hold);
    let mut sup = Supervisor::new(config(&dir), recorder.clone());
    sup.apply(&plan([dataset("x", stream.clone(), "/s", mqtt("t/x"))]));
    recorder.wait_for(2).await;
    recorder.resolve(0, Ok(()));
    // Event 2 is never acknowledged: the grace period ends, the checkpoint is saved at 1.
    let all_delivered = sup.shutdown_within(Duration::from_millis(200)).await;
    assert!(!all_delivered);
    let saved = CheckpointStore::new(dir.path()).load(&stream.url).unwrap();
    assert_eq!(saved.as_deref(), Some("1"));

    // Shutdown without a limit waits for the last acknowledgement.
    let server = SseServer::http([Response::sse().chunk("id: 9\ndata: z\n\n").hang()]).await;
    let stream = spec(&server.url("/t"));
    let recorder = Recorder::new(Mode::Hold);
    let mut sup = Supervisor::new(config(&dir), recorder.clone());
    sup.apply(&plan([dataset("x", stream.clone(), "/t", mqtt("t/x"))]));
    recorder.wait_for(1).await;
    let releaser = {
        let recorder = recorder.clone();
        tokio::spawn(async move {
            settle().await;
            recorder.release_all();
        })
    };
    sup.shutdown().await;
    releaser.await.unwrap();
    let saved = CheckpointStore::new(dir.path()).load(&stream.url).unwrap();
    assert_eq!(saved.as_deref(), Some("9"));
}
