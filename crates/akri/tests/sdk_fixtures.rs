//! The connector's device registry client against what Microsoft's SDK sends: the requests
//! and health events the SDK's client sent (recorded by `crates/adr-oracle` into
//! `crates/test-support/fixtures/adr/`) are made again with [`AdrClient`], through the fake
//! ADR service, and must come out the same: topic, response topic, content type, format
//! indicator, expiry, user properties in order, and payload. The service's update events of
//! the recordings must reach the client's notifications as definitions.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use akri::adr::protocol::{EdgeHealth, NotificationPreference, Telemetry};
use akri::adr::{AdrClient, Notification};
use serde_json::{Value, json};
use status::report::{AssetConfigStatus, DeviceConfigStatus};
use test_support::AnyBroker;
use test_support::fake_adr::{Command, FakeAdr};

const WAIT: Duration = Duration::from_secs(10);

fn fixture(name: &str) -> Value {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-support/fixtures/adr");
    let path: PathBuf = dir.join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn definitions() -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-support/fixtures/adr");
    std::fs::read_to_string(dir.join("definitions.yaml")).unwrap()
}

/// What must match between a recorded message and ours, with the client id and the clock
/// replaced by placeholders.
fn shape(client_id: &str, message: &Value) -> Value {
    let blank = |text: &str| text.replace(client_id, "{connectorClientId}");
    let properties: Vec<Value> = message["user_properties"]
        .as_array()
        .unwrap()
        .iter()
        // The embedded broker adds the publisher's client id to what it forwards.
        .filter(|pair| pair[0] != "x-mqtt-client-id")
        .map(|pair| {
            let (key, value) = (pair[0].as_str().unwrap(), pair[1].as_str().unwrap());
            let value = if key == "__ts" {
                "<hlc>".to_owned()
            } else {
                blank(value)
            };
            json!([key, value])
        })
        .collect();
    json!({
        "topic": blank(message["topic"].as_str().unwrap()),
        "response_topic": message.get("response_topic").and_then(Value::as_str).map(blank),
        "content_type": message["content_type"],
        "payload_format_indicator": message["payload_format_indicator"],
        "message_expiry": message["message_expiry"],
        "correlation_data_len": message["correlation_data_len"],
        "user_properties": properties,
        "payload": message["payload"],
    })
}

/// The fake's record of a request, as a fixture message.
fn recorded(request: &test_support::fake_adr::RecordedRequest) -> Value {
    json!({
        "topic": request.topic,
        "response_topic": request.response_topic,
        "content_type": request.content_type,
        "payload_format_indicator": request.payload_format_indicator,
        "message_expiry": request.message_expiry,
        "correlation_data_len": request.correlation_data.as_ref().map(|c| c.len()),
        "user_properties": request.user_properties.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
        "payload": request.payload,
    })
}

