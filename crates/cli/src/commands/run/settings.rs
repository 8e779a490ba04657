//! The settings of `run` and `demo`: command line, AIO's environment variables and the config
//! file, resolved into what the runtime needs.
//!
//! Precedence, highest first: a command-line option, its environment variable (our own
//! `SSE_CONNECTOR_*`, or AIO's `AIO_*` for the broker connection), the config file, the
//! default. So the same binary runs unchanged on a laptop (embedded broker, no flags) and in an
//! AIO deployment (the broker from `AIO_BROKER_HOSTNAME`, `AIO_BROKER_TCP_PORT`, ...).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use api::HttpListen;
use clap::Args;
use serde::Deserialize;
use sinks::mqtt::{MqttConfig, TlsSettings};

use crate::values;

/// Where the state (checkpoints) lives when `--state-dir` is not given.
pub const DEFAULT_STATE_DIR: &str = "state";

/// The storage root below the state directory when `--storage-root` is not given:
/// `STATE_DIR/storage`, so that everything the connector writes is in one place by default.
pub const DEFAULT_STORAGE_DIR: &str = "storage";

/// Where the embedded broker listens by default.
pub const DEFAULT_EMBEDDED_BROKER: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 1883);

/// Broker and runtime options shared by `run` and `demo`.
#[derive(Debug, Clone, Args)]
pub struct RuntimeArgs {
    /// YAML file with these settings (see docs/configuration.md); options override it
    #[arg(long, value_name = "FILE", env = "SSE_CONNECTOR_CONFIG")]
    pub config: Option<PathBuf>,

    /// MQTT broker: mqtt://HOST[:PORT], mqtts://HOST[:PORT], or `embedded` (the default
    /// when no broker is configured anywhere)
    #[arg(
        long,
        value_name = "URL|embedded",
        env = "SSE_CONNECTOR_BROKER",
        help_heading = "Broker"
    )]
    pub broker: Option<String>,

    /// Address of the embedded broker [default: 127.0.0.1:1883]
    #[arg(long, value_name = "ADDR", help_heading = "Broker")]
    pub embedded_broker_addr: Option<SocketAddr>,

    #[command(flatten)]
    pub credentials: BrokerCredentials,

    /// MQTT client id; keep it stable so the broker resumes the session [default: sse-connector]
    #[arg(
        long,
        value_name = "ID",
        env = "AIO_MQTT_CLIENT_ID",
        help_heading = "Broker"
    )]
    pub client_id: Option<String>,

    /// How long the broker keeps the session while disconnected [default: 1h]
    #[arg(long, value_name = "DURATION", value_parser = values::duration, help_heading = "Broker")]
    pub session_expiry: Option<Duration>,

    /// MQTT keep-alive interval [default: 30s]
    #[arg(long, value_name = "DURATION", value_parser = values::duration, help_heading = "Broker")]
    pub keep_alive: Option<Duration>,

    /// Directory for checkpoints and other state [default: ./state]
    #[arg(long, value_name = "DIR", env = "SSE_CONNECTOR_STATE_DIR")]
    pub state_dir: Option<PathBuf>,

    /// Root of the files of `Storage` destinations [default: STATE_DIR/storage]
    #[arg(long, value_name = "DIR", env = "SSE_CONNECTOR_STORAGE_ROOT")]
    pub storage_root: Option<PathBuf>,

    /// How often a delivery the broker refused as not authorized or over quota is attempted
    /// again (other failed deliveries follow the stream's backoff) [default: 30s]
    #[arg(long, value_name = "DURATION", value_parser = values::duration, env = "SSE_CONNECTOR_REFUSED_RETRY")]
    pub refused_retry: Option<Duration>,

    /// Largest size of a `Storage` file before it is rotated (e.g. 64MiB) [default: 64MiB]
    #[arg(long, value_name = "SIZE", value_parser = values::byte_size, env = "SSE_CONNECTOR_STORAGE_MAX_FILE_BYTES")]
    pub storage_max_file_bytes: Option<usize>,

    /// State store of `BrokerStateStore` datasets: `auto` (the broker's own when it answers,
    /// else `embedded`), `embedded` (run one on the broker, persisted under
    /// STATE_DIR/statestore), `external` (the broker has one, e.g. AIO's) or `off`
    /// [default: auto]
    #[arg(long, value_name = "MODE", env = "SSE_CONNECTOR_STATE_STORE")]
    pub state_store: Option<StateStoreMode>,

    /// Schema registry of inferred message schemas: `auto` (the broker's own when it
    /// answers, else `embedded`), `embedded` (run one on the broker, persisted under
    /// STATE_DIR/schemas), `external` (the broker has one, e.g. AIO's) or `off` (no
    /// inference, no `dataschema`) [default: auto]
    #[arg(long, value_name = "MODE", env = "SSE_CONNECTOR_SCHEMA_REGISTRY")]
    pub schema_registry: Option<SchemaRegistryMode>,

    /// Namespace of the schemas the embedded schema registry stores (an external registry
    /// has its own) [default: sse-connector]
    #[arg(long, value_name = "NAME", env = "SSE_CONNECTOR_SCHEMA_NAMESPACE")]
    pub schema_namespace: Option<String>,

    /// HTTP listener address, or `off` [default: 127.0.0.1:8080]
    #[arg(long, value_name = "ADDR|off", env = "SSE_CONNECTOR_HTTP")]
    pub http: Option<String>,

    /// File holding the bearer token of the HTTP listener (required beyond loopback)
    #[arg(long, value_name = "FILE", env = "SSE_CONNECTOR_HTTP_TOKEN_FILE")]
    pub http_token_file: Option<PathBuf>,

    /// A DNS name (or address) the HTTP listener is reached by, beyond its address, loopback
    /// and localhost, e.g. the machine's name or a reverse proxy's; requests naming any other
    /// host are refused (DNS rebinding). Repeat it, or separate names with commas
    #[arg(
        long = "http-allowed-host",
        value_name = "NAME",
        env = "SSE_CONNECTOR_HTTP_ALLOWED_HOSTS",
        value_delimiter = ','
    )]
    pub http_allowed_hosts: Vec<String>,

    #[command(flatten)]
    pub telemetry: TelemetryArgs,
}

