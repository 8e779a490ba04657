//! Microsoft's ADR client drives test-support's fake ADR service on mosquitto; every exchange
//! seen on the wire is recorded into `crates/test-support/fixtures/adr/`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use azure_iot_operations_mqtt::aio::connection_settings::MqttConnectionSettingsBuilder;
use azure_iot_operations_mqtt::session::{Session, SessionOptionsBuilder};
use azure_iot_operations_protocol::application::ApplicationContextBuilder;
use azure_iot_operations_services::azure_device_registry::{
    self as adr, ConfigError, ConfigStatus, ErrorKind, HealthStatus, RuntimeHealth, models,
};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{Filter, Packet};
use rumqttc::v5::{AsyncClient, Event, MqttOptions};
use serde_json::{Value, json};
use test_support::fake_adr::FakeAdr;
use test_support::mosquitto::Mosquitto;

/// The connector's MQTT client id (the SDK uses the session's client id as
/// `{connectorClientId}`).
const CID: &str = "aio-sse-connector-0";
const DEVICE: &str = "sse-device";
const ENDPOINT: &str = "sse-0";
const ASSET: &str = "weather";
const TIMEOUT: Duration = Duration::from_secs(10);
const RECORDED_WITH: &str = "azure_iot_operations_services 1.3.0 (azure_iot_operations_mqtt 1.2.3, \
     azure_iot_operations_protocol 1.1.0) against test-support's fake_adr on mosquitto";

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-support/fixtures/adr")
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("RFC 3339")
        .with_timezone(&Utc)
}

// ----- A sniffer: every PUBLISH on the broker, with its properties -----

#[derive(Debug, Clone)]
struct Wire {
    topic: String,
    qos: u8,
    payload: Bytes,
    content_type: Option<String>,
    payload_format_indicator: Option<u8>,
    message_expiry: Option<u32>,
    response_topic: Option<String>,
    correlation_data: Option<Bytes>,
    user_properties: Vec<(String, String)>,
}

async fn sniff(port: u16) -> (Arc<Mutex<Vec<Wire>>>, tokio::task::JoinHandle<()>) {
    let mut options = MqttOptions::new("adr-oracle-sniffer", "127.0.0.1", port);
    options.set_keep_alive(Duration::from_secs(30));
    let (client, mut eventloop) = AsyncClient::new(options, 64);
    let seen: Arc<Mutex<Vec<Wire>>> = Arc::default();
    let (subscribed_tx, mut subscribed) = tokio::sync::watch::channel(false);
    let task = tokio::spawn({
        let seen = seen.clone();
        async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        let _ = client.try_subscribe_many([Filter::new("#", QoS::AtLeastOnce)]);
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        let _ = subscribed_tx.send(true);
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let props = p.properties.unwrap_or_default();
                        seen.lock().expect("lock").push(Wire {
                            topic: String::from_utf8_lossy(&p.topic).into_owned(),
                            qos: p.qos as u8,
                            payload: p.payload,
                            content_type: props.content_type,
                            payload_format_indicator: props.payload_format_indicator,
                            message_expiry: props.message_expiry_interval,
                            response_topic: props.response_topic,
                            correlation_data: props.correlation_data,
                            user_properties: props.user_properties,
                        });
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        }
    });
    tokio::time::timeout(TIMEOUT, subscribed.wait_for(|s| *s))
        .await
        .expect("sniffer subscribed")
        .expect("sniffer alive");
    (seen, task)
}

// ----- The SDK's calls -----

