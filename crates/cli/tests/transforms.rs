//! Transforms through `sse-connector run` (DESIGN 3.12): the real binary runs AIO's
//! WebAssembly operators (the test module of `tests/wasm-guest`) on each event before it is
//! published to mosquitto, checked by a real subscriber: the transformed payload and topic
//! arrive with AIO's headers, filtered events advance the checkpoint, and each `onError`
//! does what it says, with the operation `Degraded` (`SseConnectorTransformError`).
#![cfg(feature = "transforms")]
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{
    Broker, Connector, Options, SETTLE, asset_head, checkpoints, device, eventually, http_get,
    mqtt_destination, property, receive_until, status_until, write_atomic,
};
use serde_json::{Value, json};
use test_support::{Gate, Mosquitto, MqttSubscriber, ReceivedMessage, Response, SseServer};

/// The test module CI built (`SSE_CONNECTOR_TEST_GUEST`), else the committed copy.
fn guest() -> PathBuf {
    std::env::var_os("SSE_CONNECTOR_TEST_GUEST").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../transform/tests/guest.wasm"),
        PathBuf::from,
    )
}

/// Installs the test module as `modules/guest-1.0.0.wasm` and writes `graphs/{name}.yaml`.
fn graph(registry: &Path, name: &str, yaml: &str) {
    std::fs::create_dir_all(registry.join("modules")).unwrap();
    std::fs::copy(guest(), registry.join("modules/guest-1.0.0.wasm")).unwrap();
    write_atomic(&registry.join(format!("graphs/{name}.yaml")), yaml);
}

/// source → keep (filter) → route (branch): False → rewrite (map) → sink, True → alarm (map)
/// → sink.
const ROUTING_GRAPH: &str = r#"
moduleRequirements:
  apiVersion: "1.1.0"
  runtimeVersion: "1.1.0"
moduleConfigurations:
  - name: keep
    parameters:
      mode:
        name: mode
        required: true
operations:
  - { operationType: "source", name: "source" }
  - { operationType: "filter", name: "keep", module: "guest:1.0.0" }
  - { operationType: "branch", name: "route", module: "guest:1.0.0" }
  - { operationType: "map", name: "rewrite", module: "guest:1.0.0" }
  - { operationType: "map", name: "alarm", module: "guest:1.0.0" }
  - { operationType: "sink", name: "sink" }
connections:
  - { from: { name: "source" }, to: { name: "keep" } }
  - { from: { name: "keep" }, to: { name: "route" } }
  - { from: { name: "route", arm: "False" }, to: { name: "rewrite" } }
  - { from: { name: "route", arm: "True" }, to: { name: "alarm" } }
  - { from: { name: "rewrite" }, to: { name: "sink" } }
  - { from: { name: "alarm" }, to: { name: "sink" } }
"#;

/// source → map (one operator) → sink.
const MAP_GRAPH: &str = r#"
operations:
  - { operationType: "source", name: "source" }
  - { operationType: "map", name: "map", module: "guest:1.0.0" }
  - { operationType: "sink", name: "sink" }
connections:
  - { from: { name: "source" }, to: { name: "map" } }
  - { from: { name: "map" }, to: { name: "sink" } }
"#;

/// A dataset of asset `asset` on `/data` to `topic`, whose `datasetConfiguration` is
/// `config`.
fn asset(registry: &Path, asset: &str, topic: &str, config: &Value) {
    let config = serde_json::to_string(&config.to_string()).unwrap();
    write_atomic(
        &registry.join(format!("assets/{asset}.yaml")),
        &(asset_head(asset, "dev", "ep", &[])
            + &format!(
                "  datasets:\n    - name: d\n      dataSource: /data\n      \
                 datasetConfiguration: {config}\n      destinations:\n{}",
                mqtt_destination(8, topic, &["qos: Qos1"])
            )),
    );
}

fn json_of(message: &ReceivedMessage) -> Value {
    serde_json::from_slice(&message.payload).unwrap()
}

