//! [`StatusBoard`]: what the runtime tells the status (each applied plan, the streams it runs)
//! and the [`StatusReport`] made from it on demand, for the HTTP route and the status files.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use model::plan::OperationId;
use registry::Snapshot;
use supervisor::{
    Applied, OperationDeliveries, OperationSchemas, StreamHandle, StreamState, Unsupported,
};
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
    /// each stream's state, schemas and delivery problems (receivers of its own, so reports do
    /// not mark them seen).
    applied_since_taken: bool,
    watched: Vec<Watched>,
}

/// The receivers of one stream that [`StatusBoard::take_changed`] polls.
struct Watched {
    state: watch::Receiver<StreamState>,
    schemas: watch::Receiver<OperationSchemas>,
    deliveries: watch::Receiver<OperationDeliveries>,
}

impl Watched {
    /// Whether any of them changed since the last call (marking them seen).
    fn take_changed(&mut self) -> bool {
        fn take<T>(receiver: &mut watch::Receiver<T>) -> bool {
            let changed = receiver.has_changed().unwrap_or(false);
            if changed {
                receiver.mark_unchanged();
            }
            changed
        }
        // Every receiver is marked seen, so no short-circuit.
        let state = take(&mut self.state);
        let schemas = take(&mut self.schemas);
        let deliveries = take(&mut self.deliveries);
        state || schemas || deliveries
    }
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
            .map(|h| Watched {
                state: h.state.clone(),
                schemas: h.schemas.clone(),
                deliveries: h.deliveries.clone(),
            })
            .collect();
        inner.streams = streams;
        inner.applied_since_taken = true;
    }

    /// Whether anything but counters changed since the last call: a plan applied, a stream's
    /// state, an operation's schema or delivery problem. Cheap (no allocation): the status
    /// files are rewritten on it.
    pub fn take_changed(&self) -> bool {
        let mut inner = self.lock();
        let mut changed = std::mem::take(&mut inner.applied_since_taken);
        for watched in &mut inner.watched {
            changed |= watched.take_changed();
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use supervisor::{DeliveryProblem, Retrying, StreamStats};

    use super::*;

    /// A board watching one stream whose channels the test holds.
    fn board_with_one_stream() -> (
        StatusBoard,
        watch::Sender<StreamState>,
        watch::Sender<OperationSchemas>,
        watch::Sender<OperationDeliveries>,
    ) {
        let board = StatusBoard::new(
            ConnectorInfo {
                instance: "it".into(),
                version: "0".into(),
                broker_url: "mqtt://127.0.0.1:1883".into(),
                registry_dir: "registry".into(),
                secrets_dir: "registry/secrets".into(),
            },
            Arc::new(|| true),
        );
        let (state, state_rx) = watch::channel(StreamState::Connected);
        let (schemas, schemas_rx) = watch::channel(OperationSchemas::new());
        let (deliveries, deliveries_rx) = watch::channel(OperationDeliveries::new());
        let handle = StreamHandle {
            url: "http://127.0.0.1/events".parse().expect("url"),
            operations: Vec::new(),
            state: state_rx,
            stats: Arc::new(StreamStats::default()),
            schemas: schemas_rx,
            deliveries: deliveries_rx,
        };
        board.applied(
            Arc::new(Snapshot::default()),
            &Applied::default(),
            vec![handle],
        );
        (board, state, schemas, deliveries)
    }

    #[test]
    fn a_change_of_state_schema_or_delivery_is_seen_once() {
        let (board, state, schemas, deliveries) = board_with_one_stream();
        assert!(board.take_changed(), "the plan was applied");
        assert!(!board.take_changed(), "nothing since");

        let id = model::plan::OperationId::Dataset {
            asset: "a".into(),
            dataset: "d".into(),
        };
        deliveries.send_modify(|all| {
            all.insert(
                id.clone(),
                DeliveryProblem {
                    retrying: Some(Retrying {
                        reason: "refused".into(),
                        code: "broker_refused",
                        attempt: 1,
                        delay: std::time::Duration::from_secs(1),
                    }),
                    dead_letters: None,
                    transform: None,
                    transform_load: None,
                },
            );
        });
        assert!(board.take_changed(), "a delivery being retried");
        assert!(!board.take_changed());

        schemas.send_modify(|all| {
            all.insert(id, supervisor::OperationSchema::default());
        });
        state.send_replace(StreamState::Connecting);
        assert!(board.take_changed(), "a schema and a state");
        assert!(!board.take_changed(), "both marked seen at once");
        let _ = board.report();
        assert!(!board.take_changed(), "a report marks nothing");
    }
}