/// Telemetry options of `run` (see docs/telemetry.md). `--log-format` and `--log-level` are
/// global options of the binary (main.rs); the config file's `logFormat` and `logLevel`
/// apply when neither they nor `RUST_LOG` are given.
#[derive(Debug, Clone, Default, Args)]
pub struct TelemetryArgs {
    /// Share of events traced with a span and a `traceparent` user property, 0 to 1, when
    /// traces are exported [default: 0.01]
    #[arg(
        long,
        value_name = "RATIO",
        env = "SSE_CONNECTOR_TRACE_SAMPLE_RATIO",
        help_heading = "Telemetry"
    )]
    pub trace_sample_ratio: Option<f64>,

    /// OTLP endpoint of every signal (metrics, traces, logs); AIO's `OTLP_*_ENDPOINT` and the
    /// per-signal `OTEL_EXPORTER_OTLP_*_ENDPOINT` variables override it per signal
    #[arg(
        long,
        value_name = "URL",
        env = "OTEL_EXPORTER_OTLP_ENDPOINT",
        help_heading = "Telemetry"
    )]
    pub otlp_endpoint: Option<String>,

    /// OTLP protocol of --otlp-endpoint: `http/protobuf` or `grpc` (a build with the
    /// otlp-grpc feature) [default: http/protobuf]
    #[arg(
        long,
        value_name = "PROTOCOL",
        env = "OTEL_EXPORTER_OTLP_PROTOCOL",
        help_heading = "Telemetry"
    )]
    pub otlp_protocol: Option<String>,

    /// How often metrics are exported over OTLP (`OTEL_METRIC_EXPORT_INTERVAL` gives it in
    /// milliseconds) [default: 60s]
    #[arg(long, value_name = "DURATION", value_parser = values::duration, help_heading = "Telemetry")]
    pub metric_export_interval: Option<Duration>,
}

