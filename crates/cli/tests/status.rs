//! Status and health through `sse-connector run`, driven by real failures: a wrong password
//! (401), an unknown CA, a 404, a 500 that recovers, a 204, a payload that is not JSON, and a
//! definition file that cannot be read. Each shows up where AIO puts it (configuration status
//! or runtime health, with AIO's reason codes) on `GET /api/v1/status`, in the status files
//! and in `sse-connector status`, and is counted in the metrics (`GET /metrics`); no secret
//! value appears anywhere.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::{
    Broker, Connector, LIMIT, Options, asset_head, dataset, device, http_get, status_until,
    write_atomic,
};
use serde_json::Value;
use test_support::{ClientAuth, Response, SseServer, TestPki};

const PASSWORD: &str = "hunter2-never-shown";

fn asset<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["assets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("no asset {name} in {report}"))
}

fn device_status<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == name)
        .unwrap_or_else(|| panic!("no device {name} in {report}"))
}

/// The health of dataset `d` of `asset`.
fn dataset_health<'a>(report: &'a Value, asset_name: &str) -> &'a Value {
    &asset(report, asset_name)["health"]["datasets"][0]["runtimeHealth"]
}

/// The configuration status of dataset `d` of `asset`.
fn dataset_status<'a>(report: &'a Value, asset_name: &str) -> &'a Value {
    &asset(report, asset_name)["status"]["datasets"][0]
}

fn one_dataset_asset(registry: &Path, name: &str, device: &str, path: &str) {
    write_atomic(
        &registry.join(format!("assets/{name}.yaml")),
        &(asset_head(name, device, "ep", &["version: 3"])
            + "  datasets:\n"
            + &dataset("d", path, &format!("it/{name}"), &["qos: Qos1"])),
    );
}

/// The value of the series of `name` whose labels include `labels`, in Prometheus text.
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

