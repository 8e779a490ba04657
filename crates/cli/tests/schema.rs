//! `sse-connector schema list|show` through the real binary: on the embedded registry's
//! files in a state directory, and (`show`) on a registry reached over a broker.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use aio_mqtt::MqttConfig;
use schema_registry::{PutRequest, Schema, SchemaRegistryService, SchemaStore};
use test_support::Mosquitto;
use tokio::process::Command;

const LIMIT: Duration = Duration::from_secs(60);

const READINGS: &str = r#"{"type":"object","properties":{"t":{"type":"number"}}}"#;
const ALERTS: &str = r#"{"type":"object","required":["message"]}"#;

/// Variables that would change where the command looks.
const SCRUBBED: &[&str] = &[
    "RUST_LOG",
    "AIO_BROKER_HOSTNAME",
    "AIO_TLS_CA_FILE",
    "AIO_TLS_CERT_FILE",
    "AIO_TLS_KEY_FILE",
    "AIO_MQTT_USERNAME",
    "AIO_MQTT_PASSWORD_FILE",
    "SSE_CONNECTOR_CONFIG",
    "SSE_CONNECTOR_BROKER",
    "SSE_CONNECTOR_STATE_DIR",
];

async fn cli(args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sse-connector"));
    command.args(args);
    for name in SCRUBBED {
        command.env_remove(name);
    }
    command.stdin(Stdio::null()).kill_on_drop(true);
    tokio::time::timeout(LIMIT, command.output())
        .await
        .expect("the command did not finish")
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A state directory with versions 1 and 2 of "readings" and version 1 of "alerts".
fn seed(state_dir: &Path) -> (Schema, Schema, Schema) {
    let store = SchemaStore::open(state_dir.join("schemas"), "sse-connector").unwrap();
    let readings_1 = store
        .put(PutRequest {
            display_name: Some("readings".into()),
            ..PutRequest::json_schema(READINGS, "1")
        })
        .unwrap();
    let readings_2 = store.put(PutRequest::json_schema(READINGS, "2")).unwrap();
    let alerts = store.put(PutRequest::json_schema(ALERTS, "1")).unwrap();
    (readings_1, readings_2, alerts)
}

#[tokio::test]
async fn list_prints_a_table_or_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let (readings_1, readings_2, alerts) = seed(dir.path());
    // By name, then version number.
    let mut expected = vec![readings_1, readings_2, alerts];
    expected.sort_by(|a, b| a.name.cmp(&b.name));
    let state_dir = dir.path().to_str().unwrap();
    let out = cli(&["schema", "list", "--state-dir", state_dir]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<String> = stdout(&out).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 4, "{lines:?}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        ["NAME", "VERSION", "FORMAT", "DISPLAYNAME", "DATASCHEMA"]
    );
    for (line, schema) in lines[1..].iter().zip(&expected) {
        let reference = schema.reference();
        let mut cells = vec![
            schema.name.as_str(),
            schema.version.as_str(),
            "JsonSchema/draft-07",
        ];
        cells.extend(schema.display_name.as_deref());
        cells.push(&reference);
        assert_eq!(line.split_whitespace().collect::<Vec<_>>(), cells);
    }

    let out = cli(&["schema", "list", "--state-dir", state_dir, "--json"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let listed: Vec<Schema> = stdout(&out)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(listed, expected);
}

#[tokio::test]
async fn show_prints_the_document_or_the_registry_object() {
    let dir = tempfile::tempdir().unwrap();
    let (readings_1, _, _) = seed(dir.path());
    let state_dir = dir.path().to_str().unwrap();
    let name = readings_1.name.as_str();

    let out = cli(&["schema", "show", name, "--state-dir", state_dir]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let pretty =
        serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(READINGS).unwrap())
            .unwrap();
    assert_eq!(stdout(&out), format!("{pretty}\n"));

    let out = cli(&[
        "schema",
        "show",
        name,
        "--version",
        "1",
        "--json",
        "--state-dir",
        state_dir,
    ])
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!("{}\n", serde_json::to_string(&readings_1).unwrap())
    );
    let latest = cli(&["schema", "show", name, "--json", "--state-dir", state_dir]).await;
    let latest: Schema = serde_json::from_str(&stdout(&latest)).unwrap();
    assert_eq!(latest.version, "2", "the highest version by default");

    let missing = cli(&[
        "schema",
        "show",
        name,
        "--version",
        "7",
        "--state-dir",
        state_dir,
    ])
    .await;
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("version 7 not found"),
        "{}",
        stderr(&missing)
    );
    let unknown = cli(&["schema", "show", "nope", "--state-dir", state_dir]).await;
    assert_eq!(unknown.status.code(), Some(1));
}

#[tokio::test]
async fn wrong_sources_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().to_str().unwrap();
    let out = cli(&["schema", "list", "--state-dir", empty]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cannot list the schemas"),
        "{}",
        stderr(&out)
    );
    let out = cli(&["schema", "list", "--broker", "mqtt://127.0.0.1:1"]).await;
    assert_eq!(out.status.code(), Some(2), "a usage error");
    assert!(
        stderr(&out).contains("cannot list schemas"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_asks_a_registry_on_a_broker() {
    let broker = tokio::task::block_in_place(Mosquitto::start);
    let dir = tempfile::tempdir().unwrap();
    let (readings_1, _, _) = seed(dir.path());
    let mut config = MqttConfig::new("127.0.0.1", broker.port());
    config.client_id = format!("schema-cli-svc-{}", std::process::id());
    let service =
        SchemaRegistryService::start(config, dir.path().join("schemas"), "sse-connector").unwrap();
    tokio::time::timeout(LIMIT, service.ready()).await.unwrap();
    let url = broker.url();
    let out = cli(&[
        "schema",
        "show",
        &readings_1.name,
        "--json",
        "--broker",
        &url,
        "--timeout",
        "20s",
    ])
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!("{}\n", serde_json::to_string(&readings_1).unwrap())
    );
    let missing = cli(&[
        "schema",
        "show",
        &readings_1.name,
        "--version",
        "9",
        "--broker",
        &url,
        "--timeout",
        "20s",
    ])
    .await;
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("not found"),
        "{}",
        stderr(&missing)
    );
    service.shutdown().await;
}