/// Telemetry settings, resolved.
#[derive(Debug, Clone)]
pub struct TelemetrySettings {
    /// The config file's log level (applied unless `RUST_LOG` or `--log-level` was given).
    pub log_level: Option<String>,
    /// The config file's log format (applied unless `--log-format` was given).
    pub log_format: Option<telemetry::logs::LogFormat>,
    /// Share of events traced.
    pub trace_sample_ratio: f64,
    /// The general OTLP endpoint and protocol.
    pub otlp: telemetry::OtlpSettings,
    /// Metric export interval.
    pub metric_interval: Duration,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        Self {
            log_level: None,
            log_format: None,
            trace_sample_ratio: telemetry::traces::DEFAULT_SAMPLE_RATIO,
            otlp: telemetry::OtlpSettings::default(),
            metric_interval: telemetry::otlp::DEFAULT_METRIC_INTERVAL,
        }
    }
}

impl TelemetryArgs {
    /// The options, then the environment, then the config file's keys.
    fn resolve(&self, file: &ConfigFile) -> anyhow::Result<TelemetrySettings> {
        let ratio = self
            .trace_sample_ratio
            .or(file.trace_sample_ratio)
            .unwrap_or(telemetry::traces::DEFAULT_SAMPLE_RATIO);
        if !(0.0..=1.0).contains(&ratio) {
            bail!("--trace-sample-ratio {ratio}: give a number from 0 to 1");
        }
        let protocol = match self.otlp_protocol.as_ref().or(file.otlp_protocol.as_ref()) {
            Some(text) => Some(text.parse().context("--otlp-protocol")?),
            None => None,
        };
        let metric_interval = match (self.metric_export_interval, &file.metric_export_interval) {
            (Some(interval), _) => interval,
            (None, file_value) => match telemetry::metric_interval_from_env() {
                Some(interval) => interval,
                None => match file_value {
                    Some(text) => values::duration(text)
                        .map_err(|e| anyhow::anyhow!("config file: metricExportInterval: {e}"))?,
                    None => telemetry::otlp::DEFAULT_METRIC_INTERVAL,
                },
            },
        };
        if metric_interval.is_zero() {
            bail!("--metric-export-interval: the interval is zero");
        }
        let log_format = match &file.log_format {
            Some(text) => Some(text.parse().context("config file: logFormat")?),
            None => None,
        };
        if let Some(level) = &file.log_level {
            telemetry::logs::filter(level).context("config file: logLevel")?;
        }
        Ok(TelemetrySettings {
            log_level: file.log_level.clone(),
            log_format,
            trace_sample_ratio: ratio,
            otlp: telemetry::OtlpSettings {
                endpoint: self.otlp_endpoint.clone().or(file.otlp_endpoint.clone()),
                protocol,
            },
            metric_interval,
        })
    }
}

/// How to authenticate to the broker and verify it: shared by `run`, `demo` and `state`.
#[derive(Debug, Clone, Default, Args)]
pub struct BrokerCredentials {
    /// Extra CA certificates (PEM) to verify the broker with
    #[arg(
        long,
        value_name = "PEM",
        env = "AIO_TLS_CA_FILE",
        help_heading = "Broker"
    )]
    pub broker_ca: Option<PathBuf>,

    /// Client certificate (PEM) for brokers that authenticate by certificate
    #[arg(
        long,
        value_name = "PEM",
        env = "AIO_TLS_CERT_FILE",
        requires = "broker_key",
        help_heading = "Broker"
    )]
    pub broker_cert: Option<PathBuf>,

    /// Private key of --broker-cert (PEM)
    #[arg(
        long,
        value_name = "PEM",
        env = "AIO_TLS_KEY_FILE",
        requires = "broker_cert",
        help_heading = "Broker"
    )]
    pub broker_key: Option<PathBuf>,

    /// User name for the broker
    #[arg(
        long,
        value_name = "NAME",
        env = "AIO_MQTT_USERNAME",
        help_heading = "Broker"
    )]
    pub broker_username: Option<String>,

    /// File holding the broker password (never on the command line)
    #[arg(
        long,
        value_name = "FILE",
        env = "AIO_MQTT_PASSWORD_FILE",
        help_heading = "Broker"
    )]
    pub broker_password_file: Option<PathBuf>,
}