async fn status_command(state_dir: &Path, json: bool) -> String {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_sse-connector"));
    command
        .arg("status")
        .arg("--state-dir")
        .arg(state_dir)
        .env_remove("SSE_CONNECTOR_CONFIG")
        .env_remove("SSE_CONNECTOR_STATE_DIR")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    if json {
        command.arg("--json");
    }
    let output = tokio::time::timeout(LIMIT, command.output())
        .await
        .expect("status did not finish")
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_failures_land_in_configuration_status_or_health() {
    // The sources, one per failure.
    let locked = SseServer::http([]).await;
    locked.require_basic_auth("operator", "another-password");
    let pki = TestPki::generate();
    let pinned = SseServer::https(pki.server_config(ClientAuth::None), []).await;
    let gone = SseServer::http([]).await;
    gone.set_fallback(Response::status(404));
    let flaky = SseServer::http([]).await;
    flaky.set_fallback(Response::status(500));
    let done = SseServer::http([]).await;
    done.set_fallback(Response::status(204));
    let texty = SseServer::http([Response::sse()
        .chunk("id: 1\ndata: {\"t\":1}\n\n")
        .chunk("id: 2\ndata: sensor offline\n\n")
        .hang()])
    .await;

    let registry = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let r = registry.path();
    std::fs::create_dir_all(r.join("secrets/sse-creds")).unwrap();
    std::fs::write(r.join("secrets/sse-creds/username"), "operator").unwrap();
    std::fs::write(r.join("secrets/sse-creds/password"), PASSWORD).unwrap();
    let basic = "        authentication:\n          method: UsernamePassword\n          \
                 usernamePasswordCredentials:\n            usernameSecretName: sse-creds/username\n            \
                 passwordSecretName: sse-creds/password\n";
    for (name, server) in [
        ("locked", &locked),
        ("pinned", &pinned),
        ("gone", &gone),
        ("flaky", &flaky),
        ("done", &done),
        ("texty", &texty),
    ] {
        let mut text = device(name, "ep", &server.url(""), &["version: 2"]);
        if name == "locked" {
            text.push_str(basic);
        }
        write_atomic(&r.join(format!("devices/{name}.yaml")), &text);
        one_dataset_asset(r, name, name, "/events");
    }
    write_atomic(
        &r.join("assets/broken.yaml"),
        "apiVersion: namespaces.deviceregistry.microsoft.com/v1\nkind: Asset\nmetadata:\n  name: [broken\n",
    );

    let connector = Connector::start(
        &Options::new(r, state.path(), Broker::Embedded)
            .client_id("it-status")
            .http(),
    )
    .await;
    let http = connector.http.unwrap();

    // 500: retried, so runtime health (Unavailable, stream error), not configuration status.
    let report = status_until(http, "flaky Unavailable", |r| {
        dataset_health(r, "flaky")["status"] == "Unavailable"
    })
    .await;
    let health = dataset_health(&report, "flaky");
    assert_eq!(health["reasonCode"], "SseConnectorStreamError", "{health}");
    assert!(
        health["message"].as_str().unwrap().contains("500"),
        "{health}"
    );
    assert_eq!(health["version"], 3);
    assert!(
        dataset_status(&report, "flaky").get("error").is_none(),
        "{report}"
    );
    // ... then it recovers: Available, and its schema is registered and referenced.
    flaky.set_fallback(
        Response::sse()
            .chunk("id: 1\ndata: {\"level\":4.5}\n\n")
            .hang(),
    );
    let report = status_until(http, "flaky Available with a schema", |r| {
        dataset_health(r, "flaky")["status"] == "Available"
            && dataset_status(r, "flaky")
                .get("messageSchemaReference")
                .is_some()
    })
    .await;
    let reference = &dataset_status(&report, "flaky")["messageSchemaReference"];
    assert_eq!(reference["schemaRegistryNamespace"], "sse-connector");
    assert_eq!(reference["schemaVersion"], "1");
    assert!(dataset_health(&report, "flaky").get("reasonCode").is_none());
    assert_eq!(asset(&report, "flaky")["health"]["status"], "Available");

    // Every other failure, once all have been seen.
    let report = status_until(http, "every failure reported", |r| {
        dataset_status(r, "locked").get("error").is_some()
            && dataset_status(r, "pinned").get("error").is_some()
            && dataset_status(r, "gone").get("error").is_some()
            && dataset_health(r, "done")["status"] == "Unavailable"
            && dataset_health(r, "texty")["status"] == "Degraded"
    })
    .await;

    // 401: configuration status on the endpoint and the dataset, naming the secrets to check.
    let endpoint = &device_status(&report, "locked")["status"]["endpoints"]["inbound"]["ep"];
    assert_eq!(endpoint["error"]["code"], "401", "{endpoint}");
    let message = endpoint["error"]["message"].as_str().unwrap();
    assert!(message.contains(&locked.url("/events")), "{message}");
    assert!(
        message.contains("check secret sse-creds/username and sse-creds/password"),
        "{message}"
    );
    assert_eq!(dataset_status(&report, "locked")["error"]["code"], "401");
    let endpoint_health = &device_status(&report, "locked")["health"]["endpoints"]["ep"];
    assert_eq!(endpoint_health["status"], "Unavailable");
    assert_eq!(endpoint_health["reasonCode"], "SseConnectorStreamError");
    assert_eq!(endpoint_health["version"], 2);
    assert_eq!(asset(&report, "locked")["health"]["status"], "Unavailable");
    assert_eq!(
        device_status(&report, "locked")["status"]["config"]["version"],
        2
    );

    // Unknown CA: the endpoint's configuration error.
    let endpoint = &device_status(&report, "pinned")["status"]["endpoints"]["inbound"]["ep"];
    assert_eq!(
        endpoint["error"]["code"], "tls_server_certificate_rejected",
        "{endpoint}"
    );
    assert!(
        endpoint["error"]["message"]
            .as_str()
            .unwrap()
            .contains("trust list"),
        "{endpoint}"
    );

    // 404: the dataset's path, not the endpoint.
    assert_eq!(dataset_status(&report, "gone")["error"]["code"], "404");
    let endpoint = &device_status(&report, "gone")["status"]["endpoints"]["inbound"]["ep"];
    assert_eq!(endpoint, &serde_json::json!({}), "{report}");

    // 204: closed by the server, in health only.
    let health = dataset_health(&report, "done");
    assert_eq!(health["reasonCode"], "SseConnectorStreamClosed", "{health}");
    assert!(dataset_status(&report, "done").get("error").is_none());

    // Not JSON: forwarded, but degraded with the schema reason code; the asset is degraded.
    let health = dataset_health(&report, "texty");
    assert_eq!(
        health["reasonCode"], "SseConnectorSchemaGenerationFailure",
        "{health}"
    );
    assert_eq!(asset(&report, "texty")["health"]["status"], "Degraded");

    // The broken file: a problem with its file, counted as a registry error.
    assert!(report["connector"]["registry"]["errors"].as_u64().unwrap() >= 1);
    let problems = report["problems"].as_array().unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p["file"].as_str().unwrap().ends_with("broken.yaml")
                && p["severity"] == "error"),
        "{problems:?}"
    );
    assert_eq!(report["connector"]["instance"], "it-status");
    assert_eq!(report["connector"]["broker"]["connected"], true);

    // Non-retryable failures are not retried: one request each, even after a backoff would
    // have passed.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(locked.requests().len(), 1, "401 is not retried");
    assert_eq!(gone.requests().len(), 1, "404 is not retried");
    assert_eq!(done.requests().len(), 1, "204 is not retried");

    // The metrics count the same failures and flows.
    let (code, metrics) = http_get(http, "/metrics").await;
    assert_eq!(code, 200, "{metrics}");
    let connection_errors = |device: &str| {
        metric(
            &metrics,
            "aio_sse_connector_errors",
            &[("device", device), ("error", "connection")],
        )
    };
    // A 204 is the server's request to stop, not an error.
    assert_eq!(connection_errors("done"), Some(0.0), "{metrics}");
    for device in ["locked", "pinned", "gone"] {
        assert!(
            connection_errors(device).is_some_and(|n| n >= 1.0),
            "no connection error counted for {device}:\n{metrics}"
        );
    }
    assert!(
        connection_errors("flaky").is_some_and(|n| n >= 1.0),
        "the 500 counts as a connection error:\n{metrics}"
    );
    assert_eq!(
        metric(
            &metrics,
            "aio_sse_connector_messages_received",
            &[("device", "texty")]
        ),
        Some(2.0),
        "{metrics}"
    );
    assert_eq!(
        metric(
            &metrics,
            "aio_sse_connector_messages_forwarded",
            &[("asset", "texty"), ("operation", "texty/datasets/d")]
        ),
        Some(2.0),
        "the payload that is not JSON is still forwarded:\n{metrics}"
    );
    assert!(
        metric(
            &metrics,
            "aio_sse_connector_messages_forwarded",
            &[("asset", "flaky")]
        )
        .is_some_and(|n| n >= 1.0),
        "{metrics}"
    );

    // The status files and `sse-connector status` say the same.
    let files = state.path().join("status");
    common::eventually("status files", || {
        files.join("status.json").exists() && files.join("assets/texty.json").exists()
    })
    .await;
    let asset_file: Value =
        serde_json::from_str(&std::fs::read_to_string(files.join("assets/locked.json")).unwrap())
            .unwrap();
    assert_eq!(asset_file["status"]["datasets"][0]["error"]["code"], "401");
    let json: Value = serde_json::from_str(&status_command(state.path(), true).await).unwrap();
    assert_eq!(dataset_health(&json, "texty")["status"], "Degraded");
    let table = status_command(state.path(), false).await;
    for expected in [
        "asset/texty/datasets/d",
        "Degraded",
        "SseConnectorSchemaGenerationFailure",
        "device/locked/endpoints/ep",
        "error 401",
        "broken.yaml",
    ] {
        assert!(table.contains(expected), "{expected:?} not in:\n{table}");
    }

    // No secret value anywhere.
    let (_, status_body) = http_get(http, "/api/v1/status").await;
    let written = std::fs::read_to_string(files.join("status.json")).unwrap();
    for (what, text) in [
        ("the status", &status_body),
        ("the status file", &written),
        ("the status table", &table),
        ("the metrics", &metrics),
        ("the log", &connector.log().join("\n")),
    ] {
        assert!(!text.contains(PASSWORD), "the password is in {what}");
    }
    let status = connector.terminate().await;
    assert!(status.success(), "{status}");
}

