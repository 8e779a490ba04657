//! Errors of the registry's own operations. Problems *in* definitions are not errors: they
//! are [`model::Problem`]s in a [`crate::Snapshot`].

use std::path::PathBuf;

use model::Problem;

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The definitions directory does not exist.
    #[error("registry directory {} does not exist", .0.display())]
    NoRegistry(PathBuf),
    /// The secrets or trust directory disappeared while the plan in force uses files in it
    /// (a volume being remounted, a directory being replaced). The plan stays as it is until
    /// the directory is back.
    #[error("{what} directory {} is gone; the last good plan stays in force until it is back", path.display())]
    Gone {
        /// `secrets` or `trust`.
        what: &'static str,
        /// The directory.
        path: PathBuf,
    },
    /// A write was refused because the result would not validate.
    #[error("refused, the result would not be valid:\n{}", render(.0))]
    Invalid(Vec<Problem>),
    /// An edit that the model refuses (unknown resource, duplicate name, bad value).
    #[error(transparent)]
    Model(#[from] model::Error),
    /// The resource shares its file with other resources; commands only rewrite files that
    /// hold one resource, so that no other definition is touched.
    #[error("{resource} is defined in {} together with other resources; edit that file by hand", file.display())]
    SharedFile {
        /// `Kind/name`.
        resource: String,
        /// The file.
        file: PathBuf,
    },
    /// A definition could not be turned into YAML or JSON.
    #[error("cannot serialize {resource}: {message}")]
    Serialize {
        /// `Kind/name`.
        resource: String,
        /// The serializer's message.
        message: String,
    },
    /// A trust file that is not PEM certificates.
    #[error("{}: no PEM certificate found", .0.display())]
    NotPem(PathBuf),
    /// The file watcher could not be set up.
    #[error("cannot watch {}: {message}", path.display())]
    Watch {
        /// The directory.
        path: PathBuf,
        /// notify's message.
        message: String,
    },
}

fn render(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

impl Error {
    /// A stable code for status and metric labels.
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::Io { .. } => "RegistryIo",
            Self::NoRegistry(_) => "RegistryMissing",
            Self::Gone { .. } => "RegistryDirectoryGone",
            Self::Invalid(_) => "InvalidDefinition",
            Self::Model(e) => e.reason_code(),
            Self::SharedFile { .. } => "SharedFile",
            Self::Serialize { .. } => "SerializeFailed",
            Self::NotPem(_) => "NotPem",
            Self::Watch { .. } => "WatchFailed",
        }
    }

    /// Whether trying again may succeed without changing the input (I/O and watch errors).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Io { .. } | Self::Watch { .. } | Self::Gone { .. }
        )
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
