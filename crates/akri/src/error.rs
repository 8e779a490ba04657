//! What can go wrong reading the deployment (the contract's variables and mounts) and the
//! allocation mount. Every error names the variable or the path involved.

use std::path::PathBuf;

/// An unusable deployment or allocation mount.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Required variables are unset or empty.
    #[error("the Akri deployment lacks the variable(s) {}", .0.join(", "))]
    MissingVariables(Vec<&'static str>),
    /// A variable (or a file of the configuration mount) names a path that does not exist.
    #[error("{named_by} names {}, which does not exist", path.display())]
    MissingPath {
        /// What named the path: `variable NAME` or the file listing it.
        named_by: String,
        /// The path.
        path: PathBuf,
    },
    /// A path exists but is not what the contract says (a directory where a file is
    /// expected, or the reverse, or a trust bundle without any certificate file).
    #[error("{named_by} names {}, which is not {expected}", path.display())]
    WrongKind {
        /// What named the path.
        named_by: String,
        /// The path.
        path: PathBuf,
        /// What it should be.
        expected: &'static str,
    },
    /// A file or directory could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file whose content is not valid: not JSON, a field missing or out of range.
    #[error("{} is not valid: {message}", path.display())]
    InvalidFile {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the field when one is at fault.
        message: String,
    },
    /// The allocation mount could not be watched.
    #[error("cannot watch {}: {message}", path.display())]
    Watch {
        /// The directory.
        path: PathBuf,
        /// The watcher's message.
        message: String,
    },
}

impl Error {
    /// An I/O error on `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    /// A file whose content is not valid.
    pub(crate) fn invalid(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self::InvalidFile {
            path: path.into(),
            message: message.into(),
        }
    }
}