async fn last_request(adr: &FakeAdr, command: Command) -> Value {
    let requests = adr.requests_for(command);
    recorded(
        requests
            .last()
            .unwrap_or_else(|| panic!("no {command:?} request")),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_sends_what_the_sdk_sends_and_reads_what_the_service_answers() {
    let broker = AnyBroker::embedded().await;
    let client_id = AnyBroker::client_id("akri-fixtures");
    let adr = FakeAdr::start_at(broker.addr(), &client_id).await;
    adr.put_yaml(&definitions()).unwrap();
    let mut config = aio_mqtt::MqttConfig::new("127.0.0.1", broker.addr().port());
    config.client_id.clone_from(&client_id);
    let (client, mut notifications) = AdrClient::start(config).unwrap();
    let (device, endpoint, asset) = ("sse-device", "sse-0", "weather");

    let check = |name: &str, ours: Value| {
        let recorded = fixture(name);
        let theirs = recorded
            .get("request")
            .or_else(|| recorded.get("message"))
            .unwrap();
        assert_eq!(
            shape(&client_id, &ours),
            shape("{connectorClientId}", theirs),
            "{name}: ours (left) differs from the SDK's (right)"
        );
    };

    let got = client.get_device(device, endpoint).await.unwrap();
    assert_eq!(
        got["endpoints"]["inbound"][endpoint]["endpointType"],
        "Microsoft.SSEHttp"
    );
    check(
        "01-getDevice.json",
        last_request(&adr, Command::GetDevice).await,
    );
    client.get_device_status(device, endpoint).await.unwrap();
    check(
        "03-getDeviceStatus.json",
        last_request(&adr, Command::GetDeviceStatus).await,
    );
    for name in ["04-updateDeviceStatus.json", "05-updateDeviceStatus.json"] {
        let sdk = fixture(name);
        let status: DeviceConfigStatus =
            serde_json::from_value(sdk["request"]["payload"]["deviceStatusUpdate"].clone())
                .unwrap();
        client
            .update_device_status(device, endpoint, &status)
            .await
            .unwrap();
        check(name, last_request(&adr, Command::UpdateDeviceStatus).await);
    }
    let got = client.get_asset(device, endpoint, asset).await.unwrap();
    assert_eq!(got["datasets"][0]["name"], "current");
    check(
        "07-getAsset.json",
        last_request(&adr, Command::GetAsset).await,
    );
    client
        .get_asset_status(device, endpoint, asset)
        .await
        .unwrap();
    check(
        "08-getAssetStatus.json",
        last_request(&adr, Command::GetAssetStatus).await,
    );
    let sdk = fixture("09-updateAssetStatus.json");
    let status: AssetConfigStatus = serde_json::from_value(
        sdk["request"]["payload"]["assetStatusUpdate"]["assetStatus"].clone(),
    )
    .unwrap();
    client
        .update_asset_status(device, endpoint, asset, &status)
        .await
        .unwrap();
    check(
        "09-updateAssetStatus.json",
        last_request(&adr, Command::UpdateAssetStatus).await,
    );

    // Update events, once asked for, become notifications with the new definition.
    client
        .set_device_notifications(device, endpoint, NotificationPreference::On)
        .await
        .unwrap();
    check(
        "11-setNotificationPreferenceForDeviceUpdates.json",
        last_request(&adr, Command::SetNotificationPreferenceForDeviceUpdates).await,
    );
    assert_eq!(adr.send_device_update(device, endpoint).await, 1);
    let sent = fixture("12-deviceUpdateEvent.json");
    match tokio::time::timeout(WAIT, notifications.recv())
        .await
        .unwrap()
        .unwrap()
    {
        Notification::Device {
            device: d,
            endpoint: e,
            definition,
        } => {
            assert_eq!((d.as_str(), e.as_str()), (device, endpoint));
            assert_eq!(
                definition,
                sent["message"]["payload"]["deviceUpdateEvent"]["device"]
            );
        }
        other => panic!("not a device update: {other:?}"),
    }
    client
        .set_asset_notifications(device, endpoint, asset, NotificationPreference::On)
        .await
        .unwrap();
    check(
        "13-setNotificationPreferenceForAssetUpdates.json",
        last_request(&adr, Command::SetNotificationPreferenceForAssetUpdates).await,
    );
    assert_eq!(adr.send_asset_update(device, endpoint, asset).await, 1);
    let sent = fixture("14-assetUpdateEvent.json");
    match tokio::time::timeout(WAIT, notifications.recv())
        .await
        .unwrap()
        .unwrap()
    {
        Notification::Asset {
            asset: a,
            definition,
            ..
        } => {
            assert_eq!(a, asset);
            assert_eq!(
                definition,
                sent["message"]["payload"]["assetUpdateEvent"]["asset"]
            );
        }
        other => panic!("not an asset update: {other:?}"),
    }

    // Health events: the same payloads, topics and properties.
    for (name, telemetry) in [
        (
            "15-deviceEndpointRuntimeHealthEvent.json",
            Telemetry::EndpointHealth,
        ),
        (
            "16-datasetRuntimeHealthEvent.json",
            Telemetry::DatasetHealth,
        ),
        ("17-eventRuntimeHealthEvent.json", Telemetry::EventHealth),
    ] {
        let sdk = fixture(name);
        let payload = &sdk["message"]["payload"];
        // Each payload's health items read into our edge shape and written back unchanged.
        let mut ours = payload.clone();
        for health in health_items(&mut ours) {
            let read: EdgeHealth = serde_json::from_value(health.clone()).unwrap();
            *health = serde_json::to_value(&read).unwrap();
        }
        assert_eq!(&ours, payload, "{name}: the health shape round-trips");
        client
            .send_health(telemetry, device, endpoint, &ours)
            .await
            .unwrap();
        let event = adr
            .wait_for_health_event(|e| e.kind == telemetry.name(), WAIT)
            .await
            .unwrap_or_else(|| panic!("{name}: no health event"));
        let message = json!({
            "topic": format!("akri/connector/resources/telemetry/{}/{}/{}/{}", event.connector_client_id, event.device, event.endpoint, event.kind),
            "content_type": event.content_type,
            "payload_format_indicator": sdk["message"]["payload_format_indicator"],
            "message_expiry": sdk["message"]["message_expiry"],
            "correlation_data_len": sdk["message"]["correlation_data_len"],
            "user_properties": event.user_properties.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
            "payload": event.payload,
        });
        check(name, message);
    }
    client
        .set_device_notifications(device, endpoint, NotificationPreference::Off)
        .await
        .unwrap();
    check(
        "19-setNotificationPreferenceForDeviceUpdates.json",
        last_request(&adr, Command::SetNotificationPreferenceForDeviceUpdates).await,
    );
    client
        .set_asset_notifications(device, endpoint, asset, NotificationPreference::Off)
        .await
        .unwrap();
    check(
        "20-setNotificationPreferenceForAssetUpdates.json",
        last_request(&adr, Command::SetNotificationPreferenceForAssetUpdates).await,
    );
}

/// The `runtimeHealth` objects of a health event payload.
fn health_items(payload: &mut Value) -> Vec<&mut Value> {
    let mut items = Vec::new();
    for body in payload.as_object_mut().unwrap().values_mut() {
        if body.get("runtimeHealth").is_some() {
            items.push(&mut body["runtimeHealth"]);
            continue;
        }
        for (key, list) in body.as_object_mut().unwrap().iter_mut() {
            if key == "datasets" || key == "events" {
                items.extend(
                    list.as_array_mut()
                        .unwrap()
                        .iter_mut()
                        .map(|p| &mut p["runtimeHealth"]),
                );
            }
        }
    }
    items
}
