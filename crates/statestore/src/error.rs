//! [`Error`]: what went wrong talking to (or running) a state store, as a kind with a stable
//! reason code; and [`ServiceError`], the one table of the service's `-ERR` texts, used by the
//! client to read them and by the embedded service to write them.

use std::fmt;

use aio_mqtt::MqttError;
use aio_mqtt::rpc::envelope::{CommandStatus, StatusReasons};
use aio_mqtt::rpc::{CommandError, CommandErrorKind, CommandSet};

use crate::client::StateStore;
use crate::resp3::Resp3Error;

/// The reason codes of non-200 `__stat`s.
const STATUS_REASONS: StatusReasons =
    aio_mqtt::status_reasons!("statestore_", other = "statestore_unknown_status");

/// A refusal by the state store service: the text of its `-ERR` reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ServiceError {
    /// A SET without the `__ts` user property.
    MissingTimestamp,
    /// A `__ts` or `__ft` that is not an HLC timestamp.
    MalformedTimestamp,
    /// The request's `__ts` is more than a minute ahead of the service's clock.
    TimestampSkew,
    /// The key is protected by a fencing token and the request has none.
    FencingTokenRequired,
    /// The request's `__ft` is more than a minute ahead of the service's clock.
    FencingTokenSkew,
    /// The request's `__ft` is older than the key's.
    FencingTokenLowerVersion,
    /// The store holds as many keys as it may.
    QuotaExceeded,
    /// The payload is not a valid request.
    SyntaxError,
    /// The client may not do this.
    NotAuthorized,
    /// The verb is not known.
    UnknownCommand,
    /// The verb has too few or too many arguments.
    WrongNumberOfArguments,
    /// The key is empty.
    KeyLengthZero,
    /// Another text.
    Other,
}

impl ServiceError {
    const TABLE: [(Self, &'static str); 12] = [
        (Self::MissingTimestamp, "missing timestamp"),
        (Self::MalformedTimestamp, "malformed timestamp"),
        (
            Self::TimestampSkew,
            "the request timestamp is too far in the future; ensure that the client and broker system clocks are synchronized",
        ),
        (
            Self::FencingTokenRequired,
            "a fencing token is required for this request",
        ),
        (
            Self::FencingTokenSkew,
            "the request fencing token timestamp is too far in the future; ensure that the client and broker system clocks are synchronized",
        ),
        (
            Self::FencingTokenLowerVersion,
            "the request fencing token is a lower version than the fencing token protecting the resource",
        ),
        (Self::QuotaExceeded, "the quota has been exceeded"),
        (Self::SyntaxError, "syntax error"),
        (Self::NotAuthorized, "not authorized"),
        (Self::UnknownCommand, "unknown command"),
        (Self::WrongNumberOfArguments, "wrong number of arguments"),
        (Self::KeyLengthZero, "the key length is zero"),
    ];

    /// The exact `-ERR` text the service sends (empty for [`Other`](Self::Other)).
    pub fn text(self) -> &'static str {
        Self::TABLE
            .iter()
            .find(|(kind, _)| *kind == self)
            .map_or("", |(_, text)| text)
    }

    /// The kind of an `-ERR` text.
    pub fn from_text(text: &str) -> Self {
        Self::TABLE
            .iter()
            .find(|(_, known)| *known == text)
            .map_or(Self::Other, |(kind, _)| *kind)
    }

    /// A stable code for status and metric labels.
    pub fn reason_code(self) -> &'static str {
        match self {
            Self::MissingTimestamp => "statestore_missing_timestamp",
            Self::MalformedTimestamp => "statestore_malformed_timestamp",
            Self::TimestampSkew => "statestore_timestamp_skew",
            Self::FencingTokenRequired => "statestore_fencing_token_required",
            Self::FencingTokenSkew => "statestore_fencing_token_skew",
            Self::FencingTokenLowerVersion => "statestore_fencing_token_lower_version",
            Self::QuotaExceeded => "statestore_quota_exceeded",
            Self::SyntaxError => "statestore_syntax_error",
            Self::NotAuthorized => "statestore_not_authorized",
            Self::UnknownCommand => "statestore_unknown_command",
            Self::WrongNumberOfArguments => "statestore_wrong_number_of_arguments",
            Self::KeyLengthZero => "statestore_key_length_zero",
            Self::Other => "statestore_service_error",
        }
    }
}

