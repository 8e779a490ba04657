//! At least once: checkpoints move only after acknowledgements, survive a restart, never skip
//! a failed delivery; the in-flight limit stops reading.

mod common;

use std::time::Duration;

use common::*;
use sinks::PublishError;
use sse_client::RetryPolicy;
use supervisor::{CheckpointStore, Supervisor, SupervisorConfig};
use test_support::{Gate, Response, SseServer};

fn config(dir: &tempfile::TempDir) -> SupervisorConfig {
    let mut cfg = SupervisorConfig::new(dir.path(), "client");
    cfg.checkpoint_interval = Duration::from_millis(20);
    cfg
}

fn refused(code: u8) -> PublishError {
    let reason = match code {
        0x87 => "NotAuthorized",
        0x90 => "TopicNameInvalid",
        _ => "UnspecifiedError",
    };
    PublishError::Refused {
        topic: "t/x".into(),
        code,
        reason: reason.into(),
    }
}

/// A supervisor whose one dataset (`t/x`) reads `events` from a server; every delivery is
/// held for the test to resolve.
struct Held {
    _server: SseServer,
    stream: model::plan::StreamSpec,
    dir: tempfile::TempDir,
    recorder: Recorder,
    sup: Supervisor<Recorder>,
    handle: supervisor::StreamHandle,
}

impl Held {
    /// Starts it and waits for the first `messages` messages.
    async fn start(events: &'static str, messages: usize) -> Self {
        let server = SseServer::http([Response::sse().chunk(events).hang()]).await;
        let stream = spec(&server.url("/s"));
        let dir = tempfile::tempdir().expect("temporary directory");
        let recorder = Recorder::new(Mode::Hold);
        let mut sup = Supervisor::new(fast_retry(&dir), recorder.clone());
        sup.apply(&plan([dataset("x", stream.clone(), "/s", mqtt("t/x"))]));
        recorder.wait_for(messages).await;
        let handle = sup.stream(&stream.url).expect("the stream runs");
        Self {
            _server: server,
            stream,
            dir,
            recorder,
            sup,
            handle,
        }
    }
}

