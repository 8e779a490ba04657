//! Reading a directory the way Kubernetes mounts ConfigMaps, Secrets and projected volumes.
//!
//! kubelet writes the content into a timestamped directory (`..2026_12_04_10_00_00.1234`),
//! points the symlink `..data` at it, and makes every visible name a symlink
//! `name -> ..data/name`. An update writes a new timestamped directory and swaps `..data`
//! atomically. So: entries whose names start with `..` are never content; visible names are
//! followed through their symlinks; and a visible symlink whose target is gone is an entry
//! being removed by a swap in progress, skipped.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use crate::error::Error;

/// A visible entry of a mounted directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its name (never starting with `..`).
    pub name: String,
    /// Its visible path, `dir/name` (not resolved, so that a later swap is followed when it
    /// is read again).
    pub path: PathBuf,
    /// Whether it resolves to a directory (else a file).
    pub is_dir: bool,
}

/// Whether `name` is content rather than kubelet's bookkeeping (`..data`, `..<timestamp>`).
pub fn is_visible(name: &str) -> bool {
    !name.starts_with("..")
}

/// The visible entries of `dir`, sorted by name, symlinks resolved. Names that are not UTF-8
/// (which Kubernetes never writes) and dangling symlinks (a swap in progress) are skipped.
///
/// # Errors
/// [`Error::Io`] when `dir` cannot be listed.
pub fn entries(dir: &Path) -> Result<Vec<Entry>, Error> {
    let listing = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut entries = Vec::new();
    for item in listing {
        let item = item.map_err(|e| Error::io(dir, e))?;
        let Ok(name) = item.file_name().into_string() else {
            tracing::warn!(dir = %dir.display(), name = ?item.file_name(), "skipping a name that is not UTF-8");
            continue;
        };
        if !is_visible(&name) {
            continue;
        }
        let path = item.path();
        // Follows symlinks: `name -> ..data/name -> ..<timestamp>/name`.
        match std::fs::metadata(&path) {
            Ok(meta) => entries.push(Entry {
                name,
                path,
                is_dir: meta.is_dir(),
            }),
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(path, e)),
        }
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

/// The visible files of `dir` (directories left out), sorted by name.
///
/// # Errors
/// As [`entries`].
pub fn files(dir: &Path) -> Result<Vec<Entry>, Error> {
    let mut entries = entries(dir)?;
    entries.retain(|e| !e.is_dir);
    Ok(entries)
}

/// The content of a mounted file; `None` when it vanished (a swap removed it since it was
/// listed).
///
/// # Errors
/// [`Error::Io`] when it cannot be read; [`Error::InvalidFile`] when it is not UTF-8.
pub fn read_text(path: &Path) -> Result<Option<String>, Error> {
    match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| Error::invalid(path, "the content is not UTF-8")),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}
