//! A request/response connection ([`poll_subscribed`], the loop of the state store and schema
//! registry clients and services) with a service account token, against the embedded broker's
//! `K8S-SAT` provider: a token rewritten in place reconnects the connection with the new one,
//! and the subscriptions come back.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::time::Duration;

use aio_mqtt::MqttConfig;
use aio_mqtt::connection::connection;
use aio_mqtt::rpc::{Session, poll_subscribed};
use broker::{BrokerConfig, EmbeddedBroker, SatTokens};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

const PATIENCE: Duration = Duration::from_secs(20);

#[tokio::test]
async fn a_rewritten_token_reconnects_a_subscribed_session() {
    let tokens = SatTokens::new();
    tokens.accept("first");
    let broker = EmbeddedBroker::start(BrokerConfig {
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        sat_tokens: Some(tokens.clone()),
        ..BrokerConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "first\n").unwrap();
    let addr = broker.local_addr();
    let mut config = MqttConfig::new(addr.ip().to_string(), addr.port());
    config.client_id = format!("sat-session-{}", std::process::id());
    config.sat_file = Some(token.clone());

    let (client, mut eventloop) = connection(&config, 16).unwrap();
    let (ready_tx, _) = watch::channel(false);
    let (connections_tx, mut connections) = watch::channel(0u32);
    let stop = CancellationToken::new();
    let task = tokio::spawn({
        let stop = stop.clone();
        async move {
            let session = Session {
                role: "test service",
                topics: vec!["sat/requests".into()],
                ready: &ready_tx,
                announce: false,
            };
            poll_subscribed(
                &mut eventloop,
                &client,
                &config,
                &session,
                &stop,
                |_| ControlFlow::Continue(()),
                |n| {
                    connections_tx.send_replace(n);
                },
            )
            .await;
        }
    });
    tokio::time::timeout(PATIENCE, connections.wait_for(|n| *n == 1))
        .await
        .unwrap()
        .unwrap();

    tokens.accept("second");
    std::fs::write(&token, "second\n").unwrap();
    assert!(tokens.revoke(b"first"));
    tokio::time::timeout(PATIENCE, connections.wait_for(|n| *n == 2))
        .await
        .expect("subscribed again after the rotation")
        .unwrap();
    assert_eq!(tokens.used(), [b"first".to_vec(), b"second".to_vec()]);

    stop.cancel();
    task.await.unwrap();
    broker.shutdown().await;
}
