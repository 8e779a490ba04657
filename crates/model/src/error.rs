//! Errors of the model's own operations (editing definitions, parsing CLI values). Problems
//! in definitions are not errors of this kind: they are [`crate::Problem`]s, collected and
//! reported all at once.

/// An error of a model operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A `--dest` value that cannot be understood.
    #[error("--dest {spec:?}: {why}")]
    DestinationSpec {
        /// The value as given.
        spec: String,
        /// What is wrong.
        why: String,
    },
    /// Adding something that already exists.
    #[error("{owner} already has {what} {name:?}")]
    AlreadyExists {
        /// `Device/x`, `Asset/y` or `event group g`.
        owner: String,
        /// What was added (`inbound endpoint`, `dataset`, ...).
        what: &'static str,
        /// Its name.
        name: String,
    },
    /// Referring to something that does not exist.
    #[error("{owner} has no {what} {name:?}")]
    NotFound {
        /// `Device/x`, `Asset/y`, or `registry`.
        owner: String,
        /// What was looked for.
        what: &'static str,
        /// Its name.
        name: String,
    },
    /// A value given to an edit that cannot be used.
    #[error("{what}: {why}")]
    Invalid {
        /// Which value.
        what: String,
        /// What is wrong.
        why: String,
    },
}

impl Error {
    /// A stable code for status and metric labels.
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::DestinationSpec { .. } => "InvalidDestination",
            Self::AlreadyExists { .. } => "AlreadyExists",
            Self::NotFound { .. } => "NotFound",
            Self::Invalid { .. } => "InvalidValue",
        }
    }

    /// Model errors come from input: retrying the same input gives the same error.
    pub fn is_retryable(&self) -> bool {
        false
    }
}
