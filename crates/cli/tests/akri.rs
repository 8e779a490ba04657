//! Akri mode through the real binary: the deployment as Kubernetes mounts it (AtomicWriter
//! layout), a fake device registry service written from Microsoft's DTDL on the broker, and
//! real SSE servers.
//!
//! - definitions from the service stream to MQTT in AIO's format; the status the service
//!   holds is exact for a good endpoint, a wrong password, a 404 dataset and a bad
//!   destination; health events say `Available`;
//! - an SSE outage turns the dataset's health `Unavailable`, and back `Available`;
//! - adding and removing an allocation file starts and stops streams; an update event with a
//!   new address restarts that stream only;
//! - a restart resumes from `Last-Event-ID`;
//! - a device that needs credentials without the credentials mount stops the connector with
//!   the contract's error.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use common::akri::{Deployment, asset, dataset, device};
use common::{Connector, LIMIT, collect_all, eventually, property, run_command};
use serde_json::{Value, json};
use test_support::fake_adr::FakeAdr;
use test_support::fake_adr::NotificationPreference::{Off, On};
use test_support::k8s_mount::K8sMount;
use test_support::{
    Mosquitto, MqttSubscriber, ReceivedMessage, Response, ResumableSource, SourceConfig, SseServer,
};

/// The pod name Akri gives the connector.
const CONNECTOR_ID: &str = "sse-connector-7d9f-0";

/// The client id the device registry sees: the connector id and the SDK's suffix.
fn adr_client_id() -> String {
    format!("{CONNECTOR_ID}0")
}

/// A schema registry on the broker, as AIO runs one (the connector registers inferred
/// schemas there).
fn schema_registry(broker: SocketAddr, dir: &Path) -> schema_registry::SchemaRegistryService {
    let mut config = aio_mqtt::MqttConfig::new("127.0.0.1", broker.port());
    config.client_id = format!("aio-schema-registry-{}", std::process::id());
    schema_registry::SchemaRegistryService::start(config, dir.join("schemas"), "aio-sr").unwrap()
}

/// The status the service holds for asset `name`, once `predicate` holds.
async fn asset_status(adr: &FakeAdr, name: &str, predicate: impl FnMut(&Value) -> bool) -> Value {
    adr.wait_for_asset_status(name, predicate, LIMIT)
        .await
        .unwrap_or_else(|| {
            panic!(
                "asset {name}: no such status within {LIMIT:?}: {:?}",
                adr.asset_status(name)
            )
        })
}

/// A status without its `config.lastTransitionTime` (when it was written).
fn timeless(mut status: Value) -> Value {
    let time = status["config"]
        .as_object_mut()
        .and_then(|config| config.remove("lastTransitionTime"));
    assert!(time.is_some(), "no lastTransitionTime in {status}");
    status
}

/// The dataset `name` of an asset status.
fn dataset_status<'a>(status: &'a Value, name: &str) -> &'a Value {
    status["datasets"]
        .as_array()
        .and_then(|d| d.iter().find(|d| d["name"] == name))
        .unwrap_or_else(|| panic!("no dataset {name} in {status}"))
}

