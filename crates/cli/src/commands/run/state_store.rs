//! The state store of `BrokerStateStore` datasets, as `run` sets it up (`--state-store`):
//!
//! - `embedded`: the embedded state store service ([`StateStoreService`]) runs on the broker
//!   as a client of its own (`{client_id}-statestore-service`), persisted under
//!   `STATE_DIR/statestore`, plus the client below. The default with the embedded broker.
//! - `external`: only the client: the broker provides the state store (AIO's MQ broker does).
//!   The default with an external broker.
//! - `off`: neither; `BrokerStateStore` datasets are reported unsupported.
//!
//! The client (`{client_id}-statestore`) is the supervisor's key-value store: each event of
//! such a dataset is an unconditional SET of its key, and the event counts as delivered when
//! the store answered `+OK` (within 10 s).
//!
//! At stop, after the supervisor has drained: the client closes, then the service finishes
//! its batch and disconnects, then (in `serve`) the broker stops.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use sinks::mqtt::MqttConfig;
use statestore::{StateStoreClient, StateStoreService};

use super::settings::StateStoreMode;

/// The directory of the embedded service below the state directory.
pub const STATESTORE_DIR: &str = "statestore";

/// How long the start waits for the embedded service to subscribe before going on (SETs
/// sent before it listens get no reply and fail; the stream reads them again at its next
/// start).
const READY_WAIT: Duration = Duration::from_secs(10);

/// The running state store pieces.
#[derive(Debug, Default)]
pub struct StateStore {
    /// The embedded service, with `--state-store embedded`.
    pub service: Option<StateStoreService>,
    /// The client, unless `--state-store off`.
    pub client: Option<StateStoreClient>,
}

impl StateStore {
    /// Starts what `mode` asks for on the broker of `mqtt` (whose client id is the
    /// connector's).
    ///
    /// # Errors
    /// When the service's directory cannot be opened (or another service uses it) or the
    /// MQTT settings are invalid.
    pub async fn start(
        mode: StateStoreMode,
        mqtt: &MqttConfig,
        state_dir: &Path,
    ) -> anyhow::Result<Self> {
        if mode == StateStoreMode::Off {
            tracing::info!("state store off: BrokerStateStore datasets are not delivered");
            return Ok(Self::default());
        }
        let service = if mode == StateStoreMode::Embedded {
            let dir = state_dir.join(STATESTORE_DIR);
            let mut config = mqtt.clone();
            config.client_id = format!("{}-statestore-service", mqtt.client_id);
            let service = StateStoreService::start(config, dir.clone()).with_context(|| {
                format!("cannot start the embedded state store in {}", dir.display())
            })?;
            if tokio::time::timeout(READY_WAIT, service.ready())
                .await
                .is_err()
            {
                tracing::warn!(
                    "the embedded state store is not subscribed to the broker yet; it keeps trying"
                );
            } else {
                tracing::info!(dir = %dir.display(), "embedded state store ready");
            }
            Some(service)
        } else {
            tracing::info!("using the broker's state store");
            None
        };
        let mut config = mqtt.clone();
        config.client_id = format!("{}-statestore", mqtt.client_id);
        let client =
            StateStoreClient::start(config).context("cannot start the state store client")?;
        Ok(Self {
            service,
            client: Some(client),
        })
    }

    /// Closes the client, then shuts the service down (finishing its batch).
    pub async fn shutdown(self) {
        if let Some(client) = self.client {
            client.close();
        }
        if let Some(service) = self.service {
            service.shutdown().await;
        }
    }
}
