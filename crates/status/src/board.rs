//! [`StatusBoard`]: what the runtime tells the status (each applied plan, the streams it runs)
//! and the [`StatusReport`] made from it on demand, for the HTTP route and the status files.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use model::plan::OperationId;
use registry::Snapshot;
use supervisor::{Applied, OperationSchemas, StreamHandle, StreamState, Unsupported};
use tokio::sync::watch;

use crate::assemble::{Observed, StreamObservation, assemble};
use crate::report::{BrokerStatus, ConnectorStatus, RegistryStatus, ServicesStatus, StatusReport};
use crate::stamps::{Now, Stamps};

/// Facts about the process that do not change while it runs.
#[derive(Debug, Clone)]
pub struct ConnectorInfo {
    /// The connector's id (its MQTT client id).
    pub instance: String,
    /// The connector's version.
    pub version: String,
    /// `mqtt://host:port`.
    pub broker_url: String,
    /// The definitions directory.
    pub registry_dir: PathBuf,
    /// The secrets directory.
    pub secrets_dir: PathBuf,
}

/// Whether the broker connection is up.
pub type BrokerProbe = Arc<dyn Fn() -> bool + Send + Sync>;

/// The status of a running connector. Cheap to clone; every clone sees the same state.
#[derive(Clone)]
pub struct StatusBoard {
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    info: ConnectorInfo,
    started_at: String,
    broker: BrokerProbe,
    services: Option<ServicesStatus>,
    snapshot: Arc<Snapshot>,
    streams: Vec<StreamHandle>,
    unsupported: BTreeMap<OperationId, Unsupported>,
    stamps: Stamps,
    /// What [`StatusBoard::take_changed`] watches: set by [`StatusBoard::applied`], and
    /// each stream's state and schemas (receivers of its own, so reports do not mark them
    /// seen).
    applied_since_taken: bool,
    watched: Vec<(
        watch::Receiver<StreamState>,
        watch::Receiver<OperationSchemas>,
    )>,
}

impl std::fmt::Debug for StatusBoard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatusBoard").finish_non_exhaustive()
    }
}

impl StatusBoard {
    /// A board for a connector that started now, with nothing applied yet.
    pub fn new(info: ConnectorInfo, broker: BrokerProbe) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner {
                info,
                started_at: Now::system().text,
                broker,
                services: None,
                snapshot: Arc::new(Snapshot::default()),
                streams: Vec::new(),
                unsupported: BTreeMap::new(),
                stamps: Stamps::default(),
                applied_since_taken: true,
                watched: Vec::new(),
            })),
        }
    }

    /// Records where the state store and the schema registry run (decided once, at start).
    pub fn set_services(&self, services: ServicesStatus) {
        let mut inner = self.lock();
        inner.services = Some(services);
        inner.applied_since_taken = true;
    }

    /// Records a registry snapshot, what applying its plan did, and the streams running now.
    /// Call it after every apply, and after every reload (problems change without the plan).
    pub fn applied(&self, snapshot: Arc<Snapshot>, applied: &Applied, streams: Vec<StreamHandle>) {
        let mut inner = self.lock();
        let diff = model::diff(&inner.snapshot.plan, &snapshot.plan);
        for id in diff.removed.iter().chain(&diff.changed) {
            inner.unsupported.remove(id);
        }
        for unsupported in &applied.unsupported {
            inner
                .unsupported
                .insert(unsupported.operation.clone(), unsupported.clone());
        }
        inner.snapshot = snapshot;
        inner.watched = streams
            .iter()
            .map(|h| (h.state.clone(), h.schemas.clone()))
            .collect();
        inner.streams = streams;
        inner.applied_since_taken = true;
    }

    /// Whether anything but counters changed since the last call: a plan applied, a stream's
    /// state or an operation's schema. Cheap (no allocation): the status files are rewritten
    /// on it.
    pub fn take_changed(&self) -> bool {
        let mut inner = self.lock();
        let mut changed = std::mem::take(&mut inner.applied_since_taken);
        for (state, schemas) in &mut inner.watched {
            if state.has_changed().unwrap_or(false) {
                state.mark_unchanged();
                changed = true;
            }
            if schemas.has_changed().unwrap_or(false) {
                schemas.mark_unchanged();
                changed = true;
            }
        }
        changed
    }

    /// The status now.
    pub fn report(&self) -> StatusReport {
        let mut inner = self.lock();
        let streams: Vec<StreamObservation> = inner
            .streams
            .iter()
            .map(|handle| StreamObservation {
                url: handle.url.clone(),
                operations: handle.operations.clone(),
                state: handle.state.borrow().clone(),
                stats: handle.stats.snapshot(),
                schemas: handle.schemas.borrow().clone(),
                deliveries: handle.deliveries.borrow().clone(),
            })
            .collect();
        let secrets_dir = inner.info.secrets_dir.clone();
        let mut parts = assemble(&Observed {
            snapshot: &inner.snapshot,
            streams: &streams,
            unsupported: &inner.unsupported,
            secrets_dir: &secrets_dir,
        });
        let now = Now::system();
        inner.stamps.stamp(&mut parts, &now);
        let snapshot = &inner.snapshot;
        StatusReport {
            connector: ConnectorStatus {
                instance: inner.info.instance.clone(),
                version: inner.info.version.clone(),
                started_at: inner.started_at.clone(),
                generated_at: now.text,
                broker: BrokerStatus {
                    url: inner.info.broker_url.clone(),
                    connected: (inner.broker)(),
                },
                registry: RegistryStatus {
                    directory: inner.info.registry_dir.display().to_string(),
                    files: snapshot.files.len(),
                    errors: snapshot.errors().count(),
                    warnings: snapshot.warnings().count(),
                },
                services: inner.services.clone(),
            },
            devices: parts.devices,
            assets: parts.assets,
            streams: parts.streams,
            problems: parts.problems,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // The state stays consistent across a panic in a reader: every write replaces whole
        // values.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
