//! Message schemas through `sse-connector run` with its defaults (embedded broker, embedded
//! schema registry): events whose JSON shape widens, then a payload that is not JSON. The
//! subscriber sees `dataschema` appear once each shape is registered and change when the shape
//! widens; the registered versions are listed by `schema list` and `GET /api/v1/schemas`, and
//! the dataset's status (`GET /api/v1/status`) follows: its `messageSchemaReference`, then its
//! health degraded by the payload that is not JSON.
//!
//! A second test stops the connector and starts it again on the same state directory: the
//! shape registered before keeps its version, and a new one is numbered after it.
//!
//! Registration runs beside the stream, so which message is the first to carry a reference
//! depends on timing. The source therefore holds every event behind a gate of its own: the
//! test releases one event at a time until a message carries the reference, then the rest of
//! that shape at once.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::{
    Broker, Connector, LIMIT, Options, asset_head, dataset, device, http_get, property,
    status_until, write_atomic,
};
use test_support::{Gate, MqttSubscriber, ReceivedMessage, Response, SseServer};

const TOPIC: &str = "it/line/readings";
/// The first shape, then the wider one.
const SHAPES: [&str; 2] = [r#"{"t":1}"#, r#"{"t":1,"h":2}"#];
/// The last event.
const NOT_JSON: &str = "sensor offline";
/// Events of each shape the source can send: enough for ~30 s of one-at-a-time releases.
const PER_SHAPE: usize = 600;
/// Pause between two releases while waiting for a reference.
const PACE: Duration = Duration::from_millis(50);

/// A response whose events each wait for their own gate: `count` events of each payload,
/// with ids from `first_id`; the response then stays open. The gates, by payload.
fn gated_response(payloads: &[(&str, usize)], first_id: usize) -> (Response, Vec<Vec<Gate>>) {
    let mut gates = Vec::with_capacity(payloads.len());
    let mut response = Response::sse();
    let mut id = first_id;
    for (data, count) in payloads {
        let mut of_payload = Vec::with_capacity(*count);
        for _ in 0..*count {
            let gate = Gate::new();
            response = response
                .wait_for(&gate)
                .chunk(format!("id: {id}\ndata: {data}\n\n"));
            of_payload.push(gate);
            id += 1;
        }
        gates.push(of_payload);
    }
    (response.hang(), gates)
}

/// An SSE source whose events each wait for their own gate: `PER_SHAPE` of each shape, then
/// [`NOT_JSON`]; the response then stays open.
async fn gated_source() -> (SseServer, Vec<Vec<Gate>>) {
    let (response, gates) = gated_response(
        &[
            (SHAPES[0], PER_SHAPE),
            (SHAPES[1], PER_SHAPE),
            (NOT_JSON, 1),
        ],
        1,
    );
    (SseServer::http([response]).await, gates)
}

async fn next_message(subscriber: &mut MqttSubscriber, what: &str) -> ReceivedMessage {
    let message = subscriber
        .next(LIMIT)
        .await
        .unwrap_or_else(|| panic!("no message within {LIMIT:?} ({what})"));
    assert_eq!(message.topic, TOPIC);
    message
}

/// Releases the events of `gates` (one shape) one at a time until a message carries a
/// `dataschema`, then the rest; receives them all. Returns the reference, and how many
/// messages of the shape went without it. Every message after the first labelled one carries
/// the same reference.
async fn release_shape(
    subscriber: &mut MqttSubscriber,
    gates: &[Gate],
    payload: &str,
) -> (String, usize) {
    let mut unlabelled = 0;
    let mut reference = None;
    for gate in gates {
        gate.open();
        let message = next_message(subscriber, payload).await;
        assert_eq!(&message.payload[..], payload.as_bytes());
        assert_eq!(message.content_type.as_deref(), Some("application/json"));
        if let Some(found) = property(&message, "dataschema") {
            reference = Some(found.to_owned());
            break;
        }
        unlabelled += 1;
        tokio::time::sleep(PACE).await;
    }
    let reference = reference.unwrap_or_else(|| {
        panic!(
            "none of {} messages of {payload} carried a dataschema",
            gates.len()
        )
    });
    for gate in &gates[unlabelled + 1..] {
        gate.open();
    }
    for _ in unlabelled + 1..gates.len() {
        let message = next_message(subscriber, payload).await;
        assert_eq!(&message.payload[..], payload.as_bytes());
        assert_eq!(
            property(&message, "dataschema"),
            Some(reference.as_str()),
            "once registered, every message of the shape carries its reference"
        );
    }
    (reference, unlabelled)
}

/// `(name, version)` of `aio-sr://sse-connector/{name}:{version}`.
fn parse_reference(reference: &str) -> (String, String) {
    let rest = reference
        .strip_prefix("aio-sr://sse-connector/")
        .unwrap_or_else(|| panic!("not in the default namespace: {reference}"));
    let (name, version) = rest
        .rsplit_once(':')
        .unwrap_or_else(|| panic!("no version: {reference}"));
    assert!(!name.is_empty() && !name.contains('/'), "{reference}");
    assert!(version.bytes().all(|b| b.is_ascii_digit()), "{reference}");
    (name.to_owned(), version.to_owned())
}

/// `sse-connector schema list --state-dir DIR --json`: one registry object a line.
async fn schema_list(state_dir: &std::path::Path) -> Vec<serde_json::Value> {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_sse-connector"));
    command
        .args(["schema", "list", "--json", "--state-dir"])
        .arg(state_dir)
        .env_remove("SSE_CONNECTOR_CONFIG")
        .env_remove("SSE_CONNECTOR_STATE_DIR")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(LIMIT, command.output())
        .await
        .expect("schema list did not finish")
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[tokio::test]
async fn run_registers_each_shape_and_references_it_in_dataschema() {
    let (source, gates) = gated_source().await;
    let registry = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    write_atomic(
        &registry.path().join("devices/line-dev.yaml"),
        &device("line-dev", "sse", &source.url(""), &[]),
    );
    write_atomic(
        &registry.path().join("assets/line.yaml"),
        &(asset_head("line", "line-dev", "sse", &[])
            + "  datasets:\n"
            + &dataset("readings", "/data", TOPIC, &["qos: Qos1"])),
    );
    let connector = Connector::start(
        &Options::new(registry.path(), state.path(), Broker::Embedded)
            .client_id("it-schemas")
            .http(),
    )
    .await;
    let mut subscriber = MqttSubscriber::connect(connector.mqtt_addr(), "it/#").await;

    // The first shape: without a reference until registered, then version 1.
    let (first, _) = release_shape(&mut subscriber, &gates[0], SHAPES[0]).await;
    let (first_name, first_version) = parse_reference(&first);
    assert_eq!(first_version, "1", "{first}");

    // A wider shape: the old reference no longer describes it, so its first message has none;
    // then version 2 under another name (the name is the content's hash).
    let (second, unlabelled) = release_shape(&mut subscriber, &gates[1], SHAPES[1]).await;
    assert!(
        unlabelled >= 1,
        "the first message of a wider shape carries no reference"
    );
    let (second_name, second_version) = parse_reference(&second);
    assert_eq!(second_version, "2", "{second}");
    assert_ne!(first_name, second_name);

    // Not JSON: forwarded unchanged as text, without a reference.
    gates[2][0].open();
    let text = next_message(&mut subscriber, NOT_JSON).await;
    assert_eq!(&text.payload[..], NOT_JSON.as_bytes());
    assert_eq!(
        text.content_type.as_deref(),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(property(&text, "dataschema"), None);

    // The dataset's status follows: the reference registered last, and the payload that is
    // not JSON marks it degraded with AIO's reason code.
    let report = status_until(connector.http.unwrap(), "the dataset's status", |report| {
        let readings = &report["assets"][0]["health"]["datasets"][0]["runtimeHealth"];
        readings["status"] == "Degraded"
            && report["assets"][0]["status"]["datasets"][0]["messageSchemaReference"]["schemaVersion"]
                == "2"
    })
    .await;
    let readings = &report["assets"][0]["status"]["datasets"][0];
    assert_eq!(readings["name"], "readings");
    assert_eq!(
        readings["messageSchemaReference"],
        serde_json::json!({
            "schemaRegistryNamespace": "sse-connector",
            "schemaName": second_name,
            "schemaVersion": "2",
        })
    );
    assert_eq!(
        report["assets"][0]["health"]["datasets"][0]["runtimeHealth"]["reasonCode"],
        "SseConnectorSchemaGenerationFailure"
    );
    assert_eq!(report["assets"][0]["health"]["status"], "Degraded");

    // The HTTP listener lists what the embedded registry holds.
    let (status, body) = http_get(connector.http.unwrap(), "/api/v1/schemas").await;
    assert_eq!(status, 200, "{body}");
    let listing: serde_json::Value = serde_json::from_str(&body).unwrap();
    let listed: Vec<&str> = listing["schemas"]
        .as_array()
        .unwrap_or_else(|| panic!("no schemas array: {body}"))
        .iter()
        .filter_map(|s| s["dataschema"].as_str())
        .collect();
    for reference in [&first, &second] {
        assert!(
            listed.contains(&reference.as_str()),
            "{reference} in {body}"
        );
    }

    let status = connector.terminate().await;
    assert!(status.success(), "{status}");

    // `schema list` reads the registry's directory under the state directory.
    let schemas = schema_list(state.path()).await;
    assert!(schemas.len() >= 2, "{schemas:?}");
    for (name, version, shape) in [
        (&first_name, &first_version, SHAPES[0]),
        (&second_name, &second_version, SHAPES[1]),
    ] {
        let schema = schemas
            .iter()
            .find(|s| s["name"] == name.as_str() && s["version"] == version.as_str())
            .unwrap_or_else(|| panic!("{name}:{version} not in {schemas:?}"));
        assert_eq!(schema["namespace"], "sse-connector");
        assert_eq!(schema["format"], "JsonSchema/draft-07");
        assert_eq!(schema["schemaType"], "MessageSchema");
        assert!(
            schema["displayName"]
                .as_str()
                .is_some_and(|d| d.ends_with("readings")),
            "{schema}"
        );
        let content: serde_json::Value =
            serde_json::from_str(schema["schemaContent"].as_str().unwrap()).unwrap();
        // Merged over every payload so far: the wider shape's fields, `t` always present.
        let properties: Vec<&String> = content["properties"].as_object().unwrap().keys().collect();
        let fields = serde_json::from_str::<serde_json::Value>(shape).unwrap();
        let mut expected: Vec<&String> = fields.as_object().unwrap().keys().collect();
        expected.sort();
        assert_eq!(properties, expected, "{content}");
        assert_eq!(content["required"], serde_json::json!(["t"]), "{content}");
    }
}

/// The schema versions the embedded registry holds, as `(name, version)`, after the run.
async fn registered(state_dir: &std::path::Path) -> Vec<(String, String)> {
    schema_list(state_dir)
        .await
        .iter()
        .map(|s| {
            let field = |key: &str| s[key].as_str().unwrap_or_default().to_owned();
            (field("name"), field("version"))
        })
        .collect()
}

/// One run of the connector on `options`: releases each shape's gates in turn (see
/// [`release_shape`]), stops it, and returns the reference of each shape.
async fn run_once(options: &Options, gates: &[Vec<Gate>], payloads: &[&str]) -> Vec<String> {
    let connector = Connector::start(options).await;
    let mut subscriber = MqttSubscriber::connect(connector.mqtt_addr(), "it/#").await;
    let mut references = Vec::new();
    for (gates, payload) in gates.iter().zip(payloads) {
        references.push(release_shape(&mut subscriber, gates, payload).await.0);
    }
    drop(subscriber);
    let status = connector.terminate().await;
    assert!(status.success(), "{status}");
    references
}

/// Versions survive restarts: a shape registered before keeps its version whenever it comes
/// back (the registry stores nothing new), and a new shape is numbered after the highest,
/// not from 1 again, even when it is the first shape the new process sees.
#[tokio::test]
async fn run_keeps_schema_versions_across_restarts() {
    let [only_t, with_h] = SHAPES;
    // Per run, the shapes in the order they come.
    let runs: [&[&str]; 4] = [&[only_t], &[only_t, with_h], &[with_h], &[with_h]];
    let mut responses = Vec::new();
    let mut gates = Vec::new();
    for (run, shapes) in runs.iter().enumerate() {
        let counts: Vec<(&str, usize)> = shapes.iter().map(|s| (*s, PER_SHAPE)).collect();
        let (response, of_run) = gated_response(&counts, 1 + run * 10_000);
        responses.push(response);
        gates.push(of_run);
    }
    let source = SseServer::http(responses).await;
    let registry = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    write_atomic(
        &registry.path().join("devices/line-dev.yaml"),
        &device("line-dev", "sse", &source.url(""), &[]),
    );
    write_atomic(
        &registry.path().join("assets/line.yaml"),
        &(asset_head("line", "line-dev", "sse", &[])
            + "  datasets:\n"
            + &dataset("readings", "/data", TOPIC, &["qos: Qos1"])),
    );
    let options =
        Options::new(registry.path(), state.path(), Broker::Embedded).client_id("it-versions");

    // First run: the first shape is version 1.
    let first = run_once(&options, &gates[0], runs[0]).await;
    let (t_name, t_version) = parse_reference(&first[0]);
    assert_eq!(t_version, "1", "{first:?}");
    assert_eq!(
        registered(state.path()).await,
        [(t_name.clone(), "1".to_owned())]
    );

    // The history: one file for the dataset, the content's hash → 1.
    let files: Vec<_> = std::fs::read_dir(state.path().join("schema-versions"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let history: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&files[0]).unwrap()).unwrap();
    assert_eq!(history["operation"], "line/datasets/readings", "{history}");
    let versions: Vec<&serde_json::Value> =
        history["versions"].as_object().unwrap().values().collect();
    assert_eq!(versions, [&serde_json::json!(1)], "{history}");

    // Second run: the same shape is still version 1; the wider one (`h` optional) is 2.
    let second = run_once(&options, &gates[1], runs[1]).await;
    assert_eq!(second[0], first[0], "the same shape, the same reference");
    let (wider_name, wider_version) = parse_reference(&second[1]);
    assert_eq!(wider_version, "2", "{second:?}");

    // Third run: its first shape (`h` required) is new: version 3, not 1.
    let third = run_once(&options, &gates[2], runs[2]).await;
    let (h_name, h_version) = parse_reference(&third[0]);
    assert_eq!(h_version, "3", "{third:?}");
    assert!(h_name != t_name && h_name != wider_name, "{third:?}");

    // Fourth run: that shape again, first again: still version 3.
    let fourth = run_once(&options, &gates[3], runs[3]).await;
    assert_eq!(fourth, third, "the same shape, the same reference");

    // Nothing was registered twice: one version of each shape (`schema list` orders by
    // name).
    let mut expected = vec![
        (t_name, "1".to_owned()),
        (wider_name, "2".to_owned()),
        (h_name, "3".to_owned()),
    ];
    expected.sort();
    assert_eq!(registered(state.path()).await, expected);
}
