//! Message rates over the last 15 minutes, for people: a ring of samples of the runtime's
//! per-operation counters, behind `GET /api/v1/rates` and the rates of `GET /api/v1/overview`.
//!
//! Why here, and why a sampler: the runtime already counts every operation's deliveries and
//! failures (relaxed atomics on the event path, for the metrics), so the rates cost the flow
//! of events nothing more; turning totals into rates is only wanted by people looking at
//! the web UI, so it belongs to the listener that serves them, not to the supervisor. A
//! sampler every [`INTERVAL`] reads the totals through [`CounterSource`] and keeps the
//! difference since the last sample in a fixed ring of [`SAMPLES`] slots: constant memory per
//! operation (one `u32` per slot, about 720 bytes, plus its name), whatever the rate.
//!
//! Nothing when nobody looks: the sampler starts at the first request that reads rates, and
//! stops, freeing the ring, when none came for [`IDLE`]. The history therefore begins when
//! the page was first opened (the reply's `since` says when).
//!
//! The ring itself ([`Ring`]) is sans-I/O: samples in (a time and the totals), series out;
//! the tests drive it with made-up times.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::reply;
use crate::runtime::{CounterSource, OperationCount};
use crate::server::AppState;

/// How often the counters are sampled.
pub const INTERVAL: Duration = Duration::from_secs(5);

/// Slots of the ring: 180 intervals of 5 s, 15 minutes, between 181 samples.
pub const SAMPLES: usize = 181;

/// The sampler stops, and the ring is freed, after this long without a request for rates.
pub const IDLE: Duration = Duration::from_secs(15 * 60);

/// A stream is silent when no message came for this many of its usual intervals...
const SILENT_INTERVALS: u64 = 3;

/// ...and at least this many sampling intervals (a count moves only once a sample).
const SILENT_MIN_SAMPLES: u64 = 3;

/// The rates of this listener: the ring while someone reads it, and the sampler that fills
/// it. Cheap to share (`Arc`).
pub struct Rates {
    source: Arc<dyn CounterSource>,
    ring: Mutex<Option<Ring>>,
    last_read: Mutex<Instant>,
    shutdown: CancellationToken,
}

impl Rates {
    /// Rates sampled from `source`; the sampler stops at the latest when `shutdown` is
    /// cancelled.
    pub fn new(source: Arc<dyn CounterSource>, shutdown: CancellationToken) -> Arc<Self> {
        Arc::new(Self {
            source,
            ring: Mutex::new(None),
            last_read: Mutex::new(Instant::now()),
            shutdown,
        })
    }

    fn ring(&self) -> MutexGuard<'_, Option<Ring>> {
        self.ring.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `read` over the ring, starting the sampler (with a first sample, the baseline)
    /// when it is not running. Must be called within a Tokio runtime.
    pub fn read<T>(self: &Arc<Self>, read: impl FnOnce(&Ring) -> T) -> T {
        *self
            .last_read
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Instant::now();
        let mut guard = self.ring();
        if guard.is_none() {
            let mut fresh = Ring::new();
            fresh.record(now_ms(), self.source.received(), self.source.operations());
            *guard = Some(fresh);
            tokio::spawn(self.clone().sample());
        }
        read(guard.get_or_insert_with(Ring::new))
    }

    /// The sampler: one sample every [`INTERVAL`] until nobody read the rates for [`IDLE`]
    /// or the listener stops; then the ring is freed.
    async fn sample(self: Arc<Self>) {
        let mut ticks = tokio::time::interval(INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            tokio::select! {
                () = self.shutdown.cancelled() => break,
                _ = ticks.tick() => {}
            }
            let idle = self
                .last_read
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .elapsed()
                > IDLE;
            if idle {
                break;
            }
            // Read the totals before taking the ring's lock: readers never wait for it.
            let received = self.source.received();
            let operations = self.source.operations();
            if let Some(ring) = self.ring().as_mut() {
                ring.record(now_ms(), received, operations);
            }
        }
        *self.ring() = None;
    }
}

/// Milliseconds since the Unix epoch.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The samples of the last [`SAMPLES`] sampling times: each slot holds what happened in the
/// interval that ended at its sample (the first sample is only a baseline).
#[derive(Debug)]
pub struct Ring {
    /// Samples recorded so far; the newest is in slot `(taken - 1) % SAMPLES`.
    taken: u64,
    /// When each slot's sample was taken (ms since the epoch).
    times: Box<[u64]>,
    /// Events received from the streams, by slot.
    input: Box<[u64]>,
    /// Messages delivered by every operation, by slot.
    output: Box<[u64]>,
    received: u64,
    operations: HashMap<String, OperationRing>,
}

