//! Brokers, services and clients for the integration tests: every scenario runs on
//! mosquitto and on the embedded broker.

#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use broker::{BrokerConfig, EmbeddedBroker};
use schema_registry::{SchemaRegistryClient, SchemaRegistryService};
use sinks::MqttConfig;
use test_support::Mosquitto;

/// Generous bound for anything that should happen "soon" on a loaded 2-core machine.
pub const WAIT: Duration = Duration::from_secs(20);

/// A running broker of either kind.
pub enum Broker {
    Mosquitto(Mosquitto),
    Embedded(EmbeddedBroker),
}

impl Broker {
    pub async fn mosquitto() -> Self {
        Self::Mosquitto(tokio::task::block_in_place(Mosquitto::start))
    }

    pub async fn embedded() -> Self {
        let config = BrokerConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..BrokerConfig::default()
        };
        Self::Embedded(
            EmbeddedBroker::start(config)
                .await
                .expect("embedded broker"),
        )
    }

    pub fn addr(&self) -> SocketAddr {
        match self {
            Self::Mosquitto(m) => m.addr(),
            Self::Embedded(e) => e.local_addr(),
        }
    }

    /// Settings for a new client with a unique id starting with `name`.
    pub fn config(&self, name: &str) -> MqttConfig {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let addr = self.addr();
        let mut config = MqttConfig::new(addr.ip().to_string(), addr.port());
        config.client_id = format!(
            "{name}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        config.clean_start = true;
        config
    }
}

/// Starts a service on `dir` (namespace `sse-connector`) and waits until it is subscribed.
pub async fn service(broker: &Broker, dir: &Path) -> SchemaRegistryService {
    let service = SchemaRegistryService::start(
        broker.config("registry-svc"),
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
    let client = SchemaRegistryClient::start(broker.config(name)).expect("client starts");
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
