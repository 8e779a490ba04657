//! The deployment: what AIO's Akri operator hands a connector pod, as variables and mounts
//! (the operator–connector contract; reference: aio-connector.md §3.2 and §3.4).
//!
//! [`Deployment::from_env`] reads it once at startup and checks it: every required variable
//! is set, every path a variable names exists (and is a directory, or for the token a file),
//! and the configuration files parse. Anything else is a startup error naming the variable,
//! the path or the file and field at fault. A variable set to the empty string counts as
//! unset.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use aio_mqtt::{MqttConfig, TlsSettings};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::mount;

const AZURE_EXTENSION_RESOURCEID: &str = "AZURE_EXTENSION_RESOURCEID";
const CONNECTOR_ID: &str = "CONNECTOR_ID";
const CONNECTOR_NAMESPACE: &str = "CONNECTOR_NAMESPACE";
const CONNECTOR_CONFIGURATION_MOUNT_PATH: &str = "CONNECTOR_CONFIGURATION_MOUNT_PATH";
const CONNECTOR_SECRETS_METADATA_MOUNT_PATH: &str = "CONNECTOR_SECRETS_METADATA_MOUNT_PATH";
const CONNECTOR_SECRETS_MOUNT_PATH: &str = "CONNECTOR_SECRETS_MOUNT_PATH";
const CONNECTOR_TRUST_SETTINGS_MOUNT_PATH: &str = "CONNECTOR_TRUST_SETTINGS_MOUNT_PATH";
const BROKER_TLS_TRUST_BUNDLE_CACERT_MOUNT_PATH: &str = "BROKER_TLS_TRUST_BUNDLE_CACERT_MOUNT_PATH";
const BROKER_SAT_MOUNT_PATH: &str = "BROKER_SAT_MOUNT_PATH";
const ADR_RESOURCES_NAME_MOUNT_PATH: &str = "ADR_RESOURCES_NAME_MOUNT_PATH";
const DEVICE_ENDPOINT_TLS_TRUST_BUNDLE_CA_CERT_MOUNT_PATH: &str =
    "DEVICE_ENDPOINT_TLS_TRUST_BUNDLE_CA_CERT_MOUNT_PATH";
const DEVICE_ENDPOINT_CREDENTIALS_MOUNT_PATH: &str = "DEVICE_ENDPOINT_CREDENTIALS_MOUNT_PATH";

/// Files of the connector configuration mount.
const MQTT_CONNECTION_CONFIGURATION: &str = "MQTT_CONNECTION_CONFIGURATION";
const DIAGNOSTICS: &str = "DIAGNOSTICS";
const ADDITIONAL_CONNECTOR_CONFIGURATION: &str = "ADDITIONAL_CONNECTOR_CONFIGURATION";
const PERSISTENT_VOLUME_MOUNT_PATH: &str = "PERSISTENT_VOLUME_MOUNT_PATH";

/// Log levels `DIAGNOSTICS` may give.
const LOG_LEVELS: [&str; 5] = ["trace", "debug", "info", "warn", "error"];

/// Whether the process runs as an Akri connector: both the connector configuration mount and
/// the allocation mount are given (`vars` looks a variable up, like `std::env::var`).
pub fn is_akri(vars: impl Fn(&str) -> Option<String>) -> bool {
    [
        CONNECTOR_CONFIGURATION_MOUNT_PATH,
        ADR_RESOURCES_NAME_MOUNT_PATH,
    ]
    .iter()
    .all(|name| value(&vars, name).is_some())
}

