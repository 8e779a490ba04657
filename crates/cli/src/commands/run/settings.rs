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

    /// HTTP listener address, or `off` [default: 127.0.0.1:8080]
    #[arg(long, value_name = "ADDR|off", env = "SSE_CONNECTOR_HTTP")]
    pub http: Option<String>,

    /// File holding the bearer token of the HTTP listener (required beyond loopback)
    #[arg(long, value_name = "FILE", env = "SSE_CONNECTOR_HTTP_TOKEN_FILE")]
    pub http_token_file: Option<PathBuf>,
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
    http: Option<String>,
    http_token_file: Option<PathBuf>,
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
    /// HTTP listener.
    pub http: HttpListen,
    /// HTTP token file.
    pub http_token_file: Option<PathBuf>,
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
        let broker_url = self
            .broker
            .clone()
            .or_else(aio_broker_url)
            .or(file.broker.clone());
        let broker = match broker_url.as_deref() {
            None | Some("embedded") => BrokerChoice::Embedded(
                self.embedded_broker_addr
                    .or(file.embedded_broker_addr)
                    .unwrap_or(DEFAULT_EMBEDDED_BROKER),
            ),
            Some(url) => {
                let mut config = MqttConfig::from_url(url).context("--broker")?;
                let ca = self.broker_ca.clone().or(file.broker_ca.clone());
                let cert = self.broker_cert.clone().or(file.broker_cert.clone());
                let key = self.broker_key.clone().or(file.broker_key.clone());
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
                config.username = self
                    .broker_username
                    .clone()
                    .or(file.broker_username.clone());
                config.password_file = self
                    .broker_password_file
                    .clone()
                    .or(file.broker_password_file.clone());
                config.client_id = client_id.clone();
                config.session_expiry = session_expiry;
                config.keep_alive = keep_alive;
                if let Ok(clean) = std::env::var("AIO_MQTT_CLEAN_START") {
                    config.clean_start = clean.trim().eq_ignore_ascii_case("true");
                }
                BrokerChoice::External(Box::new(config))
            }
        };
        let http = match self.http.clone().or(file.http.clone()) {
            Some(text) => text.parse().context("--http")?,
            None => api::listen::DEFAULT_HTTP_ADDR.parse().context("--http")?,
        };
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
            http,
            http_token_file: self.http_token_file.clone().or(file.http_token_file),
        })
    }
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