/// Failed deliveries are attempted again after 20-30 ms (refused ones after 30 s).
fn fast_retry(dir: &tempfile::TempDir) -> SupervisorConfig {
    let mut cfg = config(dir);
    cfg.retry = Some(
        RetryPolicy::try_new(
            Duration::from_millis(20),
            Duration::from_millis(40),
            Duration::from_secs(60),
            0.5,
        )
        .expect("a valid policy"),
    );
    cfg
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
    let saved = || store.load(&stream, None).unwrap();
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
async fn a_retryable_failure_is_sent_again_in_order_while_the_stream_waits() {
    let gate = Gate::new();
    let server = SseServer::http([Response::sse()
        .chunk("id: 1\ndata: a\n\nid: 2\ndata: b\n\nid: 3\ndata: c\n\n")
        .wait_for(&gate)
        .chunk("id: 4\ndata: d\n\n")
        .hang()])
    .await;
    let stream = spec(&server.url("/s"));
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::new(Mode::Hold);
    let mut sup = Supervisor::new(fast_retry(&dir), recorder.clone());
    sup.apply(&plan([dataset("x", stream.clone(), "/s", mqtt("t/x"))]));
    recorder.wait_for(3).await;
    let handle = sup.stream(&stream.url).unwrap();
    recorder.resolve(0, Ok(()));
    recorder.resolve(1, Err(refused(0x80)));
    // The stream stops reading while event 2 waits for its next attempt.
    gate.open();
    eventually("event 2 is retrying", || {
        handle.deliveries.borrow().values().any(|p| {
            p.retrying
                .as_ref()
                .is_some_and(|r| r.code == "broker_refused")
        })
    })
    .await;
    settle().await;
    assert_eq!(
        recorder.count(),
        3,
        "no new event read, no retry before event 3 resolved"
    );
    recorder.resolve(2, Ok(()));
    let messages = recorder.wait_for(4).await;
    assert_eq!(
        prop(&messages[3], "sse-id"),
        Some("2"),
        "event 2 sent again"
    );
    settle().await;
    assert_eq!(
        recorder.count(),
        4,
        "still not reading: the retry is in flight"
    );
    recorder.resolve(3, Ok(()));
    let messages = recorder.wait_for(5).await;
    assert_eq!(prop(&messages[4], "sse-id"), Some("4"), "reading again");
    recorder.resolve(4, Ok(()));
    eventually("4 delivered", || handle.stats.snapshot().delivered == 4).await;
    let stats = handle.stats.snapshot();
    assert_eq!(
        (
            stats.delivery_failures,
            stats.delivery_retries,
            stats.delivered
        ),
        (1, 1, 4)
    );
    eventually("retry cleared", || handle.deliveries.borrow().is_empty()).await;
    sup.shutdown().await;
    let saved = CheckpointStore::new(dir.path())
        .load(&stream, None)
        .unwrap();
    assert_eq!(
        saved.as_deref(),
        Some("4"),
        "the checkpoint moved on without a restart"
    );
}

#[tokio::test]
async fn a_message_the_broker_can_never_take_goes_to_the_dead_letter_file() {
    let held = Held::start(
        "id: 1\ndata: a\n\nid: 2\nevent: reading\ndata: {\"t\":1}\n\nid: 3\ndata: c\n\n",
        3,
    )
    .await;
    let Held {
        stream,
        dir,
        recorder,
        sup,
        handle,
        _server,
    } = held;
    recorder.resolve(0, Ok(()));
    recorder.resolve(1, Err(refused(0x90)));
    recorder.resolve(2, Ok(()));
    eventually("dead letter reported", || {
        handle
            .deliveries
            .borrow()
            .values()
            .any(|p| p.dead_letters.as_ref().is_some_and(|d| d.count == 1))
    })
    .await;
    let problem = handle.deliveries.borrow().values().next().cloned().unwrap();
    let dead = problem.dead_letters.unwrap();
    assert_eq!(dead.destination, "Mqtt topic t/x");
    assert_eq!(dead.code, "broker_refused");
    assert!(dead.reason.contains("TopicNameInvalid"), "{}", dead.reason);
    assert!(problem.retrying.is_none());
    let stats = handle.stats.snapshot();
    assert_eq!((stats.dead_letters, stats.delivery_retries), (1, 0));
    assert_eq!(recorder.count(), 3, "never sent again");
    sup.shutdown().await;
    let saved = CheckpointStore::new(dir.path())
        .load(&stream, None)
        .unwrap();
    assert_eq!(saved.as_deref(), Some("3"), "the stream went on");

    let file = dir.path().join("dead-letter").join("mysseasset.jsonl");
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{text}");
    let line = &lines[0];
    assert_eq!(
        line["destination"],
        serde_json::json!({"kind": "Mqtt", "topic": "t/x"})
    );
    assert_eq!(line["reasonCode"], "broker_refused");
    assert_eq!(
        line["event"],
        serde_json::json!({"type": "reading", "id": "2", "data": {"t": 1}})
    );
    assert!(line["time"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn not_authorized_is_retried_slowly_and_a_closed_destination_stalls() {
    let Held {
        stream,
        dir,
        recorder,
        sup,
        handle,
        _server,
    } = Held::start("id: 1\ndata: a\n\nid: 2\ndata: b\n\n", 2).await;
    recorder.resolve(0, Err(refused(0x87)));
    recorder.resolve(1, Err(PublishError::Closed));
    eventually("slow retry reported", || {
        handle.deliveries.borrow().values().any(|p| {
            p.retrying
                .as_ref()
                .is_some_and(|r| r.attempt == 1 && r.delay > Duration::from_secs(20))
        })
    })
    .await;
    assert_eq!(recorder.count(), 2, "waits for the slow retry");
    sup.shutdown().await;
    let saved = CheckpointStore::new(dir.path())
        .load(&stream, None)
        .unwrap();
    assert_eq!(saved, None, "event 1 not delivered when the stream stopped");
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
    let saved = CheckpointStore::new(dir.path())
        .load(&stream, None)
        .unwrap();
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
    let saved = CheckpointStore::new(dir.path())
        .load(&stream, None)
        .unwrap();
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
    let saved = CheckpointStore::new(dir.path())
        .load(&stream, None)
        .unwrap();
    assert_eq!(saved.as_deref(), Some("9"));
}
