//! Brokers, services and clients for the integration tests: every scenario runs on
//! mosquitto and on the embedded broker.

#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use aio_mqtt::MqttConfig;
use schema_registry::{SchemaRegistryClient, SchemaRegistryService};

/// Generous bound for anything that should happen "soon" on a loaded 2-core machine.
pub const WAIT: Duration = Duration::from_secs(20);

pub use test_support::AnyBroker as Broker;

/// Settings for a new client of `broker` with a unique id starting with `name`.
pub fn config(broker: &Broker, name: &str) -> MqttConfig {
    let addr = broker.addr();
    let mut config = MqttConfig::new(addr.ip().to_string(), addr.port());
    config.client_id = Broker::client_id(name);
    config.clean_start = true;
    config
}

/// Starts a service on `dir` (namespace `sse-connector`) and waits until it is subscribed.
pub async fn service(broker: &Broker, dir: &Path) -> SchemaRegistryService {
    let service = SchemaRegistryService::start(
        config(broker, "registry-svc"),
        dir.to_owned(),
        "sse-connector",
    )
    .expect("service starts");
    tokio::time::timeout(WAIT, service.ready())
        .await
        .expect("service subscribed");
    service
}

/// Starts a client and waits until it is subscribed.
pub async fn client(broker: &Broker, name: &str) -> SchemaRegistryClient {
    let client = SchemaRegistryClient::start(config(broker, name)).expect("client starts");
    tokio::time::timeout(WAIT, client.ready())
        .await
        .expect("client subscribed");
    client
}

/// One test function per broker kind for each scenario `async fn name(broker: Broker)`.
#[macro_export]
macro_rules! on_both_brokers {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn mosquitto() {
                    super::$name(super::common::Broker::mosquitto().await).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn embedded() {
                    super::$name(super::common::Broker::embedded().await).await;
                }
            }
        )*
    };
}