/// One operation's slots and totals.
#[derive(Debug)]
struct OperationRing {
    asset: String,
    /// The sample number of its first sample (a baseline: its rates start after it).
    first: u64,
    forwarded: u64,
    failed: u64,
    /// Messages delivered, by slot.
    delivered: Box<[u32]>,
    /// The time of the last sample in which its count grew.
    last_message: Option<u64>,
}

impl Default for Ring {
    fn default() -> Self {
        Self::new()
    }
}

impl Ring {
    /// An empty ring.
    pub fn new() -> Self {
        Self {
            taken: 0,
            times: vec![0; SAMPLES].into_boxed_slice(),
            input: vec![0; SAMPLES].into_boxed_slice(),
            output: vec![0; SAMPLES].into_boxed_slice(),
            received: 0,
            operations: HashMap::new(),
        }
    }

    fn slot(n: u64) -> usize {
        // SAMPLES fits in u64 and the remainder in usize.
        (n % SAMPLES as u64) as usize
    }

    /// Records a sample taken at `now` (ms since the epoch): the total of events `received`
    /// and every operation's totals. Operations absent from `operations` are forgotten (they
    /// left the plan); an operation's total smaller than its last counts from zero (a restart).
    pub fn record(&mut self, now: u64, received: u64, operations: Vec<OperationCount>) {
        let n = self.taken;
        let slot = Self::slot(n);
        let baseline = n == 0;
        let grew = |now: u64, last: u64| if now >= last { now - last } else { now };
        // The streams' total falls when a stream leaves the plan: no events came from that.
        self.input[slot] = if baseline {
            0
        } else {
            received.saturating_sub(self.received)
        };
        self.received = received;
        let mut output = 0_u64;
        let mut seen = HashMap::with_capacity(operations.len());
        for count in operations {
            let entry = self.operations.remove(&count.operation);
            let ring = match entry {
                Some(mut ring) => {
                    let delta = grew(count.forwarded, ring.forwarded);
                    ring.delivered[slot] = u32::try_from(delta).unwrap_or(u32::MAX);
                    if delta > 0 {
                        ring.last_message = Some(now);
                    }
                    output += delta;
                    ring.forwarded = count.forwarded;
                    ring.failed = count.failed;
                    ring
                }
                None => OperationRing {
                    asset: count.asset,
                    first: n,
                    forwarded: count.forwarded,
                    failed: count.failed,
                    delivered: vec![0; SAMPLES].into_boxed_slice(),
                    last_message: None,
                },
            };
            seen.insert(count.operation, ring);
        }
        self.operations = seen;
        self.output[slot] = output;
        self.times[slot] = now;
        self.taken += 1;
    }

    /// The sample numbers of the intervals in the ring, oldest first: each ends at its
    /// sample and starts at the one before.
    fn intervals(&self) -> std::ops::Range<u64> {
        let oldest = self.taken.saturating_sub(SAMPLES as u64 - 1).max(1);
        oldest..self.taken.max(1)
    }

    /// Per second over the interval ending at sample `n`.
    fn per_second(&self, n: u64, count: u64) -> f64 {
        let span = self.times[Self::slot(n)].saturating_sub(self.times[Self::slot(n - 1)]);
        if span == 0 {
            return 0.0;
        }
        round(count as f64 * 1000.0 / span as f64)
    }

    /// The time of the latest sample (ms since the epoch); `None` before the first.
    pub fn end(&self) -> Option<u64> {
        self.taken.checked_sub(1).map(|n| self.times[Self::slot(n)])
    }

    /// Events in and messages out per second, one point per interval, oldest first.
    pub fn totals(&self) -> Totals {
        let points = |slots: &[u64]| -> Vec<f64> {
            self.intervals()
                .map(|n| self.per_second(n, slots[Self::slot(n)]))
                .collect()
        };
        Totals {
            header: self.header(),
            input: points(&self.input),
            output: points(&self.output),
        }
    }

    fn header(&self) -> Header {
        Header {
            interval: INTERVAL.as_secs(),
            window: INTERVAL.as_secs() * (SAMPLES as u64 - 1),
            since: self.times[Self::slot(self.intervals().start - 1)],
            end: self.end().unwrap_or(0),
        }
    }