/// Everything the Akri operator hands the connector.
#[derive(Debug, Clone, PartialEq)]
pub struct Deployment {
    /// `CONNECTOR_ID`: the pod name, stable across restarts, distinct per replica.
    pub connector_id: String,
    /// `CONNECTOR_NAMESPACE`: the pod's Kubernetes namespace.
    pub connector_namespace: String,
    /// `AZURE_EXTENSION_RESOURCEID`: the ARM id of the AIO extension (required by the SDK,
    /// unused here).
    pub azure_extension_resource_id: Option<String>,
    /// `CONNECTOR_CONFIGURATION_MOUNT_PATH`: the directory of the files below.
    pub configuration: PathBuf,
    /// `MQTT_CONNECTION_CONFIGURATION`: how to reach the broker.
    pub mqtt: MqttConnection,
    /// `DIAGNOSTICS` `logs.level`, lower case (`trace`, `debug`, `info`, `warn`, `error`).
    pub log_level: Option<String>,
    /// `ADDITIONAL_CONNECTOR_CONFIGURATION`: the template's `additionalConfiguration`.
    pub additional_configuration: Option<serde_json::Value>,
    /// `PERSISTENT_VOLUME_MOUNT_PATH`: the persistent volumes' mount paths, in file order.
    pub persistent_volumes: Vec<PathBuf>,
    /// The broker's CA certificates: the first visible file (by name) of
    /// `BROKER_TLS_TRUST_BUNDLE_CACERT_MOUNT_PATH`, as the SDK takes it.
    pub broker_ca: Option<PathBuf>,
    /// `BROKER_SAT_MOUNT_PATH`: the service account token file, refreshed by Kubernetes.
    pub broker_sat: Option<PathBuf>,
    /// `ADR_RESOURCES_NAME_MOUNT_PATH`: the allocation mount (see [`crate::allocation`]).
    pub allocations: PathBuf,
    /// `DEVICE_ENDPOINT_CREDENTIALS_MOUNT_PATH`: device credentials; the device registry
    /// gives paths relative to it.
    pub device_credentials: Option<PathBuf>,
    /// `DEVICE_ENDPOINT_TLS_TRUST_BUNDLE_CA_CERT_MOUNT_PATH`: one directory per endpoint
    /// trust list.
    pub device_trust: Option<PathBuf>,
    /// `CONNECTOR_TRUST_SETTINGS_MOUNT_PATH`: CA certificates every endpoint trusts.
    pub connector_trust: Option<PathBuf>,
    /// `CONNECTOR_SECRETS_MOUNT_PATH`: the connector's own secrets.
    pub connector_secrets: Option<PathBuf>,
    /// `CONNECTOR_SECRETS_METADATA_MOUNT_PATH`: secret alias → path of the secret relative to
    /// `connector_secrets` (see [`Deployment::connector_secret`]).
    pub connector_secrets_metadata: BTreeMap<String, PathBuf>,
}

/// `MQTT_CONNECTION_CONFIGURATION`: the broker connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MqttConnection {
    /// Broker host name or IP address (from `host`, `<hostname>:<port>`).
    pub host: String,
    /// Broker TCP port (from `host`).
    pub port: u16,
    /// `keepAliveSeconds`.
    pub keep_alive: Duration,
    /// `maxInflightMessages`: most messages not yet acknowledged.
    pub max_inflight: u16,
    /// `sessionExpirySeconds`.
    pub session_expiry: Duration,
    /// `tls.mode` is `Enabled`.
    pub tls: bool,
    /// `protocol`.
    pub protocol: Protocol,
}

/// The broker protocol; the contract knows only MQTT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Protocol {
    /// MQTT (`mqtt` or `Mqtt`).
    #[serde(alias = "mqtt")]
    Mqtt,
}

impl Deployment {
    /// Reads the deployment from the process environment.
    ///
    /// # Errors
    /// As [`Deployment::from_vars`].
    pub fn from_env() -> Result<Self, Error> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// Reads the deployment, looking variables up with `vars`.
    ///
    /// # Errors
    /// [`Error::MissingVariables`] naming every required variable unset; [`Error::MissingPath`]
    /// or [`Error::WrongKind`] naming the variable (or the file) and the path;
    /// [`Error::InvalidFile`] naming the file and the field; [`Error::Io`] naming the path
    /// that cannot be read.
    pub fn from_vars(vars: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let required = [
            CONNECTOR_ID,
            CONNECTOR_NAMESPACE,
            CONNECTOR_CONFIGURATION_MOUNT_PATH,
            ADR_RESOURCES_NAME_MOUNT_PATH,
        ];
        let missing: Vec<&'static str> = required
            .into_iter()
            .filter(|name| value(&vars, name).is_none())
            .collect();
        if !missing.is_empty() {
            return Err(Error::MissingVariables(missing));
        }
        let required = |name: &'static str| value(&vars, name).unwrap_or_default();
        let dir = |name: &'static str| -> Result<Option<PathBuf>, Error> {
            value(&vars, name)
                .map(|path| existing(&format!("variable {name}"), path.into(), Kind::Dir))
                .transpose()
        };