async fn drive(client: &adr::Client, fake: &FakeAdr) {
    // getDevice: one inbound endpoint, string attributes, the spec's version.
    let device = client
        .get_device(DEVICE.into(), ENDPOINT.into(), TIMEOUT)
        .await
        .expect("SDK parses getDevice");
    assert_eq!(device.version, Some(2));
    assert_eq!(
        device.attributes.get("floor").map(String::as_str),
        Some("3")
    );
    let endpoints = device.endpoints.expect("endpoints");
    assert_eq!(endpoints.inbound.keys().collect::<Vec<_>>(), [ENDPOINT]);
    let inbound = &endpoints.inbound[ENDPOINT];
    assert_eq!(inbound.endpoint_type, "Microsoft.SSEHttp");
    assert!(
        format!("{:?}", inbound.authentication).contains("sse-creds/password"),
        "{:?}",
        inbound.authentication
    );

    // An unknown device: the SDK surfaces the DTDL's error result as a service error.
    let error = client
        .get_device("no-such-device".into(), ENDPOINT.into(), TIMEOUT)
        .await
        .expect_err("unknown device");
    match error.kind() {
        ErrorKind::ServiceError(e) => assert!(format!("{e:?}").contains("KubeError"), "{e:?}"),
        other => panic!("expected a service error, got {other:?}"),
    }

    // Device status: empty, then updated, then read back.
    let status = client
        .get_device_status(DEVICE.into(), ENDPOINT.into(), TIMEOUT)
        .await
        .expect("SDK parses getDeviceStatus");
    assert_eq!(status.config, None);
    let update = models::DeviceStatus {
        config: Some(ConfigStatus {
            version: Some(2),
            error: None,
            last_transition_time: Some(at("2026-05-01T10:00:00Z")),
        }),
        endpoints: HashMap::from([(ENDPOINT.to_owned(), None)]),
    };
    let updated = client
        .update_device_plus_endpoint_status(DEVICE.into(), ENDPOINT.into(), update.clone(), TIMEOUT)
        .await
        .expect("SDK parses updateDeviceStatus");
    assert_eq!(updated.config, update.config);
    assert_eq!(updated.endpoints, update.endpoints);
    let with_error = models::DeviceStatus {
        endpoints: HashMap::from([(
            ENDPOINT.to_owned(),
            Some(ConfigError {
                code: Some("400".into()),
                message: Some("endpoint type is not supported".into()),
                details: None,
            }),
        )]),
        ..update
    };
    client
        .update_device_plus_endpoint_status(
            DEVICE.into(),
            ENDPOINT.into(),
            with_error.clone(),
            TIMEOUT,
        )
        .await
        .expect("SDK parses updateDeviceStatus with an endpoint error");
    let read = client
        .get_device_status(DEVICE.into(), ENDPOINT.into(), TIMEOUT)
        .await
        .expect("SDK parses getDeviceStatus");
    assert_eq!(read.endpoints, with_error.endpoints);
    assert!(fake.device_status(DEVICE).is_some());

    // getAsset / getAssetStatus / updateAssetStatus.
    let asset = client
        .get_asset(DEVICE.into(), ENDPOINT.into(), ASSET.into(), TIMEOUT)
        .await
        .expect("SDK parses getAsset");
    assert_eq!(asset.version, Some(7));
    assert_eq!(asset.datasets[0].name, "current");
    assert_eq!(asset.event_groups[0].events[0].name, "threshold");
    assert_eq!(asset.default_datasets_configuration.as_deref(), Some("{}"));
    let status = client
        .get_asset_status(DEVICE.into(), ENDPOINT.into(), ASSET.into(), TIMEOUT)
        .await
        .expect("SDK parses getAssetStatus");
    assert_eq!(status, models::AssetStatus::default());
    let update = models::AssetStatus {
        config: Some(ConfigStatus {
            version: Some(7),
            error: None,
            last_transition_time: Some(at("2026-05-01T10:00:01Z")),
        }),
        datasets: Some(vec![models::DatasetEventStreamStatus {
            name: "current".into(),
            message_schema_reference: Some(models::MessageSchemaReference {
                name: "a1b2c3".into(),
                version: "1".into(),
                registry_namespace: "myregistry".into(),
            }),
            error: None,
        }]),
        event_groups: Some(vec![models::EventGroupStatus {
            name: "alerts".into(),
            events: Some(vec![models::DatasetEventStreamStatus {
                name: "threshold".into(),
                message_schema_reference: None,
                error: Some(ConfigError {
                    code: None,
                    message: Some("no destination".into()),
                    details: None,
                }),
            }]),
        }]),
        management_groups: None,
        streams: None,
    };
    let updated = client
        .update_asset_status(
            DEVICE.into(),
            ENDPOINT.into(),
            ASSET.into(),
            update.clone(),
            TIMEOUT,
        )
        .await
        .expect("SDK parses updateAssetStatus");
    assert_eq!(updated, update);
    let read = client
        .get_asset_status(DEVICE.into(), ENDPOINT.into(), ASSET.into(), TIMEOUT)
        .await
        .expect("SDK parses getAssetStatus");
    assert_eq!(read, update);
    let stored = fake.asset_status(ASSET).expect("stored asset status");
    assert_eq!(stored["config"]["version"], 7);

    // Notifications: observe (preference On), an update event each, unobserve (Off).
    let mut device_updates = client
        .observe_device_update_notifications(DEVICE.into(), ENDPOINT.into(), TIMEOUT)
        .await
        .expect("SDK parses setNotificationPreferenceForDeviceUpdates");
    assert_eq!(fake.send_device_update(DEVICE, ENDPOINT).await, 1);
    let (updated_device, _) = tokio::time::timeout(TIMEOUT, device_updates.recv_notification())
        .await
        .expect("device update in time")
        .expect("a device update");
    assert_eq!(updated_device.version, Some(2));
    let mut asset_updates = client
        .observe_asset_update_notifications(DEVICE.into(), ENDPOINT.into(), ASSET.into(), TIMEOUT)
        .await
        .expect("SDK parses setNotificationPreferenceForAssetUpdates");
    assert_eq!(fake.send_asset_update(DEVICE, ENDPOINT, ASSET).await, 1);
    let (updated_asset, _) = tokio::time::timeout(TIMEOUT, asset_updates.recv_notification())
        .await
        .expect("asset update in time")
        .expect("an asset update");
    assert_eq!(updated_asset.version, Some(7));

    // Runtime health events.
    client
        .report_device_endpoint_runtime_health_event(
            DEVICE.into(),
            ENDPOINT.into(),
            RuntimeHealth {
                last_update_time: at("2026-05-01T10:00:02Z"),
                message: Some("SSE stream error: connection refused".into()),
                reason_code: Some("SseConnectorStreamError".into()),
                status: HealthStatus::Unavailable,
                version: 2,
            },
            TIMEOUT,
        )
        .await
        .expect("device endpoint health sent");
    client
        .report_dataset_runtime_health_events(
            DEVICE.into(),
            ENDPOINT.into(),
            ASSET.into(),
            vec![models::DatasetRuntimeHealthEvent {
                dataset_name: "current".into(),
                runtime_health: RuntimeHealth {
                    last_update_time: at("2026-05-01T10:00:03Z"),
                    message: None,
                    reason_code: None,
                    status: HealthStatus::Available,
                    version: 7,
                },
            }],
            TIMEOUT,
        )
        .await
        .expect("dataset health sent");
    client
        .report_event_runtime_health_events(
            DEVICE.into(),
            ENDPOINT.into(),
            ASSET.into(),
            vec![models::EventRuntimeHealthEvent {
                event_group_name: "alerts".into(),
                event_name: "threshold".into(),
                runtime_health: RuntimeHealth {
                    last_update_time: at("2026-05-01T10:00:04Z"),
                    message: None,
                    reason_code: None,
                    status: HealthStatus::Available,
                    version: 7,
                },
            }],
            TIMEOUT,
        )
        .await
        .expect("event health sent");
    for kind in [
        "deviceEndpointRuntimeHealthEvent",
        "datasetRuntimeHealthEvent",
        "eventRuntimeHealthEvent",
    ] {
        let event = fake
            .wait_for_health_event(|e| e.kind == kind, TIMEOUT)
            .await
            .unwrap_or_else(|| panic!("{kind} recorded by the fake"));
        assert_eq!(
            (event.device.as_str(), event.endpoint.as_str()),
            (DEVICE, ENDPOINT)
        );
        assert!(event.body().is_object(), "{kind}: {}", event.payload);
    }

    // A discovered asset.
    let discovered = models::DiscoveredAsset {
        asset_type_refs: vec![],
        attributes: HashMap::from([("found-by".to_owned(), "oracle".to_owned())]),
        datasets: vec![],
        default_datasets_configuration: None,
        default_datasets_destinations: vec![],
        default_events_configuration: None,
        default_events_destinations: vec![],
        default_management_groups_configuration: None,
        default_streams_configuration: None,
        default_streams_destinations: vec![],
        description: Some("found on the wire".into()),
        device_ref: models::DeviceRef {
            device_name: DEVICE.into(),
            endpoint_name: ENDPOINT.into(),
        },
        display_name: None,
        documentation_uri: None,
        event_groups: vec![],
        external_asset_id: None,
        hardware_revision: None,
        management_groups: vec![],
        manufacturer: None,
        manufacturer_uri: None,
        model: None,
        product_code: None,
        serial_number: None,
        software_revision: None,
        streams: vec![],
    };
    let (id, version) = client
        .create_or_update_discovered_asset(
            DEVICE.into(),
            ENDPOINT.into(),
            "found-1".into(),
            discovered,
            TIMEOUT,
        )
        .await
        .expect("SDK parses createOrUpdateDiscoveredAsset");
    assert_eq!((id.as_str(), version), ("discovered-found-1", 1));

    client
        .unobserve_device_update_notifications(DEVICE.into(), ENDPOINT.into(), TIMEOUT)
        .await
        .expect("unobserve device");
    client
        .unobserve_asset_update_notifications(DEVICE.into(), ENDPOINT.into(), ASSET.into(), TIMEOUT)
        .await
        .expect("unobserve asset");
    assert_eq!(fake.send_device_update(DEVICE, ENDPOINT).await, 0);
    assert_eq!(fake.send_asset_update(DEVICE, ENDPOINT, ASSET).await, 0);
}

