//! `auto`, the default of `--state-store` and `--schema-registry`, through the real binary on
//! mosquitto:
//! - mosquitto alone: no service answers the probes, so the connector runs the embedded ones
//!   on it: a `BrokerStateStore` dataset's key is readable with `state get`, messages carry
//!   `dataschema`, and the log, `GET /api/v1/status` and `sse-connector status` say so;
//! - mosquitto where a first connector already serves both (configured `embedded`, from the
//!   environment over the config file): a second connector in `auto` uses them (status
//!   `external`), starts no service of its own, and its key and schemas land in the first
//!   one's.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use common::{Connector, LIMIT, asset_head, device, property, run_command, status_until};
use serde_json::Value;
use test_support::{Mosquitto, MqttSubscriber, ResumableSource, SourceConfig};
use tokio::process::Command;

const TOPIC: &str = "it/services/readings";
const KEY: &str = "services/latest";

/// A device reading `source`, and an asset with two datasets of its `/stream`: one to MQTT
/// (`TOPIC`), one to the state store (`KEY`).
fn write_registry(registry: &Path, source: &ResumableSource) {
    common::write_atomic(
        &registry.join("devices/dev.yaml"),
        &device("dev", "ep", &source.base_url(), &[]),
    );
    common::write_atomic(
        &registry.join("assets/plant.yaml"),
        &(asset_head("plant", "dev", "ep", &[])
            + "  datasets:\n"
            + &common::dataset("readings", "/stream", TOPIC, &["qos: Qos1"])
            + "    - name: latest\n      dataSource: /stream\n      destinations:\n\
               \x20       - target: BrokerStateStore\n          configuration:\n            \
               key: "
            + KEY
            + "\n"),
    );
}

/// A source that keeps sending one JSON event every 20 ms for a minute.
async fn steady_source() -> ResumableSource {
    ResumableSource::start(SourceConfig::new(3000).interval(Duration::from_millis(20))).await
}

/// `sse-connector ARGS`, none of the connector's variables inherited.
async fn cli(args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sse-connector"));
    command.args(args);
    for name in [
        "SSE_CONNECTOR_CONFIG",
        "SSE_CONNECTOR_BROKER",
        "SSE_CONNECTOR_STATE_DIR",
        "AIO_BROKER_HOSTNAME",
    ] {
        command.env_remove(name);
    }
    command.stdin(Stdio::null()).kill_on_drop(true);
    tokio::time::timeout(LIMIT, command.output())
        .await
        .expect("the command did not finish")
        .unwrap()
}

/// `state get KEY` on the broker at `addr`: the value, which must be `{"n":N}`.
async fn state_value(addr: SocketAddr) -> u64 {
    let url = format!("mqtt://{addr}");
    let out = cli(&["state", "get", KEY, "--broker", &url, "--timeout", "20s"]).await;
    assert!(
        out.status.success(),
        "state get {KEY}: {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let value = String::from_utf8(out.stdout).unwrap();
    value
        .trim()
        .strip_prefix("{\"n\":")
        .and_then(|rest| rest.strip_suffix('}'))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{KEY} holds {value:?}"))
}

/// Receives messages of `TOPIC` until one carries a `dataschema`; returns it.
async fn first_dataschema(subscriber: &mut MqttSubscriber) -> String {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let message = subscriber
            .next(left)
            .await
            .unwrap_or_else(|| panic!("no message with a dataschema within {LIMIT:?}"));
        assert_eq!(message.topic, TOPIC);
        if let Some(reference) = property(&message, "dataschema") {
            return reference.to_owned();
        }
    }
}

