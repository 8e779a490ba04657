//! Replays the exchanges Microsoft's ADR client had with the fake ADR service (recorded by
//! `crates/adr-oracle` into `fixtures/adr/`) and checks that the fake still answers them the
//! same way: the SDK's requests and health events, the fake's responses and update events,
//! with topics, properties and payloads compared after normalising client ids, `__ts` and
//! error timestamps. Runs in every CI build, without the SDK or OpenSSL.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use rumqttc::v5::mqttbytes::v5::PublishProperties;
use serde_json::{Value, json};
use test_support::AnyBroker;
use test_support::fake_adr::FakeAdr;

use common::{RawInvoker, Response};

const WAIT: Duration = Duration::from_secs(10);

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/adr")
}

/// The recorded exchanges, in order: (file name, fixture).
fn fixtures() -> Vec<(String, Value)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .expect("fixtures/adr")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("fixture readable");
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name, serde_json::from_str(&text).expect("fixture is JSON"))
        })
        .collect()
}

struct Ids {
    connector: String,
    fake: String,
}

impl Ids {
    /// Recorded text with the placeholders replaced by this run's client ids.
    fn fill(&self, text: &str) -> String {
        text.replace("{connectorClientId}", &self.connector)
            .replace("{fakeAdrClientId}", &self.fake)
    }

    /// Received text with this run's client ids replaced by the placeholders.
    fn blank(&self, text: &str) -> String {
        text.replace(&self.connector, "{connectorClientId}")
            .replace(&self.fake, "{fakeAdrClientId}")
    }

    fn fill_json(&self, value: &Value) -> Value {
        serde_json::from_str(&self.fill(&value.to_string())).expect("JSON")
    }

    /// Recorded user properties, ready to send (a fresh `__ts`).
    fn properties_to_send(&self, recorded: &Value) -> Vec<(String, String)> {
        recorded
            .as_array()
            .expect("user_properties")
            .iter()
            .map(|pair| {
                let key = pair[0].as_str().expect("key").to_owned();
                let value = pair[1].as_str().expect("value");
                let value = if value == "<hlc>" {
                    hlc_now(&self.connector)
                } else {
                    self.fill(value)
                };
                (key, value)
            })
            .collect()
    }

    /// Received user properties in the recorded form; properties a broker adds
    /// (not AIO's `__…` / `$…` and not recorded) are left out.
    fn properties_received(&self, received: &[(String, String)], recorded: &Value) -> Value {
        let recorded_keys: Vec<&str> = recorded
            .as_array()
            .expect("user_properties")
            .iter()
            .filter_map(|p| p[0].as_str())
            .collect();
        Value::Array(
            received
                .iter()
                .filter(|(k, _)| {
                    k.starts_with("__") || k.starts_with('$') || recorded_keys.contains(&k.as_str())
                })
                .map(|(k, v)| {
                    let v = if k == "__ts" {
                        assert!(is_hlc(v), "__ts {v:?} is an HLC");
                        "<hlc>".to_owned()
                    } else {
                        self.blank(v)
                    };
                    json!([k, v])
                })
                .collect(),
        )
    }

    /// A received payload in the recorded form.
    fn payload_received(&self, payload: &[u8]) -> Value {
        if payload.is_empty() {
            return Value::Null;
        }
        let text = self.blank(&String::from_utf8_lossy(payload));
        let mut value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if let Value::Object(map) = &mut value {
            for (key, field) in map.iter_mut() {
                if key.ends_with("Error")
                    && let Some(ts) = field.get_mut("timestamp")
                {
                    assert!(ts.as_str().is_some_and(|t| t.ends_with('Z')), "{ts}");
                    *ts = json!("<timestamp>");
                }
            }
        }
        value
    }
}

fn hlc_now(node: &str) -> String {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis();
    format!("{millis:0>15}:00000:{node}")
}

fn is_hlc(text: &str) -> bool {
    let parts: Vec<&str> = text.split(':').collect();
    parts.len() == 3 && parts[0].parse::<u64>().is_ok() && parts[1].parse::<u64>().is_ok()
}

fn payload_to_send(recorded: &Value, ids: &Ids) -> Bytes {
    match recorded {
        Value::Null => Bytes::new(),
        Value::String(text) => Bytes::from(ids.fill(text)),
        other => Bytes::from(ids.fill_json(other).to_string()),
    }
}

fn properties_to_send(message: &Value, ids: &Ids, correlation: Option<Bytes>) -> PublishProperties {
    PublishProperties {
        payload_format_indicator: message["payload_format_indicator"]
            .as_u64()
            .and_then(|v| u8::try_from(v).ok()),
        message_expiry_interval: message["message_expiry"]
            .as_u64()
            .and_then(|v| u32::try_from(v).ok()),
        response_topic: message["response_topic"].as_str().map(|t| ids.fill(t)),
        correlation_data: correlation,
        user_properties: ids.properties_to_send(&message["user_properties"]),
        content_type: message["content_type"].as_str().map(str::to_owned),
        ..PublishProperties::default()
    }
}

