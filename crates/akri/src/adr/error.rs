//! What can go wrong with a command to the device registry service.

use aio_mqtt::rpc::{CommandError, CommandErrorKind};

use super::protocol::ServiceError;

/// A command that did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum AdrError {
    /// The service answered with its error (`getAssetError`, ...).
    #[error("{command}: the device registry refused it: {} ({})", .error.message, .error.code)]
    Refused {
        /// The command.
        command: &'static str,
        /// The service's error.
        error: ServiceError,
    },
    /// No answer, a refused envelope, or a closed client.
    #[error(transparent)]
    Command(#[from] CommandError),
    /// An answer that is not the DTDL's.
    #[error("{command}: unexpected response: {what}")]
    Unexpected {
        /// The command.
        command: &'static str,
        /// What is wrong with it.
        what: String,
    },
}

impl AdrError {
    /// Whether trying again later may succeed: no answer, or the service's own trouble
    /// (`InternalError`, `KubeError`), not a request it refuses.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Refused { error, .. } => {
                matches!(error.code.as_str(), "InternalError" | "KubeError")
            }
            Self::Command(error) => matches!(
                error.kind(),
                CommandErrorKind::Timeout | CommandErrorKind::Status(500..=599)
            ),
            Self::Unexpected { .. } => false,
        }
    }

    /// Whether the client was closed.
    pub fn is_closed(&self) -> bool {
        matches!(self, Self::Command(e) if e.kind() == CommandErrorKind::Closed)
    }
}
