//! The MQTT protocol, byte for byte, against the reference (AIO's SDKs): what the client
//! publishes, and what the service answers, seen by a raw MQTT client on the broker.
//!
//! Reference payloads are JSON with members in alphabetical order (the SDKs' generated types
//! serialize so); request and response envelopes are those of AIO's command invoker and
//! executor. `__ts` is checked for its form only, correlation data for its length (the
//! response must echo it), the response's message expiry for being what is left of the
//! request's.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use common::{Broker, WAIT, client, service};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{Filter, Packet, Publish, PublishProperties};
use rumqttc::v5::{AsyncClient, Event, MqttOptions};
use schema_registry::PutRequest;
use tokio::sync::mpsc;

on_both_brokers!(
    client_requests_are_the_references,
    service_responses_are_the_references
);

/// The content of the reference `put`.
const CONTENT: &str = r#"{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{"temperature":{"type":"number"}}}"#;

/// The reference `put` request payload.
const PUT_REQUEST: &str = r#"{"description":"Thermostat readings","displayName":"thermostat","format":"JsonSchema/draft-07","schemaContent":"{\"$schema\":\"http://json-schema.org/draft-07/schema#\",\"type\":\"object\",\"properties\":{\"temperature\":{\"type\":\"number\"}}}","schemaType":"MessageSchema","tags":{"asset":"thermostat-1","dataset":"readings"},"version":"1"}"#;

/// The name and hash the embedded registry assigns to [`CONTENT`]:
/// `sha256("JsonSchema/draft-07\nMessageSchema\n" + canonical)[..32]` and `sha256(canonical)`.
const NAME: &str = "e3a273972f59ffe80551a337c0017204";
const HASH: &str = "984ba975f67c9d335a04162eb883de56c1d534df0cfc359d53757fadaa87ddfd";

fn schema_json() -> String {
    format!(
        r#"{{"description":"Thermostat readings","displayName":"thermostat","format":"JsonSchema/draft-07","hash":"{HASH}","name":"{NAME}","namespace":"sse-connector","schemaContent":"{{\"$schema\":\"http://json-schema.org/draft-07/schema#\",\"type\":\"object\",\"properties\":{{\"temperature\":{{\"type\":\"number\"}}}}}}","schemaType":"MessageSchema","tags":{{"asset":"thermostat-1","dataset":"readings"}},"version":"1"}}"#
    )
}

fn get_request() -> String {
    format!(r#"{{"name":"{NAME}","version":"1"}}"#)
}

fn reference_put() -> PutRequest {
    PutRequest {
        description: Some("Thermostat readings".into()),
        display_name: Some("thermostat".into()),
        tags: Some(BTreeMap::from([
            ("dataset".into(), "readings".into()),
            ("asset".into(), "thermostat-1".into()),
        ])),
        ..PutRequest::json_schema(CONTENT, "1")
    }
}

/// A bare MQTT client that subscribes to `filter` and hands over what arrives.
struct Raw {
    client: AsyncClient,
    id: String,
    received: mpsc::UnboundedReceiver<Publish>,
}

impl Raw {
    async fn start(broker: &Broker, name: &str, filter: &str) -> Self {
        let config = common::config(broker, name);
        let mut options = MqttOptions::new(config.client_id.clone(), config.host, config.port);
        options.set_clean_start(true);
        let (client, mut eventloop) = AsyncClient::new(options, 16);
        let (tx, received) = mpsc::unbounded_channel();
        let (subscribed_tx, mut subscribed) = mpsc::unbounded_channel();
        let subscriber = client.clone();
        let filter = filter.to_owned();
        tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        let _ = subscriber
                            .try_subscribe_many([Filter::new(filter.clone(), QoS::AtLeastOnce)]);
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        let _ = subscribed_tx.send(());
                    }
                    Ok(Event::Incoming(Packet::Publish(publish))) => {
                        if tx.send(publish).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        tokio::time::timeout(WAIT, subscribed.recv())
            .await
            .unwrap()
            .unwrap();
        Self {
            client,
            id: config.client_id,
            received,
        }
    }

    async fn next(&mut self) -> Publish {
        tokio::time::timeout(WAIT, self.received.recv())
            .await
            .expect("a message in time")
            .expect("the connection is up")
    }

    async fn publish(&self, topic: &str, payload: String, properties: PublishProperties) {
        self.client
            .publish_with_properties(topic, QoS::AtLeastOnce, false, payload, properties)
            .await
            .unwrap();
    }
}

/// The user properties as sent: without the one the embedded broker adds to every message
/// (`x-mqtt-client-id`, the publisher's id, appended last).
fn sent_properties(publish: &Publish) -> (PublishProperties, Vec<(String, String)>) {
    let props = publish.properties.clone().unwrap();
    let user = props
        .user_properties
        .iter()
        .filter(|(k, _)| k != "x-mqtt-client-id")
        .cloned()
        .collect();
    (props, user)
}

fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap()
}

