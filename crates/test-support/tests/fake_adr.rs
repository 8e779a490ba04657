//! The fake ADR service driven by a raw MQTT v5 client (the AIO envelope written by hand), on
//! the embedded broker and on mosquitto.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};
use test_support::AnyBroker;
use test_support::fake_adr::{Command, Failure, FakeAdr, NotificationPreference};

use common::RawInvoker;

const WAIT: Duration = Duration::from_secs(10);

const DEFINITIONS: &str = r#"
apiVersion: namespaces.deviceregistry.microsoft.com/v1
kind: Device
metadata: { name: sse-device, namespace: azure-iot-operations }
spec:
  enabled: true
  attributes: { site: plant-1, floor: 3 }
  endpoints:
    inbound:
      sse-0:
        endpointType: Microsoft.SSEHttp
        address: https://sse.example/base
        version: "1.0"
        authentication:
          method: UsernamePassword
          usernamePasswordCredentials: { usernameSecretName: creds/username, passwordSecretName: creds/password }
        trustSettings: { trustList: sse-ca }
      other:
        endpointType: Microsoft.Rest
        address: https://rest.example
  version: 2
---
apiVersion: namespaces.deviceregistry.microsoft.com/v1
kind: Asset
metadata: { name: weather }
spec:
  deviceRef: { deviceName: sse-device, endpointName: sse-0 }
  defaultDatasetsConfiguration: '{}'
  datasets:
    - name: current
      dataSource: /api/weather
      destinations:
        - target: Mqtt
          configuration: { topic: plant/weather, qos: Qos1, retain: Never, ttl: 3600 }
  version: 7
"#;