// ----- Fixtures -----

struct Normaliser {
    fake_id: String,
}

impl Normaliser {
    fn text(&self, text: &str) -> String {
        text.replace(CID, "{connectorClientId}")
            .replace(&self.fake_id, "{fakeAdrClientId}")
    }

    fn properties(&self, props: &[(String, String)]) -> Value {
        Value::Array(
            props
                .iter()
                .map(|(k, v)| {
                    let v = if k == "__ts" {
                        assert!(is_hlc(v), "__ts {v:?} is an HLC");
                        "<hlc>".to_owned()
                    } else {
                        self.text(v)
                    };
                    json!([k, v])
                })
                .collect(),
        )
    }

    fn payload(&self, payload: &[u8]) -> Value {
        if payload.is_empty() {
            return Value::Null;
        }
        let text = self.text(&String::from_utf8_lossy(payload));
        let mut value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        // AkriServiceError timestamps are the time of the answer.
        if let Value::Object(map) = &mut value {
            for (key, field) in map.iter_mut() {
                if key.ends_with("Error")
                    && let Some(ts) = field.get_mut("timestamp")
                {
                    *ts = json!("<timestamp>");
                }
            }
        }
        value
    }

    fn message(&self, wire: &Wire) -> Value {
        let mut message = json!({
            "topic": self.text(&wire.topic),
            "qos": wire.qos,
            "payload": self.payload(&wire.payload),
            "content_type": wire.content_type,
            "payload_format_indicator": wire.payload_format_indicator,
            "message_expiry": wire.message_expiry,
            "user_properties": self.properties(&wire.user_properties),
        });
        if let Some(topic) = &wire.response_topic {
            message["response_topic"] = json!(self.text(topic));
        }
        if let Some(data) = &wire.correlation_data {
            message["correlation_data_len"] = json!(data.len());
        }
        message
    }
}

