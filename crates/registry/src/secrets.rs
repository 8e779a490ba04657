//! Secrets and trust lists on disk, laid out like mounted Kubernetes secrets.
//!
//! Only paths and file versions are returned; secret contents are never read here. Trust
//! files are read, to keep only those that hold PEM certificates. Paths are followed through
//! symlinks, so a Kubernetes `..data` swap shows up as a new file version; a path that
//! resolves outside its directory (a symlink to `/etc/shadow`, say) is refused, wherever the
//! symlinks inside the directory lead first.

use std::fs;
use std::path::{Path, PathBuf};

use model::environment::safe_relative_path;
use model::{Environment, FileRef, FileVersion, LookupError};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// Answers validation's questions from the secrets and trust directories.
#[derive(Debug, Clone)]
pub struct FsEnvironment {
    secrets: PathBuf,
    trust: PathBuf,
}

impl FsEnvironment {
    /// Secrets below `secrets`, trust lists below `trust`.
    pub fn new(secrets: impl Into<PathBuf>, trust: impl Into<PathBuf>) -> Self {
        Self {
            secrets: secrets.into(),
            trust: trust.into(),
        }
    }
}

/// The version of the file at `path` (following symlinks).
pub(crate) fn version(path: &Path) -> Result<FileVersion, LookupError> {
    match fs::metadata(path) {
        Ok(m) if m.is_file() => Ok(FileVersion {
            len: m.len(),
            modified: m.modified().ok(),
        }),
        Ok(_) => Err(LookupError::Missing(path.to_path_buf())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(LookupError::Missing(path.to_path_buf()))
        }
        Err(e) => Err(LookupError::Unreadable(path.to_path_buf(), e.to_string())),
    }
}

/// Checks that `path`, with every symlink followed, is inside `root` (itself resolved: the
/// secrets directory may be a symlink to a mount). The file is still opened by its own path
/// later, so that a Kubernetes `..data` swap is followed.
pub(crate) fn inside(root: &Path, path: &Path) -> Result<(), LookupError> {
    let resolve = |p: &Path| {
        fs::canonicalize(p).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => LookupError::Missing(p.to_path_buf()),
            _ => LookupError::Unreadable(p.to_path_buf(), e.to_string()),
        })
    };
    let (root_real, real) = (resolve(root)?, resolve(path)?);
    if real.starts_with(&root_real) {
        Ok(())
    } else {
        Err(LookupError::Outside(path.to_path_buf(), root.to_path_buf()))
    }
}

/// Whether `bytes` hold at least one PEM certificate.
pub fn holds_certificate(bytes: &[u8]) -> bool {
    CertificateDer::pem_slice_iter(bytes).any(|c| c.is_ok())
}

impl Environment for FsEnvironment {
    fn secret(&self, name: &str) -> Result<FileRef, LookupError> {
        let relative = safe_relative_path(name).map_err(LookupError::InvalidName)?;
        let path = self.secrets.join(relative);
        let version = version(&path)?;
        inside(&self.secrets, &path)?;
        Ok(FileRef { path, version })
    }

    fn trust_list(&self, name: &str) -> Result<Vec<FileRef>, LookupError> {
        let relative = safe_relative_path(name).map_err(LookupError::InvalidName)?;
        trust_files(&self.trust, &self.trust.join(relative))
    }
}

/// Every PEM certificate file directly in `dir`, which must be inside `root` (symlinks
/// followed), in name order. Entries whose names start with `.` (a Kubernetes mount's
/// `..data` and `..2026_…`) are skipped: the visible names are symlinks into them.
///
/// # Errors
/// [`LookupError::Missing`] for a missing directory, [`LookupError::NoCertificates`] when it
/// holds none, [`LookupError::Outside`], [`LookupError::Unreadable`].
pub fn trust_files(root: &Path, dir: &Path) -> Result<Vec<FileRef>, LookupError> {
    let dir = dir.to_path_buf();
    if dir.exists() {
        inside(root, &dir)?;
    }
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(LookupError::Missing(dir));
        }
        Err(e) => return Err(LookupError::Unreadable(dir, e.to_string())),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| LookupError::Unreadable(dir.clone(), e.to_string()))?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        let Ok(version) = version(&path) else {
            continue;
        };
        inside(root, &path)?;
        let bytes =
            fs::read(&path).map_err(|e| LookupError::Unreadable(path.clone(), e.to_string()))?;
        if holds_certificate(&bytes) {
            files.push(FileRef { path, version });
        }
    }
    if files.is_empty() {
        return Err(LookupError::NoCertificates(dir));
    }
    files.sort();
    Ok(files)
}
