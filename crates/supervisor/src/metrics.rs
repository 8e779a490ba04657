//! The runtime's counters for telemetry: [`RuntimeMetrics`] keeps each stream's
//! [`StreamStats`] and each operation's [`OperationStats`] (created by the supervisor, updated
//! by the stream tasks with relaxed atomics) and copies them into `telemetry`'s snapshots
//! when a collector asks. Counters live as long as their stream or operation is in the plan
//! (a restarted stream keeps counting where it was).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use model::plan::{Operation, OperationId, StreamSpec};
use telemetry::{ErrorCategory, MetricsProducer, OperationMetrics, StreamMetrics};

use crate::state::{OperationStats, StreamStats};

/// The counters of every stream and operation; cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub struct RuntimeMetrics {
    inner: Arc<Mutex<Registry>>,
}

#[derive(Debug, Default)]
struct Registry {
    streams: HashMap<StreamSpec, StreamEntry>,
    operations: BTreeMap<OperationId, Arc<OperationStats>>,
}

#[derive(Debug)]
struct StreamEntry {
    device: String,
    endpoint: String,
    stats: Arc<StreamStats>,
}

impl RuntimeMetrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The counters of the stream `spec` read by `operations` (created at its first start).
    pub(crate) fn stream<'a>(
        &self,
        spec: &StreamSpec,
        mut operations: impl Iterator<Item = &'a Operation>,
    ) -> Arc<StreamStats> {
        let mut registry = self.lock();
        if let Some(entry) = registry.streams.get(spec) {
            return entry.stats.clone();
        }
        let (device, endpoint) = operations
            .next()
            .map(|op| (op.device.name.clone(), op.device.endpoint.clone()))
            .unwrap_or_default();
        let stats = Arc::new(StreamStats::default());
        registry.streams.insert(
            spec.clone(),
            StreamEntry {
                device,
                endpoint,
                stats: stats.clone(),
            },
        );
        stats
    }

    /// Forgets a stream that left the plan.
    pub(crate) fn remove_stream(&self, spec: &StreamSpec) {
        self.lock().streams.remove(spec);
    }

    /// The counters of operation `id` (created at first use).
    pub(crate) fn operation(&self, id: &OperationId) -> Arc<OperationStats> {
        self.lock()
            .operations
            .entry(id.clone())
            .or_default()
            .clone()
    }

    /// Forgets the operations `keep` does not accept (those that left the plan).
    pub(crate) fn retain_operations(&self, keep: impl Fn(&OperationId) -> bool) {
        self.lock().operations.retain(|id, _| keep(id));
    }
}

impl MetricsProducer for RuntimeMetrics {
    fn streams(&self) -> Vec<StreamMetrics> {
        self.lock()
            .streams
            .values()
            .map(|entry| {
                let s = entry.stats.snapshot();
                StreamMetrics {
                    device: entry.device.clone(),
                    endpoint: entry.endpoint.clone(),
                    received: s.events + s.too_large,
                    dropped: s.unmatched + s.unsupported + s.too_large,
                    bytes_in: s.bytes_in,
                    errors: [
                        (ErrorCategory::Connection, s.reconnects + s.stream_failures),
                        (ErrorCategory::Delivery, s.delivery_failures),
                        (ErrorCategory::Checkpoint, s.checkpoint_failures),
                        (ErrorCategory::EventTooLarge, s.too_large),
                        (ErrorCategory::NotJson, s.not_json),
                    ]
                    .into(),
                }
            })
            .collect()
    }

    fn operations(&self) -> Vec<OperationMetrics> {
        self.lock()
            .operations
            .iter()
            .map(|(id, stats)| {
                let s = stats.snapshot();
                OperationMetrics {
                    asset: id.asset().to_owned(),
                    operation: id.to_string(),
                    forwarded: s.forwarded,
                    failed: s.failed,
                    bytes_out: s.bytes_out,
                    latency: s.latency,
                    transform: s.transform,
                }
            })
            .collect()
    }
}