/// The config file: the same settings as the options, in YAML.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ConfigFile {
    broker: Option<String>,
    embedded_broker_addr: Option<SocketAddr>,
    broker_ca: Option<PathBuf>,
    broker_cert: Option<PathBuf>,
    broker_key: Option<PathBuf>,
    broker_username: Option<String>,
    broker_password_file: Option<PathBuf>,
    client_id: Option<String>,
    session_expiry: Option<String>,
    keep_alive: Option<String>,
    state_dir: Option<PathBuf>,
    storage_root: Option<PathBuf>,
    storage_max_file_bytes: Option<SizeValue>,
    refused_retry: Option<String>,
    state_store: Option<String>,
    schema_registry: Option<String>,
    schema_namespace: Option<String>,
    http: Option<String>,
    http_token_file: Option<PathBuf>,
    http_allowed_hosts: Option<Vec<String>>,
    // Telemetry (docs/telemetry.md).
    log_level: Option<String>,
    log_format: Option<String>,
    trace_sample_ratio: Option<f64>,
    otlp_endpoint: Option<String>,
    otlp_protocol: Option<String>,
    metric_export_interval: Option<String>,
}

/// A size in the config file: a number of bytes, or text with a unit (`64MiB`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum SizeValue {
    Bytes(u64),
    Text(String),
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

/// Which broker the connector publishes to.
#[derive(Debug, Clone)]
pub enum BrokerChoice {
    /// Start the embedded broker on this address and publish to it.
    Embedded(SocketAddr),
    /// Publish to an external broker.
    External(Box<MqttConfig>),
}

