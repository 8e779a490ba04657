//! Errors: [`InferError`] (a payload the schema cannot be inferred from) and
//! [`RegisterError`] (a registrar could not register a schema), each with a kind, a stable
//! reason code and whether trying again may help.

/// AIO's health reason code of an operation whose message schema could not be generated.
pub const SCHEMA_GENERATION_FAILURE: &str = "SseConnectorSchemaGenerationFailure";

/// Why no schema could be inferred from a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InferErrorKind {
    /// The payload is not exactly one JSON value.
    #[error("the payload is not JSON")]
    NotJson,
}

/// A payload no schema can be inferred from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {detail}")]
pub struct InferError {
    kind: InferErrorKind,
    /// The parser's message (a position, never the payload).
    detail: String,
}

impl InferError {
    pub(crate) fn not_json(error: &serde_json::Error) -> Self {
        Self {
            kind: InferErrorKind::NotJson,
            detail: error.to_string(),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> InferErrorKind {
        self.kind
    }

    /// Stable reason code: `not_json`.
    pub fn reason_code(&self) -> &'static str {
        match self.kind {
            InferErrorKind::NotJson => "not_json",
        }
    }

    /// The AIO health code to report: [`SCHEMA_GENERATION_FAILURE`].
    pub fn health_code(&self) -> &'static str {
        SCHEMA_GENERATION_FAILURE
    }

    /// Never: the same payload fails the same way.
    pub fn is_retryable(&self) -> bool {
        false
    }
}

/// Why a schema was not registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegisterErrorKind {
    /// The registry refused the schema (its answer was an error: bad content, bad version…).
    #[error("the schema registry refused the schema")]
    Rejected,
    /// The registry could not be reached (no connection, the request could not be sent).
    #[error("the schema registry is not reachable")]
    Unavailable,
    /// The registry did not answer in time.
    #[error("the schema registry did not answer in time")]
    Timeout,
    /// The registry's answer could not be understood.
    #[error("the schema registry's answer is not understood")]
    InvalidResponse,
    /// The registry refused the version asked for (AIO's error target `Version`): it is not
    /// one it accepts, or it names other content there. The runtime tries the next version.
    #[error("the schema registry refused the version")]
    VersionRefused,
    /// The operation has registered every version the registry accepts (AIO's: 0 to 9), and
    /// its shape widened again.
    #[error("no schema version left for the operation")]
    VersionsExhausted,
}

impl RegisterErrorKind {
    /// Stable reason code: `schema_rejected`, `schema_registry_unavailable`,
    /// `schema_registry_timeout`, `schema_registry_invalid_response`,
    /// `schema_version_refused`, `schema_versions_exhausted`.
    pub fn reason_code(self) -> &'static str {
        match self {
            Self::Rejected => "schema_rejected",
            Self::Unavailable => "schema_registry_unavailable",
            Self::Timeout => "schema_registry_timeout",
            Self::InvalidResponse => "schema_registry_invalid_response",
            Self::VersionRefused => "schema_version_refused",
            Self::VersionsExhausted => "schema_versions_exhausted",
        }
    }

    /// Whether trying again later may succeed: when unreachable or late.
    pub fn is_retryable(self) -> bool {
        matches!(self, Self::Unavailable | Self::Timeout)
    }
}

/// A registration that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {detail}")]
pub struct RegisterError {
    kind: RegisterErrorKind,
    detail: String,
}

impl RegisterError {
    /// A failure of `kind`, described by `detail` (e.g. the registry's error message).
    pub fn new(kind: RegisterErrorKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> RegisterErrorKind {
        self.kind
    }

    /// See [`RegisterErrorKind::reason_code`].
    pub fn reason_code(&self) -> &'static str {
        self.kind.reason_code()
    }

    /// See [`RegisterErrorKind::is_retryable`].
    pub fn is_retryable(&self) -> bool {
        self.kind.is_retryable()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_codes_are_snake_case_and_unique() {
        use RegisterErrorKind as K;
        let kinds = [
            K::Rejected,
            K::Unavailable,
            K::Timeout,
            K::InvalidResponse,
            K::VersionRefused,
            K::VersionsExhausted,
        ];
        let mut codes: Vec<&str> = kinds.iter().map(|k| k.reason_code()).collect();
        codes.push("not_json");
        for code in &codes {
            assert!(
                code.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{code}"
            );
        }
        let n = codes.len();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), n);
        assert!(K::Timeout.is_retryable() && !K::Rejected.is_retryable());
        assert!(!K::VersionRefused.is_retryable() && !K::VersionsExhausted.is_retryable());
        let e = RegisterError::new(K::Rejected, "400 Version");
        assert_eq!(
            e.to_string(),
            "the schema registry refused the schema: 400 Version"
        );
    }
}
