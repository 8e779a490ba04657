//! Where definitions, secrets and trust lists live.

use std::path::{Path, PathBuf};

/// The three directories of a registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryPaths {
    /// Every `*.yaml`, `*.yml`, `*.json` below it is a definition file (`--registry DIR`).
    pub definitions: PathBuf,
    /// Secrets laid out like mounted Kubernetes secrets: the secret `sse-creds/password` is the
    /// file `<secrets>/sse-creds/password` (default `DIR/secrets`, `--secrets DIR`).
    pub secrets: PathBuf,
    /// Trust lists: `trustList: plant-ca` is every PEM file in `<trust>/plant-ca/` (default
    /// `DIR/trust`, `--trust DIR`).
    pub trust: PathBuf,
    /// Certificates every endpoint trusts, beside its own trust list: every PEM file in this
    /// directory (`--trust-all-endpoints DIR`; in Akri mode the connector's trust settings
    /// mount).
    pub common_trust: Option<PathBuf>,
}

impl RegistryPaths {
    /// The defaults for a registry directory: secrets in `DIR/secrets`, trust in `DIR/trust`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        let definitions = dir.into();
        Self {
            secrets: definitions.join("secrets"),
            trust: definitions.join("trust"),
            common_trust: None,
            definitions,
        }
    }

    /// With another secrets directory.
    pub fn with_secrets(mut self, dir: impl Into<PathBuf>) -> Self {
        self.secrets = dir.into();
        self
    }

    /// With another trust directory.
    pub fn with_trust(mut self, dir: impl Into<PathBuf>) -> Self {
        self.trust = dir.into();
        self
    }

    /// With certificates every endpoint trusts.
    pub fn with_common_trust(mut self, dir: impl Into<PathBuf>) -> Self {
        self.common_trust = Some(dir.into());
        self
    }

    /// Whether `path` is the secrets or trust directory, or the transforms' `graphs` and
    /// `modules` folders (they are never read as definitions, even when they lie below the
    /// definitions directory).
    pub(crate) fn is_excluded(&self, path: &Path) -> bool {
        path == self.secrets
            || path == self.trust
            || self.common_trust.as_deref() == Some(path)
            || path == self.definitions.join(crate::transforms::GRAPHS_DIR)
            || path == self.definitions.join(crate::transforms::MODULES_DIR)
    }
}