async fn scenario(addr: SocketAddr) {
    let cid = AnyBroker::client_id("connector");
    let adr = FakeAdr::start_at(addr, &cid).await;
    let stored = adr.put_yaml(DEFINITIONS).expect("definitions");
    assert_eq!(stored.len(), 2);
    let mut conn = RawInvoker::connect(addr, &cid).await;

    // getDevice: the envelope, and the device narrowed to the topic's endpoint.
    let response = conn.invoke("sse-device", "sse-0", "getDevice", "").await;
    assert_eq!(
        response.topic,
        format!("clients/{cid}/akri/connector/resources/{cid}/sse-device/sse-0/getDevice")
    );
    assert_eq!(response.content_type.as_deref(), Some("application/json"));
    assert_eq!(response.payload_format_indicator, Some(1));
    assert_eq!(response.property("__stat"), Some("200"));
    assert_eq!(response.property("__protVer"), Some("1.0"));
    assert_eq!(response.property("__srcId"), Some(adr.client_id()));
    assert!(response.property("__ts").is_some());
    let device = &response.json()["device"];
    assert_eq!(
        device["attributes"],
        json!({"site": "plant-1", "floor": "3"})
    );
    assert_eq!(device["version"], json!(2));
    let inbound = device["endpoints"]["inbound"]
        .as_object()
        .expect("inbound endpoints");
    assert_eq!(inbound.keys().collect::<Vec<_>>(), ["sse-0"]);
    assert_eq!(
        inbound["sse-0"]["authentication"]["usernamePasswordCredentials"]["passwordSecretName"],
        "creds/password"
    );

    // An unknown device is the DTDL's error result.
    let response = conn.invoke("nope", "sse-0", "getDevice", "").await;
    assert_eq!(response.property("__stat"), Some("200"));
    let error = &response.json()["getDeviceError"];
    assert_eq!(error["code"], "KubeError");
    assert!(
        error["timestamp"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );

    // getAsset.
    let response = conn
        .invoke(
            "sse-device",
            "sse-0",
            "getAsset",
            r#"{"assetName":"weather"}"#,
        )
        .await;
    let asset = &response.json()["asset"];
    assert_eq!(asset["datasets"][0]["name"], "current");
    assert_eq!(asset["defaultDatasetsConfiguration"], "{}");
    let response = conn
        .invoke(
            "sse-device",
            "other",
            "getAsset",
            r#"{"assetName":"weather"}"#,
        )
        .await;
    assert!(
        response.json()["getAssetError"].is_object(),
        "an asset of another endpoint is not found"
    );

    // updateAssetStatus, then the fake and getAssetStatus report it.
    let status = json!({
        "config": {"version": 7, "lastTransitionTime": "2026-05-01T10:00:01Z"},
        "datasets": [{"name": "current", "messageSchemaReference":
            {"schemaRegistryNamespace": "reg", "schemaName": "abc", "schemaVersion": "1"}}]
    });
    let request = json!({"assetStatusUpdate": {"assetName": "weather", "assetStatus": status}});
    let response = conn
        .invoke(
            "sse-device",
            "sse-0",
            "updateAssetStatus",
            &request.to_string(),
        )
        .await;
    assert_eq!(response.json(), json!({"updatedAssetStatus": status}));
    let seen = adr
        .wait_for_asset_status("weather", |s| s["config"]["version"] == 7, WAIT)
        .await;
    assert_eq!(seen, Some(status.clone()));
    let response = conn
        .invoke(
            "sse-device",
            "sse-0",
            "getAssetStatus",
            r#"{"assetName":"weather"}"#,
        )
        .await;
    assert_eq!(response.json(), json!({"assetStatus": status}));

    // A stored status of an older version is served as stored.
    adr.set_asset_status("weather", json!({"config": {"version": 1}}));
    let response = conn
        .invoke(
            "sse-device",
            "sse-0",
            "getAssetStatus",
            r#"{"assetName":"weather"}"#,
        )
        .await;
    assert_eq!(
        response.json(),
        json!({"assetStatus": {"config": {"version": 1}}})
    );

    // updateDeviceStatus / getDeviceStatus.
    let update = json!({"deviceStatusUpdate": {"config": {"version": 2},
        "endpoints": {"inbound": {"sse-0": {"error": {"code": "400", "message": "bad"}}}}}});
    let response = conn
        .invoke(
            "sse-device",
            "sse-0",
            "updateDeviceStatus",
            &update.to_string(),
        )
        .await;
    assert_eq!(
        response.json(),
        json!({"updatedDeviceStatus": update["deviceStatusUpdate"]})
    );
    let response = conn
        .invoke("sse-device", "sse-0", "getDeviceStatus", "")
        .await;
    assert_eq!(
        response.json(),
        json!({"deviceStatus": update["deviceStatusUpdate"]})
    );
    assert_eq!(
        adr.device_status("sse-device"),
        Some(update["deviceStatusUpdate"].clone())
    );

    // Health events are recorded.
    let health = json!({"datasetRuntimeHealthEvent": {"assetName": "weather", "datasets": [
        {"datasetName": "current", "runtimeHealth":
            {"status": "Available", "lastUpdateTime": "2026-05-01T10:00:00Z", "version": 7}}]}});
    conn.send_telemetry("sse-device", "sse-0", "datasetRuntimeHealthEvent", &health)
        .await;
    let event = adr
        .wait_for_health_event(|e| e.kind == "datasetRuntimeHealthEvent", WAIT)
        .await
        .expect("health event recorded");
    assert_eq!(
        (event.device.as_str(), event.endpoint.as_str()),
        ("sse-device", "sse-0")
    );
    assert_eq!(event.connector_client_id, cid);
    assert_eq!(event.payload, health);
    assert_eq!(event.asset_name(), Some("weather"));
    assert_eq!(adr.health_events().len(), 1);

    // Update notifications go out only after the preference is On.
    assert_eq!(adr.send_device_update("sse-device", "sse-0").await, 0);
    let response = conn
        .invoke(
            "sse-device",
            "sse-0",
            "setNotificationPreferenceForDeviceUpdates",
            r#"{"notificationPreferenceRequest":"On"}"#,
        )
        .await;
    assert_eq!(response.json(), json!({"responsePayload": "Success"}));
    assert_eq!(
        adr.device_notification_preference("sse-device", "sse-0"),
        Some(NotificationPreference::On)
    );
    assert_eq!(adr.send_device_update("sse-device", "sse-0").await, 1);
    let event = conn.next_telemetry(WAIT).await.expect("deviceUpdateEvent");
    assert_eq!(
        event.topic,
        format!("akri/connector/resources/telemetry/{cid}/sse-device/sse-0/deviceUpdateEvent")
    );
    assert_eq!(event.content_type.as_deref(), Some("application/json"));
    assert_eq!(event.property("__protVer"), Some("1.0"));
    assert!(event.property("__ts").is_some());
    let body = event.json();
    assert_eq!(body["deviceUpdateEvent"]["deviceName"], "sse-device");
    assert_eq!(body["deviceUpdateEvent"]["device"]["version"], 2);

    conn.invoke(
        "sse-device",
        "sse-0",
        "setNotificationPreferenceForAssetUpdates",
        r#"{"notificationPreferenceRequest":{"assetName":"weather","notificationPreference":"On"}}"#,
    )
    .await;
    let mut changed = adr.asset("weather").expect("asset");
    changed["datasets"][0]["dataSource"] = json!("/api/weather2");
    changed.as_object_mut().expect("object").remove("version");
    assert_eq!(adr.put_asset("weather", changed)["version"], 8);
    assert_eq!(
        adr.send_asset_update("sse-device", "sse-0", "weather")
            .await,
        1
    );
    let event = conn.next_telemetry(WAIT).await.expect("assetUpdateEvent");
    let body = event.json();
    assert_eq!(body["assetUpdateEvent"]["assetName"], "weather");
    assert_eq!(body["assetUpdateEvent"]["asset"]["version"], 8);
    conn.invoke(
        "sse-device",
        "sse-0",
        "setNotificationPreferenceForDeviceUpdates",
        r#"{"notificationPreferenceRequest":"Off"}"#,
    )
    .await;
    assert_eq!(adr.send_device_update("sse-device", "sse-0").await, 0);

    // Failures on demand.
    adr.fail_times(
        Command::GetDevice,
        Failure::ServiceError {
            code: "InternalError".into(),
            message: "boom".into(),
        },
        1,
    );
    let response = conn.invoke("sse-device", "sse-0", "getDevice", "").await;
    assert_eq!(response.json()["getDeviceError"]["code"], "InternalError");
    let response = conn.invoke("sse-device", "sse-0", "getDevice", "").await;
    assert!(response.json()["device"].is_object(), "one failure only");
    adr.fail(
        Command::GetAsset,
        Failure::Status {
            status: 503,
            message: "unavailable".into(),
        },
    );
    let response = conn
        .invoke(
            "sse-device",
            "sse-0",
            "getAsset",
            r#"{"assetName":"weather"}"#,
        )
        .await;
    assert_eq!(response.property("__stat"), Some("503"));
    assert_eq!(response.property("__stMsg"), Some("unavailable"));
    adr.fail(Command::GetAsset, Failure::NoResponse);
    let topic = format!("akri/connector/resources/{cid}/sse-device/sse-0/getAsset");
    let (properties, _) = conn.envelope(&topic);
    let silent = conn
        .invoke_with(
            &topic,
            Bytes::from_static(br#"{"assetName":"weather"}"#),
            properties,
            Duration::from_millis(500),
        )
        .await;
    assert!(silent.is_none(), "no response");
    adr.clear_failures();

    // An envelope without correlation data is refused as the SDK's executor does.
    let (mut properties, _) = conn.envelope(&topic);
    properties.correlation_data = Some(Bytes::from_static(b"short"));
    let response = conn
        .invoke_with(
            &topic,
            Bytes::from_static(br#"{"assetName":"weather"}"#),
            properties,
            WAIT,
        )
        .await
        .expect("a 400 response");
    assert_eq!(response.property("__stat"), Some("400"));
    assert_eq!(response.property("__propName"), Some("Correlation Data"));

    // Every request was recorded with its properties (brokers may add their own).
    let requests = adr.requests();
    let first = &requests[0];
    assert_eq!(first.command, Some(Command::GetDevice));
    assert_eq!(first.payload, Value::Null);
    assert_eq!(first.user_property("__srcId"), Some(cid.as_str()));
    assert_eq!(first.user_property("__protVer"), Some("1.0"));
    assert_eq!(
        first.reply.as_ref().map(|r| r.status),
        Some(200),
        "the reply is recorded"
    );
    let updates = adr.requests_for(Command::UpdateAssetStatus);
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].payload, request);
    assert!(
        adr.wait_for_request(|r| r.command == Some(Command::GetDeviceStatus), WAIT)
            .await
            .is_some()
    );

    // Removing a device makes it unknown.
    assert!(adr.remove_device("sse-device"));
    let response = conn.invoke("sse-device", "sse-0", "getDevice", "").await;
    assert!(response.json()["getDeviceError"].is_object());
    adr.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_adr_on_the_embedded_broker() {
    let broker = AnyBroker::embedded().await;
    scenario(broker.addr()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_adr_on_mosquitto() {
    let broker = AnyBroker::mosquitto().await;
    scenario(broker.addr()).await;
}

/// One fake serving every connector client id keeps preferences per connector.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_fake_serves_several_connectors() {
    let broker = AnyBroker::embedded().await;
    let adr = FakeAdr::start_any(&broker.addr().ip().to_string(), broker.addr().port()).await;
    adr.put_yaml(DEFINITIONS).expect("definitions");
    let mut a = RawInvoker::connect(broker.addr(), &AnyBroker::client_id("replica-a")).await;
    let mut b = RawInvoker::connect(broker.addr(), &AnyBroker::client_id("replica-b")).await;
    for conn in [&mut a, &mut b] {
        let response = conn.invoke("sse-device", "sse-0", "getDevice", "").await;
        assert!(response.json()["device"].is_object());
    }
    a.invoke(
        "sse-device",
        "sse-0",
        "setNotificationPreferenceForDeviceUpdates",
        r#"{"notificationPreferenceRequest":"On"}"#,
    )
    .await;
    assert_eq!(adr.send_device_update("sse-device", "sse-0").await, 1);
    assert!(a.next_telemetry(WAIT).await.is_some());
    assert!(b.next_telemetry(Duration::from_millis(300)).await.is_none());
    let clients: Vec<String> = adr
        .requests()
        .into_iter()
        .map(|r| r.connector_client_id)
        .collect();
    assert!(clients.contains(&a.client_id) && clients.contains(&b.client_id));
}
