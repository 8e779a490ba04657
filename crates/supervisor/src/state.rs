//! What a stream is doing, for status and health: one [`StreamState`] per stream on a
//! `watch` channel (only transitions are sent), [`StreamStats`] counters, and the message
//! schema of each of its operations ([`OperationSchemas`], on a `watch` channel too).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use telemetry::{LatencyHistogram, TransformFailureKind, TransformMetrics};

use model::plan::OperationId;
use schema::SchemaReference;

/// The state of one stream (one SSE connection).
///
/// ```text
/// Connecting ──► Connected ──► Backoff ──► Connecting …
///     │              │
///     └──────────────┴──► Failed (not retryable) | Closed (HTTP 204)
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamState {
    /// Reading secrets, building the client, or waiting for the response.
    Connecting,
    /// The response is `200 text/event-stream`; events are read.
    Connected,
    /// The connection failed or ended; the stream reconnects after `delay`.
    Backoff {
        /// Why (the error message: names the URL, never a secret).
        reason: String,
        /// Stable reason code of the failure.
        code: &'static str,
        /// Attempt number, 1-based.
        attempt: u32,
        /// Wait before the next attempt.
        delay: Duration,
    },
    /// A failure retrying cannot fix (401, 404, TLS, a missing secret…): the stream stays
    /// stopped until its definition, a secret or a trust list changes.
    Failed {
        /// Why (names the URL, never a secret).
        reason: String,
        /// Stable reason code.
        code: &'static str,
    },
    /// The server answered 204: it asked the connector to stop reading.
    Closed {
        /// The server's answer, as a message.
        reason: String,
    },
}

impl StreamState {
    /// Whether the stream has stopped for good (failed or closed).
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Failed { .. } | Self::Closed { .. })
    }

    /// AIO's health reason code for this state, when it is not healthy:
    /// `SseConnectorStreamError` for backoff and failure, `SseConnectorStreamClosed` for 204.
    pub fn health_code(&self) -> Option<&'static str> {
        match self {
            Self::Connecting | Self::Connected => None,
            Self::Backoff { .. } | Self::Failed { .. } => Some("SseConnectorStreamError"),
            Self::Closed { .. } => Some("SseConnectorStreamClosed"),
        }
    }
}

/// The message schema of one data operation, for its status (AIO's
/// `messageSchemaReference`) and health. Only operations whose payloads were inferred (the
/// supervisor has a registrar, and a payload came) have one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OperationSchema {
    /// The schema registered last (`messageSchemaReference`). Messages carry it as
    /// `dataschema` while it describes every payload merged so far.
    pub reference: Option<SchemaReference>,
    /// Set at the first payload that is not JSON, and kept: the operation is degraded (its
    /// messages are still forwarded, without `dataschema`).
    pub failure: Option<SchemaFailure>,
    /// The last registration that failed; cleared by the next one that succeeds.
    pub registration_error: Option<SchemaFailure>,
}

impl OperationSchema {
    /// AIO's health reason code when degraded (`SseConnectorSchemaGenerationFailure`): a
    /// payload was not JSON, or the last registration failed.
    pub fn health_code(&self) -> Option<&'static str> {
        self.failure
            .as_ref()
            .or(self.registration_error.as_ref())
            .map(|f| f.code)
    }
}

/// Why an operation's message schema is degraded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaFailure {
    /// AIO's health reason code: `SseConnectorSchemaGenerationFailure`.
    pub code: &'static str,
    /// Our stable reason code: `not_json`, or the registrar's (`schema_rejected`,
    /// `schema_registry_unavailable`…).
    pub reason_code: &'static str,
    /// The message (a parser position or the registry's answer, never the payload).
    pub reason: String,
}

/// The schema of each operation of a stream, by operation.
pub type OperationSchemas = BTreeMap<OperationId, OperationSchema>;

/// What went wrong delivering one operation's messages, for its status and health; the
/// operations of a stream that delivered everything have none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryProblem {
    /// A delivery is being retried: the stream does not read until it succeeds. The
    /// operation is `Unavailable` meanwhile.
    pub retrying: Option<Retrying>,
    /// Messages its destination can never take went to the dead-letter file: a configuration
    /// error of the operation, until its definition changes.
    pub dead_letters: Option<DeadLettered>,
    /// The operation's transform failed (its events followed `onError`): `Degraded`.
    pub transform: Option<TransformFailure>,
    /// The operation's transform (a new or changed graph or module) cannot be loaded: a
    /// configuration error until a file or the definition changes.
    pub transform_load: Option<TransformLoadFailure>,
}

/// Failures of an operation's transform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransformFailure {
    /// The last failure: the module and what happened.
    pub reason: String,
    /// Its stable reason code (`trap`, `timeout`, `error`, `output`, `configuration`…).
    pub code: &'static str,
    /// How many events failed.
    pub count: u64,
}

