//! Failed deliveries through the real binary: each is retried in the process, or written to
//! the dead-letter file, and the checkpoint moves on without a restart.
//!
//! - mosquitto refuses one topic (ACL, PUBACK 0x87): the operation is `Unavailable` and
//!   retried every `--refused-retry`; once the ACL allows it, every event arrives.
//! - mosquitto accepts packets of at most 2 KiB: the larger event goes to
//!   `STATE_DIR/dead-letter/`, the dataset reports a configuration error, the rest arrives.
//! - the state store stops answering and comes back: the SETs are retried, the key ends at the
//!   last event's value.
//! - the storage root's disk is full, then has room again (a small tmpfs): every line arrives.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use aio_mqtt::MqttConfig;
use common::{
    Broker, Connector, LIMIT, Options, asset_head, checkpoints, collect_all, dataset, device,
    status_until, write_atomic,
};
use serde_json::Value;
use statestore::{StateStoreClient, StateStoreService};
use test_support::{
    Gate, Mosquitto, MqttSubscriber, ReceivedMessage, Response, ResumableSource, SourceConfig,
    SseServer,
};

/// The health and the configuration status of dataset `dataset` of asset `asset`.
fn dataset_parts<'a>(report: &'a Value, asset: &str, dataset: &str) -> (&'a Value, &'a Value) {
    let asset = report["assets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == asset)
        .unwrap_or_else(|| panic!("no asset {asset} in {report}"));
    let find = |list: &'a Value| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|d| d["name"] == dataset || d["datasetName"] == dataset)
            .unwrap_or_else(|| panic!("no dataset {dataset} in {list}"))
    };
    (
        &find(&asset["health"]["datasets"])["runtimeHealth"],
        find(&asset["status"]["datasets"]),
    )
}

/// A registry with device `dev` on `address` and asset `plant` holding `datasets`.
fn registry(address: &str, datasets: &str) -> tempfile::TempDir {
    let registry = tempfile::tempdir().unwrap();
    write_atomic(
        &registry.path().join("devices/dev.yaml"),
        &device("dev", "ep", address, &[]),
    );
    write_atomic(
        &registry.path().join("assets/plant.yaml"),
        &(asset_head("plant", "dev", "ep", &[]) + "  datasets:\n" + datasets),
    );
    registry
}

/// `run` on `mosquitto` with the HTTP listener and `args`.
async fn start(
    mosquitto: &Mosquitto,
    registry: &tempfile::TempDir,
    state: &tempfile::TempDir,
    args: &[&str],
) -> Connector {
    let mut options = Options::new(
        registry.path(),
        state.path(),
        Broker::External(mosquitto.addr()),
    )
    .http();
    for arg in args {
        options = options.arg(arg);
    }
    Connector::start(&options).await
}

/// Waits until dataset `dataset` of `plant` is `Unavailable` because its deliveries are
/// retried, and checks that the health message says `why`.
async fn retried(http: std::net::SocketAddr, dataset: &str, why: &[&str]) {
    let report = status_until(http, &format!("{dataset} Unavailable"), |r| {
        dataset_parts(r, "plant", dataset).0["status"] == "Unavailable"
    })
    .await;
    let (health, _) = dataset_parts(&report, "plant", dataset);
    assert_eq!(
        health["reasonCode"], "SseConnectorDeliveryError",
        "{health}"
    );
    let message = health["message"].as_str().unwrap();
    for text in why {
        assert!(message.contains(text), "no {text:?} in {health}");
    }
}

/// Waits until dataset `dataset` of `plant` is `Available` again.
async fn available(http: std::net::SocketAddr, dataset: &str) {
    status_until(http, &format!("{dataset} Available"), |r| {
        dataset_parts(r, "plant", dataset).0["status"] == "Available"
    })
    .await;
}

