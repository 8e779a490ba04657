//! What every registry command shares: the `--registry`, `--secrets` and `--trust` options,
//! opening the registry, and reporting a write.
//!
//! The options are global to their command, so both `sse-connector device --registry r list`
//! and `sse-connector device list --registry r` work, and each can come from the environment
//! (`SSE_CONNECTOR_REGISTRY`, `SSE_CONNECTOR_SECRETS`, `SSE_CONNECTOR_TRUST`), which scripts
//! that run many commands against one registry find handy.

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use registry::write::Written;
use registry::{Registry, RegistryPaths};

use crate::output::is_broken_pipe;

/// The registry directory used when neither `--registry` nor `SSE_CONNECTOR_REGISTRY` is
/// given: `registry` in the current directory, the layout `docs/configuration.md` shows.
pub const DEFAULT_REGISTRY: &str = "registry";

/// `--registry`, `--secrets`, `--trust`, `--trust-all-endpoints`.
#[derive(Debug, Clone, Args)]
pub struct RegistryArgs {
    /// Registry directory: every *.yaml, *.yml, *.json below it is a definition
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        env = "SSE_CONNECTOR_REGISTRY",
        default_value = DEFAULT_REGISTRY,
        help_heading = "Registry"
    )]
    registry: PathBuf,

    /// Secrets directory, laid out like a mounted Kubernetes secret [default: REGISTRY/secrets]
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        env = "SSE_CONNECTOR_SECRETS",
        help_heading = "Registry"
    )]
    secrets: Option<PathBuf>,

    /// Trust lists directory, one subdirectory of PEM files per list [default: REGISTRY/trust]
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        env = "SSE_CONNECTOR_TRUST",
        help_heading = "Registry"
    )]
    trust: Option<PathBuf>,

    /// PEM certificates every endpoint trusts, beside its own trust list
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        env = "SSE_CONNECTOR_TRUST_ALL_ENDPOINTS",
        help_heading = "Registry"
    )]
    trust_all_endpoints: Option<PathBuf>,
}

impl RegistryArgs {
    /// The three directories.
    pub fn paths(&self) -> RegistryPaths {
        let mut paths = RegistryPaths::new(&self.registry);
        if let Some(dir) = &self.secrets {
            paths = paths.with_secrets(dir);
        }
        if let Some(dir) = &self.trust {
            paths = paths.with_trust(dir);
        }
        if let Some(dir) = &self.trust_all_endpoints {
            paths = paths.with_common_trust(dir);
        }
        paths
    }

    /// Opens an existing registry (commands that read, change or delete).
    ///
    /// # Errors
    /// When the registry directory does not exist or cannot be read.
    pub fn open(&self) -> anyhow::Result<Registry> {
        Registry::open(self.paths()).map_err(failed)
    }

    /// Opens the registry, creating its directory first (commands that add something, so
    /// that a script can start from an empty directory).
    ///
    /// # Errors
    /// When the directory cannot be created or read.
    pub fn open_or_create(&self) -> anyhow::Result<Registry> {
        std::fs::create_dir_all(&self.registry).with_context(|| {
            format!(
                "cannot create the registry directory {}",
                self.registry.display()
            )
        })?;
        self.open()
    }
}

/// A registry error for `main` to report. The registry's messages already include their
/// cause (an I/O error's path and reason, a refusal's problems one per line), so the source
/// chain, which would repeat it, is not kept.
pub fn failed(error: registry::Error) -> anyhow::Error {
    anyhow::anyhow!("{error}")
}

/// Reports a write: `VERB PATH` on standard output, then its warnings on standard error,
/// each as `warning: FILE: RESOURCE: field.path: message`.
///
/// # Errors
/// When standard output cannot be written (a closed pipe is not an error).
pub fn report_written(verb: &str, written: &Written) -> anyhow::Result<()> {
    print(&format!("{verb} {}\n", written.path.display()))?;
    for warning in &written.warnings {
        eprintln!("warning: {warning}");
    }
    Ok(())
}

/// Writes `text` to standard output. A reader that went away (`| head`) is not an error:
/// the command has done its work and exits 0.
///
/// # Errors
/// Other write errors (a full disk behind a redirect).
pub fn print(text: &str) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(error) if !is_broken_pipe(&error) => {
            Err(error).context("cannot write to standard output")
        }
        _ => Ok(()),
    }
}
