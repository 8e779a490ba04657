//! The connector's metrics as plain snapshots (names, units and help texts: the
//! [`catalogue`](crate::catalogue)): the runtime keeps `AtomicU64`s and
//! [`LatencyHistogram`]s per stream and per data operation, and a [`MetricsProducer`] copies
//! them when a collector asks (Prometheus scrape or OTLP export interval). Nothing is
//! recorded through an SDK on the event path.
//!
//! Labels (bounded: they come from the definitions, never from event content):
//! - every series: `service="aio_sse_connector"` and `instance` (the connector id, its MQTT
//!   client id);
//! - per stream (`messages_received`, `messages_dropped`, `bytes_in`, `errors`): `device` and
//!   `endpoint` (the device's inbound endpoint); `errors` adds `error`, one of
//!   [`ErrorCategory`];
//! - per data operation (`messages_forwarded`, `messages_failed`, `bytes_out`,
//!   `processing_latency`): `asset` and `operation` (`asset/datasets/name` or
//!   `asset/eventGroups/group/events/name`);
//! - per data operation with a transform (`transform_transformed`, `transform_filtered`,
//!   `transform_failures`): `asset` and `operation`; `transform_failures` adds `kind`, one
//!   of [`TransformFailureKind`].
//!
//! Series with the same labels (two streams of one endpoint) are added together.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use crate::histogram::HistogramSnapshot;
#[cfg(doc)]
use crate::histogram::LatencyHistogram;

/// The `service` label of every series.
pub const SERVICE: &str = "aio_sse_connector";

/// How often the heartbeat counter goes up.
pub const HEARTBEAT_PERIOD: Duration = Duration::from_secs(30);

/// The `error` label of `aio_sse_connector_errors`: a general category, never a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorCategory {
    /// A connection attempt failed or a connected stream broke (retried or not).
    Connection,
    /// A message could not be delivered to its destination.
    Delivery,
    /// A checkpoint file could not be written.
    Checkpoint,
    /// An event was larger than the maximum event size and dropped.
    EventTooLarge,
    /// An event's data was not JSON where data points needed it.
    NotJson,
}

impl ErrorCategory {
    /// Every category.
    pub const ALL: [Self; 5] = [
        Self::Connection,
        Self::Delivery,
        Self::Checkpoint,
        Self::EventTooLarge,
        Self::NotJson,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connection => "connection",
            Self::Delivery => "delivery",
            Self::Checkpoint => "checkpoint",
            Self::EventTooLarge => "event_too_large",
            Self::NotJson => "not_json",
        }
    }
}

/// The `kind` label of `aio_sse_connector_transform_failures`: what a transform's failure
/// was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TransformFailureKind {
    /// The module trapped (a panic, out of bounds, memory beyond its limit).
    Trap,
    /// A call ran out of time.
    Timeout,
    /// The module returned its `error` result.
    Error,
    /// The module returned a message that cannot be published.
    Output,
    /// The transform, or a new instance of it, could not be loaded.
    Load,
    /// Paused after repeated failures.
    Backoff,
}

impl TransformFailureKind {
    /// Every kind.
    pub const ALL: [Self; 6] = [
        Self::Trap,
        Self::Timeout,
        Self::Error,
        Self::Output,
        Self::Load,
        Self::Backoff,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trap => "trap",
            Self::Timeout => "timeout",
            Self::Error => "error",
            Self::Output => "output",
            Self::Load => "load",
            Self::Backoff => "backoff",
        }
    }
}

/// The counters of one data operation's transform.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransformMetrics {
    /// Events it passed on to be published.
    pub transformed: u64,
    /// Events it filtered out.
    pub filtered: u64,
    /// Events it failed on, by kind (kinds with none may be left out).
    pub failures: BTreeMap<TransformFailureKind, u64>,
}

/// The counters of the streams of one device endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamMetrics {
    /// Device name.
    pub device: String,
    /// Inbound endpoint name.
    pub endpoint: String,
    /// Events received (including those dropped for their size).
    pub received: u64,
    /// Events no operation forwarded: unmatched, unsupported destination, too large.
    pub dropped: u64,
    /// Event data bytes received.
    pub bytes_in: u64,
    /// Errors by category (categories with no error may be left out).
    pub errors: BTreeMap<ErrorCategory, u64>,
}

/// The counters of one data operation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OperationMetrics {
    /// Asset name.
    pub asset: String,
    /// Operation (`asset/datasets/name`, `asset/eventGroups/group/events/name`).
    pub operation: String,
    /// Messages delivered.
    pub forwarded: u64,
    /// Messages whose delivery failed.
    pub failed: u64,
    /// Payload bytes delivered.
    pub bytes_out: u64,
    /// Latency from the event's arrival to the delivery's completion.
    pub latency: HistogramSnapshot,
    /// Its transform's counters; `None` when it has no transform.
    pub transform: Option<TransformMetrics>,
}

/// Where the counters come from: the runtime (the supervisor) implements it.
pub trait MetricsProducer: Send + Sync + 'static {
    /// The counters of every stream now.
    fn streams(&self) -> Vec<StreamMetrics>;
    /// The counters of every data operation now.
    fn operations(&self) -> Vec<OperationMetrics>;
}

/// Every series at one moment, labels merged.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricsSnapshot {
    /// The connector id (`instance` label).
    pub instance: String,
    /// Per device endpoint, sorted by (device, endpoint).
    pub streams: Vec<StreamMetrics>,
    /// Per operation, sorted by operation.
    pub operations: Vec<OperationMetrics>,
    /// Heartbeats so far.
    pub heartbeat: u64,
    /// When the counters started (the OTLP start time of cumulative series).
    pub start: Option<SystemTime>,
}