/// Everything `run` needs, resolved.
#[derive(Debug, Clone)]
pub struct RuntimeSettings {
    /// The broker.
    pub broker: BrokerChoice,
    /// MQTT client id.
    pub client_id: String,
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
    pub http: HttpListen,
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
        let file = match &self.config {
            Some(path) => read_config(path)?,
            None => ConfigFile::default(),
        };
        let telemetry = self.telemetry.resolve(&file)?;
        let duration = |cli: Option<Duration>,
                        env: &str,
                        file: &Option<String>,
                        default: Duration| {
            if let Some(value) = cli {
                return Ok(value);
            }
            if let Ok(seconds) = std::env::var(env) {
                return seconds
                    .trim()
                    .parse::<u64>()
                    .map(Duration::from_secs)
                    .map_err(|_| anyhow::anyhow!("{env}={seconds:?} is not a number of seconds"));
            }
            match file {
                Some(text) => {
                    values::duration(text).map_err(|e| anyhow::anyhow!("config file: {e}"))
                }
                None => Ok(default),
            }
        };
        let client_id = self
            .client_id
            .clone()
            .or(file.client_id.clone())
            .unwrap_or_else(|| sinks::mqtt::config::DEFAULT_CLIENT_ID.to_owned());
        let session_expiry = duration(
            self.session_expiry,
            "AIO_MQTT_SESSION_EXPIRY",
            &file.session_expiry,
            Duration::from_secs(3600),
        )?;
        let keep_alive = duration(
            self.keep_alive,
            "AIO_MQTT_KEEP_ALIVE",
            &file.keep_alive,
            Duration::from_secs(30),
        )?;
        let broker = match broker_url(self.broker.as_ref(), &file).as_deref() {
            None | Some("embedded") => BrokerChoice::Embedded(
                self.embedded_broker_addr
                    .or(file.embedded_broker_addr)
                    .unwrap_or(DEFAULT_EMBEDDED_BROKER),
            ),
            Some(url) => {
                let mut config = external_broker(url, &self.credentials, &file)?;
                config.client_id = client_id.clone();
                config.session_expiry = session_expiry;
                config.keep_alive = keep_alive;
                if let Ok(clean) = std::env::var("AIO_MQTT_CLEAN_START") {
                    config.clean_start = clean.trim().eq_ignore_ascii_case("true");
                }
                BrokerChoice::External(Box::new(config))
            }
        };
        let state_store = match (self.state_store, &file.state_store) {
            (Some(mode), _) => mode,
            (None, Some(text)) => text.parse().context("config file: stateStore")?,
            (None, None) => StateStoreMode::Auto,
        };
        let schema_registry = match (self.schema_registry, &file.schema_registry) {
            (Some(mode), _) => mode,
            (None, Some(text)) => text.parse().context("config file: schemaRegistry")?,
            (None, None) => SchemaRegistryMode::Auto,
        };
        let schema_namespace = self
            .schema_namespace
            .clone()
            .or(file.schema_namespace)
            .unwrap_or_else(|| schema_registry::DEFAULT_NAMESPACE.to_owned());
        if schema_namespace.trim().is_empty() {
            bail!("--schema-namespace: the namespace is empty");
        }
        let storage_max_file_bytes =
            match (self.storage_max_file_bytes, &file.storage_max_file_bytes) {
                (Some(bytes), _) => bytes as u64,
                (None, Some(SizeValue::Bytes(bytes))) => *bytes,
                (None, Some(SizeValue::Text(text))) => values::byte_size(text)
                    .map_err(|e| anyhow::anyhow!("config file: storageMaxFileBytes: {e}"))?
                    as u64,
                (None, None) => sinks::file::DEFAULT_MAX_FILE_BYTES,
            };
        let refused_retry = match (self.refused_retry, &file.refused_retry) {
            (Some(every), _) => every,
            (None, Some(text)) => values::duration(text)
                .map_err(|e| anyhow::anyhow!("config file: refusedRetry: {e}"))?,
            (None, None) => supervisor::supervisor::DEFAULT_REFUSED_RETRY,
        };
        if refused_retry.is_zero() {
            bail!("--refused-retry: the interval must be more than zero");
        }
        let http = match self.http.clone().or(file.http.clone()) {
            Some(text) => text.parse().context("--http")?,
            None => api::listen::DEFAULT_HTTP_ADDR.parse().context("--http")?,
        };
        let http_allowed_hosts = if self.http_allowed_hosts.is_empty() {
            file.http_allowed_hosts.clone().unwrap_or_default()
        } else {
            self.http_allowed_hosts.clone()
        }
        .iter()
        .map(|name| name.parse().context("--http-allowed-host"))
        .collect::<anyhow::Result<_>>()?;
        let state_dir = self
            .state_dir
            .clone()
            .or(file.state_dir)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_DIR));
        let storage_root = self
            .storage_root
            .clone()
            .or(file.storage_root)
            .unwrap_or_else(|| state_dir.join(DEFAULT_STORAGE_DIR));
        Ok(RuntimeSettings {
            broker,
            client_id,
            session_expiry,
            keep_alive,
            state_dir,
            storage_root,
            storage_max_file_bytes,
            refused_retry,
            state_store,
            schema_registry,
            schema_namespace,
            http,
            http_token_file: self.http_token_file.clone().or(file.http_token_file),
            http_allowed_hosts,
            telemetry,
        })
    }
}

/// The broker URL (or `embedded`) from the option or `SSE_CONNECTOR_BROKER`, AIO's variables,
/// or the config file, in that order; `None` when none gives one.
fn broker_url(option: Option<&String>, file: &ConfigFile) -> Option<String> {
    option
        .cloned()
        .or_else(aio_broker_url)
        .or(file.broker.clone())
}

/// The connection settings of an external broker at `url` with its TLS files and
/// credentials (options first, then the config file).
fn external_broker(
    url: &str,
    credentials: &BrokerCredentials,
    file: &ConfigFile,
) -> anyhow::Result<MqttConfig> {
    let mut config = MqttConfig::from_url(url).context("--broker")?;
    let ca = credentials.broker_ca.clone().or(file.broker_ca.clone());
    let cert = credentials.broker_cert.clone().or(file.broker_cert.clone());
    let key = credentials.broker_key.clone().or(file.broker_key.clone());
    if ca.is_some() || cert.is_some() {
        let Some(tls) = config.tls.as_mut() else {
            bail!("--broker-ca and --broker-cert need a TLS broker URL (mqtts://)");
        };
        *tls = TlsSettings {
            ca_file: ca,
            client_cert: cert,
            client_key: key,
        };
    }
    config.username = credentials
        .broker_username
        .clone()
        .or(file.broker_username.clone());
    config.password_file = credentials
        .broker_password_file
        .clone()
        .or(file.broker_password_file.clone());
    Ok(config)
}

