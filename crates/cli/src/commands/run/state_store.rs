//! The state store of `BrokerStateStore` datasets, as `run` sets it up (`--state-store`):
//!
//! - `auto` (the default): `external` when the broker's state store answers a GET of a key
//!   that does not exist, `embedded` otherwise (see [`super::services`]).
//! - `embedded`: the embedded state store service ([`StateStoreService`]) runs on the broker
//!   as a client of its own (`{client_id}-statestore-service`), persisted under
//!   `STATE_DIR/statestore`, plus the client below.
//! - `external`: only the client: the broker provides the state store (AIO's MQ broker does).
//! - `off`: neither; `BrokerStateStore` datasets are reported unsupported.
//!
//! The client (`{client_id}-statestore`) is the supervisor's key-value store: each event of
//! such a dataset is an unconditional SET of its key, and the event counts as delivered when
//! the store answered `+OK` (within 10 s). With `auto` it is also the one that probes.
//!
//! In Akri mode the client also keeps every stream's checkpoint in the state store
//! ([`StateStore::shared_checkpoints`], `supervisor::checkpoint::shared`), so the replica
//! that takes a device endpoint over resumes from it, when the store answers a probe at start;
//! without an answer the checkpoints stay in the persistent volume only.
//!
//! At stop, after the supervisor has drained: the client closes, then the service finishes
//! its batch and disconnects, then (in `serve`) the broker stops.

use std::path::Path;
use std::time::Duration;

use aio_mqtt::MqttConfig;
use anyhow::Context as _;
use statestore::{ErrorKind, StateStoreClient, StateStoreService};
use supervisor::SharedCheckpoints;

use super::services::{self, Answer, Broker, Decision, Placement};
use super::settings::StateStoreMode;

/// The key the `auto` probe GETs: nothing SETs it, and any answer will do.
const PROBE_KEY: &str = "sse-connector/probe/no-such-key";

/// The directory of the embedded service below the state directory.
pub const STATESTORE_DIR: &str = "statestore";

/// How long the start waits for the embedded service to subscribe before going on (SETs
/// sent before it listens get no reply and fail; the stream reads them again at its next
/// start).
const READY_WAIT: Duration = Duration::from_secs(10);

/// The running state store pieces.
#[derive(Debug)]
pub struct StateStore {
    /// Where the service runs and why.
    pub decision: Decision,
    /// The embedded service, when it runs.
    pub service: Option<StateStoreService>,
    /// The client, unless off.
    pub client: Option<StateStoreClient>,
}

impl StateStore {
    /// Starts what `mode` asks for on `broker`, whose connection settings are `mqtt` (with
    /// the connector's client id); with `auto`, probes the broker first.
    ///
    /// # Errors
    /// When the service's directory cannot be opened (or another service uses it) or the
    /// MQTT settings are invalid.
    pub async fn start(
        mode: StateStoreMode,
        mqtt: &MqttConfig,
        broker: Broker<'_>,
        state_dir: &Path,
    ) -> anyhow::Result<Self> {
        let requested = match mode {
            StateStoreMode::Auto => None,
            StateStoreMode::Embedded => Some(Placement::Embedded),
            StateStoreMode::External => Some(Placement::External),
            StateStoreMode::Off => Some(Placement::Off),
        };
        if requested == Some(Placement::Off) {
            tracing::info!("state store off: BrokerStateStore datasets are not delivered");
            return Ok(Self {
                decision: Decision::configured(Placement::Off),
                service: None,
                client: None,
            });
        }
        let mut config = mqtt.clone();
        config.client_id = format!("{}-statestore", mqtt.client_id);
        let client =
            StateStoreClient::start(config).context("cannot start the state store client")?;
        let probe = client.with_timeout(services::PROBE_TIMEOUT);
        let decision = services::decide("state store", requested, broker, client.ready(), async {
            match probe.get(PROBE_KEY).await {
                Err(error) if matches!(error.kind(), ErrorKind::Timeout | ErrorKind::Closed) => {
                    Answer::Silent
                }
                _ => Answer::Answered,
            }
        })
        .await;
        let service = if decision.placement == Placement::Embedded {
            Some(start_service(mqtt, state_dir).await?)
        } else {
            if requested.is_some() {
                tracing::info!("using the broker's state store");
            }
            None
        };
        Ok(Self {
            decision,
            service,
            client: Some(client),
        })
    }

    /// Checkpoints in the state store, leases held as `holder` (the connector's session id),
    /// when there is a client and the store answers a GET within [`services::PROBE_TIMEOUT`]
    /// of the connection (at most [`services::CONNECT_WAIT`]); `None` (logged) otherwise.
    pub async fn shared_checkpoints(&self, holder: &str) -> Option<SharedCheckpoints> {
        let client = self.client.as_ref()?;
        let answered = tokio::time::timeout(services::CONNECT_WAIT, client.ready())
            .await
            .is_ok()
            && !matches!(
                client.with_timeout(services::PROBE_TIMEOUT).get(PROBE_KEY).await,
                Err(error) if matches!(error.kind(), ErrorKind::Timeout | ErrorKind::Closed)
            );
        if answered {
            tracing::info!(
                holder,
                "checkpoints are kept in the state store too, under a lease per stream"
            );
            Some(SharedCheckpoints::new(client, holder))
        } else {
            tracing::warn!(
                "the state store does not answer: checkpoints stay in the persistent volume only, and a device endpoint moved to another replica starts there without its checkpoint"
            );
            None
        }
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

/// Starts the embedded service on the broker of `mqtt` and waits (a while) until it listens.
async fn start_service(mqtt: &MqttConfig, state_dir: &Path) -> anyhow::Result<StateStoreService> {
    let dir = state_dir.join(STATESTORE_DIR);
    let mut config = mqtt.clone();
    config.client_id = format!("{}-statestore-service", mqtt.client_id);
    let service = StateStoreService::start(config, dir.clone())
        .with_context(|| format!("cannot start the embedded state store in {}", dir.display()))?;
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
    Ok(service)
}