/// A definition fixed while the connector runs: the asset's configuration error clears and
/// its transition time moves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_definition_clears_its_configuration_error() {
    let source = SseServer::http([]).await;
    source.set_fallback(Response::sse().chunk("id: 1\ndata: {\"a\":1}\n\n").hang());
    let registry = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let r = registry.path();
    write_atomic(
        &r.join("devices/dev.yaml"),
        &device("dev", "ep", &source.url(""), &[]),
    );
    // A dataset without a destination, in an asset without defaults: invalid.
    write_atomic(
        &r.join("assets/line.yaml"),
        &(asset_head("line", "dev", "ep", &["version: 1"])
            + "  datasets:\n    - name: d\n      dataSource: /x\n"),
    );
    let connector = Connector::start(
        &Options::new(r, state.path(), Broker::Embedded)
            .client_id("it-status-fix")
            .http(),
    )
    .await;
    let http = connector.http.unwrap();
    let report = status_until(http, "the asset's error", |r| {
        asset(r, "line")["status"]["config"].get("error").is_some()
    })
    .await;
    let error = &asset(&report, "line")["status"]["config"]["error"];
    assert_eq!(error["code"], "invalid_definition", "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("line.yaml"),
        "{error}"
    );
    assert!(!error["details"].as_array().unwrap().is_empty(), "{error}");

    one_dataset_asset(r, "line", "dev", "/x");
    let report = status_until(http, "the error cleared and the dataset available", |r| {
        asset(r, "line")["status"]["config"].get("error").is_none()
            && dataset_health(r, "line")["status"] == "Available"
    })
    .await;
    assert_eq!(asset(&report, "line")["status"]["config"]["version"], 3);
    let status = connector.terminate().await;
    assert!(status.success(), "{status}");
}
