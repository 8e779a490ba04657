//! `sse-connector run` delivers every event at least once (DESIGN 3.6) across:
//! (a) the SSE server dropping the connection repeatedly, on mosquitto and on the embedded
//! broker; (b) mosquitto restarted mid-run (with `/readyz` following the broker connection);
//! (c) the connector killed with SIGKILL and started again on the same state directory.
//!
//! The source is a [`ResumableSource`]: numbered events `1..=N` that honour `Last-Event-ID`,
//! so a gap at the subscriber can only come from the connector.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{
    Broker, Connector, Kind, LIMIT, Options, asset_head, checkpoints, collect_all, dataset, device,
    receive_until, wait_for_status, write_atomic,
};
use test_support::{Gate, Mosquitto, MqttSubscriber, ResumableSource, SourceConfig};

const TOPIC: &str = "it/delivery";

/// A registry with one device on `source` and one dataset on `/stream` to [`TOPIC`] (QoS 1,
/// an expiry long enough to outlive a broker restart).
fn registry(source: &ResumableSource) -> tempfile::TempDir {
    let registry = tempfile::tempdir().unwrap();
    write_atomic(
        &registry.path().join("devices/dev.yaml"),
        &device("dev", "ep", &source.base_url(), &[]),
    );
    write_atomic(
        &registry.path().join("assets/plant.yaml"),
        &(asset_head("plant", "dev", "ep", &[])
            + "  datasets:\n"
            + &dataset("d", "/stream", TOPIC, &["qos: Qos1", "ttl: 600"])),
    );
    registry
}

async fn survives_source_drops(broker: Kind) {
    const TOTAL: u64 = 80;
    const EVERY: u64 = 10;
    let gate = Gate::new();
    // `retry: 5` keeps the reconnects (5 ms, doubling) quick.
    let source = ResumableSource::start(
        SourceConfig::new(TOTAL)
            .drop_every(EVERY)
            .retry(Duration::from_millis(5))
            .gate(&gate),
    )
    .await;
    let registry = registry(&source);
    let state = tempfile::tempdir().unwrap();
    let mosquitto = (broker == Kind::Mosquitto).then(Mosquitto::start);
    let target = mosquitto
        .as_ref()
        .map_or(Broker::Embedded, |m| Broker::External(m.addr()));
    let connector = Connector::start(&Options::new(registry.path(), state.path(), target)).await;
    let addr = mosquitto
        .as_ref()
        .map_or_else(|| connector.mqtt_addr(), Mosquitto::addr);
    let mut subscriber = MqttSubscriber::connect(addr, TOPIC).await;
    gate.open();

    collect_all(&mut subscriber, &mut Vec::new(), TOPIC, TOTAL).await;
    let ids = source.last_event_ids();
    let connections = usize::try_from(TOTAL / EVERY).unwrap();
    assert!(ids.len() >= connections, "{ids:?}");
    // Each reconnection resumed right after the last event read.
    let expected: Vec<Option<String>> = (0..connections)
        .map(|i| (i > 0).then(|| (i as u64 * EVERY).to_string()))
        .collect();
    assert_eq!(ids[..connections], expected[..], "{ids:?}");
    let status = connector.terminate().await;
    assert!(status.success(), "{status}");
    assert_eq!(
        checkpoints(state.path()),
        [(source.base_url() + "/stream", TOTAL.to_string())]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_arrives_when_the_source_drops_the_connection_mosquitto() {
    survives_source_drops(Kind::Mosquitto).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_arrives_when_the_source_drops_the_connection_embedded() {
    survives_source_drops(Kind::Embedded).await;
}

/// Mosquitto (with persistence, so the subscriber's session and its queued messages survive)
/// is stopped and started again while events flow. `/readyz` says 503 while the broker is
/// down and 200 once the connector is back; the subscriber sees every event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_arrives_across_a_broker_restart() {
    const TOTAL: u64 = 300;
    let source =
        ResumableSource::start(SourceConfig::new(TOTAL).interval(Duration::from_millis(4))).await;
    let registry = registry(&source);
    let state = tempfile::tempdir().unwrap();
    let mut mosquitto = Mosquitto::start_persistent();
    let mut subscriber = MqttSubscriber::connect_persistent(mosquitto.addr(), TOPIC).await;
    let connector = Connector::start(
        &Options::new(
            registry.path(),
            state.path(),
            Broker::External(mosquitto.addr()),
        )
        .http(),
    )
    .await;
    let http = connector.http.unwrap();
    wait_for_status(http, "/readyz", 200).await;

    let mut received = Vec::new();
    receive_until(&mut subscriber, &mut received, "the first 30 events", |r| {
        r.len() >= 30
    })
    .await;
    mosquitto.stop();
    let body = wait_for_status(http, "/readyz", 503).await;
    assert!(body.contains("broker"), "{body:?}");
    // Events keep arriving from the source while the broker is away.
    let sent = source.sent();
    common::eventually("more events read while the broker is down", || {
        source.sent() > sent + 20 || source.sent() == TOTAL
    })
    .await;
    mosquitto.restart();
    wait_for_status(http, "/readyz", 200).await;

    collect_all(&mut subscriber, &mut received, TOPIC, TOTAL).await;
    assert_eq!(source.requests().len(), 1, "the source was never dropped");
    let status = connector.terminate().await;
    assert!(status.success(), "{status}");
}

/// The connector is killed with SIGKILL mid-stream and started again on the same state
/// directory: it resumes from its saved checkpoint (the server sees it as `Last-Event-ID`),
/// and the subscriber sees every event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_arrives_across_a_connector_crash() {
    const TOTAL: u64 = 300;
    // The kill comes mid-stream even on a slow machine: events after 150 wait for the restart.
    let rest = Gate::new();
    let source = ResumableSource::start(
        SourceConfig::new(TOTAL)
            .interval(Duration::from_millis(4))
            .hold_after(150, &rest),
    )
    .await;
    let registry = registry(&source);
    let state = tempfile::tempdir().unwrap();
    let mosquitto = Mosquitto::start();
    let mut subscriber = MqttSubscriber::connect(mosquitto.addr(), TOPIC).await;
    let options = Options::new(
        registry.path(),
        state.path(),
        Broker::External(mosquitto.addr()),
    );
    let first = Connector::start(&options).await;
    let mut received = Vec::new();
    receive_until(&mut subscriber, &mut received, "the first 60 events", |r| {
        r.len() >= 60
    })
    .await;
    common::eventually("a checkpoint past event 20", || {
        checkpoints(state.path())
            .first()
            .is_some_and(|(_, id)| id.parse::<u64>().unwrap() > 20)
    })
    .await;
    first.kill().await;
    let (url, checkpoint) = checkpoints(state.path()).remove(0);
    assert_eq!(url, source.base_url() + "/stream");
    let checkpoint: u64 = checkpoint.parse().unwrap();
    assert!(checkpoint <= 150, "{checkpoint}");
    assert_eq!(source.requests().len(), 1);

    let second = Connector::start(&options).await;
    rest.open();
    let requests = source.wait_for_requests(2, LIMIT).await;
    assert_eq!(
        requests[1].header("last-event-id"),
        Some(checkpoint.to_string().as_str()),
        "resumed from the checkpoint"
    );
    collect_all(&mut subscriber, &mut received, TOPIC, TOTAL).await;
    let status = second.terminate().await;
    assert!(status.success(), "{status}");
    assert_eq!(
        checkpoints(state.path()),
        [(source.base_url() + "/stream", TOTAL.to_string())]
    );
}