    /// The series of the operations (or, with `by_asset`, of their assets summed), with
    /// those of `asset` only when it is given, sorted by name, `limit` of them from `offset`.
    pub fn series(&self, query: &SeriesQuery) -> SeriesPage {
        let mut groups: BTreeMap<&str, Vec<(&str, &OperationRing)>> = BTreeMap::new();
        for (name, op) in &self.operations {
            if query.asset.as_deref().is_some_and(|a| a != op.asset) {
                continue;
            }
            let key = if query.by_asset {
                op.asset.as_str()
            } else {
                name.as_str()
            };
            groups.entry(key).or_default().push((name, op));
        }
        let total = groups.len();
        let items = groups
            .into_iter()
            .skip(query.offset)
            .take(query.limit)
            .map(|(name, ops)| self.item(name, &ops, query.by_asset))
            .collect();
        SeriesPage {
            header: self.header(),
            total,
            offset: query.offset,
            items,
        }
    }

    /// One item: the operations in `ops` summed.
    fn item(&self, name: &str, ops: &[(&str, &OperationRing)], by_asset: bool) -> SeriesItem {
        let now = self.end().unwrap_or(0);
        let first = ops.iter().map(|(_, op)| op.first).min().unwrap_or(0);
        let mut series = Vec::with_capacity(SAMPLES - 1);
        let mut in_window = 0_u64;
        let (mut first_active, mut last_active) = (None, None);
        for n in self.intervals() {
            if n <= first {
                series.push(None);
                continue;
            }
            let count: u64 = ops
                .iter()
                .filter(|(_, op)| n > op.first)
                .map(|(_, op)| u64::from(op.delivered[Self::slot(n)]))
                .sum();
            if count > 0 {
                in_window += count;
                first_active.get_or_insert(n);
                last_active = Some(n);
            }
            series.push(Some(self.per_second(n, count)));
        }
        // The usual interval: the time from the start of the first interval with messages to
        // the end of the last, over the messages in it.
        let usual_ms = match (first_active, last_active) {
            (Some(a), Some(b)) if in_window > 0 => Some(
                self.times[Self::slot(b)].saturating_sub(self.times[Self::slot(a - 1)]) / in_window,
            ),
            _ => None,
        };
        let last_message = ops.iter().filter_map(|(_, op)| op.last_message).max();
        let silent_after = |usual: u64| {
            (usual * SILENT_INTERVALS).max(INTERVAL.as_millis() as u64 * SILENT_MIN_SAMPLES)
        };
        let silent = match (last_message, usual_ms) {
            (Some(last), Some(usual)) => now.saturating_sub(last) > silent_after(usual),
            // Messages before, none in the window.
            (Some(_), None) => true,
            (None, _) => false,
        };
        SeriesItem {
            name: name.to_owned(),
            asset: (!by_asset)
                .then(|| ops.first().map(|(_, op)| op.asset.clone()))
                .flatten(),
            operations: by_asset.then_some(ops.len()),
            per_second: series.last().copied().flatten(),
            series,
            forwarded: ops.iter().map(|(_, op)| op.forwarded).sum(),
            failed: ops.iter().map(|(_, op)| op.failed).sum(),
            last_message,
            usual_interval: usual_ms.map(|ms| round(ms as f64 / 1000.0)),
            silent,
        }
    }
}

/// The query of `GET /api/v1/rates`.
#[derive(Debug, Deserialize)]
pub(crate) struct RatesParams {
    asset: Option<String>,
    group: Option<String>,
    offset: Option<usize>,
    limit: Option<usize>,
}

/// The most items of one page of `GET /api/v1/rates`, and the default.
pub const PAGE_LIMIT: usize = 1000;
const PAGE_DEFAULT: usize = 100;

/// `GET /api/v1/rates?asset=NAME&group=operation|asset&offset=N&limit=N`: one series per
/// operation (or per asset), by name, a page at a time. 404 without a counter source, 400 for
/// another `group`.
pub(crate) async fn show(
    State(state): State<Arc<AppState>>,
    Query(params): Query<RatesParams>,
) -> Response {
    let Some(rates) = &state.rates else {
        return reply::error(
            StatusCode::NOT_FOUND,
            "no rates are available to this listener",
        );
    };
    let by_asset = match params.group.as_deref() {
        None | Some("operation") => false,
        Some("asset") => true,
        Some(other) => {
            return reply::error(
                StatusCode::BAD_REQUEST,
                &format!("group must be operation or asset, not {other:?}"),
            );
        }
    };
    let query = SeriesQuery {
        asset: params.asset,
        by_asset,
        offset: params.offset.unwrap_or(0),
        limit: params.limit.unwrap_or(PAGE_DEFAULT).min(PAGE_LIMIT),
    };
    Json(rates.read(|ring| ring.series(&query))).into_response()
}

