//! Akri mode: `run` as an Akri connector inside Azure IoT Operations. Everything comes from
//! the deployment (the contract's variables and mounts): the broker and its SAT
//! authentication, the definitions (the allocation mount and the device registry service),
//! the state directory (the first persistent volume), the log level; no flag is needed.
//! The state store and the schema registry are AIO's (external); the embedded services stay
//! off.
//!
//! MQTT client ids: the device registry client uses the SDK's session id, `CONNECTOR_ID` +
//! `0` (what the service authorizes and its topics carry), and so does `__srcId` on every
//! message; the data connection, which must not share the session, uses `CONNECTOR_ID` +
//! `0-data`, and its service clients append their own suffix to that. Metrics carry
//! `CONNECTOR_ID` as their `instance`.

use std::sync::Arc;
use std::time::Duration;

use akri::adr::AdrClient;
use akri::deployment::Deployment;
use akri::source::{AkriSource, SourceSettings};
use anyhow::Context as _;
use clap::ValueEnum;
use registry::{RegistryPaths, Snapshot};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::definitions::{Change, Feed};
use super::settings::{BrokerChoice, RuntimeSettings, SchemaRegistryMode, StateStoreMode};

/// How long allocation changes must settle (the SDK waits 5 s; a shorter wait reacts sooner,
/// and a `..data` swap is one change).
const ALLOCATION_DEBOUNCE: Duration = Duration::from_secs(1);

/// `--source`: where definitions come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SourceChoice {
    /// AIO's device registry when the Akri variables are set, else the registry directory.
    Auto,
    /// AIO's device registry (Akri mode); the Akri variables must be set.
    Akri,
    /// The registry directory.
    Registry,
}

/// A connector deployed by Akri.
#[derive(Debug)]
pub struct AkriMode {
    deployment: Deployment,
}

impl AkriMode {
    /// Akri mode when `choice` asks for it, or is `auto` and the Akri variables are set.
    ///
    /// # Errors
    /// When the deployment cannot be read: a variable missing, a path named by a variable
    /// that does not exist, a configuration file that is not valid.
    pub fn detect(choice: SourceChoice) -> anyhow::Result<Option<Self>> {
        let vars = |name: &str| std::env::var(name).ok();
        let wanted = match choice {
            SourceChoice::Registry => false,
            SourceChoice::Akri => true,
            SourceChoice::Auto => akri::deployment::is_akri(vars),
        };
        if !wanted {
            return Ok(None);
        }
        let deployment = Deployment::from_vars(vars)
            .context("cannot run as an Akri connector: the deployment is not usable")?;
        Ok(Some(Self { deployment }))
    }

    /// Takes the broker, the client id, the state directory, the services and the log level
    /// from the deployment.
    pub fn apply(&self, settings: &mut RuntimeSettings) {
        let deployment = &self.deployment;
        let mut mqtt = deployment.mqtt_config();
        mqtt.client_id = format!("{}-data", deployment.mqtt_client_id());
        settings.client_id.clone_from(&mqtt.client_id);
        settings.source_id = Some(deployment.mqtt_client_id());
        settings.session_expiry = mqtt.session_expiry;
        settings.keep_alive = mqtt.keep_alive;
        settings.broker = BrokerChoice::External(Box::new(mqtt));
        settings.state_store = StateStoreMode::External;
        settings.schema_registry = SchemaRegistryMode::External;
        if let Some(volume) = deployment.persistent_volumes.first() {
            settings.state_dir = volume.join(&deployment.connector_id);
        }
        if settings.telemetry.instance.is_empty() {
            settings
                .telemetry
                .instance
                .clone_from(&deployment.connector_id);
        }
        if settings.telemetry.log_level.is_none() {
            settings
                .telemetry
                .log_level
                .clone_from(&deployment.log_level);
        }
    }

    /// Logs what the deployment gave, once logging is set up.
    pub fn log_start(&self) {
        let deployment = &self.deployment;
        tracing::info!(
            connector = %deployment.connector_id,
            namespace = %deployment.connector_namespace,
            allocation = %deployment.allocations.display(),
            "running as an Akri connector"
        );
    }

    /// Starts the device registry client, the allocation watcher and the source.
    ///
    /// # Errors
    /// When the device registry client cannot start, or the allocation mount cannot be
    /// watched.
    pub(super) async fn start(self) -> anyhow::Result<Feed> {
        let deployment = self.deployment;
        let (adr, notifications) = AdrClient::start(deployment.mqtt_config())
            .context("cannot start the device registry client")?;
        let source = AkriSource::new(
            adr.clone(),
            SourceSettings {
                credentials: deployment.device_credentials.clone(),
                endpoint_trust: deployment.device_trust.clone(),
                connector_trust: deployment.connector_trust.clone(),
            },
        );
        let index = source.index();
        let (allocated, allocations) = mpsc::unbounded_channel();
        // Watch first, then read: a change after the read reaches the watcher's callback.
        let on_change = allocated.clone();
        let watch = akri::allocation::watch(
            &deployment.allocations,
            ALLOCATION_DEBOUNCE,
            move |outcome| match outcome {
                Ok(allocation) => {
                    let _ = on_change.send(allocation);
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot read the allocation; the running plan stays");
                }
            },
        )
        .context("cannot watch the allocation")?;
        let first = akri::allocation::read(&deployment.allocations).with_context(|| {
            format!(
                "cannot read the allocation {}",
                deployment.allocations.display()
            )
        })?;
        let _ = allocated.send(first);
        let (outcomes, mut outcome) = mpsc::unbounded_channel();
        let (changed, changes) = mpsc::unbounded_channel();
        let stop = CancellationToken::new();
        tokio::spawn(akri::source::run(
            source,
            allocations,
            notifications,
            outcomes,
            stop.clone(),
        ));
        tokio::spawn(async move {
            while let Some(next) = outcome.recv().await {
                let change = match next {
                    Ok(reload) => Change::Reload(reload),
                    Err(fatal) => Change::Fatal(fatal.into()),
                };
                if changed.send(change).is_err() {
                    return;
                }
            }
        });
        let shown = RegistryPaths::new(format!(
            "adr://{}/{}",
            deployment.connector_namespace, deployment.connector_id
        ))
        .with_secrets(deployment.device_credentials.clone().unwrap_or_default());
        Ok(Feed::akri(
            Arc::new(Snapshot::default()),
            changes,
            shown,
            (adr, index),
            stop,
            watch,
        ))
    }
}
