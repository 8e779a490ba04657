//! `sse-connector run` publishes AIO's message format: the real binary, real SSE servers and
//! real MQTT v5 brokers (mosquitto and the embedded one), checked by a real subscriber. Topics
//! and every property are checked: QoS, retain, message expiry (`ttl` and AIO's 10 s default),
//! content type, correlation data, and the user properties with their exact values and order,
//! for devices and assets with and without `uuid`.
//!
//! The other `run` tests are in `run.rs` and `run_delivery.rs`.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::{
    Broker, Connector, Kind, LIMIT, Options, SETTLE, asset_head, dataset, device, mqtt_destination,
    property, receive_until, write_atomic,
};
use test_support::{Gate, Mosquitto, MqttSubscriber, ReceivedMessage, Response, SseServer};

const DEVICE_UUID: &str = "3575e690-31d7-4168-a6c9-9ff1b9eed282";
const ASSET_UUID: &str = "9d2c0c7e-5b1a-4f0e-8c3d-2a6b7e9f1c44";

fn now_millis() -> u64 {
    u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// Whether `text` is a lower-case hyphenated UUID v4.
fn is_uuid_v4(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.iter().map(|p| p.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
        && text
            .chars()
            .all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c))
        && parts[2].starts_with('4')
        && parts[3].starts_with(['8', '9', 'a', 'b'])
}

/// The user properties the connector sets, in order, without what the broker adds.
fn own_properties(message: &ReceivedMessage) -> Vec<(String, String)> {
    message
        .user_properties
        .iter()
        .filter(|(k, _)| k != "x-mqtt-client-id")
        .cloned()
        .collect()
}

/// Checks the properties that vary per message (`id`, `time`, `__ts`, correlation data) and
/// returns the others with those replaced by `*`.
fn stable_properties(
    message: &ReceivedMessage,
    started_ms: u64,
    client_id: &str,
) -> Vec<(String, String)> {
    let properties = own_properties(message);
    let correlation = message.correlation_data.as_ref().expect("correlation data");
    assert_eq!(correlation.len(), 16, "correlation data is a 16-byte UUID");
    assert_eq!(correlation[6] >> 4, 4, "UUID version 4: {correlation:?}");
    assert_eq!(
        correlation[8] >> 6,
        0b10,
        "RFC 4122 variant: {correlation:?}"
    );

    let id = property(message, "id").expect("id");
    assert!(is_uuid_v4(id), "CloudEvents id is a UUID v4: {id:?}");

    let ts = property(message, "__ts").expect("__ts");
    let parts: Vec<&str> = ts.splitn(3, ':').collect();
    assert_eq!(parts.len(), 3, "__ts is millis:counter:node: {ts:?}");
    assert_eq!(parts[0].len(), 15, "15-digit millis: {ts:?}");
    assert_eq!(parts[1].len(), 5, "5-digit counter: {ts:?}");
    assert!(is_uuid_v4(parts[2]), "node id is a UUID v4: {ts:?}");
    let millis: u64 = parts[0].parse().unwrap();
    assert!(
        (started_ms..=now_millis()).contains(&millis),
        "__ts {millis} within the test ({started_ms}..)"
    );
    let time = property(message, "time").expect("time");
    assert_eq!(
        time,
        aio_mqtt::cloudevents::time(millis),
        "time is __ts in RFC 3339 seconds"
    );
    assert_eq!(time.len(), 20, "YYYY-MM-DDTHH:MM:SSZ: {time:?}");
    assert!(time.ends_with('Z'));

    assert_eq!(property(message, "__srcId"), Some(client_id));
    properties
        .into_iter()
        .map(|(k, v)| match k.as_str() {
            "id" | "time" | "__ts" => (k, "*".to_owned()),
            _ => (k, v),
        })
        .collect()
}

