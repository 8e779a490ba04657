//! Publishing errors and MQTT publisher setup errors.

use std::fmt;

/// Why a message was not delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    /// The publisher has shut down; nothing more will be delivered.
    #[error("the publisher has shut down")]
    Closed,
    /// The broker refused the message (a PUBACK reason code of 0x80 or above).
    #[error("the broker refused the message on {topic}: {reason}")]
    Refused {
        /// Topic of the message.
        topic: String,
        /// The PUBACK reason.
        reason: String,
    },
    /// The message can never be sent as it is: a topic with wildcards, or a packet larger than
    /// the broker or the publisher accepts. Sending it again unchanged fails the same way.
    #[error("the message on {topic} cannot be sent: {reason}")]
    Invalid {
        /// Topic of the message.
        topic: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A `Storage` path that is not a plain relative path below the storage root (`..`, an
    /// absolute path, a symbolic link leading out of the root). Validation refuses these
    /// already; the file sink refuses them again at runtime.
    #[error("the storage path {path:?} is refused: {reason}")]
    StoragePath {
        /// The path as configured.
        path: String,
        /// Why it is refused.
        reason: String,
    },
    /// A `Storage` file could not be opened, written, rotated or flushed to disk. Its line is
    /// not counted as delivered (it may or may not be in the file: at least once).
    #[error("cannot write the storage file {path:?}: {reason}")]
    Storage {
        /// The path as configured.
        path: String,
        /// The I/O failure.
        reason: String,
    },
    /// A key-value store (AIO's state store) did not confirm a SET: an error reply, a timeout,
    /// a lost request.
    #[error("the state store did not set {key:?}: {reason}")]
    KeyValue {
        /// The key.
        key: String,
        /// The store's reply or the failure.
        reason: String,
    },
}

impl PublishError {
    /// Whether publishing the same message again may succeed.
    pub fn is_retryable(&self) -> bool {
        false
    }

    /// A stable, low-cardinality code for status and metric labels.
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::Closed => "publisher_closed",
            Self::Refused { .. } => "broker_refused",
            Self::Invalid { .. } => "invalid_message",
            Self::StoragePath { .. } => "storage_path_refused",
            Self::Storage { .. } => "storage_io",
            Self::KeyValue { .. } => "state_store_failed",
        }
    }
}

/// What went wrong while setting up an MQTT publisher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MqttErrorKind {
    /// A setting is out of range or inconsistent, or the broker URL is not usable.
    InvalidConfig,
    /// The CA file is missing, unreadable or holds no valid certificate.
    TrustList,
    /// The client certificate or key file is missing, unreadable or invalid.
    ClientCertificate,
    /// The password file is missing or unreadable.
    PasswordFile,
    /// The publisher was started outside a tokio runtime.
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

/// An MQTT publisher could not be set up. The message names the setting or file and never
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
    pub(crate) fn new(kind: MqttErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    pub(crate) fn with_source(mut self, source: MqttErrorSource) -> Self {
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
