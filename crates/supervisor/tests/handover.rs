//! A stream handed from one replica to another through the state store: the one that lets go
//! stops reading, waits for its acknowledgements, saves its checkpoint (file and state store)
//! and releases its lease; only then does the other connect, from that checkpoint.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use aio_mqtt::MqttConfig;
use common::*;
use statestore::{StateStoreClient, StateStoreService};
use supervisor::{CheckpointStore, SharedCheckpoints, Supervisor, SupervisorConfig};
use test_support::{AnyBroker, Gate, ResumableSource, SourceConfig};

const WAIT: Duration = Duration::from_secs(20);

fn mqtt_config(broker: &AnyBroker, name: &str) -> MqttConfig {
    let addr = broker.addr();
    let mut config = MqttConfig::new(addr.ip().to_string(), addr.port());
    config.client_id = AnyBroker::client_id(name);
    config
}

async fn store_client(broker: &AnyBroker, name: &str) -> StateStoreClient {
    let client = StateStoreClient::start(mqtt_config(broker, name)).unwrap();
    tokio::time::timeout(WAIT, client.ready()).await.unwrap();
    client
}

/// A replica: its own state directory, publisher and state store client.
async fn replica(
    broker: &AnyBroker,
    name: &str,
    dir: &tempfile::TempDir,
    recorder: &Recorder,
) -> Supervisor<Recorder> {
    let mut config = SupervisorConfig::new(dir.path(), name);
    config.checkpoint_interval = Duration::from_millis(20);
    let client = store_client(broker, name).await;
    Supervisor::new(config, recorder.clone())
        .with_shared_checkpoints(SharedCheckpoints::new(&client, name))
}

/// The `lastEventId` of the one checkpoint key in the store.
async fn stored_checkpoint(client: &StateStoreClient, key: &str) -> Option<String> {
    let value = client.get(key.to_owned()).await.unwrap()?;
    let json: serde_json::Value = serde_json::from_slice(&value).unwrap();
    json["lastEventId"].as_str().map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_released_stream_resumes_on_the_next_replica_from_its_last_acknowledged_event() {
    let broker = AnyBroker::embedded().await;
    let service_dir = tempfile::tempdir().unwrap();
    let service =
        StateStoreService::start(mqtt_config(&broker, "service"), service_dir.path().into())
            .unwrap();
    tokio::time::timeout(WAIT, service.ready()).await.unwrap();
    let rest = Gate::new();
    let source = ResumableSource::start(SourceConfig::new(30).hold_after(10, &rest)).await;
    let stream = spec(&format!("{}/s", source.base_url()));
    let the_plan = plan([dataset("x", stream.clone(), "/s", mqtt("t/x"))]);

    // Replica A reads events 1..=10; the broker has acknowledged none of them yet.
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let recorder_a = Recorder::new(Mode::Hold);
    let mut a = replica(&broker, "replica-a", &dir_a, &recorder_a).await;
    a.apply(&the_plan);
    recorder_a.wait_for(10).await;

    // Replica B is given the same endpoint: it waits for A's lease.
    let recorder_b = Recorder::new(Mode::Ack);
    let mut b = replica(&broker, "replica-b", &dir_b, &recorder_b).await;
    b.apply(&the_plan);
    // A lets go: it stops reading, but its deliveries are still in flight.
    a.apply(&plan([]));
    settle().await;
    assert_eq!(source.requests().len(), 1, "B waits while A drains");
    assert_eq!(recorder_b.count(), 0);

    // The broker acknowledges A's messages: A saves event 10 and releases; B resumes there.
    recorder_a.release_all();
    source.wait_for_requests(2, WAIT).await;
    rest.open();
    let messages = recorder_b.wait_for(20).await;
    assert_eq!(
        source.last_event_ids(),
        vec![None, Some("10".to_owned())],
        "B resumes after A's last acknowledged event"
    );
    let numbers: Vec<String> = messages.iter().map(|m| payload(m).to_owned()).collect();
    let expected: Vec<String> = (11..=30).map(|n| format!("{{\"n\":{n}}}")).collect();
    assert_eq!(numbers, expected, "nothing lost, nothing repeated");
    assert_eq!(
        CheckpointStore::new(dir_a.path())
            .load(&stream, None)
            .unwrap()
            .as_deref(),
        Some("10"),
        "A's file holds its last checkpoint too"
    );

    // B stops: its last checkpoint is in the store, and the lease is gone.
    b.shutdown().await;
    a.shutdown().await;
    let reader = store_client(&broker, "reader").await;
    let device = &the_plan.operations.values().next().unwrap().device;
    let hash = CheckpointStore::new(dir_b.path())
        .path_for(&stream)
        .file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| s.strip_prefix("s-"))
        .unwrap()
        .to_owned();
    let key = format!(
        "sse-connector/checkpoints/{}_{}/{hash}",
        device.name, device.endpoint
    );
    assert_eq!(
        stored_checkpoint(&reader, &key).await.as_deref(),
        Some("30")
    );
    assert_eq!(reader.get(format!("{key}/lock")).await.unwrap(), None);
    service.shutdown().await;
}
