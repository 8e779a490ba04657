//! Where `run` takes its definitions from, as one feed: the first snapshot, then every
//! change. The registry directory (standalone: files the CLI, the API and the web UI write)
//! or, in Akri mode, AIO's device registry (allocation mount + ADR service).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use registry::{Registry, RegistryPaths, Reload, Snapshot};
use tokio::sync::mpsc;
use tokio_util::sync::{CancellationToken, DropGuard};

use super::akri_mode::AkriMode;

/// How long registry changes must settle before a reload.
const RELOAD_DEBOUNCE: Duration = Duration::from_millis(500);

/// The source of definitions.
#[derive(Debug)]
pub enum Definitions {
    /// The registry directory.
    Directory(RegistryPaths),
    /// AIO's device registry, as an Akri connector.
    Akri(Box<AkriMode>),
}

/// A change of the definitions.
#[derive(Debug)]
pub enum Change {
    /// A new snapshot and what changed in the plan.
    Reload(Reload),
    /// The definitions could not be read again; the running plan stays.
    Failed(String),
    /// The connector cannot go on (Akri: a contract violation the pod restart fixes).
    Fatal(anyhow::Error),
}

/// A running feed of definitions.
pub struct Feed {
    /// The first snapshot.
    pub first: Arc<Snapshot>,
    /// Every later change.
    pub changes: mpsc::UnboundedReceiver<Change>,
    /// The registry directory, for the HTTP API's writes (`None` in Akri mode: ADR owns the
    /// definitions).
    pub writable: Option<RegistryPaths>,
    /// What the status board shows as the registry.
    pub shown: RegistryPaths,
    /// Akri mode: the device registry client the status reporter writes with, and the
    /// index of the definitions held.
    pub adr: Option<(
        akri::adr::AdrClient,
        tokio::sync::watch::Receiver<akri::source::Index>,
    )>,
    _running: Running,
}

/// What keeps a feed running; dropped, it stops.
enum Running {
    Directory {
        _watch: registry::Watch,
    },
    Akri {
        _stop: DropGuard,
        _allocations: akri::allocation::Watch,
    },
}

impl Definitions {
    /// Reads the first snapshot and starts following changes.
    ///
    /// # Errors
    /// When the registry directory cannot be read or watched; in Akri mode when the
    /// allocation mount cannot be read or watched, the device registry client cannot start,
    /// or a contract rule is broken.
    pub async fn start(self) -> anyhow::Result<Feed> {
        match self {
            Self::Directory(paths) => directory(paths),
            Self::Akri(mode) => mode.start().await,
        }
    }
}

fn directory(paths: RegistryPaths) -> anyhow::Result<Feed> {
    let registry = Registry::open(paths.clone())
        .with_context(|| format!("cannot read the registry {}", paths.definitions.display()))?;
    let first = registry.snapshot();
    let (tx, changes) = mpsc::unbounded_channel();
    let watch = registry
        .watch(RELOAD_DEBOUNCE, move |outcome| {
            let change = match outcome {
                Ok(reload) => Change::Reload(reload),
                Err(error) => Change::Failed(error.to_string()),
            };
            let _ = tx.send(change);
        })
        .context("cannot watch the registry")?;
    Ok(Feed {
        first,
        changes,
        writable: Some(paths.clone()),
        shown: paths,
        adr: None,
        _running: Running::Directory { _watch: watch },
    })
}

impl Feed {
    /// An Akri feed.
    pub(super) fn akri(
        first: Arc<Snapshot>,
        changes: mpsc::UnboundedReceiver<Change>,
        shown: RegistryPaths,
        adr: (
            akri::adr::AdrClient,
            tokio::sync::watch::Receiver<akri::source::Index>,
        ),
        stop: CancellationToken,
        allocations: akri::allocation::Watch,
    ) -> Self {
        Self {
            first,
            changes,
            writable: None,
            shown,
            adr: Some(adr),
            _running: Running::Akri {
                _stop: stop.drop_guard(),
                _allocations: allocations,
            },
        }
    }
}
