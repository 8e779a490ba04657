//! [`Error`]: what went wrong talking to (or running) a schema registry, as a kind with a
//! stable reason code.

use std::fmt;

use aio_mqtt::MqttError;
use aio_mqtt::rpc::envelope::{CommandStatus, StatusReasons};
use aio_mqtt::rpc::{CommandError, CommandErrorKind, CommandSet};

use crate::client::Registry;
use crate::protocol::RegistryError;

/// The reason codes of non-200 `__stat`s.
const STATUS_REASONS: StatusReasons = aio_mqtt::status_reasons!(
    "schema_registry_status_",
    other = "schema_registry_status_unknown"
);

/// What went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An argument is invalid before anything is sent (an empty name, for example).
    InvalidArgument,
    /// The MQTT settings are invalid, a TLS or password file is unusable, or there is no
    /// tokio runtime.
    Config,
    /// No response arrived within the request timeout (or no connection to send it on).
    Timeout,
    /// The client or service has shut down.
    Closed,
    /// The registry answered `{"error": ...}` (see [`Error::registry_error`]).
    Registry,
    /// The registry answered with a non-200 `__stat` (see [`Error::status_code`]).
    Status,
    /// The response cannot be read.
    UnexpectedResponse,
    /// The embedded service cannot read or write its directory.
    Storage,
}

/// The lower-level cause of an [`Error`].
#[derive(Debug)]
#[non_exhaustive]
pub enum ErrorSource {
    /// MQTT setup.
    Mqtt(MqttError),
    /// File I/O.
    Io(std::io::Error),
    /// JSON parsing.
    Json(serde_json::Error),
}

impl fmt::Display for ErrorSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Mqtt(e) => e.fmt(f),
            Self::Io(e) => e.fmt(f),
            Self::Json(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ErrorSource {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Mqtt(e) => Some(e),
            Self::Io(e) => Some(e),
            Self::Json(e) => Some(e),
        }
    }
}

/// An error of the schema registry client or service.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    kind: ErrorKind,
    message: String,
    status: Option<u16>,
    registry: Option<Box<RegistryError>>,
    /// Boxed: keeps `Result<_, Error>` small on the happy path.
    #[source]
    source: Option<Box<ErrorSource>>,
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of `kind` with a message for people.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            status: None,
            registry: None,
            source: None,
        }
    }

    /// The error for a `{"error": ...}` answer to `command`.
    pub fn registry(command: &str, error: RegistryError) -> Self {
        let target = error
            .target
            .as_deref()
            .map(|t| format!(" ({t})"))
            .unwrap_or_default();
        let mut this = Self::new(
            ErrorKind::Registry,
            format!(
                "the schema registry refused {command} with {}: {}{target}",
                error.code, error.message
            ),
        );
        this.registry = Some(Box::new(error));
        this
    }

    /// The error for a non-200 `__stat`.
    pub fn status(command: &str, status: u16, detail: &str) -> Self {
        CommandError::status(Registry::SERVICE, command, status, detail).into()
    }

    /// Attaches the cause.
    #[must_use]
    pub fn with_source(mut self, source: ErrorSource) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The `__stat` of a [`ErrorKind::Status`] error.
    pub fn status_code(&self) -> Option<u16> {
        self.status
    }

    /// The registry's `{"error": ...}` of a [`ErrorKind::Registry`] error.
    pub fn registry_error(&self) -> Option<&RegistryError> {
        self.registry.as_deref()
    }

    /// Whether the same request may succeed later: timeouts, and failures of the registry
    /// (500 and 503) rather than of the request.
    pub fn is_retryable(&self) -> bool {
        match self.kind {
            ErrorKind::Timeout => true,
            ErrorKind::Status => self
                .status
                .is_some_and(|s| CommandStatus::of(s).is_retryable()),
            ErrorKind::Registry => self.registry.as_ref().is_some_and(|e| e.code >= 500),
            _ => false,
        }
    }

    /// A stable, low-cardinality code for status and metric labels.
    pub fn reason_code(&self) -> &'static str {
        match self.kind {
            ErrorKind::InvalidArgument => "schema_registry_invalid_argument",
            ErrorKind::Config => "schema_registry_config",
            ErrorKind::Timeout => "schema_registry_timeout",
            ErrorKind::Closed => "schema_registry_closed",
            ErrorKind::Registry => match self.registry.as_ref().map(|e| e.code) {
                Some(400) => "schema_registry_bad_request",
                Some(404) => "schema_registry_not_found",
                Some(500) => "schema_registry_internal_error",
                _ => "schema_registry_error",
            },
            ErrorKind::Status => STATUS_REASONS.of(self.status),
            ErrorKind::UnexpectedResponse => "schema_registry_unexpected_response",
            ErrorKind::Storage => "schema_registry_storage",
        }
    }
}