fn is_hlc(text: &str) -> bool {
    let parts: Vec<&str> = text.split(':').collect();
    parts.len() == 3 && parts[0].parse::<u64>().is_ok() && parts[1].parse::<u64>().is_ok()
}

/// Pairs requests with their responses and lists telemetry, in wire order.
fn fixtures(seen: &[Wire], normaliser: &Normaliser) -> Vec<(String, Value)> {
    let request_prefix = format!("akri/connector/resources/{CID}/");
    let telemetry_prefix = format!("akri/connector/resources/telemetry/{CID}/");
    let mut out = Vec::new();
    for wire in seen {
        let name = wire.topic.rsplit('/').next().unwrap_or_default().to_owned();
        if wire.topic.starts_with(&request_prefix) {
            let response = seen
                .iter()
                .find(|r| {
                    Some(&r.topic) == wire.response_topic.as_ref()
                        && r.correlation_data == wire.correlation_data
                })
                .unwrap_or_else(|| panic!("no response to {}", wire.topic));
            out.push((
                name.clone(),
                json!({
                    "recorded_with": RECORDED_WITH,
                    "kind": "command",
                    "command": name,
                    "request": normaliser.message(wire),
                    "response": normaliser.message(response),
                }),
            ));
        } else if wire.topic.starts_with(&telemetry_prefix) {
            let from_service = wire
                .user_properties
                .iter()
                .any(|(k, v)| k == "__srcId" && *v == normaliser.fake_id);
            out.push((
                name.clone(),
                json!({
                    "recorded_with": RECORDED_WITH,
                    "kind": "telemetry",
                    "telemetry": name,
                    "direction": if from_service { "service-to-connector" } else { "connector-to-service" },
                    "message": normaliser.message(wire),
                }),
            ));
        }
    }
    out
}

