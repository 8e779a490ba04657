//! How the `Storage` destination fails: a path that leaves the storage root (never retried: a
//! dead letter), or an I/O failure of its file (retried: a full disk or a permission can be
//! fixed).

use crate::error::PublishError;

/// `path` refused for `reason`: not a plain relative path, or a symbolic link out of the root.
pub(crate) fn path_refused(path: &str, reason: &str) -> PublishError {
    PublishError::StoragePath {
        path: path.to_owned(),
        reason: reason.to_owned(),
    }
}

/// The file of `path` could not be opened, written, rotated or flushed.
pub(crate) fn io_error(path: &str, reason: impl Into<String>) -> PublishError {
    PublishError::Storage {
        path: path.to_owned(),
        reason: reason.into(),
    }
}
