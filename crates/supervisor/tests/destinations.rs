//! The state store and file destinations: a dataset SETs its key through a key-value store, a
//! dataset and an event append lines to real files; the checkpoint waits for the store's reply
//! and for the line on disk.
#![allow(clippy::unwrap_used)]

mod common;

use std::future::Future;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::*;
use model::destination::Sink;
use sinks::file::{FileOptions, FileSinks};
use sinks::state_store::KeyValueStore;
use sinks::{Delivery, PublishError};
use supervisor::{CheckpointStore, Supervisor, SupervisorConfig};
use test_support::{Response, SseServer};
use tokio::sync::oneshot;

fn config(dir: &Path) -> SupervisorConfig {
    let mut cfg = SupervisorConfig::new(dir, "client");
    cfg.checkpoint_interval = Duration::from_millis(20);
    cfg
}

type Reply = oneshot::Sender<Result<(), PublishError>>;
/// Key, value, and the reply until it is given.
type Set = (String, Bytes, Option<Reply>);

/// A key-value store that records every SET and holds its reply until the test gives it.
#[derive(Clone, Default)]
struct Store {
    sets: Arc<Mutex<Vec<Set>>>,
}

impl Store {
    fn count(&self) -> usize {
        self.sets.lock().unwrap().len()
    }

    fn sets(&self) -> Vec<(String, String)> {
        self.sets
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v, _)| (k.clone(), String::from_utf8(v.to_vec()).unwrap()))
            .collect()
    }

    fn reply(&self, index: usize, result: Result<(), PublishError>) {
        let reply = self.sets.lock().unwrap()[index].2.take().expect("held");
        reply.send(result).unwrap();
    }
}

impl KeyValueStore for Store {
    fn set(
        &self,
        key: String,
        value: Bytes,
    ) -> impl Future<Output = Result<Delivery, PublishError>> + Send {
        let sets = self.sets.clone();
        async move {
            let (reply, delivery) = Delivery::channel();
            sets.lock().unwrap().push((key, value, Some(reply)));
            Ok(delivery)
        }
    }
}

fn lines(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "whole lines: {text:?}"
    );
    text.lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect()
}

