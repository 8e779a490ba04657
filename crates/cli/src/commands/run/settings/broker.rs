//! The broker settings: which broker (an external one's URL, or the embedded one), TLS and
//! credentials, the MQTT session (client id, session expiry, keep-alive), and AIO's `AIO_*`
//! variables that give them in an AIO deployment.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use aio_mqtt::{MqttConfig, TlsSettings};
use anyhow::{Context as _, bail};
use clap::Args;

use super::config_file::ConfigFile;
use super::precedence::Setting;
use crate::values;

/// Where the embedded broker listens by default.
pub const DEFAULT_EMBEDDED_BROKER: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 1883);

/// How long the broker keeps the session when `--session-expiry` is not given.
const DEFAULT_SESSION_EXPIRY: Duration = Duration::from_secs(3600);

/// The keep-alive when `--keep-alive` is not given.
const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(30);

/// The broker options of `run`.
#[derive(Debug, Clone, Args)]
pub(super) struct BrokerArgs {
    /// MQTT broker: mqtt://HOST[:PORT], mqtts://HOST[:PORT], or `embedded` (the default
    /// when no broker is configured anywhere)
    #[arg(
        long,
        value_name = "URL|embedded",
        env = "SSE_CONNECTOR_BROKER",
        help_heading = "Broker"
    )]
    broker: Option<String>,

    /// Address of the embedded broker [default: 127.0.0.1:1883]
    #[arg(long, value_name = "ADDR", help_heading = "Broker")]
    embedded_broker_addr: Option<SocketAddr>,

    #[command(flatten)]
    credentials: BrokerCredentials,

    /// MQTT client id; keep it stable so the broker resumes the session [default: sse-connector]
    #[arg(
        long,
        value_name = "ID",
        env = "AIO_MQTT_CLIENT_ID",
        help_heading = "Broker"
    )]
    client_id: Option<String>,

    /// How long the broker keeps the session while disconnected [default: 1h]
    #[arg(long, value_name = "DURATION", value_parser = values::duration, help_heading = "Broker")]
    session_expiry: Option<Duration>,

    /// MQTT keep-alive interval [default: 30s]
    #[arg(long, value_name = "DURATION", value_parser = values::duration, help_heading = "Broker")]
    keep_alive: Option<Duration>,
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

    /// File holding the password of --broker-key when it is an encrypted PKCS#8 key
    #[arg(
        long,
        value_name = "FILE",
        env = "AIO_TLS_KEY_PASSWORD_FILE",
        help_heading = "Broker"
    )]
    pub broker_key_password_file: Option<PathBuf>,

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

    /// Kubernetes service account token file: authenticate with K8S-SAT (re-read at each
    /// connect; a rotated token reconnects)
    #[arg(
        long,
        value_name = "FILE",
        env = "AIO_SAT_FILE",
        help_heading = "Broker"
    )]
    pub broker_sat_file: Option<PathBuf>,
}

/// Which broker the connector publishes to.
#[derive(Debug, Clone)]
pub enum BrokerChoice {
    /// Start the embedded broker on this address and publish to it.
    Embedded(SocketAddr),
    /// Publish to an external broker.
    External(Box<MqttConfig>),
}

/// The broker settings, resolved.
#[derive(Debug)]
pub(super) struct BrokerSettings {
    pub(super) broker: BrokerChoice,
    pub(super) client_id: String,
    pub(super) session_expiry: Duration,
    pub(super) keep_alive: Duration,
}

impl BrokerArgs {
    /// The options, then the environment (AIO's variables), then the config file.
    pub(super) fn resolve(&self, file: &ConfigFile) -> anyhow::Result<BrokerSettings> {
        let client_id = Setting::option(self.client_id.clone())
            .file(file.value("clientId", file.client_id.clone()))
            .or_else(|| aio_mqtt::config::DEFAULT_CLIENT_ID.to_owned());
        let session_expiry = Setting::option(self.session_expiry)
            .env(|| aio_seconds("AIO_MQTT_SESSION_EXPIRY"))?
            .parse_file(
                file.value("sessionExpiry", file.session_expiry.as_deref()),
                values::duration,
            )?
            .or(DEFAULT_SESSION_EXPIRY);
        let keep_alive = Setting::option(self.keep_alive)
            .env(|| aio_seconds("AIO_MQTT_KEEP_ALIVE"))?
            .parse_file(
                file.value("keepAlive", file.keep_alive.as_deref()),
                values::duration,
            )?
            .or(DEFAULT_KEEP_ALIVE);
        let broker = match broker_target(self.broker.as_deref(), file)? {
            None | Some(BrokerTarget::Embedded) => BrokerChoice::Embedded(
                Setting::option(self.embedded_broker_addr)
                    .file(file.value("embeddedBrokerAddr", file.embedded_broker_addr))
                    .or(DEFAULT_EMBEDDED_BROKER),
            ),
            Some(BrokerTarget::External(mut config)) => {
                with_credentials(&mut config, &self.credentials, file)?;
                config.client_id.clone_from(&client_id);
                config.session_expiry = session_expiry;
                config.keep_alive = keep_alive;
                if let Ok(clean) = std::env::var("AIO_MQTT_CLEAN_START") {
                    config.clean_start = clean.trim().eq_ignore_ascii_case("true");
                }
                BrokerChoice::External(config)
            }
        };
        Ok(BrokerSettings {
            broker,
            client_id,
            session_expiry,
            keep_alive,
        })
    }
}

/// The broker a URL (or `embedded`) names.
enum BrokerTarget {
    Embedded,
    External(Box<MqttConfig>),
}