/// The registry: the producer, the connector id and the heartbeat.
pub struct Metrics {
    instance: String,
    producer: std::sync::OnceLock<Arc<dyn MetricsProducer>>,
    heartbeat: AtomicU64,
    start: SystemTime,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("instance", &self.instance)
            .field("heartbeat", &self.heartbeat)
            .finish_non_exhaustive()
    }
}

impl Metrics {
    /// The metrics of connector `instance`; the runtime's counters come once
    /// [`set_producer`](Self::set_producer) gave them (until then, only the heartbeat).
    pub fn new(instance: impl Into<String>) -> Self {
        Self {
            instance: instance.into(),
            producer: std::sync::OnceLock::new(),
            heartbeat: AtomicU64::new(0),
            start: SystemTime::now(),
        }
    }

    /// Reads the runtime's counters from `producer` (once; later calls are ignored and
    /// return false).
    pub fn set_producer(&self, producer: Arc<dyn MetricsProducer>) -> bool {
        self.producer.set(producer).is_ok()
    }

    /// The connector id.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Adds one heartbeat (the heartbeat task calls it every [`HEARTBEAT_PERIOD`]).
    pub fn beat(&self) {
        self.heartbeat.fetch_add(1, Ordering::Relaxed);
    }

    /// Every series now; series with equal labels are added together.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let mut streams: BTreeMap<(String, String), StreamMetrics> = BTreeMap::new();
        let producer = self.producer.get();
        for s in producer.map(|p| p.streams()).unwrap_or_default() {
            let entry = streams
                .entry((s.device.clone(), s.endpoint.clone()))
                .or_insert_with(|| StreamMetrics {
                    device: s.device.clone(),
                    endpoint: s.endpoint.clone(),
                    ..StreamMetrics::default()
                });
            entry.received += s.received;
            entry.dropped += s.dropped;
            entry.bytes_in += s.bytes_in;
            for (category, n) in s.errors {
                *entry.errors.entry(category).or_default() += n;
            }
        }
        let mut operations: BTreeMap<String, OperationMetrics> = BTreeMap::new();
        for o in producer.map(|p| p.operations()).unwrap_or_default() {
            let entry = operations
                .entry(o.operation.clone())
                .or_insert_with(|| OperationMetrics {
                    asset: o.asset.clone(),
                    operation: o.operation.clone(),
                    ..OperationMetrics::default()
                });
            entry.forwarded += o.forwarded;
            entry.failed += o.failed;
            entry.bytes_out += o.bytes_out;
            entry.latency.merge(&o.latency);
            if let Some(t) = o.transform {
                let sum = entry.transform.get_or_insert_default();
                sum.transformed += t.transformed;
                sum.filtered += t.filtered;
                for (kind, n) in t.failures {
                    *sum.failures.entry(kind).or_default() += n;
                }
            }
        }
        MetricsSnapshot {
            instance: self.instance.clone(),
            streams: streams.into_values().collect(),
            operations: operations.into_values().collect(),
            heartbeat: self.heartbeat.load(Ordering::Relaxed),
            start: Some(self.start),
        }
    }
}

/// Beats `metrics` at once and then every [`HEARTBEAT_PERIOD`] until `stop`.
pub(crate) async fn heartbeat(metrics: Arc<Metrics>, stop: tokio_util::sync::CancellationToken) {
    let mut ticks = tokio::time::interval(HEARTBEAT_PERIOD);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = ticks.tick() => metrics.beat(),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A producer with fixed values.
    pub(crate) struct Fixed(pub Vec<StreamMetrics>, pub Vec<OperationMetrics>);

    impl MetricsProducer for Fixed {
        fn streams(&self) -> Vec<StreamMetrics> {
            self.0.clone()
        }
        fn operations(&self) -> Vec<OperationMetrics> {
            self.1.clone()
        }
    }

    pub(crate) fn sample() -> Metrics {
        let stream = StreamMetrics {
            device: "dev".into(),
            endpoint: "ep".into(),
            received: 3,
            dropped: 1,
            bytes_in: 30,
            errors: [(ErrorCategory::Connection, 2)].into(),
        };
        let h = crate::histogram::LatencyHistogram::default();
        h.record(Duration::from_millis(3));
        h.record(Duration::from_millis(30));
        let op = OperationMetrics {
            asset: "a".into(),
            operation: "a/datasets/d".into(),
            forwarded: 2,
            failed: 0,
            bytes_out: 20,
            latency: h.snapshot(),
            transform: Some(TransformMetrics {
                transformed: 5,
                filtered: 2,
                failures: [(TransformFailureKind::Timeout, 1)].into(),
            }),
        };
        let metrics = Metrics::new("conn-1");
        metrics.set_producer(Arc::new(Fixed(vec![stream.clone(), stream], vec![op])));
        metrics
    }

    #[test]
    fn equal_labels_add_up() {
        let snapshot = sample().snapshot();
        assert_eq!(snapshot.streams.len(), 1);
        let s = &snapshot.streams[0];
        assert_eq!((s.received, s.dropped, s.bytes_in), (6, 2, 60));
        assert_eq!(s.errors[&ErrorCategory::Connection], 4);
        assert_eq!(snapshot.operations[0].latency.count, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn heartbeat_every_30_seconds() {
        let metrics = Arc::new(sample());
        let stop = tokio_util::sync::CancellationToken::new();
        let task = tokio::spawn(heartbeat(metrics.clone(), stop.clone()));
        tokio::time::sleep(Duration::from_secs(61)).await;
        assert_eq!(metrics.snapshot().heartbeat, 3);
        stop.cancel();
        task.await.expect("task");
    }
}