fn sse_ids(lines: &[serde_json::Value]) -> Vec<String> {
    lines
        .iter()
        .map(|l| l["sse-id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_dataset_sets_its_key_and_the_checkpoint_waits_for_the_reply() {
    let server = SseServer::http([Response::sse()
        .chunk("id: 1\ndata: {\"t\":1}\n\nid: 2\ndata: {\"t\":2}\n\nid: 3\ndata: text\n\n")
        .hang()])
    .await;
    let stream = spec(&server.url("/s"));
    let dir = tempfile::tempdir().unwrap();
    let checkpoints = CheckpointStore::new(dir.path());
    let saved = || checkpoints.load(&stream, None).unwrap();
    let mut projected = dataset(
        "temp",
        stream.clone(),
        "/s",
        Sink::BrokerStateStore {
            key: "plant/temp".into(),
        },
    );
    projected.data_points = vec![point("temperature", "/t")];
    let plan = plan([
        dataset(
            "latest",
            stream.clone(),
            "/s",
            Sink::BrokerStateStore {
                key: "plant/latest".into(),
            },
        ),
        projected,
    ]);

    let store = Store::default();
    let mut sup =
        Supervisor::new(config(dir.path()), Recorder::new(Mode::Ack)).with_key_value(store.clone());
    let applied = sup.apply(&plan);
    assert!(applied.unsupported.is_empty(), "{applied:?}");
    eventually("5 SETs", || store.count() >= 5).await;
    let sets = store.sets();
    let on = |key: &str| -> Vec<String> {
        sets.iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    };
    assert_eq!(on("plant/latest"), ["{\"t\":1}", "{\"t\":2}", "text"]);
    assert_eq!(
        on("plant/temp"),
        ["{\"temperature\":1}", "{\"temperature\":2}"],
        "event 3 is not JSON: not projected"
    );

    settle().await;
    assert_eq!(saved(), None, "no reply yet");
    let index = |key: &str, value: &str| {
        sets.iter()
            .position(|(k, v)| k == key && v == value)
            .unwrap()
    };
    store.reply(index("plant/latest", "{\"t\":1}"), Ok(()));
    settle().await;
    assert_eq!(saved(), None, "the projected SET of event 1 has no reply");
    store.reply(index("plant/temp", "{\"temperature\":1}"), Ok(()));
    eventually("checkpoint 1", || saved().as_deref() == Some("1")).await;

    store.reply(
        index("plant/latest", "{\"t\":2}"),
        Err(PublishError::KeyValue {
            key: "plant/latest".into(),
            reason: "the quota has been exceeded".into(),
        }),
    );
    store.reply(index("plant/temp", "{\"temperature\":2}"), Ok(()));
    store.reply(index("plant/latest", "text"), Ok(()));
    let stats = sup.stream(&stream.url).unwrap().stats;
    eventually("every SET answered", || {
        let s = stats.snapshot();
        s.delivered + s.delivery_failures == 5
    })
    .await;
    assert_eq!(stats.snapshot().delivery_failures, 1);
    sup.shutdown().await;
    assert_eq!(saved().as_deref(), Some("1"), "never past the failed SET");
}

#[tokio::test]
async fn without_a_store_the_dataset_is_reported_unsupported_and_mqtt_goes_on() {
    let server = SseServer::http([Response::sse().chunk("id: 1\ndata: a\n\n").hang()]).await;
    let stream = spec(&server.url("/s"));
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::new(Mode::Ack);
    let mut sup = Supervisor::new(config(dir.path()), recorder.clone());
    let applied = sup.apply(&plan([
        dataset("m", stream.clone(), "/s", mqtt("t/m")),
        dataset(
            "kv",
            stream.clone(),
            "/s",
            Sink::BrokerStateStore { key: "k".into() },
        ),
        dataset(
            "file",
            stream.clone(),
            "/s",
            Sink::Storage {
                path: "f.jsonl".into(),
            },
        ),
    ]));
    let reasons: Vec<_> = applied
        .unsupported
        .iter()
        .map(|u| (u.sink, u.reason))
        .collect();
    assert_eq!(
        reasons,
        [
            ("Storage", "no storage root is configured"),
            ("BrokerStateStore", "no state store is configured"),
        ],
        "in operation id order: file, kv"
    );
    recorder.wait_for(1).await;
    let saved = || {
        CheckpointStore::new(dir.path())
            .load(&stream, None)
            .unwrap()
    };
    eventually("checkpoint 1", || saved().as_deref() == Some("1")).await;
    sup.shutdown().await;
}

#[tokio::test]
async fn a_dataset_and_an_event_append_whole_lines_in_order_before_the_checkpoint_moves() {
    let events: String = (1..=30)
        .map(|i| {
            let kind = if i % 3 == 0 { "alarm" } else { "reading" };
            format!(
                "id: {i}\nevent: {kind}\ndata: {{\"n\":{i},\ndata: \"text\":\"line\\nbreak\"}}\n\n"
            )
        })
        .collect();
    let server = SseServer::http([Response::sse().chunk(events).hang()]).await;
    let stream = spec(&server.url("/s"));
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("storage");
    let files = FileSinks::new(&root, FileOptions::default());
    let plan = plan([
        dataset(
            "all",
            stream.clone(),
            "/s",
            Sink::Storage {
                path: "datasets/all.jsonl".into(),
            },
        ),
        event(
            "alerts",
            "alarm",
            stream.clone(),
            "alarm",
            types(&["alarm"]),
            Sink::Storage {
                path: "events/alarms.jsonl".into(),
            },
        ),
    ]);
    let mut sup =
        Supervisor::new(config(dir.path()), Recorder::new(Mode::Ack)).with_files(files.clone());
    assert!(sup.apply(&plan).unsupported.is_empty());

    // When the checkpoint says 30, every line up to event 30 is on disk.
    let checkpoints = CheckpointStore::new(dir.path());
    eventually("checkpoint 30", || {
        checkpoints.load(&stream, None).unwrap().as_deref() == Some("30")
    })
    .await;
    let all = lines(&root.join("datasets/all.jsonl"));
    let alarms = lines(&root.join("events/alarms.jsonl"));
    let expected: Vec<String> = (1..=30).map(|i| i.to_string()).collect();
    assert_eq!(sse_ids(&all), expected, "every event, in order");
    let expected: Vec<String> = (1..=10).map(|i| (i * 3).to_string()).collect();
    assert_eq!(sse_ids(&alarms), expected, "the alarms, in order");

    let first = &alarms[0];
    assert_eq!(first["type"], "Event");
    assert_eq!(first["subject"], "mysseasset/alerts/alarm");
    assert_eq!(first["sse-event"], "alarm");
    assert_eq!(first["data"]["n"], 3);
    assert_eq!(first["data"]["text"], "line\nbreak");
    assert_eq!(all[0]["type"], "DataSet");
    assert_eq!(all[0]["subject"], "mysseasset/all");
    sup.shutdown().await;
    files.close().await;
}

#[tokio::test]
async fn a_storage_path_that_is_not_a_file_sends_the_events_to_the_dead_letters() {
    let server = SseServer::http([Response::sse()
        .chunk("id: 1\ndata: a\n\nid: 2\ndata: b\n\n")
        .hang()])
    .await;
    let stream = spec(&server.url("/s"));
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("storage");
    // A directory where the file should be: no retry of the same line can succeed.
    std::fs::create_dir_all(root.join("blocked.jsonl")).unwrap();
    let files = FileSinks::new(&root, FileOptions::default());
    let recorder = Recorder::new(Mode::Ack);
    let mut sup = Supervisor::new(config(dir.path()), recorder.clone()).with_files(files.clone());
    sup.apply(&plan([
        dataset("m", stream.clone(), "/s", mqtt("t/m")),
        dataset(
            "file",
            stream.clone(),
            "/s",
            Sink::Storage {
                path: "blocked.jsonl".into(),
            },
        ),
    ]));
    recorder.wait_for(2).await;
    let stats = sup.stream(&stream.url).unwrap().stats;
    eventually("2 delivered, 2 dead letters", || {
        let s = stats.snapshot();
        s.delivered == 2 && s.dead_letters == 2
    })
    .await;
    assert_eq!(stats.snapshot().delivery_failures, 2);
    sup.shutdown().await;
    files.close().await;
    let saved = CheckpointStore::new(dir.path())
        .load(&stream, None)
        .unwrap();
    assert_eq!(saved.as_deref(), Some("2"), "the stream went on");
    let dead = std::fs::read_to_string(dir.path().join("dead-letter/mysseasset.jsonl")).unwrap();
    assert_eq!(dead.lines().count(), 2, "{dead}");
    assert!(
        dead.contains("\"reasonCode\":\"storage_path_refused\""),
        "{dead}"
    );
}
