//! [`CommandError`]: what went wrong with a command of any service, before the service's own
//! payload is read. Each service crate maps it to its own error kinds (`From<CommandError>`)
//! and adds the errors of its payloads.

use crate::error::MqttError;

/// What went wrong with a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommandErrorKind {
    /// The MQTT settings are invalid, a TLS or password file is unusable, or there is no
    /// tokio runtime.
    Config,
    /// No response arrived within the request timeout (or no connection to send it on).
    Timeout,
    /// The client has shut down.
    Closed,
    /// The service answered with this non-200 `__stat` (see
    /// [`CommandStatus`](super::envelope::CommandStatus)).
    Status(u16),
    /// The response is not one of the protocol: no `__stat`, or a wrong content type.
    UnexpectedResponse,
}

/// An error of a [`CommandClient`](super::CommandClient); its message names the service and
/// the command.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct CommandError {
    kind: CommandErrorKind,
    message: String,
    /// Boxed: keeps `Result<_, CommandError>` small on the happy path.
    #[source]
    source: Option<Box<MqttError>>,
}

impl CommandError {
    /// An error of `kind` with a message for people.
    pub fn new(kind: CommandErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// The error for a non-200 `status` answering `command` of `service`, with what the
    /// service said about it.
    pub fn status(service: &str, command: &str, status: u16, detail: &str) -> Self {
        Self::new(
            CommandErrorKind::Status(status),
            format!("the {service} answered {command} with status {status}: {detail}"),
        )
    }

    /// What went wrong.
    pub fn kind(&self) -> CommandErrorKind {
        self.kind
    }

    /// The `__stat` of a [`CommandErrorKind::Status`] error.
    pub fn status_code(&self) -> Option<u16> {
        match self.kind {
            CommandErrorKind::Status(status) => Some(status),
            _ => None,
        }
    }

    /// The message and the MQTT setup error behind a [`CommandErrorKind::Config`] error, for
    /// a service's own error.
    pub fn into_parts(self) -> (String, Option<MqttError>) {
        (self.message, self.source.map(|source| *source))
    }
}

/// The one conversion of a connection that cannot be set up: a [`CommandErrorKind::Config`]
/// error with the same message and the cause kept.
impl From<MqttError> for CommandError {
    fn from(error: MqttError) -> Self {
        Self {
            kind: CommandErrorKind::Config,
            message: error.to_string(),
            source: Some(Box::new(error)),
        }
    }
}