fn is_hlc(text: &str) -> bool {
    let parts: Vec<&str> = text.splitn(3, ':').collect();
    parts.len() == 3
        && parts[0].len() == 15
        && parts[1].len() == 5
        && parts[..2]
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_digit()))
        && !parts[2].is_empty()
}

/// Checks a request's envelope as AIO's invoker sends it; returns its correlation data.
fn assert_request_envelope(publish: &Publish, client_id: &str, command: &str) -> Bytes {
    assert_eq!(publish.qos, QoS::AtLeastOnce);
    let (props, user) = sent_properties(publish);
    assert_eq!(props.content_type.as_deref(), Some("application/json"));
    assert_eq!(props.payload_format_indicator, Some(1));
    assert_eq!(props.message_expiry_interval, Some(10), "the timeout");
    assert_eq!(
        props.response_topic,
        Some(format!(
            "clients/{client_id}/adr/dtmi:ms:adr:SchemaRegistry;2/{command}"
        ))
    );
    let correlation = props.correlation_data.unwrap();
    assert_eq!(correlation.len(), 16);
    let names: Vec<&str> = user.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "__srcId",
            "__ts",
            "__protVer",
            "$partition",
            "$high_priority"
        ]
    );
    assert_eq!(user[0].1, client_id);
    assert!(is_hlc(&user[1].1), "{}", user[1].1);
    assert_eq!(user[2].1, "1.0");
    assert_eq!(user[3].1, client_id);
    assert_eq!(user[4].1, "");
    correlation
}

/// A response as AIO's executor sends it.
fn executor_response(correlation: Bytes) -> PublishProperties {
    PublishProperties {
        payload_format_indicator: Some(1),
        message_expiry_interval: Some(10),
        correlation_data: Some(correlation),
        user_properties: vec![
            ("__apErr".into(), "false".into()),
            ("__stat".into(), "200".into()),
            ("__protVer".into(), "1.0".into()),
            ("__srcId".into(), "schema-registry".into()),
            ("__ts".into(), "001777630530123:00000:registry".into()),
            ("$high_priority".into(), String::new()),
        ],
        content_type: Some("application/json".into()),
        ..PublishProperties::default()
    }
}