/// Compares a received message with a recorded one, field by field.
fn assert_same(name: &str, received: &Response, recorded: &Value, ids: &Ids) {
    assert_eq!(
        ids.blank(&received.topic),
        recorded["topic"].as_str().expect("topic"),
        "{name}: topic"
    );
    assert_eq!(json!(received.qos), recorded["qos"], "{name}: QoS");
    assert_eq!(
        json!(received.content_type),
        recorded["content_type"],
        "{name}: content type"
    );
    assert_eq!(
        json!(received.payload_format_indicator),
        recorded["payload_format_indicator"],
        "{name}: payload format indicator"
    );
    assert_eq!(
        ids.properties_received(&received.user_properties, &recorded["user_properties"]),
        recorded["user_properties"],
        "{name}: user properties"
    );
    assert_eq!(
        ids.payload_received(&received.payload),
        recorded["payload"],
        "{name}: payload"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fake_answers_the_recorded_sdk_exchanges_as_recorded() {
    let fixtures = fixtures();
    assert!(
        fixtures.len() >= 14,
        "fixtures/adr holds the oracle's recordings ({} found)",
        fixtures.len()
    );
    let broker = AnyBroker::embedded().await;
    let connector = AnyBroker::client_id("replayed-connector");
    let adr = FakeAdr::start_at(broker.addr(), &connector).await;
    let definitions = std::fs::read_to_string(fixtures_dir().join("definitions.yaml"))
        .expect("fixtures/adr/definitions.yaml");
    adr.put_yaml(&definitions).expect("definitions load");
    let ids = Ids {
        connector: connector.clone(),
        fake: adr.client_id().to_owned(),
    };
    let mut conn = RawInvoker::connect(broker.addr(), &connector).await;
    let mut correlation = 0u128;

    for (name, fixture) in &fixtures {
        match fixture["kind"].as_str() {
            Some("command") => {
                let request = &fixture["request"];
                let recorded = &fixture["response"];
                assert_eq!(
                    request["correlation_data_len"], 16,
                    "{name}: the SDK's correlation data is a 16-byte UUID"
                );
                correlation += 1;
                let data = Bytes::copy_from_slice(&correlation.to_be_bytes());
                let topic = ids.fill(request["topic"].as_str().expect("topic"));
                let response = conn
                    .invoke_with(
                        &topic,
                        payload_to_send(&request["payload"], &ids),
                        properties_to_send(request, &ids, Some(data.clone())),
                        WAIT,
                    )
                    .await
                    .unwrap_or_else(|| panic!("{name}: no response"));
                assert_eq!(response.correlation_data, Some(data), "{name}: correlation");
                assert_same(name, &response, recorded, &ids);
            }
            Some("telemetry") if fixture["direction"] == "connector-to-service" => {
                let message = &fixture["message"];
                let topic = ids.fill(message["topic"].as_str().expect("topic"));
                let before = adr.health_events().len();
                conn.publish(
                    &topic,
                    payload_to_send(&message["payload"], &ids),
                    properties_to_send(message, &ids, None),
                )
                .await;
                let kind = fixture["telemetry"].as_str().expect("telemetry name");
                let event = tokio::time::timeout(WAIT, async {
                    loop {
                        if let Some(event) = adr.health_events().get(before) {
                            return event.clone();
                        }
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                })
                .await
                .unwrap_or_else(|_| panic!("{name}: the fake did not record {kind}"));
                assert_eq!(event.kind, kind, "{name}: kind");
                let levels: Vec<&str> = topic.rsplit('/').collect();
                assert_eq!(
                    (event.device.as_str(), event.endpoint.as_str()),
                    (levels[2], levels[1]),
                    "{name}: device and endpoint from the topic"
                );
                assert_eq!(event.connector_client_id, connector);
                assert_eq!(
                    event.payload,
                    ids.fill_json(&message["payload"]),
                    "{name}: payload recorded as sent"
                );
            }
            Some("telemetry") => {
                let message = &fixture["message"];
                let topic = ids.fill(message["topic"].as_str().expect("topic"));
                let levels: Vec<&str> = topic.rsplit('/').collect();
                let (device, endpoint) = (levels[2], levels[1]);
                let sent = match fixture["telemetry"].as_str() {
                    Some("deviceUpdateEvent") => adr.send_device_update(device, endpoint).await,
                    Some("assetUpdateEvent") => {
                        let asset = message["payload"]["assetUpdateEvent"]["assetName"]
                            .as_str()
                            .expect("assetName");
                        adr.send_asset_update(device, endpoint, asset).await
                    }
                    other => panic!("{name}: unknown service telemetry {other:?}"),
                };
                assert_eq!(sent, 1, "{name}: the replayed preference is On");
                let received = conn
                    .next_telemetry(WAIT)
                    .await
                    .unwrap_or_else(|| panic!("{name}: no update event"));
                assert_same(name, &received, message, &ids);
            }
            other => panic!("{name}: unknown fixture kind {other:?}"),
        }
    }
}