/// Why an operation's transform cannot be loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransformLoadFailure {
    /// What is wrong: the graph or module and the loader's message.
    pub reason: String,
    /// Its stable reason code (`configuration`, `not_a_component`, `exports`,
    /// `init_refused`…).
    pub code: &'static str,
    /// Whether the last good transform keeps running in its place (else its events follow
    /// `onError`).
    pub last_good_runs: bool,
}

/// The health reason code of an operation whose transform fails.
pub const TRANSFORM_ERROR: &str = "SseConnectorTransformError";

/// A delivery being retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retrying {
    /// The destination's last answer (names the topic, key or path, never a secret).
    pub reason: String,
    /// Its stable reason code (`broker_refused`, `storage_io`, `state_store_failed`…).
    pub code: &'static str,
    /// Attempts so far.
    pub attempt: u32,
    /// Wait before the next attempt.
    pub delay: Duration,
}

/// Events written to the dead-letter file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLettered {
    /// Why the last one was refused.
    pub reason: String,
    /// Its stable reason code.
    pub code: &'static str,
    /// The destination: `Mqtt topic a/b`, `BrokerStateStore key k`, `Storage path p`.
    pub destination: String,
    /// The file, relative to the state directory.
    pub file: std::path::PathBuf,
    /// How many events went there.
    pub count: u64,
}

impl DeliveryProblem {
    /// AIO-style health reason code while retrying: `SseConnectorDeliveryError`.
    pub fn health_code(&self) -> Option<&'static str> {
        self.retrying.as_ref().map(|_| DELIVERY_ERROR)
    }
}

/// The health reason code of an operation whose deliveries are being retried.
pub const DELIVERY_ERROR: &str = "SseConnectorDeliveryError";

/// The delivery problems of each operation of a stream, by operation.
pub type OperationDeliveries = BTreeMap<OperationId, DeliveryProblem>;

/// Counters of one stream, updated by its task, read by anyone (relaxed atomics).
#[derive(Debug, Default)]
pub struct StreamStats {
    events: AtomicU64,
    unmatched: AtomicU64,
    unsupported: AtomicU64,
    delivered: AtomicU64,
    delivery_failures: AtomicU64,
    delivery_retries: AtomicU64,
    dead_letters: AtomicU64,
    not_json: AtomicU64,
    missing_data_points: AtomicU64,
    too_large: AtomicU64,
    reconnects: AtomicU64,
    checkpoint_failures: AtomicU64,
    bytes_in: AtomicU64,
    stream_failures: AtomicU64,
}

/// A copy of a stream's counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Events read from the stream.
    pub events: u64,
    /// Events no operation takes (an event group's stream with no matching event): dropped.
    pub unmatched: u64,
    /// Events taken only by operations whose sink is not supported yet: dropped.
    pub unsupported: u64,
    /// Messages the sink acknowledged.
    pub delivered: u64,
    /// Deliveries that failed (each is retried, or goes to the dead-letter file).
    pub delivery_failures: u64,
    /// Deliveries sent again after a failure.
    pub delivery_retries: u64,
    /// Events written to the dead-letter file.
    pub dead_letters: u64,
    /// Events not forwarded to a dataset with data points because their data is not JSON.
    pub not_json: u64,
    /// Data points whose pointer found nothing in an event (left out of the payload).
    pub missing_data_points: u64,
    /// Events dropped by the client for exceeding the maximum event size.
    pub too_large: u64,
    /// Reconnections (retryable failures).
    pub reconnects: u64,
    /// Checkpoint files that could not be written (tried again at the next flush).
    pub checkpoint_failures: u64,
    /// Event data bytes read.
    pub bytes_in: u64,
    /// Failures that stopped the stream (not retried) or 204 closes.
    pub stream_failures: u64,
}

/// Which counter to add to.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Count {
    Events,
    Unmatched,
    Unsupported,
    Delivered,
    DeliveryFailures,
    DeliveryRetries,
    DeadLetters,
    NotJson,
    MissingDataPoints,
    TooLarge,
    Reconnects,
    CheckpointFailures,
    BytesIn,
    StreamFailures,
}

