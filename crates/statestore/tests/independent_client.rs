//! An MQTT client written from the protocol description alone (raw rumqttc, RESP3 bytes by
//! hand, no code of this crate) gets correct replies from the embedded service.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{Broker, WAIT, service, service_id};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{Packet, PublishProperties};
use rumqttc::v5::{AsyncClient, Event, MqttOptions};
use tokio::sync::mpsc;

on_both_brokers!(hand_written_requests_get_correct_replies);

const REQUEST_TOPIC: &str = "statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/command/invoke";

/// A reply as received: payload, correlation data, content type, user properties.
#[derive(Debug)]
struct Reply {
    payload: Bytes,
    correlation: Option<Bytes>,
    content_type: Option<String>,
    properties: Vec<(String, String)>,
}

impl Reply {
    fn property(&self, name: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

struct RawClient {
    client: AsyncClient,
    replies: mpsc::UnboundedReceiver<Reply>,
    response_topic: String,
    next: u8,
}

impl RawClient {
    async fn connect(broker: &Broker) -> Self {
        let id = format!("raw-client-{}", std::process::id());
        let response_topic = format!(
            "clients/{id}/services/statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/command/invoke/response"
        );
        let addr = broker.addr();
        let mut options = MqttOptions::new(id, addr.ip().to_string(), addr.port());
        options.set_keep_alive(Duration::from_secs(30));
        let (client, mut eventloop) = AsyncClient::new(options, 16);
        let (tx, replies) = mpsc::unbounded_channel();
        let (subscribed_tx, mut subscribed) = mpsc::unbounded_channel();
        let subscriber = client.clone();
        let topic = response_topic.clone();
        tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        subscriber
                            .try_subscribe(topic.clone(), QoS::AtLeastOnce)
                            .unwrap();
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        let _ = subscribed_tx.send(());
                    }
                    Ok(Event::Incoming(Packet::Publish(publish))) => {
                        let props = publish.properties.unwrap_or_default();
                        let reply = Reply {
                            payload: publish.payload,
                            correlation: props.correlation_data,
                            content_type: props.content_type,
                            properties: props.user_properties,
                        };
                        if tx.send(reply).is_err() {
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
            replies,
            response_topic,
            next: 0,
        }
    }

    /// Sends `payload` with the given user properties and content type; returns the reply.
    async fn request(
        &mut self,
        payload: &'static [u8],
        properties: &[(&str, String)],
        content_type: &str,
    ) -> Reply {
        self.next += 1;
        let correlation = Bytes::from(vec![self.next; 16]);
        let props = PublishProperties {
            response_topic: Some(self.response_topic.clone()),
            correlation_data: Some(correlation.clone()),
            content_type: Some(content_type.to_owned()),
            message_expiry_interval: Some(10),
            user_properties: properties
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
            ..PublishProperties::default()
        };
        self.client
            .publish_with_properties(REQUEST_TOPIC, QoS::AtLeastOnce, false, payload, props)
            .await
            .unwrap();
        let reply = tokio::time::timeout(WAIT, self.replies.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            reply.correlation,
            Some(correlation),
            "correlation data echoed"
        );
        reply
    }
}

/// `{ms:015}:{counter:05}:{node}` from the system clock.
fn hlc_now(counter: u32) -> String {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    format!("{millis:015}:{counter:05}:raw-node")
}

async fn hand_written_requests_get_correct_replies(broker: Broker) {
    let dir = tempfile::tempdir().unwrap();
    let service = service(&broker, &service_id(), dir.path()).await;
    let mut raw = RawClient::connect(&broker).await;
    const OCTETS: &str = "application/octet-stream";
    let ts = |n| vec![("__ts", hlc_now(n)), ("__protVer", "1.0".to_owned())];

    let set = raw
        .request(
            b"*3\r\n$3\r\nSET\r\n$5\r\nhello\r\n$5\r\nworld\r\n",
            &ts(1),
            OCTETS,
        )
        .await;
    assert_eq!(set.payload.as_ref(), b"+OK\r\n");
    assert_eq!(set.property("__stat"), Some("200"));
    assert_eq!(set.content_type.as_deref(), Some(OCTETS));
    assert!(set.property("__ts").is_some(), "the version");

    let get = raw
        .request(b"*2\r\n$3\r\nGET\r\n$5\r\nhello\r\n", &ts(2), OCTETS)
        .await;
    assert_eq!(get.payload.as_ref(), b"$5\r\nworld\r\n");
    assert_eq!(get.property("__ts"), set.property("__ts"), "same version");

    let missing = raw
        .request(b"*2\r\n$3\r\nGET\r\n$4\r\nnope\r\n", &ts(3), OCTETS)
        .await;
    assert_eq!(missing.payload.as_ref(), b"$-1\r\n");

    let nx = raw
        .request(
            b"*4\r\n$3\r\nSET\r\n$5\r\nhello\r\n$1\r\nx\r\n$2\r\nNX\r\n",
            &ts(4),
            OCTETS,
        )
        .await;
    assert_eq!(nx.payload.as_ref(), b":-1\r\n");

    let del = raw
        .request(b"*2\r\n$3\r\nDEL\r\n$5\r\nhello\r\n", &ts(5), OCTETS)
        .await;
    assert_eq!(del.payload.as_ref(), b":1\r\n");

    let no_ts = raw
        .request(
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n",
            &[("__protVer", "1.0".into())],
            OCTETS,
        )
        .await;
    assert_eq!(no_ts.payload.as_ref(), b"-ERR missing timestamp\r\n");
    assert_eq!(no_ts.property("__stat"), Some("200"));

    let unknown = raw
        .request(b"*2\r\n$4\r\nPING\r\n$1\r\nk\r\n", &ts(6), OCTETS)
        .await;
    assert_eq!(unknown.payload.as_ref(), b"-ERR unknown command\r\n");

    let garbage = raw.request(b"hello", &ts(7), OCTETS).await;
    assert_eq!(garbage.payload.as_ref(), b"-ERR syntax error\r\n");

    let json = raw.request(b"{}", &ts(8), "application/json").await;
    assert_eq!(json.property("__stat"), Some("415"));
    assert_eq!(json.property("__propName"), Some("Content Type"));

    let v2 = raw
        .request(
            b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
            &[("__protVer", "2.0".into())],
            OCTETS,
        )
        .await;
    assert_eq!(v2.property("__stat"), Some("505"));
    assert_eq!(v2.property("__supProtMajVer"), Some("1"));
    service.shutdown().await;
}
