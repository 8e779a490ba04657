//! What validation needs to know about the world outside the definitions: whether a secret or
//! a trust list exists, and where its files are. The registry answers from the file system;
//! tests answer from memory. Only paths and file versions cross this boundary, never contents.

use std::path::{Component, Path, PathBuf};
use std::time::SystemTime;

/// Identifies one version of a file without reading it: a change to the file (including a
/// Kubernetes `..data` symlink swap) changes this, so the plan changes and the stream restarts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileVersion {
    /// Size in bytes.
    pub len: u64,
    /// Last modification time, when the file system reports one.
    pub modified: Option<SystemTime>,
}

/// A file the connector reads when it needs it (a secret or a trust certificate).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileRef {
    /// Absolute or registry-relative path of the file.
    pub path: PathBuf,
    /// The version seen when the plan was made.
    pub version: FileVersion,
}

/// Why a secret or trust list could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupError {
    /// The name is not a relative path that stays inside its directory.
    InvalidName(String),
    /// No such file or directory.
    Missing(PathBuf),
    /// The trust list directory holds no PEM certificate.
    NoCertificates(PathBuf),
    /// The file exists but cannot be read.
    Unreadable(PathBuf, String),
    /// The file (or directory) is a symlink that resolves outside the secrets or trust
    /// directory (the second path). Symlinks inside it, such as a Kubernetes mount's
    /// `NAME/key` → `..data/key` → `..2026_11_27_…/key`, are fine.
    Outside(PathBuf, PathBuf),
}

impl std::fmt::Display for LookupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::InvalidName(why) => f.write_str(why),
            Self::Missing(p) => write!(f, "{} does not exist", p.display()),
            Self::NoCertificates(p) => write!(f, "{} holds no PEM certificate", p.display()),
            Self::Unreadable(p, why) => write!(f, "{} cannot be read: {why}", p.display()),
            Self::Outside(p, dir) => write!(
                f,
                "{} is a symlink that resolves outside {}",
                p.display(),
                dir.display()
            ),
        }
    }
}

/// Secrets and trust lists, as seen by validation.
pub trait Environment {
    /// The file of a secret (`sse-creds/password` → `<secrets>/sse-creds/password`).
    fn secret(&self, name: &str) -> Result<FileRef, LookupError>;
    /// Every PEM certificate file of a trust list (`plant-ca` → `<trust>/plant-ca/*`).
    fn trust_list(&self, name: &str) -> Result<Vec<FileRef>, LookupError>;
}

/// A name that is safe to join onto a directory: relative, not empty, and made only of normal
/// components (no `..`, no `.`, no root, no prefix). Secret names, trust list names and
/// storage paths all pass through this.
pub fn safe_relative_path(name: &str) -> Result<PathBuf, String> {
    if name.is_empty() {
        return Err("required: a relative name".to_owned());
    }
    if name.contains('\\') || name.contains('\0') {
        return Err(format!("{name:?} contains a backslash or NUL"));
    }
    let path = Path::new(name);
    if path.is_absolute() || name.starts_with('/') {
        return Err(format!(
            "{name:?} is absolute; names are relative to their directory"
        ));
    }
    // `Path::components` silently drops inner `.` and empty segments, so look at the text.
    for segment in name.split('/') {
        if segment == ".." || segment == "." {
            return Err(format!(
                "{name:?} leaves its directory (`..` or `.` is not allowed)"
            ));
        }
        if segment.is_empty() {
            return Err(format!("{name:?} has an empty path segment"));
        }
    }
    if path
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
    {
        return Err(format!("{name:?} is not a plain relative path"));
    }
    Ok(path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_leave_the_directory_are_rejected() {
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a/./b",
            ".",
            "a\\..\\b",
            "a//b",
            "a/",
        ] {
            assert!(safe_relative_path(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(
            safe_relative_path("sse-creds/password"),
            Ok(PathBuf::from("sse-creds/password"))
        );
    }
}
