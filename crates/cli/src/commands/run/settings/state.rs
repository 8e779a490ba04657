//! The state settings: the state directory, the `Storage` files (root, rotation size), how
//! often refused deliveries are tried again, and where the state store and the schema
//! registry run.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;

use super::config_file::{ConfigFile, SizeValue};
use super::precedence::Setting;
use crate::values;

/// Where the state (checkpoints) lives when `--state-dir` is not given.
const DEFAULT_STATE_DIR: &str = "state";

/// The storage root below the state directory when `--storage-root` is not given:
/// `STATE_DIR/storage`, so that everything the connector writes is in one place by default.
const DEFAULT_STORAGE_DIR: &str = "storage";

/// The state options of `run`.
#[derive(Debug, Clone, Args)]
pub(super) struct StateArgs {
    /// Directory for checkpoints and other state [default: ./state]
    #[arg(long, value_name = "DIR", env = "SSE_CONNECTOR_STATE_DIR")]
    state_dir: Option<PathBuf>,

    /// Root of the files of `Storage` destinations [default: STATE_DIR/storage]
    #[arg(long, value_name = "DIR", env = "SSE_CONNECTOR_STORAGE_ROOT")]
    storage_root: Option<PathBuf>,

    /// How often a delivery the broker refused as not authorized or over quota is attempted
    /// again (other failed deliveries follow the stream's backoff) [default: 30s]
    #[arg(long, value_name = "DURATION", value_parser = values::duration, env = "SSE_CONNECTOR_REFUSED_RETRY")]
    refused_retry: Option<Duration>,

    /// Largest size of a `Storage` file before it is rotated (e.g. 64MiB) [default: 64MiB]
    #[arg(long, value_name = "SIZE", value_parser = values::byte_size, env = "SSE_CONNECTOR_STORAGE_MAX_FILE_BYTES")]
    storage_max_file_bytes: Option<usize>,

    /// State store of `BrokerStateStore` datasets: `auto` (the broker's own when it answers,
    /// else `embedded`), `embedded` (run one on the broker, persisted under
    /// STATE_DIR/statestore), `external` (the broker has one, e.g. AIO's) or `off`
    /// [default: auto]
    #[arg(long, value_name = "MODE", env = "SSE_CONNECTOR_STATE_STORE")]
    state_store: Option<StateStoreMode>,

    /// Schema registry of inferred message schemas: `auto` (the broker's own when it
    /// answers, else `embedded`), `embedded` (run one on the broker, persisted under
    /// STATE_DIR/schemas), `external` (the broker has one, e.g. AIO's) or `off` (no
    /// inference, no `dataschema`) [default: auto]
    #[arg(long, value_name = "MODE", env = "SSE_CONNECTOR_SCHEMA_REGISTRY")]
    schema_registry: Option<SchemaRegistryMode>,

    /// Namespace of the schemas the embedded schema registry stores (an external registry
    /// has its own) [default: sse-connector]
    #[arg(long, value_name = "NAME", env = "SSE_CONNECTOR_SCHEMA_NAMESPACE")]
    schema_namespace: Option<String>,
}

/// Where `BrokerStateStore` datasets are SET.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StateStoreMode {
    /// The broker's own state store when it answers a probe at start, else `embedded`;
    /// `embedded` with the embedded broker.
    Auto,
    /// Run the embedded state store service on the broker, persisted under
    /// `STATE_DIR/statestore`.
    Embedded,
    /// The broker provides the state store (AIO's); only the client runs.
    External,
    /// No state store: `BrokerStateStore` datasets are reported unsupported.
    Off,
}

impl std::str::FromStr for StateStoreMode {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> anyhow::Result<Self> {
        <Self as clap::ValueEnum>::from_str(text.trim(), true)
            .map_err(|_| anyhow::anyhow!("{text:?}: use auto, embedded, external or off"))
    }
}

