//! The state store destination end to end: [`KeyValueStore`] over `statestore`'s client
//! against the embedded state store service, on mosquitto and on the embedded broker.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use aio_mqtt::MqttConfig;
use bytes::Bytes;
use sinks::state_store::KeyValueStore;
use statestore::{StateStoreClient, StateStoreService};
use test_support::AnyBroker as Broker;

/// Generous bound for anything that should happen "soon" on a loaded 2-core machine.
const WAIT: Duration = Duration::from_secs(20);

fn config(broker: &Broker, name: &str) -> MqttConfig {
    let addr = broker.addr();
    let mut config = MqttConfig::new(addr.ip().to_string(), addr.port());
    config.client_id = Broker::client_id(name);
    config
}

/// SETs queued back to back (without waiting for their replies) are applied in order, so the
/// key ends with the last value.
async fn sets_land_in_order(broker: Broker) {
    let dir = tempfile::tempdir().unwrap();
    let service = StateStoreService::start(config(&broker, "svc"), dir.path().to_owned()).unwrap();
    tokio::time::timeout(WAIT, service.ready()).await.unwrap();
    let client = StateStoreClient::start(config(&broker, "kv")).unwrap();
    tokio::time::timeout(WAIT, client.ready()).await.unwrap();
    let mut deliveries = Vec::new();
    for n in 0..200 {
        let value = Bytes::from(format!("{{\"n\":{n}}}"));
        deliveries.push(
            KeyValueStore::set(&client, "latest".to_owned(), value)
                .await
                .unwrap(),
        );
    }
    for delivery in deliveries {
        tokio::time::timeout(WAIT, delivery).await.unwrap().unwrap();
    }
    assert_eq!(
        client.get("latest").await.unwrap(),
        Some(Bytes::from("{\"n\":199}"))
    );
    client.close();
    service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sets_land_in_order_on_mosquitto() {
    sets_land_in_order(Broker::mosquitto().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sets_land_in_order_on_the_embedded_broker() {
    sets_land_in_order(Broker::embedded().await).await;
}