fn write_fixtures(fixtures: &[(String, Value)]) {
    let dir = fixtures_dir();
    std::fs::create_dir_all(&dir).expect("fixtures dir");
    for entry in std::fs::read_dir(&dir)
        .expect("read fixtures dir")
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".json") && name.as_bytes().first().is_some_and(u8::is_ascii_digit) {
            std::fs::remove_file(entry.path()).expect("remove old fixture");
        }
    }
    for (index, (name, fixture)) in fixtures.iter().enumerate() {
        let path = dir.join(format!("{:02}-{name}.json", index + 1));
        let text = serde_json::to_string_pretty(fixture).expect("JSON") + "\n";
        std::fs::write(&path, text).expect("write fixture");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_speaks_with_the_fake_adr() {
    let broker = tokio::task::block_in_place(Mosquitto::start);
    let port = broker.addr().port();
    let (seen, sniffer) = sniff(port).await;
    let fake = Arc::new(FakeAdr::start("127.0.0.1", port, CID).await);
    let definitions = std::fs::read_to_string(fixtures_dir().join("definitions.yaml"))
        .expect("fixtures/adr/definitions.yaml");
    fake.put_yaml(&definitions).expect("definitions load");

    let connection_settings = MqttConnectionSettingsBuilder::default()
        .client_id(CID)
        .hostname("127.0.0.1")
        .tcp_port(port)
        .keep_alive(Duration::from_secs(5))
        .use_tls(false)
        .clean_start(true)
        .build()
        .expect("connection settings");
    let session = Session::new(
        SessionOptionsBuilder::default()
            .connection_settings(connection_settings)
            .build()
            .expect("session options"),
    )
    .expect("session");
    let client = adr::Client::new(
        ApplicationContextBuilder::default()
            .build()
            .expect("application context"),
        session.create_managed_client(),
        adr::ClientOptionsBuilder::default()
            .build()
            .expect("client options"),
    )
    .expect("ADR client");
    let exit = session.create_exit_handle();
    let session_task = tokio::spawn(session.run());

    drive(&client, &fake).await;

    client.shutdown().await.expect("ADR client shutdown");
    if exit.try_exit().is_err() {
        exit.force_exit();
    }
    let _ = tokio::time::timeout(TIMEOUT, session_task).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    sniffer.abort();

    let seen = seen.lock().expect("lock").clone();
    let normaliser = Normaliser {
        fake_id: fake.client_id().to_owned(),
    };
    let fixtures = fixtures(&seen, &normaliser);
    let commands: Vec<&str> = fixtures.iter().map(|(name, _)| name.as_str()).collect();
    for expected in [
        "getDevice",
        "getDeviceStatus",
        "updateDeviceStatus",
        "getAsset",
        "getAssetStatus",
        "updateAssetStatus",
        "setNotificationPreferenceForDeviceUpdates",
        "setNotificationPreferenceForAssetUpdates",
        "createOrUpdateDiscoveredAsset",
        "deviceUpdateEvent",
        "assetUpdateEvent",
        "deviceEndpointRuntimeHealthEvent",
        "datasetRuntimeHealthEvent",
        "eventRuntimeHealthEvent",
    ] {
        assert!(
            commands.contains(&expected),
            "{expected} recorded: {commands:?}"
        );
    }
    if std::env::var("ADR_ORACLE_WRITE").as_deref() != Ok("0") {
        write_fixtures(&fixtures);
    }
}
