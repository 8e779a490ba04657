//! The settings of `run` and `demo`: command line, AIO's environment variables and the config
//! file, resolved into what the runtime needs.
//!
//! Precedence, highest first: a command-line option, its environment variable (our own
//! `SSE_CONNECTOR_*`, or AIO's `AIO_*` for the broker connection), the config file, the
//! default. So the same binary runs unchanged on a laptop (embedded broker, no flags) and in an
//! AIO deployment (the broker from `AIO_BROKER_HOSTNAME`, `AIO_BROKER_TCP_PORT`, ...).
//!
//! # Layout
//! - this module: [`RuntimeArgs`], the options of `run`, and [`RuntimeSettings`], what they
//!   resolve to; each concern resolves its own part.
//! - [`precedence`]: `Setting`, the one place the precedence is applied, by every setting.
//! - [`config_file`]: the YAML config file: reading, its keys, errors naming file and key.
//! - [`broker`]: the broker URL or the embedded broker, TLS, credentials, the MQTT session,
//!   AIO's variables; also the broker of the client commands ([`resolve_client_broker`]).
//! - [`http`]: the HTTP listener, its token file, its allowed host names.
//! - [`state`]: the state directory, the `Storage` files, refused-delivery retries, where the
//!   state store and schema registry run ([`resolve_state_dir`] for other commands).
//! - [`telemetry`]: trace sampling, OTLP, the metric interval, the config file's log keys.

mod broker;
mod config_file;
mod http;
mod precedence;
mod state;
mod telemetry;

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

pub use broker::{BrokerChoice, BrokerCredentials, DEFAULT_EMBEDDED_BROKER, resolve_client_broker};
pub use state::{SchemaRegistryMode, StateStoreMode, resolve_state_dir};
pub use telemetry::TelemetrySettings;

use broker::BrokerArgs;
use config_file::ConfigFile;
use http::HttpArgs;
use state::StateArgs;
use telemetry::TelemetryArgs;

/// Broker and runtime options shared by `run` and `demo`.
#[derive(Debug, Clone, Args)]
pub struct RuntimeArgs {
    /// YAML file with these settings (see docs/configuration.md); options override it
    #[arg(long, value_name = "FILE", env = "SSE_CONNECTOR_CONFIG")]
    config: Option<PathBuf>,

    #[command(flatten)]
    broker: BrokerArgs,

    #[command(flatten)]
    state: StateArgs,

    #[command(flatten)]
    http: HttpArgs,

    #[command(flatten)]
    telemetry: TelemetryArgs,
}

/// Everything `run` needs, resolved.
#[derive(Debug, Clone)]
pub struct RuntimeSettings {
    /// The broker.
    pub broker: BrokerChoice,
    /// MQTT client id.
    pub client_id: String,
    /// `__srcId` of the messages, when not the client id (Akri mode: the SDK's session id,
    /// `CONNECTOR_ID` + `0`).
    pub source_id: Option<String>,
    /// Session expiry and keep-alive, applied to the embedded broker's client too.
    pub session_expiry: Duration,
    /// Keep-alive.
    pub keep_alive: Duration,
    /// State directory.
    pub state_dir: PathBuf,
    /// Root of the `Storage` destinations' files.
    pub storage_root: PathBuf,
    /// Size at which a `Storage` file is rotated.
    pub storage_max_file_bytes: u64,
    /// How often a delivery refused as not authorized or over quota is attempted again.
    pub refused_retry: Duration,
    /// The state store of `BrokerStateStore` datasets.
    pub state_store: StateStoreMode,
    /// The schema registry of inferred message schemas.
    pub schema_registry: SchemaRegistryMode,
    /// The namespace of the embedded schema registry.
    pub schema_namespace: String,
    /// HTTP listener.
    pub http: api::HttpListen,
    /// HTTP token file.
    pub http_token_file: Option<PathBuf>,
    /// The names beyond its address the HTTP listener answers to (`--http-allowed-host`).
    pub http_allowed_hosts: Vec<api::AllowedHost>,
    /// Logs, metrics and traces.
    pub telemetry: TelemetrySettings,
}

impl RuntimeArgs {
    /// Resolves the options, the environment and the config file.
    ///
    /// # Errors
    /// When the config file cannot be read or parsed, or a value is invalid; the message names
    /// the setting and where it came from.
    pub fn resolve(&self) -> anyhow::Result<RuntimeSettings> {
        let file = ConfigFile::read(self.config.as_deref())?;
        let telemetry = self.telemetry.resolve(&file)?;
        let broker = self.broker.resolve(&file)?;
        let state = self.state.resolve(&file)?;
        let http = self.http.resolve(&file)?;
        Ok(RuntimeSettings {
            broker: broker.broker,
            client_id: broker.client_id,
            source_id: None,
            session_expiry: broker.session_expiry,
            keep_alive: broker.keep_alive,
            state_dir: state.state_dir,
            storage_root: state.storage_root,
            storage_max_file_bytes: state.storage_max_file_bytes,
            refused_retry: state.refused_retry,
            state_store: state.state_store,
            schema_registry: state.schema_registry,
            schema_namespace: state.schema_namespace,
            http: http.listen,
            http_token_file: http.token_file,
            http_allowed_hosts: http.allowed_hosts,
            telemetry,
        })
    }
}

/// What the tests of each concern share: `run`'s options parsed and resolved, config files.
#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use clap::Parser;

    use super::{RuntimeArgs, RuntimeSettings};

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        runtime: RuntimeArgs,
    }

    /// `run ARGS`, resolved.
    pub(super) fn resolve(args: &[&str]) -> anyhow::Result<RuntimeSettings> {
        Cli::try_parse_from(std::iter::once("run").chain(args.iter().copied()))?
            .runtime
            .resolve()
    }

    /// A config file holding `text`.
    pub(super) fn config(text: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), text).unwrap();
        file
    }

    #[test]
    fn options_come_before_the_config_file_in_every_concern() {
        let file = config(
            "broker: mqtt://file\nclientId: file\nstateDir: file-state\nhttp: off\n\
             traceSampleRatio: 0.5\n",
        );
        let path = file.path().to_str().unwrap();
        let from_file = resolve(&["--config", path]).unwrap();
        assert_eq!(from_file.client_id, "file");
        assert_eq!(from_file.state_dir.to_str(), Some("file-state"));
        assert_eq!(from_file.storage_root.to_str(), Some("file-state/storage"));
        assert_eq!(from_file.http, api::HttpListen::Off);
        assert!((from_file.telemetry.trace_sample_ratio - 0.5).abs() < f64::EPSILON);
        let options = resolve(&[
            "--config",
            path,
            "--broker",
            "embedded",
            "--client-id",
            "option",
            "--state-dir",
            "option-state",
            "--http",
            "127.0.0.1:9",
            "--trace-sample-ratio",
            "1",
        ])
        .unwrap();
        assert!(matches!(options.broker, super::BrokerChoice::Embedded(_)));
        assert_eq!(options.client_id, "option");
        assert_eq!(options.state_dir.to_str(), Some("option-state"));
        assert_eq!(options.http.to_string(), "127.0.0.1:9");
        assert!((options.telemetry.trace_sample_ratio - 1.0).abs() < f64::EPSILON);
    }
}