/// The shared errors of commands, as this crate's kinds.
impl From<CommandError> for Error {
    fn from(error: CommandError) -> Self {
        let status = error.status_code();
        let kind = match error.kind() {
            CommandErrorKind::Config => ErrorKind::Config,
            CommandErrorKind::Timeout => ErrorKind::Timeout,
            CommandErrorKind::Closed => ErrorKind::Closed,
            CommandErrorKind::Status(_) => ErrorKind::Status,
            CommandErrorKind::UnexpectedResponse => ErrorKind::UnexpectedResponse,
        };
        let (message, source) = error.into_parts();
        Self {
            kind,
            message,
            status,
            registry: None,
            source: source.map(|e| Box::new(ErrorSource::Mqtt(e))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_errors_keep_their_payload_and_codes() {
        let error = Error::registry(
            "put",
            RegistryError::new(400, "bad version", Some("Version")),
        );
        assert_eq!(error.kind(), ErrorKind::Registry);
        assert_eq!(error.reason_code(), "schema_registry_bad_request");
        assert!(!error.is_retryable());
        assert_eq!(error.registry_error().map(|e| e.code), Some(400));
        assert!(
            error.to_string().contains("bad version (Version)"),
            "{error}"
        );
        let failed = Error::registry("put", RegistryError::new(500, "disk", None));
        assert!(failed.is_retryable());
    }

    #[test]
    fn statuses_have_codes_and_retryability() {
        let busy = Error::status("get", 503, "busy");
        assert_eq!(busy.reason_code(), "schema_registry_status_unavailable");
        assert!(busy.is_retryable());
        assert_eq!(busy.status_code(), Some(503));
        assert!(!Error::status("get", 415, "json").is_retryable());
        assert!(Error::new(ErrorKind::Timeout, "t").is_retryable());
        for (code, _, name, retryable) in CommandStatus::TABLE {
            let error = Error::status("get", code, "?");
            assert_eq!(
                error.reason_code(),
                format!("schema_registry_status_{name}")
            );
            assert_eq!(error.is_retryable(), retryable);
        }
        assert_eq!(
            Error::status("get", 404, "?").reason_code(),
            "schema_registry_status_unknown"
        );
    }

    #[test]
    fn command_errors_keep_their_kind_message_and_cause() {
        let setup = MqttError::new(aio_mqtt::MqttErrorKind::PasswordFile, "no password file");
        let error = Error::from(CommandError::from(setup));
        assert_eq!(error.kind(), ErrorKind::Config);
        assert_eq!(error.to_string(), "no password file");
        assert!(std::error::Error::source(&error).is_some());
        for (kind, expected) in [
            (CommandErrorKind::Timeout, ErrorKind::Timeout),
            (CommandErrorKind::Closed, ErrorKind::Closed),
            (
                CommandErrorKind::UnexpectedResponse,
                ErrorKind::UnexpectedResponse,
            ),
        ] {
            let error = Error::from(CommandError::new(kind, "m"));
            assert_eq!((error.kind(), error.status_code()), (expected, None));
        }
    }
}