/// The last event id of the stream's checkpoint, once it is `id`.
async fn checkpoint_reaches(state: &Path, id: &str) {
    common::eventually(&format!("checkpoint {id}"), || {
        checkpoints(state).iter().any(|(_, last)| last == id)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_the_broker_refuses_is_retried_until_the_broker_allows_it() {
    const TOTAL: u64 = 40;
    let acl = "topic read #\ntopic write plant/ok/#\n";
    let mosquitto = Mosquitto::start_configured("acl_file {dir}/acl\n", &[("acl", acl)]);
    let source =
        ResumableSource::start(SourceConfig::new(TOTAL).interval(Duration::from_millis(5))).await;
    let registry = registry(
        &source.base_url(),
        &(dataset("ok", "/stream", "plant/ok/readings", &["qos: Qos1"])
            + &dataset(
                "blocked",
                "/stream",
                "plant/blocked/readings",
                &["qos: Qos1"],
            )),
    );
    let state = tempfile::tempdir().unwrap();
    let mut subscriber = MqttSubscriber::connect(mosquitto.addr(), "plant/#").await;
    let connector = start(
        &mosquitto,
        &registry,
        &state,
        &[
            "--refused-retry",
            "1s",
            "--state-store",
            "off",
            "--schema-registry",
            "off",
        ],
    )
    .await;
    let http = connector.http.unwrap();

    retried(
        http,
        "blocked",
        &["NotAuthorized", "plant/blocked/readings"],
    )
    .await;
    // The stream waits: the first refused event is the last one read, give or take the
    // events in flight when it was refused.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut received: Vec<ReceivedMessage> = subscriber.drain();
    assert!(
        !received.iter().any(|m| m.topic == "plant/blocked/readings"),
        "nothing passes the ACL"
    );
    let ok_before = received
        .iter()
        .filter(|m| m.topic == "plant/ok/readings")
        .count();
    assert!(
        ok_before < usize::try_from(TOTAL).unwrap(),
        "the stream stopped reading while the delivery is retried ({ok_before} of {TOTAL})"
    );

    // The operator fixes the ACL: the next attempt passes, and the stream reads on.
    std::fs::write(mosquitto.dir().join("acl"), "topic readwrite plant/#\n").unwrap();
    mosquitto.reload();
    collect_all(
        &mut subscriber,
        &mut received,
        "plant/blocked/readings",
        TOTAL,
    )
    .await;
    collect_all(&mut subscriber, &mut received, "plant/ok/readings", TOTAL).await;
    checkpoint_reaches(state.path(), &TOTAL.to_string()).await;
    available(http, "blocked").await;
    drop(connector);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_larger_than_the_broker_accepts_goes_to_the_dead_letter_file() {
    let mosquitto = Mosquitto::start_configured("max_packet_size 2048\n", &[]);
    let big = format!("{{\"blob\":\"{}\"}}", "x".repeat(4000));
    let server = SseServer::http([Response::sse()
        .chunk("id: 1\ndata: {\"n\":1}\n\n")
        .chunk(format!("id: 2\nevent: dump\ndata: {big}\n\n"))
        .chunk("id: 3\ndata: {\"n\":3}\n\n")
        .hang()])
    .await;
    let registry = registry(
        &server.url(""),
        &dataset("d", "/events", "plant/readings", &["qos: Qos1"]),
    );
    let state = tempfile::tempdir().unwrap();
    let mut subscriber = MqttSubscriber::connect(mosquitto.addr(), "plant/#").await;
    let connector = start(
        &mosquitto,
        &registry,
        &state,
        &["--state-store", "off", "--schema-registry", "off"],
    )
    .await;
    let messages = subscriber.wait_for(2, LIMIT).await;
    let ids: Vec<&str> = messages
        .iter()
        .map(|m| common::property(m, "sse-id").unwrap())
        .collect();
    assert_eq!(ids, ["1", "3"], "the stream went on past the dead letter");
    checkpoint_reaches(state.path(), "3").await;

    let file = state.path().join("dead-letter/plant.jsonl");
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{text}");
    let line = &lines[0];
    assert_eq!(line["operation"], "plant/datasets/d", "{line}");
    assert_eq!(
        line["destination"],
        serde_json::json!({"kind": "Mqtt", "topic": "plant/readings"})
    );
    assert_eq!(line["reasonCode"], "invalid_message");
    assert!(
        line["reason"]
            .as_str()
            .unwrap()
            .contains("exceeds the limit"),
        "{line}"
    );
    assert_eq!(line["event"]["id"], "2");
    assert_eq!(line["event"]["type"], "dump");
    assert_eq!(line["event"]["data"]["blob"].as_str().unwrap().len(), 4000);

    let http = connector.http.unwrap();
    let report = status_until(http, "dataset configuration error", |r| {
        dataset_parts(r, "plant", "d").1.get("error").is_some()
    })
    .await;
    let (health, status) = dataset_parts(&report, "plant", "d");
    assert_eq!(status["error"]["code"], "destination_refused", "{status}");
    let message = status["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("Mqtt topic plant/readings")
            && message.contains("exceeds the limit")
            && message.contains("dead-letter/plant.jsonl"),
        "{message}"
    );
    assert_eq!(
        health["status"], "Available",
        "the stream goes on: {health}"
    );
    drop(connector);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_store_that_stops_answering_and_comes_back_gets_every_set_in_order() {
    const TOTAL: u64 = 30;
    let mosquitto = Mosquitto::start();
    let store_dir = tempfile::tempdir().unwrap();
    let service_config = || {
        let mut config = MqttConfig::new("127.0.0.1", mosquitto.port());
        config.client_id = "it-store-service".into();
        config
    };
    let service =
        StateStoreService::start(service_config(), store_dir.path().to_path_buf()).unwrap();
    service.ready().await;
    let rest = Gate::new();
    let source = ResumableSource::start(
        SourceConfig::new(TOTAL)
            .interval(Duration::from_millis(5))
            .hold_after(10, &rest),
    )
    .await;
    let datasets = "    - name: latest\n      dataSource: /stream\n      destinations:\n        \
                    - target: BrokerStateStore\n          configuration:\n            key: plant-latest\n";
    let registry = registry(&source.base_url(), datasets);
    let state = tempfile::tempdir().unwrap();
    let connector = start(
        &mosquitto,
        &registry,
        &state,
        &["--state-store", "external", "--schema-registry", "off"],
    )
    .await;
    let http = connector.http.unwrap();
    let mut reader_config = MqttConfig::new("127.0.0.1", mosquitto.port());
    reader_config.client_id = "it-store-reader".into();
    let reader = StateStoreClient::start(reader_config)
        .unwrap()
        .with_timeout(Duration::from_secs(2));
    let value = || async {
        reader
            .get("plant-latest")
            .await
            .ok()
            .flatten()
            .map(|v| String::from_utf8_lossy(&v).into_owned())
    };
    let deadline = tokio::time::Instant::now() + LIMIT;
    while value().await.as_deref() != Some("{\"n\":10}") {
        assert!(tokio::time::Instant::now() < deadline, "event 10 never set");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The store goes away; the next SETs time out and are retried while the stream waits.
    service.shutdown().await;
    rest.open();
    retried(http, "latest", &["plant-latest"]).await;

    // It comes back with its data: every SET arrives, the last one last.
    let service =
        StateStoreService::start(service_config(), store_dir.path().to_path_buf()).unwrap();
    service.ready().await;
    checkpoint_reaches(state.path(), &TOTAL.to_string()).await;
    assert_eq!(value().await.as_deref(), Some("{\"n\":30}"));
    available(http, "latest").await;
    drop(connector);
    reader.close();
    service.shutdown().await;
}

/// A tmpfs of `size` mounted on `dir`; unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(
            status.success(),
            "this test mounts a small tmpfs to fill it: it needs root (CAP_SYS_ADMIN)"
        );
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills the disk with `filler` until it is full.
    fn fill(&self) {
        use std::io::Write as _;
        let mut file = std::fs::File::create(self.path().join("filler")).unwrap();
        let block = vec![0u8; 4096];
        while file
            .write_all(&block)
            .and_then(|()| file.sync_data())
            .is_ok()
        {}
    }

    fn free(&self) {
        std::fs::remove_file(self.path().join("filler")).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_storage_disk_is_retried_until_it_has_room_again() {
    const TOTAL: u64 = 40;
    let disk = SmallDisk::mount("256k");
    let rest = Gate::new();
    let source = ResumableSource::start(
        SourceConfig::new(TOTAL)
            .interval(Duration::from_millis(5))
            .hold_after(10, &rest),
    )
    .await;
    let datasets = "    - name: lines\n      dataSource: /stream\n      destinations:\n        \
                    - target: Storage\n          configuration:\n            path: plant/lines.jsonl\n";
    let registry = registry(&source.base_url(), datasets);
    let state = tempfile::tempdir().unwrap();
    let mosquitto = Mosquitto::start();
    let connector = start(
        &mosquitto,
        &registry,
        &state,
        &[
            "--storage-root",
            disk.path().to_str().unwrap(),
            "--state-store",
            "off",
            "--schema-registry",
            "off",
        ],
    )
    .await;
    let http = connector.http.unwrap();
    let file = disk.path().join("plant/lines.jsonl");
    let ids = || -> Vec<u64> {
        std::fs::read_to_string(&file)
            .unwrap_or_default()
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                v["sse-id"].as_str().unwrap().parse().unwrap()
            })
            .collect()
    };
    common::eventually("10 lines", || ids().len() == 10).await;

    disk.fill();
    rest.open();
    retried(http, "lines", &["No space left"]).await;

    disk.free();
    checkpoint_reaches(state.path(), &TOTAL.to_string()).await;
    let seen = ids();
    let unique: std::collections::BTreeSet<u64> = seen.iter().copied().collect();
    assert_eq!(
        unique,
        (1..=TOTAL).collect(),
        "every event is in the file: {seen:?}"
    );
    let mut sorted = seen.clone();
    sorted.sort_unstable();
    assert_eq!(seen, sorted, "in event order");
    available(http, "lines").await;
    drop(connector);
}
