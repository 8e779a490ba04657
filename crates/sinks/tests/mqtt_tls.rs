//! The MQTT publisher over TLS with a client certificate, made at test time.
//!
//! The TLS endpoint is a relay that terminates TLS (rustls, requiring a client certificate
//! signed by the test CA) in front of the embedded broker; the publisher's handshake, trust
//! list and client identity are real.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Duration;

use aio_mqtt::{Message, MqttConfig, Qos, TlsSettings};
use broker::{BrokerConfig, EmbeddedBroker};
use bytes::Bytes;
use sinks::{ConnectionStatus, MqttPublisher, Publisher};
use test_support::{ClientAuth, MqttSubscriber, TestPki};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

async fn tls_relay(pki: &TestPki, upstream: SocketAddr) -> SocketAddr {
    let acceptor = TlsAcceptor::from(pki.server_config(ClientAuth::Required));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((inbound, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(inbound).await else {
                    return;
                };
                if let Ok(mut plain) = TcpStream::connect(upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                }
            });
        }
    });
    addr
}

fn config(relay: SocketAddr, tls: TlsSettings, id: &str) -> MqttConfig {
    let mut config = MqttConfig::from_url(&format!("mqtts://{relay}")).unwrap();
    config.tls = Some(tls);
    config.client_id = id.into();
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_over_tls_with_a_client_certificate() {
    let pki = TestPki::generate();
    let broker = EmbeddedBroker::start(BrokerConfig {
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..BrokerConfig::default()
    })
    .await
    .unwrap();
    let relay = tls_relay(&pki, broker.local_addr()).await;
    let mut subscriber = MqttSubscriber::connect(broker.local_addr(), "secure/#").await;

    let trusted = TlsSettings {
        ca_file: Some(pki.ca_pem.clone()),
        client_cert: Some(pki.client.cert.clone()),
        client_key: Some(pki.client.key.clone()),
        client_key_password_file: None,
    };
    let publisher = MqttPublisher::start(config(relay, trusted, "tls-ok")).unwrap();
    let message = Message {
        topic: "secure/a".into(),
        qos: Qos::AtLeastOnce,
        retain: false,
        expiry_secs: None,
        content_type: None,
        correlation_data: None,
        user_properties: Vec::new(),
        payload: Bytes::from_static(b"over tls"),
    };
    publisher
        .publish(message.clone())
        .await
        .unwrap()
        .await
        .unwrap();
    let received = subscriber
        .next(Duration::from_secs(20))
        .await
        .expect("arrives");
    assert_eq!(received.payload, message.payload);
    assert_eq!(publisher.close().await, 0);

    // Without a client certificate the relay refuses the handshake: never connected.
    let anonymous = TlsSettings {
        ca_file: Some(pki.ca_pem.clone()),
        ..TlsSettings::default()
    };
    let refused = MqttPublisher::start(config(relay, anonymous, "tls-no-cert")).unwrap();
    let mut status = refused.status();
    let connected = tokio::time::timeout(
        Duration::from_millis(500),
        status.wait_for(|s| *s == ConnectionStatus::Connected),
    )
    .await;
    assert!(connected.is_err(), "connected without a client certificate");
    assert!(!refused.is_connected());
}
