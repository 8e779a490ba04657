//! Setup errors of MQTT connections: a setting, a TLS file or a password file that cannot be
//! used.

use std::fmt;

/// What went wrong while setting up an MQTT connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MqttErrorKind {
    /// A setting is out of range or inconsistent, or the broker URL is not usable.
    InvalidConfig,
    /// The CA file is missing, unreadable or holds no valid certificate.
    TrustList,
    /// The client certificate or key file is missing, unreadable or invalid, or the key
    /// password does not decrypt the key.
    ClientCertificate,
    /// The password file is missing or unreadable.
    PasswordFile,
    /// The service account token file is missing, unreadable or empty.
    SatFile,
    /// A connection was started outside a tokio runtime.
    NoRuntime,
}

impl MqttErrorKind {
    /// A stable code for status and metric labels.
    pub fn reason_code(self) -> &'static str {
        match self {
            Self::InvalidConfig => "mqtt_invalid_config",
            Self::TrustList => "mqtt_trust_list",
            Self::ClientCertificate => "mqtt_client_certificate",
            Self::PasswordFile => "mqtt_password_file",
            Self::SatFile => "mqtt_sat_file",
            Self::NoRuntime => "mqtt_no_runtime",
        }
    }
}

/// The lower-level cause of an [`MqttError`].
#[derive(Debug)]
#[non_exhaustive]
pub enum MqttErrorSource {
    /// Reading a file failed.
    Io(std::io::Error),
    /// rustls refused a certificate, a key, or the protocol versions.
    Tls(rustls::Error),
    /// A certificate or key file could not be used.
    Pem(tls_files::PemError),
}

impl fmt::Display for MqttErrorSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => e.fmt(f),
            Self::Tls(e) => e.fmt(f),
            Self::Pem(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for MqttErrorSource {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            Self::Tls(e) => Some(e),
            Self::Pem(e) => Some(e),
        }
    }
}

/// An MQTT connection (a publisher, a subscriber, a command client or service) could not be
/// set up. The message names the setting or file and never
/// contains a password or key material.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct MqttError {
    kind: MqttErrorKind,
    message: String,
    #[source]
    source: Option<MqttErrorSource>,
}

impl MqttError {
    /// An error of `kind` with `message`, which must name the setting or file and never hold
    /// a secret.
    pub fn new(kind: MqttErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// Adds the lower-level cause.
    pub fn with_source(mut self, source: MqttErrorSource) -> Self {
        self.source = Some(source);
        self
    }

    /// What failed.
    pub fn kind(&self) -> MqttErrorKind {
        self.kind
    }

    /// Setup errors need a configuration change: never retryable.
    pub fn is_retryable(&self) -> bool {
        false
    }

    /// A stable code for status and metric labels.
    pub fn reason_code(&self) -> &'static str {
        self.kind.reason_code()
    }
}
