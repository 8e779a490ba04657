//! A raw MQTT v5 command invoker for the fake ADR tests: rumqttc with the AIO envelope written
//! out by hand, so the fake is checked against the wire format, not against a client library.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{Filter, Packet, PublishProperties};
use rumqttc::v5::{AsyncClient, Event, MqttOptions};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

/// A response as received.
#[derive(Debug, Clone)]
pub struct Response {
    pub topic: String,
    pub qos: u8,
    pub payload: Bytes,
    pub content_type: Option<String>,
    pub payload_format_indicator: Option<u8>,
    pub correlation_data: Option<Bytes>,
    pub user_properties: Vec<(String, String)>,
}

impl Response {
    pub fn property(&self, name: &str) -> Option<&str> {
        self.user_properties
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        if self.payload.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&self.payload).expect("response payload is JSON")
        }
    }
}

type Pending = Arc<Mutex<HashMap<Bytes, oneshot::Sender<Response>>>>;

/// A connector-side client: sends requests, receives responses and telemetry.
pub struct RawInvoker {
    pub client_id: String,
    client: AsyncClient,
    pending: Pending,
    telemetry: mpsc::UnboundedReceiver<Response>,
    next: u128,
    task: JoinHandle<()>,
}

impl RawInvoker {
    /// Connects as `client_id`, subscribed to `clients/{client_id}/#` (responses) and to the
    /// update events addressed to it.
    pub async fn connect(addr: SocketAddr, client_id: &str) -> Self {
        let mut options = MqttOptions::new(client_id, addr.ip().to_string(), addr.port());
        options.set_keep_alive(Duration::from_secs(30));
        let (client, mut eventloop) = AsyncClient::new(options, 64);
        let pending: Pending = Arc::default();
        let (telemetry_tx, telemetry) = mpsc::unbounded_channel();
        let (subscribed_tx, mut subscribed) = watch::channel(false);
        let filters = vec![
            Filter::new(format!("clients/{client_id}/#"), QoS::AtLeastOnce),
            Filter::new(
                format!("akri/connector/resources/telemetry/{client_id}/+/+/deviceUpdateEvent"),
                QoS::AtLeastOnce,
            ),
            Filter::new(
                format!("akri/connector/resources/telemetry/{client_id}/+/+/assetUpdateEvent"),
                QoS::AtLeastOnce,
            ),
        ];
        let task = tokio::spawn({
            let client = client.clone();
            let pending = pending.clone();
            async move {
                loop {
                    match eventloop.poll().await {
                        Ok(Event::Incoming(Packet::ConnAck(_))) => {
                            let _ = client.try_subscribe_many(filters.clone());
                        }
                        Ok(Event::Incoming(Packet::SubAck(_))) => {
                            let _ = subscribed_tx.send(true);
                        }
                        Ok(Event::Incoming(Packet::Publish(p))) => {
                            let props = p.properties.unwrap_or_default();
                            let response = Response {
                                topic: String::from_utf8_lossy(&p.topic).into_owned(),
                                qos: p.qos as u8,
                                payload: p.payload,
                                content_type: props.content_type,
                                payload_format_indicator: props.payload_format_indicator,
                                correlation_data: props.correlation_data,
                                user_properties: props.user_properties,
                            };
                            let waiter = response
                                .correlation_data
                                .as_ref()
                                .and_then(|c| pending.lock().expect("lock").remove(c));
                            match waiter {
                                Some(tx) => {
                                    let _ = tx.send(response);
                                }
                                None => {
                                    let _ = telemetry_tx.send(response);
                                }
                            }
                        }
                        Ok(_) => {}
                        Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                    }
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(10), subscribed.wait_for(|s| *s))
            .await
            .expect("invoker subscribed in time")
            .expect("invoker task alive");
        Self {
            client_id: client_id.to_owned(),
            client,
            pending,
            telemetry,
            next: 1,
            task,
        }
    }

    /// The SDK's envelope for a request from this client.
    pub fn envelope(&mut self, topic: &str) -> (PublishProperties, Bytes) {
        let correlation = Bytes::copy_from_slice(&self.next.to_be_bytes());
        self.next += 1;
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_millis();
        let properties = PublishProperties {
            payload_format_indicator: Some(1),
            message_expiry_interval: Some(10),
            response_topic: Some(format!("clients/{}/{topic}", self.client_id)),
            correlation_data: Some(correlation.clone()),
            user_properties: vec![
                ("__srcId".into(), self.client_id.clone()),
                (
                    "__ts".into(),
                    format!("{millis:0>15}:00000:{}", self.client_id),
                ),
                ("__protVer".into(), "1.0".into()),
                ("$partition".into(), self.client_id.clone()),
                ("$high_priority".into(), String::new()),
            ],
            content_type: Some("application/json".into()),
            ..PublishProperties::default()
        };
        (properties, correlation)
    }

    /// Sends `payload` on `topic` with `properties` and waits for the response with the same
    /// correlation data (`None` after `timeout`).
    pub async fn invoke_with(
        &mut self,
        topic: &str,
        payload: Bytes,
        properties: PublishProperties,
        timeout: Duration,
    ) -> Option<Response> {
        let (tx, rx) = oneshot::channel();
        if let Some(correlation) = &properties.correlation_data {
            self.pending
                .lock()
                .expect("lock")
                .insert(correlation.clone(), tx);
        }
        self.client
            .publish_with_properties(topic, QoS::AtLeastOnce, false, payload, properties)
            .await
            .expect("publish");
        tokio::time::timeout(timeout, rx).await.ok()?.ok()
    }

    /// Invokes `command` for (device, endpoint) with the SDK's envelope.
    pub async fn invoke(
        &mut self,
        device: &str,
        endpoint: &str,
        command: &str,
        payload: &str,
    ) -> Response {
        let topic = format!(
            "akri/connector/resources/{}/{device}/{endpoint}/{command}",
            self.client_id
        );
        let (properties, correlation) = self.envelope(&topic);
        let response = self
            .invoke_with(
                &topic,
                Bytes::from(payload.to_owned()),
                properties,
                Duration::from_secs(10),
            )
            .await
            .unwrap_or_else(|| panic!("no response to {command}"));
        assert_eq!(response.correlation_data, Some(correlation));
        response
    }

    /// Publishes connector telemetry (a health event) with the SDK's telemetry envelope.
    pub async fn send_telemetry(&self, device: &str, endpoint: &str, name: &str, payload: &Value) {
        let topic = format!(
            "akri/connector/resources/telemetry/{}/{device}/{endpoint}/{name}",
            self.client_id
        );
        let properties = PublishProperties {
            payload_format_indicator: Some(1),
            message_expiry_interval: Some(10),
            content_type: Some("application/json".into()),
            user_properties: vec![
                ("__ts".into(), "000000000000001:00000:x".into()),
                ("__protVer".into(), "1.0".into()),
                ("__srcId".into(), self.client_id.clone()),
            ],
            ..PublishProperties::default()
        };
        self.client
            .publish_with_properties(
                topic,
                QoS::AtLeastOnce,
                false,
                Bytes::from(payload.to_string()),
                properties,
            )
            .await
            .expect("publish telemetry");
    }

    /// Publishes one message as given (QoS 1).
    pub async fn publish(&self, topic: &str, payload: Bytes, properties: PublishProperties) {
        self.client
            .publish_with_properties(topic, QoS::AtLeastOnce, false, payload, properties)
            .await
            .expect("publish");
    }

    /// The next telemetry message addressed to this client, or `None` after `timeout`.
    pub async fn next_telemetry(&mut self, timeout: Duration) -> Option<Response> {
        tokio::time::timeout(timeout, self.telemetry.recv())
            .await
            .ok()
            .flatten()
    }
}

impl Drop for RawInvoker {
    fn drop(&mut self) {
        self.task.abort();
    }
}