/// Two decimals: what a person reads, and a shorter reply.
fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// What the series cover.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Header {
    /// Seconds between samples.
    pub interval: u64,
    /// Seconds the ring covers when full.
    pub window: u64,
    /// The start of the first interval (ms since the epoch).
    pub since: u64,
    /// The end of the last interval, the latest sample (ms since the epoch).
    pub end: u64,
}

/// The connector's events in and messages out, per second, oldest first.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    /// What the series cover.
    #[serde(flatten)]
    pub header: Header,
    /// Events received from the SSE streams, per second.
    #[serde(rename = "in")]
    pub input: Vec<f64>,
    /// Messages delivered to their destinations, per second.
    #[serde(rename = "out")]
    pub output: Vec<f64>,
}

/// Which series `GET /api/v1/rates` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesQuery {
    /// Only the operations of this asset.
    pub asset: Option<String>,
    /// One series per asset (its operations summed) instead of one per operation.
    pub by_asset: bool,
    /// Items skipped, in name order.
    pub offset: usize,
    /// Items answered at most.
    pub limit: usize,
}

/// A page of series.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeriesPage {
    /// What the series cover.
    #[serde(flatten)]
    pub header: Header,
    /// Items in all pages.
    pub total: usize,
    /// Items skipped.
    pub offset: usize,
    /// This page's items, by name.
    pub items: Vec<SeriesItem>,
}