        let configuration = existing(
            &format!("variable {CONNECTOR_CONFIGURATION_MOUNT_PATH}"),
            required(CONNECTOR_CONFIGURATION_MOUNT_PATH).into(),
            Kind::Dir,
        )?;
        let allocations = existing(
            &format!("variable {ADR_RESOURCES_NAME_MOUNT_PATH}"),
            required(ADR_RESOURCES_NAME_MOUNT_PATH).into(),
            Kind::Dir,
        )?;
        let broker_trust = dir(BROKER_TLS_TRUST_BUNDLE_CACERT_MOUNT_PATH)?;
        let broker_sat = value(&vars, BROKER_SAT_MOUNT_PATH)
            .map(|path| {
                existing(
                    &format!("variable {BROKER_SAT_MOUNT_PATH}"),
                    path.into(),
                    Kind::File,
                )
            })
            .transpose()?;
        let device_credentials = dir(DEVICE_ENDPOINT_CREDENTIALS_MOUNT_PATH)?;
        let device_trust = dir(DEVICE_ENDPOINT_TLS_TRUST_BUNDLE_CA_CERT_MOUNT_PATH)?;
        let connector_trust = dir(CONNECTOR_TRUST_SETTINGS_MOUNT_PATH)?;
        let connector_secrets = dir(CONNECTOR_SECRETS_MOUNT_PATH)?;
        let secrets_metadata = dir(CONNECTOR_SECRETS_METADATA_MOUNT_PATH)?;

        let broker_ca = broker_trust.map(|dir| first_file(&dir)).transpose()?;
        let connector_secrets_metadata = match secrets_metadata {
            Some(dir) => read_secrets_metadata(&dir)?,
            None => BTreeMap::new(),
        };

        let mqtt = read_connection(&configuration.join(MQTT_CONNECTION_CONFIGURATION))?;
        let log_level = read_optional(&configuration.join(DIAGNOSTICS))?
            .map(|(path, text)| read_log_level(&path, &text))
            .transpose()?
            .flatten();
        let additional_configuration =
            read_optional(&configuration.join(ADDITIONAL_CONNECTOR_CONFIGURATION))?
                .filter(|(_, text)| !text.trim().is_empty())
                .map(|(path, text)| {
                    serde_json::from_str(&text)
                        .map_err(|e| Error::invalid(path, format!("not JSON: {e}")))
                })
                .transpose()?;
        let persistent_volumes =
            match read_optional(&configuration.join(PERSISTENT_VOLUME_MOUNT_PATH))? {
                Some((path, text)) => read_volumes(&path, &text)?,
                None => Vec::new(),
            };

