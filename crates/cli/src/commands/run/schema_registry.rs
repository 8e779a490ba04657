//! The schema registry of inferred message schemas, as `run` sets it up
//! (`--schema-registry`):
//!
//! - `embedded`: the embedded schema registry service ([`SchemaRegistryService`]) runs on the
//!   broker as a client of its own (`{client_id}-schema-registry-service`), persisted under
//!   `STATE_DIR/schemas` with `--schema-namespace`, plus the client below; the HTTP listener
//!   lists its schemas. The default with the embedded broker.
//! - `external`: only the client: a registry on the broker answers (AIO's). The default with
//!   an external broker.
//! - `off`: neither; no inference, and messages carry no `dataschema`.
//!
//! The client (`{client_id}-schema-registry`) is the supervisor's registrar: when an
//! operation's inferred schema widens it is `put` (within 10 s), and the messages that
//! follow carry the registry's `aio-sr://{namespace}/{name}:{version}`.
//!
//! At stop, after the supervisor has drained: the client closes, then the service answers
//! what it received and disconnects, then (in `serve`) the broker stops.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use schema_registry::{Catalog, DEFAULT_DIR_NAME, SchemaRegistryClient, SchemaRegistryService};
use sinks::mqtt::MqttConfig;

use super::settings::SchemaRegistryMode;

/// How long the start waits for the embedded service to subscribe before going on (a
/// registration sent before it listens times out and is tried again later).
const READY_WAIT: Duration = Duration::from_secs(10);

/// The running schema registry pieces.
#[derive(Debug, Default)]
pub struct SchemaRegistry {
    /// The embedded service, with `--schema-registry embedded`.
    pub service: Option<SchemaRegistryService>,
    /// The client, unless `--schema-registry off`.
    pub client: Option<SchemaRegistryClient>,
}

impl SchemaRegistry {
    /// Starts what `mode` asks for on the broker of `mqtt` (whose client id is the
    /// connector's); the embedded service stores new schemas in `namespace`.
    ///
    /// # Errors
    /// When the service's directory cannot be opened or the MQTT settings are invalid.
    pub async fn start(
        mode: SchemaRegistryMode,
        mqtt: &MqttConfig,
        state_dir: &Path,
        namespace: &str,
    ) -> anyhow::Result<Self> {
        if mode == SchemaRegistryMode::Off {
            tracing::info!("schema registry off: no message schemas are inferred");
            return Ok(Self::default());
        }
        let service = if mode == SchemaRegistryMode::Embedded {
            let dir = state_dir.join(DEFAULT_DIR_NAME);
            let mut config = mqtt.clone();
            config.client_id = format!("{}-schema-registry-service", mqtt.client_id);
            let service = SchemaRegistryService::start(config, dir.clone(), namespace)
                .with_context(|| {
                    format!(
                        "cannot start the embedded schema registry in {}",
                        dir.display()
                    )
                })?;
            if tokio::time::timeout(READY_WAIT, service.ready())
                .await
                .is_err()
            {
                tracing::warn!(
                    "the embedded schema registry is not subscribed to the broker yet; it keeps trying"
                );
            } else {
                tracing::info!(dir = %dir.display(), namespace, "embedded schema registry ready");
            }
            Some(service)
        } else {
            tracing::info!("using the broker's schema registry");
            None
        };
        let mut config = mqtt.clone();
        config.client_id = format!("{}-schema-registry", mqtt.client_id);
        let client = SchemaRegistryClient::start(config)
            .context("cannot start the schema registry client")?;
        Ok(Self {
            service,
            client: Some(client),
        })
    }

    /// The embedded service's schemas, for the HTTP listener.
    pub fn catalog(&self) -> Option<Catalog> {
        self.service.as_ref().map(SchemaRegistryService::catalog)
    }

    /// Closes the client (pending registrations fail; the supervisor has stopped).
    pub fn close_client(&self) {
        if let Some(client) = &self.client {
            client.close();
        }
    }

    /// Closes the client, then shuts the service down (answering what it received).
    pub async fn shutdown(self) {
        self.close_client();
        if let Some(service) = self.service {
            service.shutdown().await;
        }
    }
}
