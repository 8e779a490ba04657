//! [`Error`]: what can go wrong setting telemetry up or exporting.

/// What went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A setting is invalid (protocol, filter, endpoint).
    InvalidConfig,
    /// An export failed (collector unreachable or refusing).
    Export,
}

impl ErrorKind {
    /// Stable reason code.
    pub fn reason_code(self) -> &'static str {
        match self {
            Self::InvalidConfig => "invalid_config",
            Self::Export => "export_failed",
        }
    }
}

/// A telemetry error: its kind and a message that names the setting or the endpoint.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// The kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Whether trying again may help (exports).
    pub fn is_retryable(&self) -> bool {
        self.kind == ErrorKind::Export
    }

    /// Stable reason code.
    pub fn reason_code(&self) -> &'static str {
        self.kind.reason_code()
    }
}
