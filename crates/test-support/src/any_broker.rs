//! [`AnyBroker`]: mosquitto or the embedded broker, so that a scenario runs on both.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use broker::{BrokerConfig, EmbeddedBroker};

use crate::mosquitto::Mosquitto;

/// A running broker of either kind; stopped when dropped.
pub enum AnyBroker {
    /// A mosquitto process.
    Mosquitto(Mosquitto),
    /// The connector's embedded broker, in this process.
    Embedded(EmbeddedBroker),
}

impl AnyBroker {
    /// Starts mosquitto on a free loopback port.
    pub async fn mosquitto() -> Self {
        Self::Mosquitto(tokio::task::block_in_place(Mosquitto::start))
    }

    /// Starts the embedded broker on a free loopback port.
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

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        match self {
            Self::Mosquitto(m) => m.addr(),
            Self::Embedded(e) => e.local_addr(),
        }
    }

    /// A client id unique in this process, starting with `name`.
    pub fn client_id(name: &str) -> String {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        format!(
            "{name}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        )
    }
}
