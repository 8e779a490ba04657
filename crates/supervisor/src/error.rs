//! Errors of the runtime: what stops one stream, and what a checkpoint file can go through.
//!
//! None of them stops the supervisor: a stream that hits one is reported
//! ([`StreamState::Failed`](crate::StreamState::Failed)) and the others go on.

use std::path::PathBuf;

/// Why a stream could not start or run, or a checkpoint could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A secret file (user name, password) could not be read. Names the file, never its
    /// content.
    #[error("cannot read the secret file {path}: {source}")]
    Secret {
        /// The secret file.
        path: PathBuf,
        /// The I/O failure.
        #[source]
        source: std::io::Error,
    },
    /// A secret file is not UTF-8 text.
    #[error("the secret file {path} is not UTF-8 text")]
    SecretEncoding {
        /// The secret file.
        path: PathBuf,
    },
    /// The SSE client refused the configuration or failed for good (its message names the
    /// URL and the cause, never a secret).
    #[error(transparent)]
    Source(#[from] sse_client::Error),
    /// A checkpoint file or its directory could not be read or written.
    #[error("checkpoint {path}: {source}")]
    CheckpointIo {
        /// The file or directory.
        path: PathBuf,
        /// The I/O failure.
        #[source]
        source: std::io::Error,
    },
    /// A checkpoint file holds something else than a checkpoint.
    #[error("checkpoint {path} is not valid: {source}")]
    CheckpointFormat {
        /// The file.
        path: PathBuf,
        /// What the JSON reader said.
        #[source]
        source: serde_json::Error,
    },
    /// A blocking file task was cancelled or panicked (the runtime is shutting down).
    #[error("a file task did not finish: {0}")]
    Join(#[from] tokio::task::JoinError),
}

impl Error {
    /// A stable snake_case label, for status and metrics.
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::Secret { .. } | Self::SecretEncoding { .. } => "secret_unreadable",
            Self::Source(e) => e.reason_code(),
            Self::CheckpointIo { .. } => "checkpoint_io",
            Self::CheckpointFormat { .. } => "checkpoint_invalid",
            Self::Join(_) => "task_failed",
        }
    }

    /// Whether trying again later may succeed without a change to the definition, a secret
    /// or a trust list. Secrets and source configuration errors are not retried (DESIGN 3.7);
    /// checkpoint writes are tried again at the next flush.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Secret { .. } | Self::SecretEncoding { .. } => false,
            Self::Source(e) => e.is_retryable(),
            Self::CheckpointIo { .. } | Self::Join(_) => true,
            Self::CheckpointFormat { .. } => false,
        }
    }
}
