//! Brokers and services for the integration tests: every scenario runs on mosquitto and on
//! the embedded broker.

#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aio_mqtt::MqttConfig;
use statestore::{StateStoreClient, StateStoreService};

/// Generous bound for anything that should happen "soon" on a loaded 2-core machine.
pub const WAIT: Duration = Duration::from_secs(20);

pub use test_support::AnyBroker as Broker;

/// Settings for a new client of `broker` with a unique id starting with `name`.
pub fn config(broker: &Broker, name: &str) -> MqttConfig {
    let addr = broker.addr();
    let mut config = MqttConfig::new(addr.ip().to_string(), addr.port());
    config.client_id = Broker::client_id(name);
    config
}

/// Starts a service on `dir` with client id `id` and waits until it is subscribed.
pub async fn service(broker: &Broker, id: &str, dir: &Path) -> StateStoreService {
    let mut config = config(broker, "unused");
    config.client_id = id.to_owned();
    let service = StateStoreService::start(config, dir.to_owned()).expect("service starts");
    tokio::time::timeout(WAIT, service.ready())
        .await
        .expect("service subscribed");
    service
}

/// Starts a client and waits until it is subscribed.
pub async fn client(broker: &Broker, name: &str) -> StateStoreClient {
    let client = StateStoreClient::start(config(broker, name)).expect("client starts");
    tokio::time::timeout(WAIT, client.ready())
        .await
        .expect("client subscribed");
    client
}

/// A unique service id.
pub fn service_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "statestore-svc-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
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