/// Where inferred message schemas are registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SchemaRegistryMode {
    /// The broker's own schema registry when it answers a probe at start, else `embedded`;
    /// `embedded` with the embedded broker.
    Auto,
    /// Run the embedded schema registry service on the broker, persisted under
    /// `STATE_DIR/schemas`.
    Embedded,
    /// The broker's clients include a schema registry (AIO's); only the client runs.
    External,
    /// No registry: no schema inference, messages carry no `dataschema`.
    Off,
}

impl std::str::FromStr for SchemaRegistryMode {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> anyhow::Result<Self> {
        <Self as clap::ValueEnum>::from_str(text.trim(), true)
            .map_err(|_| anyhow::anyhow!("{text:?}: use auto, embedded, external or off"))
    }
}

/// The state settings, resolved.
#[derive(Debug)]
pub(super) struct StateSettings {
    pub(super) state_dir: PathBuf,
    pub(super) storage_root: PathBuf,
    pub(super) storage_max_file_bytes: u64,
    pub(super) refused_retry: Duration,
    pub(super) state_store: StateStoreMode,
    pub(super) schema_registry: SchemaRegistryMode,
    pub(super) schema_namespace: String,
}

impl StateArgs {
    /// The options (and their variables), then the config file.
    pub(super) fn resolve(&self, file: &ConfigFile) -> anyhow::Result<StateSettings> {
        let state_store = Setting::option(self.state_store)
            .parse_file(
                file.value("stateStore", file.state_store.as_deref()),
                str::parse,
            )?
            .or(StateStoreMode::Auto);
        let schema_registry = Setting::option(self.schema_registry)
            .parse_file(
                file.value("schemaRegistry", file.schema_registry.as_deref()),
                str::parse,
            )?
            .or(SchemaRegistryMode::Auto);
        let schema_namespace = Setting::parse_option(
            "--schema-namespace",
            self.schema_namespace.clone(),
            namespace,
        )?
        .parse_file(
            file.value("schemaNamespace", file.schema_namespace.clone()),
            namespace,
        )?
        .or_else(|| schema_registry::DEFAULT_NAMESPACE.to_owned());
        let storage_max_file_bytes = Setting::option(self.storage_max_file_bytes.map(|b| b as u64))
            .parse_file(
                file.value("storageMaxFileBytes", file.storage_max_file_bytes.as_ref()),
                SizeValue::bytes,
            )?
            .or(sinks::file::DEFAULT_MAX_FILE_BYTES);
        let refused_retry = Setting::option(self.refused_retry)
            .parse_file(
                file.value("refusedRetry", file.refused_retry.as_deref()),
                values::duration,
            )?
            .or(supervisor::supervisor::DEFAULT_REFUSED_RETRY);
        let state_dir = state_dir(self.state_dir.clone(), file);
        let storage_root = Setting::option(self.storage_root.clone())
            .file(file.value("storageRoot", file.storage_root.clone()))
            .or_else(|| state_dir.join(DEFAULT_STORAGE_DIR));
        Ok(StateSettings {
            state_dir,
            storage_root,
            storage_max_file_bytes,
            refused_retry,
            state_store,
            schema_registry,
            schema_namespace,
        })
    }
}

/// A schema namespace: any text but blanks.
fn namespace(text: String) -> Result<String, &'static str> {
    if text.trim().is_empty() {
        return Err("the namespace is empty");
    }
    Ok(text)
}

/// The state directory: the option (or `SSE_CONNECTOR_STATE_DIR`), the config file's
/// `stateDir`, else `./state`.
fn state_dir(option: Option<PathBuf>, file: &ConfigFile) -> PathBuf {
    Setting::option(option)
        .file(file.value("stateDir", file.state_dir.clone()))
        .or_else(|| PathBuf::from(DEFAULT_STATE_DIR))
}