/// The health of dataset `dataset` of asset `asset` in the last health event of the
/// service that has it, once it is `status`.
async fn dataset_health(adr: &FakeAdr, asset: &str, dataset: &str, status: &str) -> Value {
    let event = adr
        .wait_for_health_event(
            |e| {
                e.kind == "datasetRuntimeHealthEvent"
                    && e.asset_name() == Some(asset)
                    && e.body()["datasets"].as_array().is_some_and(|d| {
                        d.iter().any(|d| {
                            d["datasetName"] == dataset && d["runtimeHealth"]["status"] == status
                        })
                    })
            },
            LIMIT,
        )
        .await
        .unwrap_or_else(|| {
            panic!(
                "no {status} health for {asset}/{dataset}: {:#?}",
                adr.health_events()
            )
        });
    event.body()["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["datasetName"] == dataset)
        .unwrap()["runtimeHealth"]
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn definitions_from_the_device_registry_stream_to_mqtt_and_their_status_goes_back() {
    const TOTAL: u64 = 20;
    let mosquitto = tokio::task::block_in_place(Mosquitto::start);
    let broker = mosquitto.addr();
    let services = tempfile::tempdir().unwrap();
    let registry = schema_registry(broker, services.path());
    tokio::time::timeout(LIMIT, registry.ready()).await.unwrap();
    let adr = FakeAdr::start_at(broker, &adr_client_id()).await;

    let source = ResumableSource::start(SourceConfig::new(TOTAL)).await;
    let locked = SseServer::http([]).await;
    locked.require_basic_auth("operator", "right-password");
    let sparse = SseServer::http([]).await;
    sparse.set_fallback(Response::status(404));

    adr.put_device("plant-gw", device(&source.base_url()));
    adr.put_asset(
        "boiler",
        asset(
            "plant-gw",
            json!([dataset(
                "temperature",
                "/temperature",
                "plant/boiler/temperature"
            )]),
        ),
    );
    adr.put_asset(
        "misrouted",
        asset(
            "plant-gw",
            json!([dataset("pressure", "/pressure", "plant/+/pressure")]),
        ),
    );
    let mut locked_device = device(&locked.url(""));
    locked_device["endpoints"]["inbound"]["ep"]["authentication"] = json!({
        "method": "UsernamePassword",
        "usernamePasswordCredentials": {"usernameSecretName": "locked-creds/username", "passwordSecretName": "locked-creds/password"}
    });
    adr.put_device("vault-gw", locked_device);
    adr.put_asset(
        "vault",
        asset(
            "vault-gw",
            json!([dataset("readings", "/readings", "plant/vault")]),
        ),
    );
    adr.put_device("sparse-gw", device(&sparse.url("")));
    adr.put_asset(
        "gaps",
        asset(
            "sparse-gw",
            json!([dataset("missing", "/nowhere", "plant/gaps")]),
        ),
    );

    let deployment = Deployment::new(
        CONNECTOR_ID,
        broker,
        &[
            ("plant-gw_ep", &["boiler", "misrouted"]),
            ("vault-gw_ep", &["vault"]),
            ("sparse-gw_ep", &["gaps"]),
        ],
        Some(&[
            ("locked-creds/username", "operator"),
            ("locked-creds/password", "wrong-password"),
        ]),
    );
    let mut subscriber = MqttSubscriber::connect(broker, "plant/#").await;
    let connector = deployment.start().await;

    // The data arrives in AIO's format.
    let mut received: Vec<ReceivedMessage> = Vec::new();
    collect_all(
        &mut subscriber,
        &mut received,
        "plant/boiler/temperature",
        TOTAL,
    )
    .await;
    let first = &received[0];
    assert_eq!(
        property(first, "aiodeviceref"),
        Some("ms-aio:0c1d2e3f-device/ep")
    );
    assert_eq!(
        property(first, "aioassetref"),
        Some("ms-aio:9a8b7c6d-asset")
    );
    assert_eq!(property(first, "specversion"), Some("1.0"));
    assert_eq!(property(first, "type"), Some("DataSet"));
    assert_eq!(first.content_type.as_deref(), Some("application/json"));
    assert_eq!(property(first, "__srcId"), Some(adr_client_id().as_str()));

    // Notifications were asked for, for every allocated endpoint and asset.
    for (device, asset) in [
        ("plant-gw", "boiler"),
        ("vault-gw", "vault"),
        ("sparse-gw", "gaps"),
    ] {
        assert!(
            adr.wait_for_device_notification_preference(device, "ep", On, LIMIT)
                .await
        );
        assert!(
            adr.wait_for_asset_notification_preference(device, "ep", asset, On, LIMIT)
                .await
        );
    }

    // A good endpoint: an entry without error, `config.version` the definition's.
    let good = adr
        .wait_for_device_status(
            "plant-gw",
            |s| s["endpoints"]["inbound"]["ep"].is_object(),
            LIMIT,
        )
        .await
        .unwrap();
    assert_eq!(
        timeless(good),
        json!({"config": {"version": 1}, "endpoints": {"inbound": {"ep": {}}}})
    );
    // A wrong password: the endpoint's error, 401, naming the secrets, not their values.
    let vault = adr
        .wait_for_device_status(
            "vault-gw",
            |s| !s["endpoints"]["inbound"]["ep"]["error"].is_null(),
            LIMIT,
        )
        .await
        .unwrap();
    let readings = locked.url("/readings");
    assert_eq!(
        timeless(vault),
        json!({"config": {"version": 1}, "endpoints": {"inbound": {"ep": {"error": {
            "code": "401",
            "message": format!("401 Unauthorized from {readings}: check the username and password \
                (or the credentials the server expects); check secret locked-creds/username and \
                locked-creds/password")
        }}}}})
    );
    // A 404 dataset: that dataset's error.
    let gaps = asset_status(&adr, "gaps", |s| {
        !dataset_status(s, "missing")["error"].is_null()
    })
    .await;
    let nowhere = sparse.url("/nowhere");
    assert_eq!(
        timeless(gaps),
        json!({"config": {"version": 1}, "eventGroups": [], "datasets": [{"name": "missing", "error": {
            "code": "404",
            "message": format!("404 Not Found from {nowhere}: check the address and data source path")
        }}]})
    );
    // A bad destination: the asset's error, naming the definition and the field; it runs
    // nothing.
    let misrouted = asset_status(&adr, "misrouted", |s| !s["config"]["error"].is_null()).await;
    let why = "\"plant/+/pressure\" contains a wildcard (+ or #); a publish topic cannot";
    let at = "adr/plant-gw_ep/misrouted: spec.datasets[0].destinations[0].configuration.topic";
    assert_eq!(
        timeless(misrouted),
        json!({"config": {"version": 1, "error": {
            "code": "invalid_definition",
            "message": format!("{at}: {why}"),
            "details": [{"code": "invalid_definition", "info": at, "message": why}]
        }}, "datasets": [], "eventGroups": []})
    );
    // The good asset: no error, the schema registered for its dataset.
    let boiler = asset_status(&adr, "boiler", |s| {
        !dataset_status(s, "temperature")["messageSchemaReference"].is_null()
    })
    .await;
    let schema = &dataset_status(&boiler, "temperature")["messageSchemaReference"];
    assert_eq!(schema["schemaRegistryNamespace"], "aio-sr", "{boiler}");
    assert_eq!(schema["schemaVersion"], "1", "{boiler}");
    assert_eq!(
        timeless(boiler.clone()),
        json!({"config": {"version": 1}, "eventGroups": [],
               "datasets": [{"name": "temperature", "messageSchemaReference": schema}]})
    );

    // Health: the good dataset is available, with the definition's version.
    let health = dataset_health(&adr, "boiler", "temperature", "Available").await;
    // Metrics name the connector as their instance.
    let (code, metrics) = common::http_get(connector.http.unwrap(), "/metrics").await;
    assert_eq!(code, 200);
    assert!(
        metrics.contains(&format!("instance=\"{CONNECTOR_ID}\"")),
        "{metrics}"
    );
    assert_eq!(health["version"], 1, "{health}");
    assert!(health.get("reasonCode").is_none(), "{health}");
    drop(connector);
}

/// The embedded broker, started by the test (not by the connector), with SAT tokens when
/// given.
async fn embedded_broker(sat: Option<broker::SatTokens>) -> broker::EmbeddedBroker {
    let config = broker::BrokerConfig {
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        sat_tokens: sat,
        ..broker::BrokerConfig::default()
    };
    broker::EmbeddedBroker::start(config).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sse_outage_turns_health_unavailable_and_back_available_on_the_embedded_broker() {
    let broker = embedded_broker(None).await;
    let addr = broker.local_addr();
    let services = tempfile::tempdir().unwrap();
    let registry = schema_registry(addr, services.path());
    tokio::time::timeout(LIMIT, registry.ready()).await.unwrap();
    let adr = FakeAdr::start_at(addr, &adr_client_id()).await;
    // One event, then the stream ends and every reconnect is refused (503).
    let server = SseServer::http([Response::sse().chunk("id: 1\ndata: {\"n\":1}\n\n")]).await;
    adr.put_device("gw", device(&server.url("")));
    adr.put_asset(
        "line",
        asset("gw", json!([dataset("speed", "/speed", "line/speed")])),
    );
    let deployment = Deployment::new(CONNECTOR_ID, addr, &[("gw_ep", &["line"])], None);
    let _connector = deployment.start().await;

    let down = dataset_health(&adr, "line", "speed", "Unavailable").await;
    assert_eq!(down["reasonCode"], "SseConnectorStreamError", "{down}");
    assert_eq!(down["version"], 1, "{down}");
    let speed = server.url("/speed");
    assert!(
        down["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("SSE stream error: ") && m.contains(&speed)),
        "{down}"
    );
    // The endpoint is down too.
    let endpoint = adr
        .wait_for_health_event(
            |e| {
                e.kind == "deviceEndpointRuntimeHealthEvent"
                    && e.body()["runtimeHealth"]["status"] == "Unavailable"
            },
            LIMIT,
        )
        .await
        .unwrap_or_else(|| panic!("no endpoint health: {:#?}", adr.health_events()));
    assert_eq!(
        (endpoint.device.as_str(), endpoint.endpoint.as_str()),
        ("gw", "ep")
    );

    // The server is back: the next reconnect succeeds.
    server.set_fallback(Response::sse().chunk("id: 2\ndata: {\"n\":2}\n\n").hang());
    let up = dataset_health(&adr, "line", "speed", "Available").await;
    assert!(
        up.get("reasonCode").is_none() && up.get("message").is_none(),
        "{up}"
    );
    let requests = server.requests();
    assert_eq!(
        requests.last().and_then(|r| r.header("last-event-id")),
        Some("1"),
        "the reconnect resumes after event 1"
    );
    drop(broker);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allocation_files_start_and_stop_streams_and_an_update_restarts_only_its_stream() {
    let mosquitto = tokio::task::block_in_place(Mosquitto::start);
    let broker = mosquitto.addr();
    let adr = FakeAdr::start_at(broker, &adr_client_id()).await;
    let first = ResumableSource::start(SourceConfig::new(5)).await;
    let second = ResumableSource::start(SourceConfig::new(5)).await;
    let moved = ResumableSource::start(SourceConfig::new(5)).await;
    adr.put_device("a-gw", device(&first.base_url()));
    adr.put_asset(
        "alpha",
        asset("a-gw", json!([dataset("d", "/a", "alloc/alpha")])),
    );
    adr.put_device("b-gw", device(&second.base_url()));
    adr.put_asset(
        "beta",
        asset("b-gw", json!([dataset("d", "/b", "alloc/beta")])),
    );
    let mut deployment = Deployment::new(CONNECTOR_ID, broker, &[("a-gw_ep", &["alpha"])], None);
    let mut subscriber = MqttSubscriber::connect(broker, "alloc/#").await;
    let mut connector = deployment.start().await;
    let mut received = Vec::new();
    collect_all(&mut subscriber, &mut received, "alloc/alpha", 5).await;
    assert!(second.requests().is_empty(), "b-gw is not allocated yet");

    // A new allocation file: its endpoint and asset start.
    deployment.allocate(&[("a-gw_ep", &["alpha"]), ("b-gw_ep", &["beta"])]);
    collect_all(&mut subscriber, &mut received, "alloc/beta", 5).await;
    assert!(
        adr.wait_for_asset_notification_preference("b-gw", "ep", "beta", On, LIMIT)
            .await
    );

    // An update event with a new address restarts that stream only.
    let mut updated = device(&moved.base_url());
    updated["version"] = json!(2);
    adr.put_device("b-gw", updated);
    assert_eq!(adr.send_device_update("b-gw", "ep").await, 1);
    moved.wait_for_requests(1, LIMIT).await;
    connector
        .wait_for_log(&format!("stream stopped url={}/b", second.base_url()))
        .await;
    assert_eq!(
        first.requests().len(),
        1,
        "the other stream was not restarted"
    );
    let status = adr
        .wait_for_device_status("b-gw", |s| s["config"]["version"] == 2, LIMIT)
        .await;
    assert!(status.is_some(), "the new version's status is written");

    // The file removed: its stream stops, its update events are turned off.
    deployment.allocate(&[("b-gw_ep", &["beta"])]);
    connector
        .wait_for_log(&format!("stream stopped url={}/a", first.base_url()))
        .await;
    assert!(
        adr.wait_for_device_notification_preference("a-gw", "ep", Off, LIMIT)
            .await,
        "update events of a released endpoint are turned off"
    );
    assert_eq!(first.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_connector_resumes_from_the_last_event_id() {
    const TOTAL: u64 = 30;
    let mosquitto = tokio::task::block_in_place(Mosquitto::start);
    let broker = mosquitto.addr();
    let adr = FakeAdr::start_at(broker, &adr_client_id()).await;
    let rest = test_support::Gate::new();
    let source = ResumableSource::start(SourceConfig::new(TOTAL).hold_after(10, &rest)).await;
    adr.put_device("gw", device(&source.base_url()));
    adr.put_asset(
        "tank",
        asset("gw", json!([dataset("level", "/level", "tank/level")])),
    );
    let deployment = Deployment::new(CONNECTOR_ID, broker, &[("gw_ep", &["tank"])], None);
    let mut subscriber = MqttSubscriber::connect(broker, "tank/#").await;

    let connector = deployment.start().await;
    let mut received = Vec::new();
    collect_all(&mut subscriber, &mut received, "tank/level", 10).await;
    eventually("the checkpoint of event 10", || {
        common::checkpoints(&deployment.state_dir())
            .iter()
            .any(|(_, id)| id == "10")
    })
    .await;
    assert!(connector.terminate().await.success());

    let _connector = deployment.start().await;
    source.wait_for_requests(2, LIMIT).await;
    rest.open();
    collect_all(&mut subscriber, &mut received, "tank/level", TOTAL).await;
    assert_eq!(
        source.last_event_ids(),
        vec![None, Some("10".to_owned())],
        "the second connection resumes after event 10"
    );
    let numbers: Vec<u64> = received.iter().map(common::event_number).collect();
    assert_eq!(
        numbers,
        (1..=TOTAL).collect::<Vec<_>>(),
        "no event lost or repeated"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_service_account_token_keeps_every_message() {
    const TOTAL: u64 = 300;
    let tokens = broker::SatTokens::new();
    tokens.accept("token-1");
    let broker = embedded_broker(Some(tokens.clone())).await;
    let addr = broker.local_addr();
    let adr = FakeAdr::start_at(addr, &adr_client_id()).await;
    let source =
        ResumableSource::start(SourceConfig::new(TOTAL).interval(Duration::from_millis(10))).await;
    adr.put_device("gw", device(&source.base_url()));
    adr.put_asset(
        "mixer",
        asset("gw", json!([dataset("rpm", "/rpm", "mixer/rpm")])),
    );
    let deployment = Deployment::new(CONNECTOR_ID, addr, &[("gw_ep", &["mixer"])], None);
    let mut sat = K8sMount::create(deployment.root.path().join("sat"), &[("token", "token-1")]);
    let mut subscriber = MqttSubscriber::connect(addr, "mixer/#").await;
    let mut command = run_command();
    command
        .args(["--http", "127.0.0.1:0"])
        .envs(deployment.env())
        .env("BROKER_SAT_MOUNT_PATH", sat.file("token"));
    let _connector = Connector::spawn(command, false, true).await;

    let mut received = Vec::new();
    collect_all(&mut subscriber, &mut received, "mixer/rpm", 50).await;
    // Kubernetes rotates the token; the broker stops accepting the old one.
    tokens.accept("token-2");
    sat.replace(&[("token", "token-2")]);
    tokens.revoke(b"token-1");
    collect_all(&mut subscriber, &mut received, "mixer/rpm", TOTAL).await;
    let used = tokens.used();
    assert!(
        used.iter().any(|t| t == b"token-2"),
        "the new token was used: {used:?}"
    );
    let last_old = used.iter().rposition(|t| t == b"token-1").unwrap();
    let first_new = used.iter().position(|t| t == b"token-2").unwrap();
    assert!(
        last_old < first_new,
        "the old token is not used after the new one: {used:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_without_their_mount_stop_the_connector_with_the_contracts_error() {
    let mosquitto = tokio::task::block_in_place(Mosquitto::start);
    let broker = mosquitto.addr();
    let adr = FakeAdr::start_at(broker, &adr_client_id()).await;
    let mut locked = device("http://127.0.0.1:9/");
    locked["endpoints"]["inbound"]["ep"]["authentication"] = json!({
        "method": "UsernamePassword",
        "usernamePasswordCredentials": {"usernameSecretName": "c/u", "passwordSecretName": "c/p"}
    });
    adr.put_device("gw", locked);
    adr.put_asset("a", asset("gw", json!([dataset("d", "/d", "t/d")])));
    let deployment = Deployment::new(CONNECTOR_ID, broker, &[("gw_ep", &["a"])], None);
    let mut connector = deployment.start().await;
    let line = connector
        .wait_for_log("DEVICE_ENDPOINT_CREDENTIALS_MOUNT_PATH is not set")
        .await;
    assert!(
        line.contains("gw_ep") && line.contains("UsernamePassword"),
        "{line}"
    );
    let status = connector.exited().await;
    assert!(!status.success(), "the pod must restart: {status}");
}
