//! The embedded MQTT v5 broker: what `sse-connector run` starts in-process when no broker is
//! given, so a fresh machine needs nothing else. Any MQTT client can subscribe to it.
//!
//! It wraps the `mqtt5` crate's broker (pinned to an exact version because that crate changes
//! quickly) and runs on the caller's tokio runtime. Sessions and retained messages live in
//! memory only. Note: this broker adds a user property `x-mqtt-client-id` (the publisher's
//! client id) to the messages it forwards; subscribers must tolerate extra properties.
//!
//! # Layout
//! - [`BrokerConfig`]: bind address, limits, anonymous access, `K8S-SAT` tokens.
//! - [`EmbeddedBroker`]: start, address, shutdown.
//! - [`sat`]: [`SatTokens`], the tokens a `K8S-SAT` connect may use (tests, mostly).
//! - [`BrokerError`]: why it did not start.

#![forbid(unsafe_code)]

pub mod sat;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use mqtt5::broker::auth::PasswordAuthProvider;
use mqtt5::broker::config::{AuthConfig, StorageBackend, StorageConfig};
use mqtt5::broker::{BrokerShutdownHandle, MqttBroker};
use tokio::task::JoinHandle;

pub use sat::SatTokens;

/// Who may connect without credentials.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AnonymousAccess {
    /// Anonymous clients are allowed when the broker listens on a loopback address only.
    #[default]
    LoopbackOnly,
    /// Anonymous clients are allowed on any address (trusted networks only).
    Always,
    /// Every client needs a user name and password from the password file.
    Never,
}

/// Settings of the embedded broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerConfig {
    /// Listening address; port 0 picks a free port (see [`EmbeddedBroker::local_addr`]).
    pub bind: SocketAddr,
    /// Largest packet accepted and forwarded.
    pub max_packet_size: usize,
    /// Receive Maximum announced to clients: how many QoS 1 messages a client may have
    /// unacknowledged. Large, so one connector connection is not throttled.
    pub receive_maximum: u16,
    /// Most simultaneous clients.
    pub max_clients: usize,
    /// Longest session expiry granted.
    pub session_expiry: Duration,
    /// Anonymous access.
    pub anonymous: AnonymousAccess,
    /// Password file in the mqtt5 broker's format, for authenticated clients.
    pub password_file: Option<PathBuf>,
    /// Publish `$SYS/` statistics topics.
    pub sys_topics: bool,
    /// Accept MQTT v5 enhanced authentication `K8S-SAT` with these tokens, as AIO's broker
    /// does with Kubernetes service account tokens (see [`sat`]). Clients without an
    /// authentication method still go by `anonymous` and `password_file`.
    pub sat_tokens: Option<SatTokens>,
}

impl Default for BrokerConfig {
    /// 127.0.0.1:1883, 16 MiB packets, Receive Maximum 65,535, anonymous on loopback.
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 1883)),
            max_packet_size: 16 * 1024 * 1024,
            receive_maximum: u16::MAX,
            max_clients: 10_000,
            session_expiry: Duration::from_secs(24 * 3600),
            anonymous: AnonymousAccess::LoopbackOnly,
            password_file: None,
            sys_topics: false,
            sat_tokens: None,
        }
    }
}

/// Why the broker did not start.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// A setting is invalid.
    #[error("invalid embedded broker settings: {0}")]
    InvalidConfig(String),
    /// The broker could not bind or initialise (the address is in use, for example).
    #[error("the embedded MQTT broker cannot start on {bind}: {source}")]
    Start {
        /// The address it tried.
        bind: SocketAddr,
        /// The broker's error.
        #[source]
        source: mqtt5::error::MqttError,
    },
}

impl BrokerError {
    /// A stable code for status and metric labels.
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::InvalidConfig(_) => "broker_invalid_config",
            Self::Start { .. } => "broker_start_failed",
        }
    }
}

