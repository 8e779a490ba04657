//! The embedded broker with real MQTT v5 clients: rumqttc directly and the connector's
//! publisher.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Duration;

use aio_mqtt::{Message, MqttConfig, Qos};
use broker::{AnonymousAccess, BrokerConfig, BrokerError, EmbeddedBroker};
use bytes::Bytes;
use rumqttc::v5::mqttbytes::v5::Packet;
use rumqttc::v5::{AsyncClient, Event, MqttOptions};
use sinks::{MqttPublisher, Publisher};
use test_support::MqttSubscriber;

const PATIENCE: Duration = Duration::from_secs(20);

fn loopback_any_port() -> BrokerConfig {
    BrokerConfig {
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..BrokerConfig::default()
    }
}

fn publisher(addr: SocketAddr, id: &str) -> MqttPublisher {
    let mut config = MqttConfig::new(addr.ip().to_string(), addr.port());
    config.client_id = id.into();
    MqttPublisher::start(config).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwards_every_property_and_adds_the_client_id() {
    let broker = EmbeddedBroker::start(loopback_any_port()).await.unwrap();
    assert_ne!(broker.local_addr().port(), 0);
    let mut subscriber = MqttSubscriber::connect(broker.local_addr(), "t/#").await;
    let publisher = publisher(broker.local_addr(), "embedded-props");
    let message = Message {
        topic: "t/1".into(),
        qos: Qos::AtLeastOnce,
        retain: false,
        expiry_secs: Some(120),
        content_type: Some("text/plain; charset=utf-8".into()),
        correlation_data: Some(Bytes::from_static(b"c")),
        user_properties: vec![("b".into(), "2".into()), ("a".into(), "1".into())],
        payload: Bytes::from_static(b"hello"),
    };
    publisher
        .publish(message.clone())
        .await
        .unwrap()
        .await
        .unwrap();
    let received = subscriber.next(PATIENCE).await.expect("forwarded");
    assert_eq!(received.payload, message.payload);
    assert_eq!(received.content_type, message.content_type);
    assert_eq!(received.correlation_data, message.correlation_data);
    assert!(received.message_expiry.is_some_and(|s| s <= 120 && s > 100));
    let (ours, added): (Vec<_>, Vec<_>) = received
        .user_properties
        .into_iter()
        .partition(|(k, _)| k != "x-mqtt-client-id");
    assert_eq!(ours, message.user_properties, "order kept");
    assert_eq!(
        added,
        [("x-mqtt-client-id".to_owned(), "embedded-props".to_owned())]
    );
    assert_eq!(publisher.close().await, 0);
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn announces_a_large_receive_maximum_and_carries_large_packets() {
    let broker = EmbeddedBroker::start(loopback_any_port()).await.unwrap();
    let addr = broker.local_addr();
    let mut options = MqttOptions::new("raw", addr.ip().to_string(), addr.port());
    options.set_max_packet_size(Some(32 * 1024 * 1024));
    let (_client, mut eventloop) = AsyncClient::new(options, 10);
    let connack = tokio::time::timeout(PATIENCE, async {
        loop {
            if let Ok(Event::Incoming(Packet::ConnAck(ack))) = eventloop.poll().await {
                return ack;
            }
        }
    })
    .await
    .unwrap();
    let receive_max = connack
        .properties
        .and_then(|p| p.receive_max)
        .unwrap_or(u16::MAX);
    assert!(receive_max >= 1000, "receive maximum {receive_max}");

    let mut subscriber = MqttSubscriber::connect(addr, "big").await;
    let publisher = publisher(addr, "embedded-big");
    let payload = Bytes::from(vec![7u8; 4 * 1024 * 1024]);
    let message = Message {
        topic: "big".into(),
        qos: Qos::AtLeastOnce,
        retain: false,
        expiry_secs: None,
        content_type: None,
        correlation_data: None,
        user_properties: Vec::new(),
        payload: payload.clone(),
    };
    publisher.publish(message).await.unwrap().await.unwrap();
    assert_eq!(
        subscriber.next(PATIENCE).await.expect("forwarded").payload,
        payload
    );
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_frees_the_port_and_errors_are_clear() {
    let broker = EmbeddedBroker::start(loopback_any_port()).await.unwrap();
    let addr = broker.local_addr();
    let taken = EmbeddedBroker::start(BrokerConfig {
        bind: addr,
        ..BrokerConfig::default()
    })
    .await
    .unwrap_err();
    assert!(matches!(taken, BrokerError::Start { .. }), "{taken}");
    assert!(taken.to_string().contains(&addr.to_string()), "{taken}");
    broker.shutdown().await;
    let mut again = None;
    for _ in 0..50 {
        if let Ok(b) = EmbeddedBroker::start(BrokerConfig {
            bind: addr,
            ..BrokerConfig::default()
        })
        .await
        {
            again = Some(b);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    again
        .expect("the port is free after shutdown")
        .shutdown()
        .await;

    // Anonymous access stays on loopback unless asked for; with no password file nobody
    // could connect, which is refused up front.
    let public = EmbeddedBroker::start(BrokerConfig {
        bind: SocketAddr::from(([0, 0, 0, 0], 0)),
        ..BrokerConfig::default()
    })
    .await
    .unwrap_err();
    assert_eq!(public.reason_code(), "broker_invalid_config");
    let never = EmbeddedBroker::start(BrokerConfig {
        anonymous: AnonymousAccess::Never,
        ..loopback_any_port()
    })
    .await
    .unwrap_err();
    assert!(never.to_string().contains("no password file"), "{never}");
}