/// The rate of an operation or asset.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeriesItem {
    /// The operation (`asset/datasets/name`) or the asset.
    pub name: String,
    /// The operation's asset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asset: Option<String>,
    /// The asset's operations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operations: Option<usize>,
    /// Messages delivered per second in the last interval.
    pub per_second: Option<f64>,
    /// Messages delivered per second, one point per interval, oldest first; `null` before
    /// the operation was first sampled.
    pub series: Vec<Option<f64>>,
    /// Messages delivered since the connector started.
    pub forwarded: u64,
    /// Deliveries that failed since the connector started.
    pub failed: u64,
    /// The sample in which the count last grew (ms since the epoch; the message came within
    /// the interval before it); `null` when none grew since sampling began.
    pub last_message: Option<u64>,
    /// Seconds between messages, as the window shows them.
    pub usual_interval: Option<f64>,
    /// No message for three usual intervals (at least three samples), after messages came.
    pub silent: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(operation: &str, forwarded: u64, failed: u64) -> OperationCount {
        OperationCount {
            operation: operation.to_owned(),
            asset: operation.split('/').next().unwrap_or_default().to_owned(),
            forwarded,
            failed,
        }
    }

    fn all() -> SeriesQuery {
        SeriesQuery {
            asset: None,
            by_asset: false,
            offset: 0,
            limit: 100,
        }
    }

    #[test]
    fn rates_are_the_growth_between_samples_per_second() {
        let mut ring = Ring::new();
        ring.record(0, 100, vec![count("a/datasets/x", 10, 0)]);
        ring.record(5_000, 150, vec![count("a/datasets/x", 35, 1)]);
        ring.record(10_000, 150, vec![count("a/datasets/x", 35, 1)]);
        let totals = ring.totals();
        assert_eq!(totals.input, vec![10.0, 0.0]);
        assert_eq!(totals.output, vec![5.0, 0.0]);
        assert_eq!(totals.header.since, 0);
        assert_eq!(totals.header.end, 10_000);
        let page = ring.series(&all());
        let x = &page.items[0];
        assert_eq!(x.series, vec![Some(5.0), Some(0.0)]);
        assert_eq!((x.forwarded, x.failed), (35, 1));
        assert_eq!(x.last_message, Some(5_000));
        assert_eq!(x.per_second, Some(0.0));
    }

    #[test]
    fn the_ring_keeps_the_last_window_only() {
        let mut ring = Ring::new();
        for n in 0..1000_u64 {
            ring.record(n * 5_000, n, vec![count("a/datasets/x", n * 2, 0)]);
        }
        let totals = ring.totals();
        assert_eq!(totals.input.len(), SAMPLES - 1);
        assert!(totals.input.iter().all(|r| (*r - 0.2).abs() < 1e-9));
        assert_eq!(totals.header.end, 999 * 5_000);
        assert_eq!(totals.header.since, (999 - 180) * 5_000);
        assert_eq!(ring.series(&all()).items[0].series.len(), SAMPLES - 1);
    }

    #[test]
    fn a_new_operation_has_no_rate_before_its_first_sample_and_a_gone_one_is_forgotten() {
        let mut ring = Ring::new();
        ring.record(0, 0, vec![count("a/datasets/x", 0, 0)]);
        ring.record(5_000, 0, vec![count("a/datasets/x", 5, 0)]);
        // y appears with 1000 already counted: not a burst of 1000 in this interval.
        ring.record(
            10_000,
            0,
            vec![count("a/datasets/x", 5, 0), count("b/datasets/y", 1000, 0)],
        );
        ring.record(15_000, 0, vec![count("b/datasets/y", 1010, 0)]);
        let page = ring.series(&all());
        assert_eq!(page.total, 1, "x left the plan");
        assert_eq!(page.items[0].series, vec![None, None, Some(2.0)]);
        assert_eq!(ring.totals().output, vec![1.0, 0.0, 2.0]);
    }

    #[test]
    fn an_operation_counter_that_restarts_counts_from_zero() {
        let mut ring = Ring::new();
        ring.record(0, 50, vec![count("a/datasets/x", 50, 0)]);
        ring.record(5_000, 5, vec![count("a/datasets/x", 5, 0)]);
        assert_eq!(
            ring.totals().input,
            vec![0.0],
            "a stream that left the plan"
        );
        assert_eq!(ring.series(&all()).items[0].series, vec![Some(1.0)]);
    }

    #[test]
    fn assets_sum_their_operations_and_pages_go_by_name() {
        let mut ring = Ring::new();
        let ops = |k: u64| {
            vec![
                count("b/datasets/x", k, 0),
                count("b/datasets/y", 2 * k, 1),
                count("a/datasets/z", 3 * k, 0),
                count("c/datasets/w", 0, 0),
            ]
        };
        ring.record(0, 0, ops(0));
        ring.record(5_000, 0, ops(5));
        let by_asset = |offset, limit| SeriesQuery {
            asset: None,
            by_asset: true,
            offset,
            limit,
        };
        let page = ring.series(&by_asset(0, 2));
        assert_eq!(page.total, 3);
        let names: Vec<_> = page.items.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(page.items[1].series, vec![Some(3.0)]);
        assert_eq!(page.items[1].operations, Some(2));
        assert_eq!(page.items[1].failed, 1);
        assert_eq!(ring.series(&by_asset(2, 2)).items[0].name, "c");
        let of_b = ring.series(&SeriesQuery {
            asset: Some("b".to_owned()),
            ..all()
        });
        let names: Vec<_> = of_b.items.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["b/datasets/x", "b/datasets/y"]);
    }

    #[test]
    fn a_stream_silent_for_three_usual_intervals_is_marked() {
        let mut ring = Ring::new();
        // One message every 5 s for a minute, then nothing.
        for n in 0..=12_u64 {
            ring.record(n * 5_000, 0, vec![count("a/datasets/x", n, 0)]);
        }
        let item = |ring: &Ring| ring.series(&all()).items.remove(0);
        assert_eq!(item(&ring).usual_interval, Some(5.0));
        assert!(!item(&ring).silent);
        for n in 13..=15_u64 {
            ring.record(n * 5_000, 0, vec![count("a/datasets/x", 12, 0)]);
        }
        assert!(!item(&ring).silent, "15 s without a message: not yet");
        ring.record(16 * 5_000, 0, vec![count("a/datasets/x", 12, 0)]);
        assert!(item(&ring).silent, "20 s without a message");
        // An operation that never had a message is not silent: it has no usual interval.
        let mut quiet = Ring::new();
        for n in 0..10_u64 {
            quiet.record(n * 5_000, 0, vec![count("a/datasets/x", 0, 0)]);
        }
        let quiet = item(&quiet);
        assert!(!quiet.silent);
        assert_eq!((quiet.last_message, quiet.usual_interval), (None, None));
    }

    #[test]
    fn memory_per_operation_is_constant() {
        let mut ring = Ring::new();
        for n in 0..400_u64 {
            ring.record(n * 5_000, 0, vec![count("a/datasets/x", n * 1_000_000, 0)]);
        }
        let op = ring.operations.values().next().map(|op| op.delivered.len());
        assert_eq!(op, Some(SAMPLES));
        assert_eq!(ring.series(&all()).items[0].series.len(), SAMPLES - 1);
    }
}