/// What went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An argument is invalid before anything is sent (an empty key, for example).
    InvalidArgument,
    /// The key is already observed by this client.
    DuplicateObserve,
    /// The MQTT settings are invalid or a TLS or password file is unusable.
    Config,
    /// No response arrived within the request timeout (or no connection to send it on).
    Timeout,
    /// The client or service has shut down.
    Closed,
    /// The service refused the request with `-ERR`.
    Service(ServiceError),
    /// The service answered with a non-200 `__stat` (see [`Error::status`]).
    Status,
    /// The response cannot be read, or does not fit the request.
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
    /// RESP3 parsing.
    Resp3(Resp3Error),
}

impl fmt::Display for ErrorSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Mqtt(e) => e.fmt(f),
            Self::Io(e) => e.fmt(f),
            Self::Resp3(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ErrorSource {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Mqtt(e) => Some(e),
            Self::Io(e) => Some(e),
            Self::Resp3(e) => Some(e),
        }
    }
}

/// An error of the state store client or service.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    kind: ErrorKind,
    message: String,
    status: Option<u16>,
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
            source: None,
        }
    }

    /// The error for a `-ERR <text>` reply to `verb`.
    pub fn service(verb: &str, text: &str) -> Self {
        let kind = ServiceError::from_text(text);
        Self::new(
            ErrorKind::Service(kind),
            format!("the state store refused {verb}: {text}"),
        )
    }

    /// The error for a non-200 `__stat`.
    pub fn status(verb: &str, status: u16, detail: &str) -> Self {
        CommandError::status(StateStore::SERVICE, verb, status, detail).into()
    }

    /// Attaches the cause.
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

    /// Whether the same request may succeed later: timeouts, a service that is busy or
    /// failed, and the clock skew errors (clocks converge).
    pub fn is_retryable(&self) -> bool {
        match self.kind {
            ErrorKind::Timeout => true,
            ErrorKind::Status => self
                .status
                .is_some_and(|s| CommandStatus::of(s).is_retryable()),
            ErrorKind::Service(kind) => matches!(
                kind,
                ServiceError::TimestampSkew
                    | ServiceError::FencingTokenSkew
                    | ServiceError::QuotaExceeded
            ),
            _ => false,
        }
    }

    /// A stable, low-cardinality code for status and metric labels.
    pub fn reason_code(&self) -> &'static str {
        match self.kind {
            ErrorKind::InvalidArgument => "statestore_invalid_argument",
            ErrorKind::DuplicateObserve => "statestore_duplicate_observe",
            ErrorKind::Config => "statestore_config",
            ErrorKind::Timeout => "statestore_timeout",
            ErrorKind::Closed => "statestore_closed",
            ErrorKind::Service(kind) => kind.reason_code(),
            ErrorKind::Status => STATUS_REASONS.of(self.status),
            ErrorKind::UnexpectedResponse => "statestore_unexpected_response",
            ErrorKind::Storage => "statestore_storage",
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
            source: source.map(|e| Box::new(ErrorSource::Mqtt(e))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_service_text_round_trips() {
        for (kind, text) in ServiceError::TABLE {
            assert_eq!(ServiceError::from_text(text), kind);
            assert_eq!(kind.text(), text);
            let error = Error::service("SET", text);
            assert_eq!(error.kind(), ErrorKind::Service(kind));
            assert!(error.to_string().contains(text));
            assert!(error.reason_code().starts_with("statestore_"));
        }
        assert_eq!(ServiceError::from_text("the moon"), ServiceError::Other);
    }

    #[test]
    fn statuses_have_codes_and_retryability() {
        let busy = Error::status("GET", 503, "busy");
        assert_eq!(busy.reason_code(), "statestore_unavailable");
        assert!(busy.is_retryable());
        assert_eq!(busy.status_code(), Some(503));
        assert!(!Error::status("GET", 400, "bad").is_retryable());
        assert_eq!(
            Error::status("GET", 299, "?").reason_code(),
            "statestore_unknown_status"
        );
        for (code, _, name, retryable) in CommandStatus::TABLE {
            let error = Error::status("GET", code, "?");
            assert_eq!(error.reason_code(), format!("statestore_{name}"));
            assert_eq!(error.is_retryable(), retryable);
            assert_eq!(
                error.to_string(),
                format!("the state store answered GET with status {code}: ?")
            );
        }
    }

    #[test]
    fn command_errors_keep_their_kind_message_and_cause() {
        let setup = MqttError::new(aio_mqtt::MqttErrorKind::InvalidConfig, "bad port");
        let error = Error::from(CommandError::from(setup));
        assert_eq!(error.kind(), ErrorKind::Config);
        assert_eq!(error.to_string(), "bad port");
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