/// The broker of a client command (`state`), resolved like `run` resolves its own.
#[derive(Debug, Clone)]
pub struct ClientBroker {
    /// The broker's connection settings; the client id is the caller's to set.
    pub mqtt: MqttConfig,
    /// `mqtt://HOST:PORT` or `mqtts://HOST:PORT`, for messages.
    pub url: String,
}

/// Resolves the broker of a client command like `run` resolves its own (the same options,
/// environment variables and config file), except that "embedded" (or nothing configured)
/// means the embedded broker of a connector running here: `embeddedBrokerAddr` from the
/// config file, else `127.0.0.1:1883`.
///
/// # Errors
/// When the config file cannot be read or a value is invalid.
pub fn resolve_client_broker(
    config: Option<&Path>,
    broker: Option<&String>,
    credentials: &BrokerCredentials,
) -> anyhow::Result<ClientBroker> {
    let file = match config {
        Some(path) => read_config(path)?,
        None => ConfigFile::default(),
    };
    let mqtt = match broker_url(broker, &file).as_deref() {
        None | Some("embedded") => {
            let addr = file.embedded_broker_addr.unwrap_or(DEFAULT_EMBEDDED_BROKER);
            if addr.port() == 0 {
                bail!(
                    "the embedded broker's port is chosen at start (embeddedBrokerAddr {addr}); \
                     give the broker with --broker mqtt://HOST:PORT"
                );
            }
            let host = if addr.ip().is_unspecified() {
                "127.0.0.1".to_owned()
            } else {
                addr.ip().to_string()
            };
            MqttConfig::new(host, addr.port())
        }
        Some(url) => external_broker(url, credentials, &file)?,
    };
    let scheme = if mqtt.tls.is_some() { "mqtts" } else { "mqtt" };
    let url = format!("{scheme}://{}:{}", mqtt.host, mqtt.port);
    Ok(ClientBroker { mqtt, url })
}

/// The state directory as `run` resolves it: the option (or `SSE_CONNECTOR_STATE_DIR`), the
/// config file's `stateDir`, else `./state`.
///
/// # Errors
/// When the config file cannot be read or parsed.
pub fn resolve_state_dir(config: Option<&Path>, option: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(dir) = option {
        return Ok(dir.to_path_buf());
    }
    let file = match config {
        Some(path) => read_config(path)?,
        None => ConfigFile::default(),
    };
    Ok(file
        .state_dir
        .unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_DIR)))
}

/// AIO's variables for the broker: `AIO_BROKER_HOSTNAME`, `AIO_BROKER_TCP_PORT` (default
/// 8883) and `AIO_MQTT_USE_TLS` (default true), as a broker URL.
fn aio_broker_url() -> Option<String> {
    let host = std::env::var("AIO_BROKER_HOSTNAME").ok()?;
    let port = std::env::var("AIO_BROKER_TCP_PORT").unwrap_or_else(|_| "8883".to_owned());
    let tls =
        std::env::var("AIO_MQTT_USE_TLS").map_or(true, |v| !v.trim().eq_ignore_ascii_case("false"));
    let scheme = if tls { "mqtts" } else { "mqtt" };
    Some(format!("{scheme}://{}:{}", host.trim(), port.trim()))
}