/// The state directory as `run` resolves it, for the commands that read it; the config file
/// is read only when the option does not give the directory.
///
/// # Errors
/// When the config file cannot be read or parsed.
pub fn resolve_state_dir(config: Option<&Path>, option: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(dir) = option {
        return Ok(dir.to_path_buf());
    }
    Ok(state_dir(None, &ConfigFile::read(config)?))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::super::tests::{config, resolve};
    use super::*;

    #[test]
    fn the_state_store_is_auto_unless_set() {
        let embedded = resolve(&[]).unwrap();
        assert_eq!(embedded.state_store, StateStoreMode::Auto);
        let external = resolve(&["--broker", "mqtt://broker:1883"]).unwrap();
        assert_eq!(external.state_store, StateStoreMode::Auto);
        let option = resolve(&["--broker", "mqtt://b", "--state-store", "external"]).unwrap();
        assert_eq!(option.state_store, StateStoreMode::External);
        let off = resolve(&["--state-store", "off"]).unwrap();
        assert_eq!(off.state_store, StateStoreMode::Off);
        let file = config("broker: mqtt://b\nstateStore: Embedded\n");
        let from_file = resolve(&["--config", file.path().to_str().unwrap()]).unwrap();
        assert_eq!(from_file.state_store, StateStoreMode::Embedded);
        let bad = config("stateStore: sometimes\n");
        let error = resolve(&["--config", bad.path().to_str().unwrap()]).unwrap_err();
        assert!(
            format!("{error:#}").contains("embedded, external or off"),
            "{error:#}"
        );
    }

    #[test]
    fn the_schema_registry_is_auto_unless_set() {
        let embedded = resolve(&[]).unwrap();
        assert_eq!(embedded.schema_registry, SchemaRegistryMode::Auto);
        assert_eq!(
            embedded.schema_namespace,
            schema_registry::DEFAULT_NAMESPACE
        );
        let external = resolve(&["--broker", "mqtt://broker:1883"]).unwrap();
        assert_eq!(external.schema_registry, SchemaRegistryMode::Auto);
        let file = config("schemaRegistry: auto\n");
        let from_file = resolve(&["--config", file.path().to_str().unwrap()]).unwrap();
        assert_eq!(from_file.schema_registry, SchemaRegistryMode::Auto);
        let off = resolve(&["--schema-registry", "off", "--schema-namespace", "ns"]).unwrap();
        assert_eq!(off.schema_registry, SchemaRegistryMode::Off);
        assert_eq!(off.schema_namespace, "ns");
        let file = config("broker: mqtt://b\nschemaRegistry: Embedded\nschemaNamespace: plant\n");
        let from_file = resolve(&["--config", file.path().to_str().unwrap()]).unwrap();
        assert_eq!(from_file.schema_registry, SchemaRegistryMode::Embedded);
        assert_eq!(from_file.schema_namespace, "plant");
        let bad = config("schemaRegistry: sometimes\n");
        let error = resolve(&["--config", bad.path().to_str().unwrap()]).unwrap_err();
        assert!(
            format!("{error:#}").contains("embedded, external or off"),
            "{error:#}"
        );
        assert!(resolve(&["--schema-namespace", " "]).is_err());
    }

    #[test]
    fn storage_rotation_size_from_option_or_file() {
        assert_eq!(
            resolve(&[]).unwrap().storage_max_file_bytes,
            sinks::file::DEFAULT_MAX_FILE_BYTES
        );
        let option = resolve(&["--storage-max-file-bytes", "1MiB"]).unwrap();
        assert_eq!(option.storage_max_file_bytes, 1 << 20);
        for (text, bytes) in [("4096", 4096), ("64KiB", 65_536)] {
            let file = config(&format!("storageMaxFileBytes: {text}\n"));
            let settings = resolve(&["--config", file.path().to_str().unwrap()]).unwrap();
            assert_eq!(settings.storage_max_file_bytes, bytes, "{text}");
        }
    }
}