/// A running in-process broker. Dropping it stops the broker too (without waiting).
pub struct EmbeddedBroker {
    local_addr: SocketAddr,
    shutdown: BrokerShutdownHandle,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for EmbeddedBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedBroker")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl EmbeddedBroker {
    /// Binds and starts the broker on the current tokio runtime; returns once it accepts
    /// connections.
    ///
    /// # Errors
    /// [`BrokerError::InvalidConfig`] for bad settings (for example no way to authenticate);
    /// [`BrokerError::Start`] when binding or initialising fails.
    pub async fn start(config: BrokerConfig) -> Result<Self, BrokerError> {
        let anonymous = match config.anonymous {
            AnonymousAccess::LoopbackOnly => config.bind.ip().is_loopback(),
            AnonymousAccess::Always => true,
            AnonymousAccess::Never => false,
        };
        if !anonymous && config.password_file.is_none() && config.sat_tokens.is_none() {
            return Err(BrokerError::InvalidConfig(format!(
                "anonymous clients are not allowed on {} and no password file or SAT tokens are given",
                config.bind
            )));
        }
        if config.receive_maximum == 0 {
            return Err(BrokerError::InvalidConfig(
                "receive maximum must be at least 1".into(),
            ));
        }
        // mqtt5 refuses to start with neither anonymous access nor a password file; with SAT
        // tokens alone its provider is replaced below by one that refuses everyone else.
        let sat_only = !anonymous && config.password_file.is_none();
        let auth = AuthConfig {
            allow_anonymous: anonymous || sat_only,
            password_file: config.password_file.clone(),
            ..AuthConfig::default()
        };
        // Memory only: the default file backend would write `./mqtt_storage` wherever the
        // connector happens to run.
        let storage = StorageConfig {
            backend: StorageBackend::Memory,
            enable_persistence: false,
            ..StorageConfig::default()
        };
        let settings = mqtt5::broker::config::BrokerConfig::default()
            .with_bind_address(config.bind)
            .with_max_packet_size(config.max_packet_size)
            .with_server_receive_maximum(config.receive_maximum)
            .with_max_clients(config.max_clients)
            .with_session_expiry(config.session_expiry)
            .with_auth(auth)
            .with_storage(storage)
            .with_sys_topics_enabled(config.sys_topics);
        let start_error = |source| BrokerError::Start {
            bind: config.bind,
            source,
        };
        let mut broker = MqttBroker::with_config(settings)
            .await
            .map_err(start_error)?;
        if let Some(tokens) = config.sat_tokens.clone() {
            let other = if sat_only {
                Arc::new(PasswordAuthProvider::new().with_anonymous(false))
            } else {
                broker.auth_provider()
            };
            broker = broker.with_auth_provider(Arc::new(sat::SatProvider { tokens, other }));
        }
        let local_addr = broker.local_addr().ok_or_else(|| {
            BrokerError::InvalidConfig(format!("the broker did not bind {}", config.bind))
        })?;
        let shutdown = broker.shutdown_handle();
        let mut ready = broker.ready_receiver();
        let task = tokio::spawn(async move {
            if let Err(error) = broker.run().await {
                tracing::error!(%error, "the embedded MQTT broker stopped");
            }
        });
        // `run` signals readiness once the accept loops are up (or drops the sender on failure).
        let _ = ready.wait_for(|ready| *ready).await;
        tracing::info!(%local_addr, anonymous, sat = config.sat_tokens.is_some(),
            "embedded MQTT broker listening");
        Ok(Self {
            local_addr,
            shutdown,
            task: Some(task),
        })
    }

    /// The address it listens on (with the actual port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Disconnects every client and stops; returns when the broker has finished.
    pub async fn shutdown(mut self) {
        self.shutdown.shutdown();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for EmbeddedBroker {
    fn drop(&mut self) {
        if self.task.is_some() {
            self.shutdown.shutdown();
        }
    }
}