fn dataset_health(report: &Value, asset: &str) -> Value {
    report["assets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == asset)
        .map(|a| a["health"]["datasets"][0]["runtimeHealth"].clone())
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn transformed_payloads_and_topics_arrive_with_aio_headers_and_filtered_events_count_as_done()
{
    let gate = Gate::new();
    let server = SseServer::http([Response::sse()
        .wait_for(&gate)
        .chunk("id: 1\nevent: reading\ndata: {\"t\":1}\n\n")
        .chunk("id: 2\nevent: heartbeat\ndata: {}\n\n")
        .chunk("id: 3\nevent: reading\ndata: {\"alarm\":true}\n\n")
        .chunk("id: 4\nevent: reading\ndata: {\"t\":4}\n\n")
        .chunk("id: 5\nevent: heartbeat\ndata: {}\n\n")
        .hang()])
    .await;
    let registry = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    write_atomic(
        &registry.path().join("devices/dev.yaml"),
        &device("dev", "ep", &server.url(""), &[]),
    );
    graph(registry.path(), "routing", ROUTING_GRAPH);
    asset(
        registry.path(),
        "plant",
        "it/readings",
        &json!({"transform": {
            "graph": "graphs/routing.yaml",
            "configuration": {
                "keep": {"mode": "drop-event:heartbeat"},
                "route": {"mode": "field:alarm"},
                "rewrite": {"mode": "json"},
                "alarm": {"mode": "topic:it/alarms"}
            }
        }}),
    );

    let mosquitto = Mosquitto::start();
    let connector = Connector::start(
        &Options::new(
            registry.path(),
            state.path(),
            Broker::External(mosquitto.addr()),
        )
        .client_id("it-transforms"),
    )
    .await;
    let mut subscriber = MqttSubscriber::connect(mosquitto.addr(), "it/#").await;
    gate.open();

    let mut received = Vec::new();
    receive_until(&mut subscriber, &mut received, "3 messages", |r| {
        r.len() >= 3
    })
    .await;
    tokio::time::sleep(SETTLE).await;
    received.extend(subscriber.drain());
    assert_eq!(
        received.len(),
        3,
        "the heartbeats are filtered: {received:#?}"
    );

    let readings: Vec<&ReceivedMessage> = received
        .iter()
        .filter(|m| m.topic == "it/readings")
        .collect();
    assert_eq!(readings.len(), 2, "{received:#?}");
    assert_eq!(json_of(readings[0]), json!({"t": 1, "transformed": true}));
    assert_eq!(json_of(readings[1]), json!({"t": 4, "transformed": true}));
    let alarms: Vec<&ReceivedMessage> =
        received.iter().filter(|m| m.topic == "it/alarms").collect();
    assert_eq!(alarms.len(), 1, "the branch's True arm changes the topic");
    assert_eq!(json_of(alarms[0]), json!({"alarm": true}));

    for (message, sse_id) in [(readings[0], "1"), (alarms[0], "3"), (readings[1], "4")] {
        assert_eq!(message.qos, 1);
        assert_eq!(message.content_type.as_deref(), Some("application/json"));
        assert_eq!(property(message, "sse-event"), Some("reading"));
        assert_eq!(property(message, "sse-id"), Some(sse_id));
        assert_eq!(property(message, "specversion"), Some("1.0"));
        assert_eq!(property(message, "type"), Some("DataSet"));
        assert_eq!(property(message, "subject"), Some("plant/d"));
        assert_eq!(property(message, "__srcId"), Some("it-transforms"));
        assert!(property(message, "id").is_some() && property(message, "__ts").is_some());
        let names: Vec<&str> = message
            .user_properties
            .iter()
            .map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(
            names.iter().filter(|n| **n == "sse-event").count(),
            1,
            "no property twice: {names:?}"
        );
    }

    // The last event was filtered out: the checkpoint still moves past it.
    eventually("the checkpoint at 5", || {
        checkpoints(state.path())
            .iter()
            .map(|(_, id)| id.as_str())
            .eq(["5"])
    })
    .await;
    connector.terminate().await;
}

#[tokio::test]
async fn failing_transforms_follow_on_error_and_degrade_the_operation() {
    let gate = Gate::new();
    let server = SseServer::http([Response::sse()
        .wait_for(&gate)
        .chunk("id: 1\nevent: reading\ndata: {\"t\":1}\n\n")
        .chunk("id: 2\nevent: reading\ndata: {\"t\":2}\n\n")
        .hang()])
    .await;
    let registry = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    write_atomic(
        &registry.path().join("devices/dev.yaml"),
        &device("dev", "ep", &server.url(""), &[]),
    );
    graph(registry.path(), "map", MAP_GRAPH);
    let failing = |on_error: &str, mode: &str| {
        json!({"transform": {
            "graph": "graphs/map.yaml",
            "configuration": {"map": {"mode": mode}},
            "onError": on_error
        }})
    };
    asset(
        registry.path(),
        "dropped",
        "it/dropped",
        &failing("drop", "error"),
    );
    asset(
        registry.path(),
        "passed",
        "it/passed",
        &failing("passThrough", "panic"),
    );
    asset(
        registry.path(),
        "dead",
        "it/dead",
        &failing("deadLetter", "loop"),
    );
    asset(registry.path(), "fine", "it/fine", &failing("drop", "pass"));

    let mosquitto = Mosquitto::start();
    let connector = Connector::start(
        &Options::new(
            registry.path(),
            state.path(),
            Broker::External(mosquitto.addr()),
        )
        .http(),
    )
    .await;
    let mut subscriber = MqttSubscriber::connect(mosquitto.addr(), "it/#").await;
    gate.open();

    let mut received = Vec::new();
    receive_until(&mut subscriber, &mut received, "4 messages", |r| {
        r.len() >= 4
    })
    .await;
    tokio::time::sleep(SETTLE).await;
    received.extend(subscriber.drain());
    let on = |topic: &str| -> Vec<Value> {
        received
            .iter()
            .filter(|m| m.topic == topic)
            .map(json_of)
            .collect()
    };
    assert_eq!(on("it/fine"), [json!({"t": 1}), json!({"t": 2})]);
    assert_eq!(
        on("it/passed"),
        [json!({"t": 1}), json!({"t": 2})],
        "passThrough publishes the event as it was"
    );
    assert!(on("it/dropped").is_empty(), "{received:#?}");
    assert!(on("it/dead").is_empty(), "{received:#?}");

    // deadLetter: both events in the asset's dead-letter file, with the reason.
    let dead_letters = state.path().join("dead-letter/dead.jsonl");
    eventually("two dead letters", || {
        std::fs::read_to_string(&dead_letters).is_ok_and(|t| t.lines().count() == 2)
    })
    .await;
    let text = std::fs::read_to_string(&dead_letters).unwrap();
    for (line, n) in text.lines().zip(1..) {
        let record: Value = serde_json::from_str(line).unwrap();
        assert_eq!(record["reasonCode"], "timeout", "{record}");
        assert_eq!(record["operation"], "dead/datasets/d");
        assert_eq!(record["event"]["data"], json!({"t": n}));
    }

    // Every failing operation is Degraded with the transform's reason code; the others not.
    let http = connector.http.unwrap();
    let report = status_until(http, "the failing transforms reported", |r| {
        ["dropped", "passed", "dead"]
            .iter()
            .all(|a| dataset_health(r, a)["status"] == "Degraded")
    })
    .await;
    for (asset, code) in [
        ("dropped", "error"),
        ("passed", "trap"),
        ("dead", "timeout"),
    ] {
        let health = dataset_health(&report, asset);
        assert_eq!(
            health["reasonCode"], "SseConnectorTransformError",
            "{health}"
        );
        let message = health["message"].as_str().unwrap();
        assert!(message.contains(code), "{asset}: {message}");
    }
    assert_eq!(dataset_health(&report, "fine")["status"], "Available");

    // The metrics count what each transform did, failures by kind.
    let (code, metrics) = http_get(http, "/metrics").await;
    assert_eq!(code, 200, "{metrics}");
    let count = |name: &str, asset: &str, kind: Option<&str>| {
        let operation = format!("{asset}/datasets/d");
        let mut labels = vec![("operation", operation.as_str())];
        labels.extend(kind.map(|k| ("kind", k)));
        metric(&metrics, name, &labels)
    };
    assert_eq!(
        count("aio_sse_connector_transform_transformed", "fine", None),
        Some(2.0),
        "{metrics}"
    );
    for (asset, kind) in [
        ("dropped", "error"),
        ("passed", "trap"),
        ("dead", "timeout"),
    ] {
        let failures = "aio_sse_connector_transform_failures";
        assert_eq!(count(failures, asset, Some(kind)), Some(2.0), "{metrics}");
        assert_eq!(count(failures, asset, Some("load")), Some(0.0), "{metrics}");
    }

    // Dropped and dead-lettered events count as done.
    eventually("the checkpoint at 2", || {
        checkpoints(state.path())
            .iter()
            .map(|(_, id)| id.as_str())
            .eq(["2"])
    })
    .await;
    connector.terminate().await;
}

/// source → tag (a map) → sink: the graph a reload switches to.
const TAG_GRAPH: &str = r#"
operations:
  - { operationType: "source", name: "source" }
  - { operationType: "map", name: "tag", module: "guest:1.0.0" }
  - { operationType: "sink", name: "sink" }
connections:
  - { from: { name: "source" }, to: { name: "tag" } }
  - { from: { name: "tag" }, to: { name: "sink" } }
"#;

/// The value of the series of metric `name` with `labels`, in the Prometheus text.
fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?.strip_prefix('{')?;
        let (series, value) = rest.split_once("} ")?;
        labels
            .iter()
            .all(|(k, v)| series.split(',').any(|pair| pair == format!("{k}=\"{v}\"")))
            .then(|| value.trim().parse().ok())
            .flatten()
    })
}

