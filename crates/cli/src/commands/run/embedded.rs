//! The embedded broker, when the build has it (cargo feature `embedded-broker`, on by
//! default). Without it, `--broker embedded` is an error that says what to do.

use std::net::SocketAddr;

#[cfg(feature = "embedded-broker")]
pub use broker::EmbeddedBroker;

/// Starts the embedded broker on `addr`; returns it and the address it listens on.
///
/// # Errors
/// When the address cannot be bound.
#[cfg(feature = "embedded-broker")]
pub async fn start(addr: SocketAddr) -> anyhow::Result<(EmbeddedBroker, SocketAddr)> {
    use anyhow::Context as _;
    let broker = EmbeddedBroker::start(broker::BrokerConfig {
        bind: addr,
        ..broker::BrokerConfig::default()
    })
    .await
    .with_context(|| format!("cannot start the embedded MQTT broker on {addr}"))?;
    let local = broker.local_addr();
    Ok((broker, local))
}

/// Stand-in for builds without the embedded broker.
#[cfg(not(feature = "embedded-broker"))]
#[derive(Debug)]
pub struct EmbeddedBroker;

#[cfg(not(feature = "embedded-broker"))]
impl EmbeddedBroker {
    /// Nothing to stop.
    pub async fn shutdown(self) {}
}

/// Always fails: this build has no embedded broker.
///
/// # Errors
/// Always.
#[cfg(not(feature = "embedded-broker"))]
pub async fn start(addr: SocketAddr) -> anyhow::Result<(EmbeddedBroker, SocketAddr)> {
    anyhow::bail!(
        "this build has no embedded broker (cargo feature embedded-broker), so it cannot listen \
         on {addr}: give an external broker with --broker mqtt://HOST:PORT"
    )
}