        Ok(Self {
            connector_id: required(CONNECTOR_ID),
            connector_namespace: required(CONNECTOR_NAMESPACE),
            azure_extension_resource_id: value(&vars, AZURE_EXTENSION_RESOURCEID),
            configuration,
            mqtt,
            log_level,
            additional_configuration,
            persistent_volumes,
            broker_ca,
            broker_sat,
            allocations,
            device_credentials,
            device_trust,
            connector_trust,
            connector_secrets,
            connector_secrets_metadata,
        })
    }

    /// The MQTT client id of the connector's session: `CONNECTOR_ID` + `"0"`.
    ///
    /// The contract says the connector id is the client id, but the Rust SDK's
    /// `BaseConnector` appends the suffix `0` (`to_mqtt_connection_settings("0")`), and the
    /// device registry service addresses its responses and events to the actual client id.
    /// Deployed connectors are SDK connectors, so this is the id the broker's and the
    /// service's authorization have been exercised with.
    pub fn mqtt_client_id(&self) -> String {
        format!("{}0", self.connector_id)
    }

    /// The broker connection as [`MqttConfig`]: host, port, client id
    /// ([`mqtt_client_id`](Self::mqtt_client_id)), keep-alive, session expiry (resumed:
    /// `clean_start` false), `maxInflightMessages` as the in-flight limit, TLS with the
    /// broker CA when `tls.mode` is `Enabled`, and SAT authentication when a token is mounted.
    pub fn mqtt_config(&self) -> MqttConfig {
        let mut config = MqttConfig::new(self.mqtt.host.clone(), self.mqtt.port);
        config.client_id = self.mqtt_client_id();
        config.keep_alive = self.mqtt.keep_alive;
        config.session_expiry = self.mqtt.session_expiry;
        config.clean_start = false;
        config.max_in_flight = self.mqtt.max_inflight;
        config.tls = self.mqtt.tls.then(|| TlsSettings {
            ca_file: self.broker_ca.clone(),
            ..TlsSettings::default()
        });
        config.sat_file.clone_from(&self.broker_sat);
        config
    }

    /// The file of the connector secret `alias`: its relative path from
    /// `CONNECTOR_SECRETS_METADATA_MOUNT_PATH` below `CONNECTOR_SECRETS_MOUNT_PATH`; `None`
    /// when the alias is unknown or no secrets are mounted.
    pub fn connector_secret(&self, alias: &str) -> Option<PathBuf> {
        let relative = self.connector_secrets_metadata.get(alias)?;
        Some(self.connector_secrets.as_ref()?.join(relative))
    }
}

/// A variable's value; empty counts as unset.
fn value(vars: &impl Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    vars(name).filter(|v| !v.is_empty())
}

/// What a path must be.
#[derive(Clone, Copy)]
enum Kind {
    Dir,
    File,
}

/// `path`, checked to exist (following symlinks) and to be of `kind`.
fn existing(named_by: &str, path: PathBuf, kind: Kind) -> Result<PathBuf, Error> {
    let meta = match std::fs::metadata(&path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::MissingPath {
                named_by: named_by.to_owned(),
                path,
            });
        }
        Err(e) => return Err(Error::io(path, e)),
    };
    let expected = match kind {
        Kind::Dir if !meta.is_dir() => "a directory",
        Kind::File if meta.is_dir() => "a file",
        _ => return Ok(path),
    };
    Err(Error::WrongKind {
        named_by: named_by.to_owned(),
        path,
        expected,
    })
}

/// The first visible file of the broker trust bundle.
fn first_file(dir: &Path) -> Result<PathBuf, Error> {
    mount::files(dir)?
        .into_iter()
        .next()
        .map(|entry| entry.path)
        .ok_or_else(|| Error::WrongKind {
            named_by: format!("variable {BROKER_TLS_TRUST_BUNDLE_CACERT_MOUNT_PATH}"),
            path: dir.to_path_buf(),
            expected: "a directory holding a certificate file",
        })
}

/// Alias → relative path, one file per alias.
fn read_secrets_metadata(dir: &Path) -> Result<BTreeMap<String, PathBuf>, Error> {
    let mut metadata = BTreeMap::new();
    for entry in mount::files(dir)? {
        let Some(text) = mount::read_text(&entry.path)? else {
            continue;
        };
        let relative = PathBuf::from(text.trim());
        let inside = relative
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
        if relative.as_os_str().is_empty() || !inside {
            return Err(Error::invalid(
                entry.path,
                "the secret's path must be relative, below CONNECTOR_SECRETS_MOUNT_PATH",
            ));
        }
        metadata.insert(entry.name, relative);
    }
    Ok(metadata)
}

/// A file of the configuration mount with its text; `None` when it is absent.
fn read_optional(path: &Path) -> Result<Option<(PathBuf, String)>, Error> {
    Ok(mount::read_text(path)?.map(|text| (path.to_path_buf(), text)))
}

