//! What the fuzz targets share: an in-memory [`Environment`] where every secret and trust list
//! exists, so validation runs through to the plan.

use std::path::{Path, PathBuf};

use model::{Environment, FileRef, FileVersion, LookupError};

/// Every secret and trust list exists (one certificate each); names are checked as the
/// registry checks them.
pub struct MemEnv;

fn file(path: PathBuf) -> FileRef {
    FileRef {
        path,
        version: FileVersion {
            len: 1,
            modified: None,
        },
    }
}

impl Environment for MemEnv {
    fn secret(&self, name: &str) -> Result<FileRef, LookupError> {
        let relative =
            model::environment::safe_relative_path(name).map_err(LookupError::InvalidName)?;
        Ok(file(Path::new("/secrets").join(relative)))
    }

    fn trust_list(&self, name: &str) -> Result<Vec<FileRef>, LookupError> {
        let relative =
            model::environment::safe_relative_path(name).map_err(LookupError::InvalidName)?;
        Ok(vec![file(
            Path::new("/trust").join(relative).join("ca.pem"),
        )])
    }
}
