//! The schema registry of inferred message schemas, as `run` sets it up
//! (`--schema-registry`):
//!
//! - `auto` (the default): `external` when the broker's registry answers a `get` of a schema
//!   that does not exist, `embedded` otherwise (see [`super::services`]).
//! - `embedded`: the embedded schema registry service ([`SchemaRegistryService`]) runs on the
//!   broker as a client of its own (`{client_id}-schema-registry-service`), persisted under
//!   `STATE_DIR/schemas` with `--schema-namespace`, plus the client below; the HTTP listener
//!   lists its schemas.
//! - `external`: only the client: a registry on the broker answers (AIO's).
//! - `off`: neither; no inference, and messages carry no `dataschema`.
//!
//! The client (`{client_id}-schema-registry`) is the supervisor's registrar: when an
//! operation's inferred schema widens it is `put` (within 10 s), and the messages that
//! follow carry the registry's `aio-sr://{namespace}/{name}:{version}`. With `auto` it is
//! also the one that probes.
//!
//! At stop, after the supervisor has drained: the client closes, then the service answers
//! what it received and disconnects, then (in `serve`) the broker stops.

use std::path::Path;
use std::time::Duration;

use aio_mqtt::MqttConfig;
use anyhow::Context as _;
use schema_registry::{
    Catalog, DEFAULT_DIR_NAME, ErrorKind, SchemaRegistryClient, SchemaRegistryService,
};

use super::services::{self, Answer, Broker, Decision, Placement};
use super::settings::SchemaRegistryMode;

/// The schema the `auto` probe asks for: no registry holds it, and any answer will do.
const PROBE_SCHEMA: (&str, &str) = ("sse-connector-probe-no-such-schema", "1");

/// How long the start waits for the embedded service to subscribe before going on (a
/// registration sent before it listens times out and is tried again later).
const READY_WAIT: Duration = Duration::from_secs(10);

/// The running schema registry pieces.
#[derive(Debug)]
pub struct SchemaRegistry {
    /// Where the service runs and why.
    pub decision: Decision,
    /// The embedded service, when it runs.
    pub service: Option<SchemaRegistryService>,
    /// The client, unless off.
    pub client: Option<SchemaRegistryClient>,
}

impl SchemaRegistry {
    /// Starts what `mode` asks for on `broker`, whose connection settings are `mqtt` (with
    /// the connector's client id); with `auto`, probes the broker first. The embedded
    /// service stores new schemas in `namespace`.
    ///
    /// # Errors
    /// When the service's directory cannot be opened or the MQTT settings are invalid.
    pub async fn start(
        mode: SchemaRegistryMode,
        mqtt: &MqttConfig,
        broker: Broker<'_>,
        state_dir: &Path,
        namespace: &str,
    ) -> anyhow::Result<Self> {
        let requested = match mode {
            SchemaRegistryMode::Auto => None,
            SchemaRegistryMode::Embedded => Some(Placement::Embedded),
            SchemaRegistryMode::External => Some(Placement::External),
            SchemaRegistryMode::Off => Some(Placement::Off),
        };
        if requested == Some(Placement::Off) {
            tracing::info!("schema registry off: no message schemas are inferred");
            return Ok(Self {
                decision: Decision::configured(Placement::Off),
                service: None,
                client: None,
            });
        }
        let mut config = mqtt.clone();
        config.client_id = format!("{}-schema-registry", mqtt.client_id);
        let client = SchemaRegistryClient::start(config)
            .context("cannot start the schema registry client")?;
        let probe = client.with_timeout(services::PROBE_TIMEOUT);
        let decision = services::decide(
            "schema registry",
            requested,
            broker,
            client.ready(),
            async {
                let (name, version) = PROBE_SCHEMA;
                match probe.get(name, version).await {
                    Err(error)
                        if matches!(error.kind(), ErrorKind::Timeout | ErrorKind::Closed) =>
                    {
                        Answer::Silent
                    }
                    _ => Answer::Answered,
                }
            },
        )
        .await;
        let service = if decision.placement == Placement::Embedded {
            Some(start_service(mqtt, state_dir, namespace).await?)
        } else {
            if requested.is_some() {
                tracing::info!("using the broker's schema registry");
            }
            None
        };
        Ok(Self {
            decision,
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

/// Starts the embedded service on the broker of `mqtt` and waits (a while) until it listens.
async fn start_service(
    mqtt: &MqttConfig,
    state_dir: &Path,
    namespace: &str,
) -> anyhow::Result<SchemaRegistryService> {
    let dir = state_dir.join(DEFAULT_DIR_NAME);
    let mut config = mqtt.clone();
    config.client_id = format!("{}-schema-registry-service", mqtt.client_id);
    let service =
        SchemaRegistryService::start(config, dir.clone(), namespace).with_context(|| {
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
    Ok(service)
}