/// Waits until the connector logged `text` `times` times.
async fn logged(connector: &Connector, text: &str, times: usize) {
    eventually(&format!("{text:?} logged {times} times"), || {
        connector.log().iter().filter(|l| l.contains(text)).count() >= times
    })
    .await;
}

fn dataset_status(report: &Value, asset: &str) -> Value {
    report["assets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == asset)
        .map(|a| a["status"]["datasets"][0].clone())
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn a_changed_graph_is_loaded_again_between_events_and_a_bad_one_keeps_the_last_good() {
    let gates = [Gate::new(), Gate::new(), Gate::new(), Gate::new()];
    let mut response = Response::sse();
    for (gate, n) in gates.iter().zip(1..) {
        response = response
            .wait_for(gate)
            .chunk(format!("id: {n}\nevent: reading\ndata: {{\"t\":{n}}}\n\n"));
    }
    let server = SseServer::http([response.hang()]).await;
    let registry = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    write_atomic(
        &registry.path().join("devices/dev.yaml"),
        &device("dev", "ep", &server.url(""), &[]),
    );
    graph(registry.path(), "live", MAP_GRAPH);
    asset(
        registry.path(),
        "plant",
        "it/readings",
        &json!({"transform": {
            "graph": "graphs/live.yaml",
            "configuration": {"map": {"mode": "json"}, "tag": {"mode": "topic:it/tagged"}}
        }}),
    );
    let mosquitto = Mosquitto::start();
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
    let mut subscriber = MqttSubscriber::connect(mosquitto.addr(), "it/#").await;
    // Loaded when the plan is applied, before the first event.
    logged(&connector, "transform loaded", 1).await;
    gates[0].open();
    let mut received = Vec::new();
    receive_until(&mut subscriber, &mut received, "event 1", |r| !r.is_empty()).await;
    assert_eq!(received[0].topic, "it/readings");
    assert_eq!(json_of(&received[0]), json!({"t": 1, "transformed": true}));

    // The graph file changes: once the new graph is loaded, the next event goes through it.
    write_atomic(&registry.path().join("graphs/live.yaml"), TAG_GRAPH);
    logged(&connector, "transform loaded", 2).await;
    gates[1].open();
    receive_until(&mut subscriber, &mut received, "event 2", |r| r.len() >= 2).await;
    assert_eq!(received[1].topic, "it/tagged");
    assert_eq!(json_of(&received[1]), json!({"t": 2}));

    // The module becomes something that is not a component: the last good transform keeps
    // running, and the operation reports the configuration error.
    let module = registry.path().join("modules/guest-1.0.0.wasm");
    write_atomic(&module, "not a component");
    logged(&connector, "the transform cannot be loaded", 1).await;
    gates[2].open();
    receive_until(&mut subscriber, &mut received, "event 3", |r| r.len() >= 3).await;
    assert_eq!(received[2].topic, "it/tagged", "the last good graph ran");
    assert_eq!(json_of(&received[2]), json!({"t": 3}));
    let report = status_until(http, "the load failure reported", |r| {
        dataset_health(r, "plant")["status"] == "Degraded"
    })
    .await;
    let health = dataset_health(&report, "plant");
    assert_eq!(
        health["reasonCode"], "SseConnectorTransformError",
        "{health}"
    );
    let error = &dataset_status(&report, "plant")["error"];
    assert_eq!(error["code"], "not_a_component", "{error}");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("the last good transform keeps running"),
        "{message}"
    );

    // Fixed: loaded again, the error is gone.
    std::fs::copy(guest(), &module).unwrap();
    logged(&connector, "transform loaded", 3).await;
    let report = status_until(http, "the error cleared", |r| {
        dataset_health(r, "plant")["status"] == "Available"
    })
    .await;
    assert!(
        dataset_status(&report, "plant")["error"].is_null(),
        "{report}"
    );
    gates[3].open();
    receive_until(&mut subscriber, &mut received, "event 4", |r| r.len() >= 4).await;
    assert_eq!(received[3].topic, "it/tagged");
    connector.terminate().await;
}

/// `sse-connector validate --registry DIR`: its exit code and standard output.
fn validate(registry: &Path) -> (i32, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_sse-connector"))
        .args(["validate", "--quiet", "--registry"])
        .arg(registry)
        .env_remove("SSE_CONNECTOR_CONFIG")
        .output()
        .unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8(output.stdout).unwrap(),
    )
}

#[test]
fn validate_checks_that_modules_export_their_operators() {
    let registry = tempfile::tempdir().unwrap();
    write_atomic(
        &registry.path().join("devices/dev.yaml"),
        &device("dev", "ep", "http://127.0.0.1:9/", &[]),
    );
    graph(registry.path(), "routing", ROUTING_GRAPH);
    asset(
        registry.path(),
        "plant",
        "it/readings",
        &json!({"transform": {
            "graph": "graphs/routing.yaml",
            "configuration": {"keep": {"mode": "pass"}}
        }}),
    );
    assert_eq!(validate(registry.path()), (0, String::new()));

    // The module is not a component: each operation using it is an error of the asset.
    write_atomic(
        &registry.path().join("modules/guest-1.0.0.wasm"),
        "not a component",
    );
    let (code, out) = validate(registry.path());
    assert_eq!(code, 1, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "one per operation: {out}");
    for line in lines {
        assert!(
            line.contains("graphs/routing.yaml: Asset/plant: transform.graph: operation ")
                && line.contains("is not a WebAssembly component"),
            "{line}"
        );
    }
}