impl StreamStats {
    pub(crate) fn add(&self, count: Count, n: u64) {
        let counter = match count {
            Count::Events => &self.events,
            Count::Unmatched => &self.unmatched,
            Count::Unsupported => &self.unsupported,
            Count::Delivered => &self.delivered,
            Count::DeliveryFailures => &self.delivery_failures,
            Count::DeliveryRetries => &self.delivery_retries,
            Count::DeadLetters => &self.dead_letters,
            Count::NotJson => &self.not_json,
            Count::MissingDataPoints => &self.missing_data_points,
            Count::TooLarge => &self.too_large,
            Count::Reconnects => &self.reconnects,
            Count::CheckpointFailures => &self.checkpoint_failures,
            Count::BytesIn => &self.bytes_in,
            Count::StreamFailures => &self.stream_failures,
        };
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            events: get(&self.events),
            unmatched: get(&self.unmatched),
            unsupported: get(&self.unsupported),
            delivered: get(&self.delivered),
            delivery_failures: get(&self.delivery_failures),
            delivery_retries: get(&self.delivery_retries),
            dead_letters: get(&self.dead_letters),
            not_json: get(&self.not_json),
            missing_data_points: get(&self.missing_data_points),
            too_large: get(&self.too_large),
            reconnects: get(&self.reconnects),
            checkpoint_failures: get(&self.checkpoint_failures),
            bytes_in: get(&self.bytes_in),
            stream_failures: get(&self.stream_failures),
        }
    }
}

/// Counters of one data operation (kept across stream restarts while the operation exists),
/// updated by the stream task when a delivery resolves.
#[derive(Debug, Default)]
pub struct OperationStats {
    forwarded: AtomicU64,
    failed: AtomicU64,
    bytes_out: AtomicU64,
    latency: LatencyHistogram,
    /// Its transform's counters (counted only when it has one).
    pub(crate) transform: TransformStats,
}

/// Counters of an operation's transform.
#[derive(Debug, Default)]
pub(crate) struct TransformStats {
    /// Whether the operation has (or had) a transform: its series are exported.
    pub present: AtomicBool,
    pub transformed: AtomicU64,
    pub filtered: AtomicU64,
    /// By [`TransformFailureKind::ALL`]'s order.
    pub failures: [AtomicU64; TransformFailureKind::ALL.len()],
}

impl TransformStats {
    /// One failure of reason code `code` (see [`TransformFailure::code`]).
    pub fn failed(&self, code: &str) {
        let kind = match code {
            "trap" => TransformFailureKind::Trap,
            "timeout" => TransformFailureKind::Timeout,
            "error" => TransformFailureKind::Error,
            "output" => TransformFailureKind::Output,
            "backoff" => TransformFailureKind::Backoff,
            _ => TransformFailureKind::Load,
        };
        if let Some(i) = TransformFailureKind::ALL.iter().position(|k| *k == kind)
            && let Some(counter) = self.failures.get(i)
        {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The counters now; `None` without a transform.
    fn snapshot(&self) -> Option<TransformMetrics> {
        self.present
            .load(Ordering::Relaxed)
            .then(|| TransformMetrics {
                transformed: self.transformed.load(Ordering::Relaxed),
                filtered: self.filtered.load(Ordering::Relaxed),
                failures: TransformFailureKind::ALL
                    .into_iter()
                    .zip(&self.failures)
                    .map(|(kind, n)| (kind, n.load(Ordering::Relaxed)))
                    .filter(|(_, n)| *n > 0)
                    .collect(),
            })
    }
}

/// A copy of an operation's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OperationStatsSnapshot {
    /// Messages delivered.
    pub forwarded: u64,
    /// Messages whose delivery failed.
    pub failed: u64,
    /// Payload bytes delivered.
    pub bytes_out: u64,
    /// From arrival to delivery, per delivered message.
    pub latency: telemetry::HistogramSnapshot,
    /// Its transform's counters; `None` without a transform.
    pub transform: Option<TransformMetrics>,
}

impl OperationStats {
    /// One message delivered: `bytes` of payload, `latency` since its event arrived.
    #[inline]
    pub(crate) fn delivered(&self, bytes: u64, latency: Duration) {
        self.forwarded.fetch_add(1, Ordering::Relaxed);
        self.bytes_out.fetch_add(bytes, Ordering::Relaxed);
        self.latency.record(latency);
    }

    /// One delivery failed.
    pub(crate) fn failed(&self) {
        self.failed.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn snapshot(&self) -> OperationStatsSnapshot {
        OperationStatsSnapshot {
            forwarded: self.forwarded.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            bytes_out: self.bytes_out.load(Ordering::Relaxed),
            latency: self.latency.snapshot(),
            transform: self.transform.snapshot(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_codes() {
        assert_eq!(StreamState::Connected.health_code(), None);
        let failed = StreamState::Failed {
            reason: "401".into(),
            code: "unauthorized",
        };
        assert_eq!(failed.health_code(), Some("SseConnectorStreamError"));
        assert!(failed.is_terminal());
        let closed = StreamState::Closed {
            reason: "204".into(),
        };
        assert_eq!(closed.health_code(), Some("SseConnectorStreamClosed"));
        assert!(!StreamState::Connecting.is_terminal());
    }

    #[test]
    fn counters_add_up() {
        let stats = StreamStats::default();
        stats.add(Count::Events, 2);
        stats.add(Count::Delivered, 1);
        stats.add(Count::Events, 1);
        let s = stats.snapshot();
        assert_eq!((s.events, s.delivered, s.unmatched), (3, 1, 0));
    }
}