/// `sse-connector status --state-dir DIR [--json]` once the status file shows the services.
async fn status_with_services(state_dir: &Path, json: bool) -> String {
    let dir = state_dir.to_str().unwrap();
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let out = cli(&["status", "--state-dir", dir, "--json"]).await;
        let report: Option<Value> = serde_json::from_slice(&out.stdout).ok();
        if report.is_some_and(|r| r["connector"]["services"].is_object()) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no services in the status files of {dir}: {out:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let args: &[&str] = if json {
        &["status", "--state-dir", dir, "--json"]
    } else {
        &["status", "--state-dir", dir]
    };
    let out = cli(args).await;
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

fn service(mode: &str, reason: &str) -> Value {
    serde_json::json!({"mode": mode, "reason": reason})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_mosquitto_alone_auto_runs_the_embedded_services() {
    let mosquitto = Mosquitto::start();
    let source = steady_source().await;
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("registry");
    let state_dir = dir.path().join("state");
    write_registry(&registry, &source);
    let mut subscriber = MqttSubscriber::connect(mosquitto.addr(), "it/#").await;

    let mut command = run_command();
    command
        .arg("--registry")
        .arg(&registry)
        .arg("--state-dir")
        .arg(&state_dir)
        .args(["--http", "127.0.0.1:0", "--client-id", "it-auto"])
        .arg("--broker")
        .arg(mosquitto.url());
    let mut connector = Connector::spawn(command, false, true).await;
    for service in ["state store", "schema registry"] {
        connector
            .wait_for_log(&format!(
                "no {service} service answered on {} within 2 s; running the embedded one on \
                 that broker",
                mosquitto.url()
            ))
            .await;
    }
    connector.wait_for_log("embedded state store ready").await;
    connector
        .wait_for_log("embedded schema registry ready")
        .await;

    let reference = first_dataschema(&mut subscriber).await;
    assert!(
        reference.starts_with("aio-sr://sse-connector/"),
        "{reference}"
    );
    assert!(state_value(mosquitto.addr()).await >= 1);

    let auto = service("embedded", "auto: no answer from the broker within 2s");
    let expected = serde_json::json!({"stateStore": auto, "schemaRegistry": auto});
    let report = status_until(connector.http.unwrap(), "the services", |r| {
        r["connector"]["services"].is_object()
    })
    .await;
    assert_eq!(report["connector"]["services"], expected);
    let json: Value = serde_json::from_str(&status_with_services(&state_dir, true).await).unwrap();
    assert_eq!(json["connector"]["services"], expected);
    let table = status_with_services(&state_dir, false).await;
    assert!(
        table.contains(
            "services state store embedded (auto: no answer from the broker within 2s), \
             schema registry embedded (auto: no answer from the broker within 2s)"
        ),
        "{table}"
    );

    let status = connector.terminate().await;
    assert!(status.success(), "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn where_a_service_answers_auto_uses_it_and_runs_none() {
    let mosquitto = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();

    // The first connector serves both, configured: the state store from its config file, the
    // schema registry from the environment over the config file's `off`.
    let first_state = dir.path().join("first");
    let empty_registry = dir.path().join("first-registry");
    std::fs::create_dir_all(&empty_registry).unwrap();
    let config = dir.path().join("first.yaml");
    std::fs::write(&config, "stateStore: embedded\nschemaRegistry: off\n").unwrap();
    let mut command = run_command();
    command
        .arg("--config")
        .arg(&config)
        .arg("--registry")
        .arg(&empty_registry)
        .arg("--state-dir")
        .arg(&first_state)
        .args(["--http", "off", "--client-id", "it-first"])
        .arg("--broker")
        .arg(mosquitto.url())
        .env("SSE_CONNECTOR_SCHEMA_REGISTRY", "embedded");
    let mut first = Connector::spawn(command, false, false).await;
    first.wait_for_log("embedded state store ready").await;
    first.wait_for_log("embedded schema registry ready").await;
    let first_status: Value =
        serde_json::from_str(&status_with_services(&first_state, true).await).unwrap();
    assert_eq!(
        first_status["connector"]["services"],
        serde_json::json!({
            "stateStore": service("embedded", "configured"),
            "schemaRegistry": service("embedded", "configured"),
        })
    );

    // The second one, with the defaults, finds them and uses them.
    let source = steady_source().await;
    let registry = dir.path().join("registry");
    let second_state = dir.path().join("second");
    write_registry(&registry, &source);
    let mut subscriber = MqttSubscriber::connect(mosquitto.addr(), "it/#").await;
    let mut command = run_command();
    command
        .arg("--registry")
        .arg(&registry)
        .arg("--state-dir")
        .arg(&second_state)
        .args(["--http", "127.0.0.1:0", "--client-id", "it-second"])
        .arg("--broker")
        .arg(mosquitto.url());
    let mut second = Connector::spawn(command, false, true).await;
    for service in ["state store", "schema registry"] {
        second
            .wait_for_log(&format!(
                "{service}: AIO's service on the broker answered; using it"
            ))
            .await;
    }
    let external = service("external", "auto: the broker's service answered");
    let report = status_until(second.http.unwrap(), "the services", |r| {
        r["connector"]["services"].is_object()
    })
    .await;
    assert_eq!(
        report["connector"]["services"],
        serde_json::json!({"stateStore": external, "schemaRegistry": external})
    );

    // Its messages reference the first one's registry, its key is in the first one's store.
    let reference = first_dataschema(&mut subscriber).await;
    assert!(state_value(mosquitto.addr()).await >= 1);
    let keys = cli(&[
        "state",
        "keys",
        "--state-dir",
        first_state.to_str().unwrap(),
    ])
    .await;
    assert!(keys.status.success(), "{keys:?}");
    assert_eq!(String::from_utf8(keys.stdout).unwrap(), format!("{KEY}\n"));
    let schemas = cli(&[
        "schema",
        "list",
        "--json",
        "--state-dir",
        first_state.to_str().unwrap(),
    ])
    .await;
    assert!(schemas.status.success(), "{schemas:?}");
    let listed = String::from_utf8(schemas.stdout).unwrap();
    let (_, name_version) = reference.rsplit_once('/').unwrap();
    let (name, _) = name_version.rsplit_once(':').unwrap();
    assert!(listed.contains(name), "{reference} not in {listed}");

    // No second service: none started, nothing under the second state directory.
    let log = second.log().join("\n");
    assert!(!log.contains("embedded state store ready"), "{log}");
    assert!(!log.contains("embedded schema registry ready"), "{log}");
    assert!(!second_state.join("statestore").exists());
    assert!(!second_state.join("schemas").exists());

    for connector in [second, first] {
        let status = connector.terminate().await;
        assert!(status.success(), "{status}");
    }
}