async fn client_requests_are_the_references(broker: Broker) {
    let mut registry = Raw::start(
        &broker,
        "fake-registry",
        "adr/dtmi:ms:adr:SchemaRegistry;2/+",
    )
    .await;
    let client = client(&broker, "wire-client").await;
    let id = client.client_id().to_owned();

    let put = tokio::spawn({
        let client = client.clone();
        async move { client.put(reference_put()).await }
    });
    let request = registry.next().await;
    assert_eq!(text(&request.topic), "adr/dtmi:ms:adr:SchemaRegistry;2/put");
    assert_eq!(text(&request.payload), PUT_REQUEST);
    let correlation = assert_request_envelope(&request, &id, "put");
    let response = format!(r#"{{"schema":{}}}"#, schema_json());
    registry
        .publish(
            &format!("clients/{id}/adr/dtmi:ms:adr:SchemaRegistry;2/put"),
            response,
            executor_response(correlation),
        )
        .await;
    let schema = put.await.unwrap().unwrap();
    assert_eq!(schema.name, NAME);
    assert_eq!(serde_json::to_string(&schema).unwrap(), schema_json());

    let get = tokio::spawn({
        let client = client.clone();
        async move { client.get(NAME, "1").await }
    });
    let request = registry.next().await;
    assert_eq!(text(&request.topic), "adr/dtmi:ms:adr:SchemaRegistry;2/get");
    assert_eq!(text(&request.payload), get_request());
    let correlation = assert_request_envelope(&request, &id, "get");
    registry
        .publish(
            &format!("clients/{id}/adr/dtmi:ms:adr:SchemaRegistry;2/get"),
            r#"{"error":{"code":404,"message":"not found","target":"Name"}}"#.into(),
            executor_response(correlation),
        )
        .await;
    assert_eq!(get.await.unwrap().unwrap(), None, "404 is no schema");
    client.close();
}

/// Checks a response's envelope as AIO's executor sends it.
fn assert_response_envelope(publish: &Publish, correlation: &[u8], status: &str) {
    assert_eq!(publish.qos, QoS::AtLeastOnce);
    let (props, user) = sent_properties(publish);
    assert_eq!(props.correlation_data.as_deref(), Some(correlation));
    assert_eq!(props.response_topic, None);
    let expiry = props.message_expiry_interval.unwrap();
    assert!((5..=10).contains(&expiry), "what is left of 10 s: {expiry}");
    let names: Vec<&str> = user.iter().map(|(k, _)| k.as_str()).collect();
    if status == "200" {
        assert_eq!(props.content_type.as_deref(), Some("application/json"));
        assert_eq!(props.payload_format_indicator, Some(1));
        assert_eq!(
            names,
            [
                "__apErr",
                "__stat",
                "__protVer",
                "__srcId",
                "__ts",
                "$high_priority"
            ]
        );
    } else {
        assert_eq!(props.content_type, None);
        assert!(publish.payload.is_empty());
        assert_eq!(
            &names[..5],
            ["__apErr", "__stat", "__protVer", "__srcId", "__ts"]
        );
        assert_eq!(names[5], "__stMsg");
        assert_eq!(names.last(), Some(&"$high_priority"));
    }
    assert_eq!(user[0].1, "false");
    assert_eq!(user[1].1, status);
    assert_eq!(user[2].1, "1.0");
    assert!(user[3].1.starts_with("registry-svc-"), "{}", user[3].1);
    assert!(is_hlc(&user[4].1), "{}", user[4].1);
}

/// A request as AIO's invoker sends it.
fn invoker_request(id: &str, command: &str, correlation: &[u8]) -> PublishProperties {
    PublishProperties {
        payload_format_indicator: Some(1),
        message_expiry_interval: Some(10),
        response_topic: Some(format!(
            "clients/{id}/adr/dtmi:ms:adr:SchemaRegistry;2/{command}"
        )),
        correlation_data: Some(Bytes::copy_from_slice(correlation)),
        user_properties: vec![
            ("__srcId".into(), id.into()),
            ("__ts".into(), "001777630530123:00000:invoker".into()),
            ("__protVer".into(), "1.0".into()),
            ("$partition".into(), id.into()),
            ("$high_priority".into(), String::new()),
        ],
        content_type: Some("application/json".into()),
        ..PublishProperties::default()
    }
}

async fn service_responses_are_the_references(broker: Broker) {
    let dir = tempfile::tempdir().unwrap();
    let service = service(&broker, dir.path()).await;
    // Only this test sends requests on its broker: every response topic is ours.
    let mut invoker = Raw::start(
        &broker,
        "raw-invoker",
        "clients/+/adr/dtmi:ms:adr:SchemaRegistry;2/+",
    )
    .await;
    let id = invoker.id.clone();

    let put_correlation = [0x11; 16];
    invoker
        .publish(
            "adr/dtmi:ms:adr:SchemaRegistry;2/put",
            PUT_REQUEST.into(),
            invoker_request(&id, "put", &put_correlation),
        )
        .await;
    let response = invoker.next().await;
    assert_eq!(
        text(&response.topic),
        format!("clients/{id}/adr/dtmi:ms:adr:SchemaRegistry;2/put")
    );
    assert_eq!(
        text(&response.payload),
        format!(r#"{{"schema":{}}}"#, schema_json())
    );
    assert_response_envelope(&response, &put_correlation, "200");

    let get_correlation = [0x22; 16];
    invoker
        .publish(
            "adr/dtmi:ms:adr:SchemaRegistry;2/get",
            get_request(),
            invoker_request(&id, "get", &get_correlation),
        )
        .await;
    let response = invoker.next().await;
    assert_eq!(
        text(&response.topic),
        format!("clients/{id}/adr/dtmi:ms:adr:SchemaRegistry;2/get")
    );
    assert_eq!(
        text(&response.payload),
        format!(r#"{{"schema":{}}}"#, schema_json())
    );
    assert_response_envelope(&response, &get_correlation, "200");

    let missing = [0x33; 16];
    invoker
        .publish(
            "adr/dtmi:ms:adr:SchemaRegistry;2/get",
            r#"{"name":"nothing","version":"1"}"#.into(),
            invoker_request(&id, "get", &missing),
        )
        .await;
    let response = invoker.next().await;
    assert_eq!(
        text(&response.payload),
        r#"{"error":{"code":404,"message":"schema nothing version 1 not found","target":"Name"}}"#
    );
    assert_response_envelope(&response, &missing, "200");

    // A request the service cannot read: a non-200 status and no payload.
    let wrong_type = [0x44; 16];
    let mut properties = invoker_request(&id, "get", &wrong_type);
    properties.content_type = Some("text/plain".into());
    invoker
        .publish(
            "adr/dtmi:ms:adr:SchemaRegistry;2/get",
            get_request(),
            properties,
        )
        .await;
    let response = invoker.next().await;
    assert_response_envelope(&response, &wrong_type, "415");
    let (_, user) = sent_properties(&response);
    assert!(user.contains(&("__propName".into(), "Content Type".into())));
    assert!(user.contains(&("__propVal".into(), "text/plain".into())));
    service.shutdown().await;
}