impl BrokerTarget {
    /// `embedded`, or the URL of an external broker.
    fn parse(text: &str) -> anyhow::Result<Self> {
        if text == "embedded" {
            return Ok(Self::Embedded);
        }
        Ok(Self::External(Box::new(MqttConfig::from_url(text)?)))
    }
}

/// The broker from the option (or `SSE_CONNECTOR_BROKER`), AIO's variables, or the config
/// file, in that order; `None` when none gives one.
fn broker_target(option: Option<&str>, file: &ConfigFile) -> anyhow::Result<Option<BrokerTarget>> {
    Ok(
        Setting::parse_option("--broker", option, BrokerTarget::parse)?
            .env(aio_broker)?
            .parse_file(
                file.value("broker", file.broker.as_deref()),
                BrokerTarget::parse,
            )?
            .found(),
    )
}

/// Sets the TLS files and credentials of an external broker (options first, then the config
/// file).
fn with_credentials(
    config: &mut MqttConfig,
    credentials: &BrokerCredentials,
    file: &ConfigFile,
) -> anyhow::Result<()> {
    let path = |option: &Option<PathBuf>, key, value: &Option<PathBuf>| {
        Setting::option(option.clone())
            .file(file.value(key, value.clone()))
            .found()
    };
    let ca = path(&credentials.broker_ca, "brokerCa", &file.broker_ca);
    let cert = path(&credentials.broker_cert, "brokerCert", &file.broker_cert);
    let key = path(&credentials.broker_key, "brokerKey", &file.broker_key);
    let key_password = credentials.broker_key_password_file.clone();
    if ca.is_some() || cert.is_some() || key_password.is_some() {
        let Some(tls) = config.tls.as_mut() else {
            bail!(
                "--broker-ca, --broker-cert and --broker-key-password-file need a TLS broker URL (mqtts://)"
            );
        };
        *tls = TlsSettings {
            ca_file: ca,
            client_cert: cert,
            client_key: key,
            client_key_password_file: key_password,
        };
    }
    config.username = Setting::option(credentials.broker_username.clone())
        .file(file.value("brokerUsername", file.broker_username.clone()))
        .found();
    config.password_file = path(
        &credentials.broker_password_file,
        "brokerPasswordFile",
        &file.broker_password_file,
    );
    config.sat_file.clone_from(&credentials.broker_sat_file);
    Ok(())
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
    let file = ConfigFile::read(config)?;
    let mqtt = match broker_target(broker.map(String::as_str), &file)? {
        None | Some(BrokerTarget::Embedded) => {
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
        Some(BrokerTarget::External(mut config)) => {
            with_credentials(&mut config, credentials, &file)?;
            *config
        }
    };
    let scheme = if mqtt.tls.is_some() { "mqtts" } else { "mqtt" };
    let url = format!("{scheme}://{}:{}", mqtt.host, mqtt.port);
    Ok(ClientBroker { mqtt, url })
}

/// AIO's variables for the broker: `AIO_BROKER_HOSTNAME`, `AIO_BROKER_TCP_PORT` (default
/// 8883) and `AIO_MQTT_USE_TLS` (default true); `None` without `AIO_BROKER_HOSTNAME`.
fn aio_broker() -> anyhow::Result<Option<BrokerTarget>> {
    let Ok(host) = std::env::var("AIO_BROKER_HOSTNAME") else {
        return Ok(None);
    };
    let port = std::env::var("AIO_BROKER_TCP_PORT").unwrap_or_else(|_| "8883".to_owned());
    let tls =
        std::env::var("AIO_MQTT_USE_TLS").map_or(true, |v| !v.trim().eq_ignore_ascii_case("false"));
    let scheme = if tls { "mqtts" } else { "mqtt" };
    let url = format!("{scheme}://{}:{}", host.trim(), port.trim());
    BrokerTarget::parse(&url)
        .map(Some)
        .with_context(|| format!("AIO_BROKER_HOSTNAME, AIO_BROKER_TCP_PORT: {url}"))
}

/// One of AIO's durations: a whole number of seconds in the variable `name`, when set.
fn aio_seconds(name: &str) -> anyhow::Result<Option<Duration>> {
    let Ok(seconds) = std::env::var(name) else {
        return Ok(None);
    };
    seconds
        .trim()
        .parse::<u64>()
        .map(|s| Some(Duration::from_secs(s)))
        .map_err(|_| anyhow::anyhow!("{name}={seconds:?} is not a number of seconds"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::super::tests::config;
    use super::*;

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

    #[test]
    fn the_token_and_the_key_password_reach_the_mqtt_settings() {
        let credentials = BrokerCredentials {
            broker_sat_file: Some("/var/run/secrets/tokens/broker-sat".into()),
            broker_key_password_file: Some("/secrets/key.pass".into()),
            ..BrokerCredentials::default()
        };
        let tls = "mqtts://aio-broker:18883".to_owned();
        let broker = resolve_client_broker(None, Some(&tls), &credentials).unwrap();
        assert_eq!(
            broker.mqtt.sat_file.as_deref(),
            Some(Path::new("/var/run/secrets/tokens/broker-sat"))
        );
        let settings = broker.mqtt.tls.unwrap();
        assert_eq!(
            settings.client_key_password_file.as_deref(),
            Some(Path::new("/secrets/key.pass"))
        );
        let plain = "mqtt://aio-broker:1883".to_owned();
        let error = resolve_client_broker(None, Some(&plain), &credentials).unwrap_err();
        assert!(error.to_string().contains("mqtts://"), "{error}");
    }
}
