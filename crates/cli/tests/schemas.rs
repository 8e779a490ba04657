//! Message schemas through `sse-connector run` with its defaults (embedded broker, embedded
//! schema registry): events whose JSON shape widens, then a payload that is not JSON. The
//! subscriber sees `dataschema` appear once each shape is registered and change when the shape
//! widens; the registered versions are listed by `schema list` and `GET /api/v1/schemas`, and
//! the dataset's status (`GET /api/v1/status`) follows: its `messageSchemaReference`, then its
//! health degraded by the payload that is not JSON.
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

/// An SSE source whose events each wait for their own gate: `PER_SHAPE` of each shape, then
/// [`NOT_JSON`]; the response then stays open.
async fn gated_source() -> (SseServer, Vec<Vec<Gate>>) {
    let mut gates: Vec<Vec<Gate>> = (0..=SHAPES.len())
        .map(|_| Vec::with_capacity(PER_SHAPE))
        .collect();
    let mut response = Response::sse();
    let mut id = 0;
    let payloads = SHAPES
        .iter()
        .enumerate()
        .flat_map(|(shape, data)| std::iter::repeat_n((shape, *data), PER_SHAPE))
        .chain([(SHAPES.len(), NOT_JSON)]);
    for (shape, data) in payloads {
        id += 1;
        let gate = Gate::new();
        response = response
            .wait_for(&gate)
            .chunk(format!("id: {id}\ndata: {data}\n\n"));
        gates[shape].push(gate);
    }
    (SseServer::http([response.hang()]).await, gates)
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