/// JSON into `T`, an error naming the file and the field.
fn parse_json<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T, Error> {
    let mut json = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut json).map_err(|e| {
        let field = e.path().to_string();
        let message = if field == "." {
            e.inner().to_string()
        } else {
            format!("field `{field}`: {}", e.inner())
        };
        Error::invalid(path, message)
    })
}

/// `MQTT_CONNECTION_CONFIGURATION` as the contract writes it (every field present).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawConnection {
    host: String,
    keep_alive_seconds: u16,
    max_inflight_messages: u16,
    protocol: Protocol,
    session_expiry_seconds: u32,
    tls: RawTls,
}

#[derive(Deserialize)]
struct RawTls {
    mode: TlsMode,
}

#[derive(Deserialize, PartialEq)]
enum TlsMode {
    Enabled,
    Disabled,
}

fn read_connection(path: &Path) -> Result<MqttConnection, Error> {
    let text = mount::read_text(path)?.ok_or_else(|| Error::MissingPath {
        named_by: format!(
            "the connector configuration mount (variable {CONNECTOR_CONFIGURATION_MOUNT_PATH})"
        ),
        path: path.to_path_buf(),
    })?;
    let raw: RawConnection = parse_json(path, &text)?;
    let (host, port) = split_host(&raw.host).ok_or_else(|| {
        Error::invalid(
            path,
            format!(
                "field `host`: {:?} is not <hostname>:<port> with a port from 1 to 65535",
                raw.host
            ),
        )
    })?;
    Ok(MqttConnection {
        host,
        port,
        keep_alive: Duration::from_secs(raw.keep_alive_seconds.into()),
        max_inflight: raw.max_inflight_messages,
        session_expiry: Duration::from_secs(raw.session_expiry_seconds.into()),
        tls: raw.tls.mode == TlsMode::Enabled,
        protocol: raw.protocol,
    })
}

/// `name:port` or `[v6]:port`.
fn split_host(host: &str) -> Option<(String, u16)> {
    let (name, port) = host.rsplit_once(':')?;
    let name = match name.strip_prefix('[') {
        Some(v6) => v6.strip_suffix(']')?,
        None if name.contains(':') => return None,
        None => name,
    };
    let port: u16 = port.parse().ok()?;
    (!name.is_empty() && port != 0).then(|| (name.to_owned(), port))
}

#[derive(Deserialize)]
struct RawDiagnostics {
    logs: Option<RawLogs>,
}

#[derive(Deserialize)]
struct RawLogs {
    level: Option<String>,
}

fn read_log_level(path: &Path, text: &str) -> Result<Option<String>, Error> {
    let raw: RawDiagnostics = parse_json(path, text)?;
    let Some(level) = raw.logs.and_then(|logs| logs.level) else {
        return Ok(None);
    };
    let lower = level.trim().to_ascii_lowercase();
    if LOG_LEVELS.contains(&lower.as_str()) {
        Ok(Some(lower))
    } else {
        Err(Error::invalid(
            path,
            format!(
                "field `logs.level`: {level:?} is not one of {}",
                LOG_LEVELS.join(", ")
            ),
        ))
    }
}

/// One path per line (blank lines ignored), each of which must exist.
fn read_volumes(path: &Path, text: &str) -> Result<Vec<PathBuf>, Error> {
    let named_by = path.display().to_string();
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| existing(&named_by, PathBuf::from(line), Kind::Dir))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_is_name_colon_port() {
        assert_eq!(
            split_host("aio-broker:18883"),
            Some(("aio-broker".into(), 18883))
        );
        assert_eq!(split_host("10.0.0.1:1883"), Some(("10.0.0.1".into(), 1883)));
        assert_eq!(split_host("[::1]:1883"), Some(("::1".into(), 1883)));
        for bad in [
            "aio-broker",
            ":1883",
            "broker:",
            "broker:0",
            "broker:70000",
            "::1:1883",
            "[::1:1883",
        ] {
            assert_eq!(split_host(bad), None, "{bad}");
        }
    }
}