fn props(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A registry with two devices and two assets:
/// - `plant-gw` (uuid and externalDeviceId), asset `weather` (uuid and externalAssetId) with a
///   dataset `readings` on `/data` → `it/weather/readings` (Qos1, Keep, ttl 3600);
/// - `lab-dev` (neither), asset `alarms` (neither) with an event group `alerts` on `/events`:
///   `overheat` (by event type, the group's default destination `it/alarms/alerts`, Qos0, no
///   ttl) and `note` (event type `note`, typeRef, its own destination `it/alarms/notes`, Qos1,
///   Never, ttl 60).
fn write_message_registry(dir: &std::path::Path, data_url: &str, events_url: &str) {
    write_atomic(
        &dir.join("devices/plant-gw.yaml"),
        &device(
            "plant-gw",
            "sse-0",
            data_url,
            &[
                &format!("uuid: {DEVICE_UUID}"),
                "externalDeviceId: camera-42",
            ],
        ),
    );
    write_atomic(
        &dir.join("devices/lab-dev.yaml"),
        &device("lab-dev", "ep", events_url, &[]),
    );
    let weather = asset_head(
        "weather",
        "plant-gw",
        "sse-0",
        &[
            &format!("uuid: {ASSET_UUID}"),
            "externalAssetId: weather-001",
        ],
    ) + "  datasets:\n"
        + &dataset(
            "readings",
            "/data",
            "it/weather/readings",
            &["qos: Qos1", "retain: Keep", "ttl: 3600"],
        );
    write_atomic(&dir.join("assets/weather.yaml"), &weather);
    let alarms = asset_head("alarms", "lab-dev", "ep", &[])
        + "  eventGroups:\n    - name: alerts\n      dataSource: /events\n      \
           defaultDestinations:\n"
        + &mqtt_destination(8, "it/alarms/alerts", &["qos: Qos0"])
        + "      events:\n        - name: overheat\n          dataSource: overheat\n        \
           - name: note\n          dataSource: note\n          typeRef: noteType\n          \
           destinations:\n"
        + &mqtt_destination(12, "it/alarms/notes", &["retain: Never", "ttl: 60"]);
    write_atomic(&dir.join("assets/alarms.yaml"), &alarms);
}

async fn messages_have_aio_format(broker: Kind) {
    let started_ms = now_millis();
    let gate = Gate::new();
    let data = SseServer::http([Response::sse()
        .wait_for(&gate)
        .chunk("id: 1\nevent: reading\ndata: {\"t\":21.5}\n\n")
        .chunk("id: 2\nevent: reading\ndata: hello world\n\n")
        .hang()])
    .await;
    let events = SseServer::http([Response::sse()
        .wait_for(&gate)
        .chunk("id: a1\nevent: overheat\ndata: {\"c\":90}\n\n")
        .chunk("event: note\ndata: check valve\n\n")
        .chunk("event: unrelated\ndata: dropped\n\n")
        .chunk("id:\nevent: note\ndata: 42\n\n")
        .hang()])
    .await;
    let registry = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    write_message_registry(registry.path(), &data.url(""), &events.url(""));

    let mosquitto = (broker == Kind::Mosquitto).then(Mosquitto::start);
    let target = match &mosquitto {
        Some(m) => Broker::External(m.addr()),
        None => Broker::Embedded,
    };
    let client_id = "it-connector-0";
    let connector =
        Connector::start(&Options::new(registry.path(), state.path(), target).client_id(client_id))
            .await;
    let broker_addr = mosquitto
        .as_ref()
        .map_or_else(|| connector.mqtt_addr(), Mosquitto::addr);
    // The servers hold their events until the subscriber is there.
    let mut subscriber = MqttSubscriber::connect(broker_addr, "it/#").await;
    gate.open();

    let mut received = Vec::new();
    receive_until(&mut subscriber, &mut received, "5 messages", |r| {
        r.len() >= 5
    })
    .await;
    tokio::time::sleep(SETTLE).await;
    received.extend(subscriber.drain());
    assert_eq!(
        received.len(),
        5,
        "the unmatched event is dropped: {received:#?}"
    );
    let by_topic = |topic: &str| -> Vec<&ReceivedMessage> {
        received.iter().filter(|m| m.topic == topic).collect()
    };

    // The dataset: both events, JSON and text.
    let readings = by_topic("it/weather/readings");
    assert_eq!(readings.len(), 2, "{received:#?}");
    for (message, (payload, content_type, sse_id)) in readings.iter().zip([
        ("{\"t\":21.5}", "application/json", "1"),
        ("hello world", "text/plain; charset=utf-8", "2"),
    ]) {
        assert_eq!(&message.payload[..], payload.as_bytes());
        assert_eq!(message.qos, 1);
        assert!(message.retain, "retain: Keep");
        assert!(
            message
                .message_expiry
                .is_some_and(|e| (3000..=3600).contains(&e)),
            "ttl 3600: {:?}",
            message.message_expiry
        );
        assert_eq!(message.content_type.as_deref(), Some(content_type));
        assert_eq!(
            stable_properties(message, started_ms, client_id),
            props(&[
                ("sse-event", "reading"),
                ("sse-id", sse_id),
                ("aiodeviceref", &format!("ms-aio:{DEVICE_UUID}/sse-0")),
                ("aioassetref", &format!("ms-aio:{ASSET_UUID}")),
                ("id", "*"),
                ("source", "ms-aio:camera-42/data"),
                ("specversion", "1.0"),
                ("type", "DataSet"),
                ("subject", "weather-001/readings"),
                ("time", "*"),
                ("__ts", "*"),
                ("__protVer", "1.0"),
                ("__srcId", client_id),
            ])
        );
    }

    // The event matched by type, to the group's default destination: QoS 0, AIO's default
    // expiry of 10 s, a device and an asset without uuid.
    let alerts = by_topic("it/alarms/alerts");
    assert_eq!(alerts.len(), 1, "{received:#?}");
    let alert = alerts[0];
    assert_eq!(&alert.payload[..], b"{\"c\":90}");
    assert_eq!(alert.qos, 0);
    assert!(!alert.retain);
    assert!(
        alert.message_expiry.is_some_and(|e| (1..=10).contains(&e)),
        "default expiry 10 s: {:?}",
        alert.message_expiry
    );
    assert_eq!(alert.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        stable_properties(alert, started_ms, client_id),
        props(&[
            ("sse-event", "overheat"),
            ("sse-id", "a1"),
            ("aiodeviceref", "ms-aio:ep"),
            ("aioassetref", "ms-aio:"),
            ("id", "*"),
            ("source", "ms-aio:lab-dev/overheat"),
            ("specversion", "1.0"),
            ("type", "Event"),
            ("subject", "alarms/alerts/overheat"),
            ("time", "*"),
            ("__ts", "*"),
            ("__protVer", "1.0"),
            ("__srcId", client_id),
        ])
    );

    // The event with its own destination and a typeRef: the inherited id, then none.
    let notes = by_topic("it/alarms/notes");
    assert_eq!(notes.len(), 2, "{received:#?}");
    for (message, (payload, content_type, sse_id)) in notes.iter().zip([
        ("check valve", "text/plain; charset=utf-8", Some("a1")),
        ("42", "application/json", None),
    ]) {
        assert_eq!(&message.payload[..], payload.as_bytes());
        assert_eq!(message.qos, 1);
        assert!(!message.retain, "retain: Never");
        assert!(
            message
                .message_expiry
                .is_some_and(|e| (1..=60).contains(&e)),
            "ttl 60: {:?}",
            message.message_expiry
        );
        assert_eq!(message.content_type.as_deref(), Some(content_type));
        let mut expected = vec![("sse-event", "note")];
        if let Some(id) = sse_id {
            expected.push(("sse-id", id));
        }
        expected.extend([
            ("aiodeviceref", "ms-aio:ep"),
            ("aioassetref", "ms-aio:"),
            ("id", "*"),
            ("source", "ms-aio:lab-dev/note"),
            ("specversion", "1.0"),
            ("type", "Event/noteType"),
            ("subject", "alarms/alerts/note"),
            ("time", "*"),
            ("__ts", "*"),
            ("__protVer", "1.0"),
            ("__srcId", client_id),
        ]);
        assert_eq!(
            stable_properties(message, started_ms, client_id),
            props(&expected)
        );
    }

    // Every message has its own CloudEvents id and correlation data.
    let ids: std::collections::BTreeSet<_> = received
        .iter()
        .map(|m| property(m, "id").unwrap())
        .collect();
    assert_eq!(ids.len(), received.len(), "CloudEvents ids are unique");
    let correlations: std::collections::BTreeSet<_> = received
        .iter()
        .map(|m| m.correlation_data.clone())
        .collect();
    assert_eq!(
        correlations.len(),
        received.len(),
        "correlation data is unique"
    );

    // `retain: Keep` leaves the last reading retained for a later subscriber; the others are
    // not retained.
    let mut late = MqttSubscriber::connect(broker_addr, "it/#").await;
    let retained = late.wait_for(1, LIMIT).await;
    assert_eq!(retained[0].topic, "it/weather/readings");
    assert_eq!(&retained[0].payload[..], b"hello world");
    assert!(retained[0].retain);
    assert!(late.next(SETTLE).await.is_none(), "only Keep is retained");

    assert_eq!(data.requests().len(), 1);
    assert_eq!(events.requests().len(), 1);
    let status = connector.terminate().await;
    assert!(status.success(), "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_have_aio_format_on_mosquitto() {
    messages_have_aio_format(Kind::Mosquitto).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_have_aio_format_on_the_embedded_broker() {
    messages_have_aio_format(Kind::Embedded).await;
}
