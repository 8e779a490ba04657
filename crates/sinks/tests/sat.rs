//! The MQTT publisher with Kubernetes service-account-token authentication against the
//! embedded broker's `K8S-SAT` provider: the token file is written the way the kubelet writes
//! a projected volume ([`K8sMount`]), rotated in the middle of a stream of QoS 1 messages, and
//! the old token is revoked; every message must still arrive.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use aio_mqtt::{Backoff, Message, MqttConfig, MqttErrorKind, Qos};
use broker::{BrokerConfig, EmbeddedBroker, SatTokens};
use bytes::Bytes;
use rumqttc::v5::ConnectionError;
use rumqttc::v5::mqttbytes::v5::ConnectReturnCode;
use sinks::{ConnectionStatus, MqttPublisher, Publisher};
use test_support::MqttSubscriber;
use test_support::k8s_mount::K8sMount;

const PATIENCE: Duration = Duration::from_secs(30);

/// A token mount in the kubelet's layout, holding `token`.
fn mount(dir: &tempfile::TempDir, token: &str) -> K8sMount {
    K8sMount::create(dir.path().join("sat"), &[("token", token)])
}

async fn sat_broker(tokens: &SatTokens) -> EmbeddedBroker {
    EmbeddedBroker::start(BrokerConfig {
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        sat_tokens: Some(tokens.clone()),
        ..BrokerConfig::default()
    })
    .await
    .unwrap()
}

fn config(addr: SocketAddr, client_id: &str, sat_file: PathBuf) -> MqttConfig {
    let mut config = MqttConfig::new(addr.ip().to_string(), addr.port());
    config.client_id = format!("{client_id}-{}", std::process::id());
    config.sat_file = Some(sat_file);
    config.reconnect = Backoff {
        min: Duration::from_millis(20),
        max: Duration::from_millis(200),
    };
    config
}

fn numbered(n: u32) -> Message {
    Message {
        topic: "sat/stream".into(),
        qos: Qos::AtLeastOnce,
        retain: false,
        expiry_secs: None,
        content_type: None,
        correlation_data: None,
        user_properties: Vec::new(),
        payload: Bytes::from(n.to_string()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_token_reconnects_without_losing_a_message() {
    let tokens = SatTokens::new();
    tokens.accept("token-one");
    let broker = sat_broker(&tokens).await;
    let mut subscriber = MqttSubscriber::connect(broker.local_addr(), "sat/#").await;
    let dir = tempfile::tempdir().unwrap();
    let mut mount = mount(&dir, "token-one\n");
    let publisher = MqttPublisher::start(config(
        broker.local_addr(),
        "sat-rotation",
        mount.file("token"),
    ))
    .unwrap();

    const TOTAL: u32 = 1500;
    const ROTATE_AT: u32 = 500;
    let mut deliveries = Vec::new();
    for n in 0..TOTAL {
        if n == ROTATE_AT {
            // The new token is valid once issued; the old one stops being accepted.
            tokens.accept("token-two");
            mount.replace(&[("token", "token-two\n")]);
            assert!(tokens.revoke(b"token-one"));
        }
        deliveries.push(publisher.publish(numbered(n)).await.unwrap());
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    for delivery in deliveries {
        tokio::time::timeout(PATIENCE, delivery)
            .await
            .expect("acknowledged in time")
            .expect("acknowledged");
    }
    let used = tokens.used();
    assert_eq!(
        used.first().map(Vec::as_slice),
        Some(&b"token-one"[..]),
        "first connect"
    );
    assert!(
        used.iter().any(|t| t == b"token-two"),
        "the broker never saw the rotated token"
    );
    assert!(
        used.iter()
            .skip_while(|t| *t == b"token-one")
            .all(|t| t == b"token-two"),
        "the old token was used after the rotation"
    );
    assert!(publisher.is_connected());

    let mut missing: BTreeSet<u32> = (0..TOTAL).collect();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !missing.is_empty() && tokio::time::Instant::now() < deadline {
        if let Some(message) = subscriber.next(Duration::from_secs(1)).await {
            let n: u32 = std::str::from_utf8(&message.payload)
                .unwrap()
                .parse()
                .unwrap();
            missing.remove(&n);
        }
    }
    assert!(
        missing.is_empty(),
        "lost {} messages: {missing:?}",
        missing.len()
    );
    assert_eq!(publisher.close().await, 0);
    broker.shutdown().await;
}

#[tokio::test]
async fn a_wrong_token_is_refused_as_not_authorized() {
    let tokens = SatTokens::new();
    tokens.accept("the-right-one");
    let broker = sat_broker(&tokens).await;
    let dir = tempfile::tempdir().unwrap();
    let mount = mount(&dir, "a-stale-token\n");
    let config = config(broker.local_addr(), "sat-wrong", mount.file("token"));

    let (_client, mut eventloop) = aio_mqtt::connection::connection(&config, 4).unwrap();
    let refused = tokio::time::timeout(PATIENCE, eventloop.poll())
        .await
        .expect("an answer")
        .expect_err("refused");
    assert!(
        matches!(
            refused,
            ConnectionError::ConnectionRefused(ConnectReturnCode::NotAuthorized)
        ),
        "{refused:?}"
    );

    let publisher = MqttPublisher::start(config).unwrap();
    let mut status = publisher.status();
    let connected = tokio::time::timeout(
        Duration::from_millis(500),
        status.wait_for(|s| *s == ConnectionStatus::Connected),
    )
    .await;
    assert!(connected.is_err(), "connected with a wrong token");
    assert!(tokens.used().is_empty());
    publisher.close().await;
    broker.shutdown().await;
}

#[tokio::test]
async fn a_missing_token_file_is_named_before_anything_connects() {
    let mut config = MqttConfig::new("127.0.0.1", 1883);
    config.sat_file = Some("/var/run/secrets/tokens/missing-token".into());
    let error = MqttPublisher::start(config).unwrap_err();
    assert_eq!(error.kind(), MqttErrorKind::SatFile);
    assert!(error.to_string().contains("missing-token"), "{error}");
}
