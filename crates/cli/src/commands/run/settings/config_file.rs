//! The config file: the settings of the options in YAML, camelCase keys, unknown keys refused.
//!
//! Values are kept as written (text for durations, modes, addresses) and parsed only when
//! the precedence reaches them ([`Setting`](super::precedence::Setting)), so a value an
//! option overrides is never validated; errors name the file and the key
//! ([`FileValue`]).

use std::fmt::Display;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Deserialize;

use crate::values;

/// The config file: the same settings as the options, in YAML.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct ConfigFile {
    /// Where the file was read from, for errors; empty when there is no file.
    #[serde(skip)]
    path: PathBuf,
    pub(super) broker: Option<String>,
    pub(super) embedded_broker_addr: Option<SocketAddr>,
    pub(super) broker_ca: Option<PathBuf>,
    pub(super) broker_cert: Option<PathBuf>,
    pub(super) broker_key: Option<PathBuf>,
    pub(super) broker_username: Option<String>,
    pub(super) broker_password_file: Option<PathBuf>,
    pub(super) client_id: Option<String>,
    pub(super) session_expiry: Option<String>,
    pub(super) keep_alive: Option<String>,
    pub(super) state_dir: Option<PathBuf>,
    pub(super) storage_root: Option<PathBuf>,
    pub(super) storage_max_file_bytes: Option<SizeValue>,
    pub(super) refused_retry: Option<String>,
    pub(super) state_store: Option<String>,
    pub(super) schema_registry: Option<String>,
    pub(super) schema_namespace: Option<String>,
    pub(super) http: Option<String>,
    pub(super) http_token_file: Option<PathBuf>,
    pub(super) http_allowed_hosts: Option<Vec<String>>,
    // Telemetry (docs/telemetry.md).
    pub(super) log_level: Option<String>,
    pub(super) log_format: Option<String>,
    pub(super) trace_sample_ratio: Option<f64>,
    pub(super) otlp_endpoint: Option<String>,
    pub(super) otlp_protocol: Option<String>,
    pub(super) metric_export_interval: Option<String>,
}

impl ConfigFile {
    /// Reads and parses the file at `path`; no file (`None`) gives no values.
    ///
    /// # Errors
    /// When the file cannot be read, is not YAML, or has an unknown key or a value of the
    /// wrong type; the message names the file.
    pub(super) fn read(path: Option<&Path>) -> anyhow::Result<Self> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the config file {}", path.display()))?;
        let file: Self = serde_saphyr::from_str(&text)
            .with_context(|| format!("config file {}", path.display()))?;
        Ok(Self {
            path: path.to_path_buf(),
            ..file
        })
    }

    /// `value`, the file's value of `key`, for [`Setting`](super::precedence::Setting).
    pub(super) fn value<V>(&self, key: &'static str, value: Option<V>) -> FileValue<'_, V> {
        FileValue {
            path: &self.path,
            key,
            value,
        }
    }
}

/// A value of the config file with its key, so that an error names the file and the key.
#[derive(Debug)]
pub(super) struct FileValue<'a, V> {
    path: &'a Path,
    key: &'static str,
    /// `None`: the file does not have the key.
    pub(super) value: Option<V>,
}

impl<V> FileValue<'_, V> {
    /// The value parsed by `parse`, `None` when the file does not have it.
    ///
    /// # Errors
    /// `config file PATH: KEY: ` and what `parse` says.
    pub(super) fn parse<T, E: Display>(
        self,
        parse: impl FnOnce(V) -> Result<T, E>,
    ) -> anyhow::Result<Option<T>> {
        let Some(value) = self.value else {
            return Ok(None);
        };
        parse(value).map(Some).map_err(|e| {
            anyhow::anyhow!("config file {}: {}: {e:#}", self.path.display(), self.key)
        })
    }
}

/// A size in the config file: a number of bytes, or text with a unit (`64MiB`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum SizeValue {
    Bytes(u64),
    Text(String),
}

impl SizeValue {
    /// The number of bytes; text as [`values::byte_size`] reads it.
    ///
    /// # Errors
    /// Text that is not a size.
    pub(super) fn bytes(&self) -> Result<u64, String> {
        match self {
            Self::Bytes(bytes) => Ok(*bytes),
            Self::Text(text) => values::byte_size(text).map(|bytes| bytes as u64),
        }
    }
}