fn read_config(path: &Path) -> anyhow::Result<ConfigFile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the config file {}", path.display()))?;
    serde_saphyr::from_str(&text).with_context(|| format!("config file {}", path.display()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        runtime: RuntimeArgs,
    }

    fn resolve(args: &[&str]) -> anyhow::Result<RuntimeSettings> {
        Cli::try_parse_from(std::iter::once("run").chain(args.iter().copied()))?
            .runtime
            .resolve()
    }

    fn config(text: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), text).unwrap();
        file
    }

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
    fn allowed_http_hosts_from_options_or_file() {
        let names = |s: &RuntimeSettings| -> Vec<String> {
            s.http_allowed_hosts
                .iter()
                .map(ToString::to_string)
                .collect()
        };
        assert!(resolve(&[]).unwrap().http_allowed_hosts.is_empty());
        let options = resolve(&[
            "--http-allowed-host",
            "GW.plant.example",
            "--http-allowed-host",
            "proxy.example,10.0.0.5",
        ])
        .unwrap();
        assert_eq!(
            names(&options),
            ["gw.plant.example", "proxy.example", "10.0.0.5"]
        );
        let file = config("httpAllowedHosts: [gw.plant.example, \"fd00::5\"]\n");
        let path = file.path().to_str().unwrap();
        let from_file = resolve(&["--config", path]).unwrap();
        assert_eq!(names(&from_file), ["gw.plant.example", "[fd00::5]"]);
        let option_wins =
            resolve(&["--config", path, "--http-allowed-host", "other.example"]).unwrap();
        assert_eq!(names(&option_wins), ["other.example"]);
        let error = resolve(&["--http-allowed-host", "http://gw:8080"]).unwrap_err();
        assert!(
            format!("{error:#}").contains("--http-allowed-host"),
            "{error:#}"
        );
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

    #[test]
    fn telemetry_from_options_or_file() {
        let defaults = resolve(&[]).unwrap().telemetry;
        assert!((defaults.trace_sample_ratio - 0.01).abs() < f64::EPSILON);
        assert_eq!(defaults.log_format, None);
        let option = resolve(&[
            "--trace-sample-ratio",
            "1",
            "--otlp-endpoint",
            "http://c:4318",
        ])
        .unwrap()
        .telemetry;
        assert!((option.trace_sample_ratio - 1.0).abs() < f64::EPSILON);
        assert_eq!(option.otlp.endpoint.as_deref(), Some("http://c:4318"));
        assert!(resolve(&["--trace-sample-ratio", "1.5"]).is_err());
        let file = config(
            "logLevel: debug\nlogFormat: json\ntraceSampleRatio: 0\notlpEndpoint: http://f:4318\n\
             otlpProtocol: http/protobuf\nmetricExportInterval: 5s\n",
        );
        let from_file = resolve(&["--config", file.path().to_str().unwrap()])
            .unwrap()
            .telemetry;
        assert_eq!(from_file.log_level.as_deref(), Some("debug"));
        assert_eq!(from_file.log_format, Some(telemetry::logs::LogFormat::Json));
        assert!(from_file.trace_sample_ratio.abs() < f64::EPSILON);
        assert_eq!(from_file.metric_interval, Duration::from_secs(5));
        assert_eq!(
            from_file.otlp.protocol,
            Some(telemetry::Protocol::HttpProtobuf)
        );
        let bad = config("logFormat: xml\n");
        assert!(resolve(&["--config", bad.path().to_str().unwrap()]).is_err());
    }

    #[test]
    fn a_client_finds_the_embedded_broker_of_a_running_connector() {
        let none = resolve_client_broker(None, None, &BrokerCredentials::default()).unwrap();
        assert_eq!(none.url, "mqtt://127.0.0.1:1883");
        let file = config("broker: embedded\nembeddedBrokerAddr: 0.0.0.0:1999\n");
        let from_file =
            resolve_client_broker(Some(file.path()), None, &BrokerCredentials::default()).unwrap();
        assert_eq!(from_file.url, "mqtt://127.0.0.1:1999");
        let external = "mqtts://broker.example".to_owned();
        let given = resolve_client_broker(
            Some(file.path()),
            Some(&external),
            &BrokerCredentials::default(),
        )
        .unwrap();
        assert_eq!(given.url, "mqtts://broker.example:8883");
        let any_port = config("embeddedBrokerAddr: 127.0.0.1:0\n");
        assert!(
            resolve_client_broker(Some(any_port.path()), None, &BrokerCredentials::default())
                .is_err()
        );
    }
}
