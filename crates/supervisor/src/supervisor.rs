//! [`Supervisor`]: holds the running plan, and on every new plan starts, updates and stops
//! only what changed.
//!
//! The unit of work is the **stream** (a distinct [`StreamSpec`]: URL, credentials, trust
//! list): one task and one SSE connection each, shared by every operation reading it. On
//! [`Supervisor::apply`]:
//! - a stream no operation reads any more is stopped: it stops reading, waits for its
//!   deliveries, saves its checkpoint (the file, and with
//!   [`Supervisor::with_shared_checkpoints`] the state store) and then releases its lease;
//! - a new stream is started, after any stopping task of the same URL has saved its checkpoint;
//! - a stream whose operations changed (added, removed, any field of theirs) keeps its
//!   connection: its task gets the new routing with the next event. If it had failed or been
//!   closed, it is started again instead (the definition changed, DESIGN 3.7);
//! - any other stream is left alone.
//!
//! Destinations: MQTT always (the publisher); `BrokerStateStore` and `Storage` when
//! [`Supervisor::with_key_value`] and [`Supervisor::with_files`] gave them. An operation whose
//! destination is missing is reported in [`Applied::unsupported`] with the reason; its stream
//! runs for the other operations, and its events are counted as unsupported.
//!
//! Message schemas: with [`Supervisor::with_schemas`], each operation's forwarded JSON
//! payloads are inferred into a schema, registered when it widens, and referenced in the
//! messages' `dataschema`; [`Supervisor::schemas`] and [`StreamHandle::schemas`] show each
//! operation's [`OperationSchema`] (see `schemas.rs` for the rules).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aio_mqtt::hlc::HybridLogicalClock;
use model::destination::Sink;
use model::plan::{Operation, OperationId, Plan, StreamSpec};
use schema::{Sampling, SchemaRegistrar};
use sinks::Publisher;
use sinks::file::FileSinks;
use sinks::state_store::{AnyKeyValueStore, KeyValueStore};
use sse_client::RetryPolicy;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use url::Url;

use crate::checkpoint::CheckpointStore;
use crate::checkpoint::shared::SharedCheckpoints;
use crate::connections::Connections;
use crate::dead_letter::DeadLetters;
use crate::deliver::Sinks;
use crate::metrics::RuntimeMetrics;
use crate::router::Router;
use crate::schemas::SchemaSetup;
use crate::state::{
    OperationDeliveries, OperationSchema, OperationSchemas, StreamState, StreamStats,
};
use crate::stream_task::StreamTask;
use crate::tail::Tail;
use crate::transform::Transforms;

/// Settings of the runtime.
#[derive(Debug, Clone)]
pub struct SupervisorConfig {
    /// Where checkpoints are kept (`STATE_DIR/checkpoints/`).
    pub state_dir: PathBuf,
    /// The MQTT client id, sent as `__srcId` in every message.
    pub client_id: String,
    /// Events read but not yet delivered, per stream; when reached, the stream is not read
    /// (TCP backpressure) until deliveries complete. Default 1024.
    pub max_in_flight: NonZeroUsize,
    /// How long a moved checkpoint may wait before it is written. Default 250 ms.
    pub checkpoint_interval: Duration,
    /// SSE idle timeout; `None`: the client's default (60 s).
    pub idle_timeout: Option<Duration>,
    /// TCP/TLS connect timeout; `None`: the client's default (10 s).
    pub connect_timeout: Option<Duration>,
    /// Reconnect policy, also the backoff of failed deliveries; `None`: the client's default.
    pub retry: Option<RetryPolicy>,
    /// How often a delivery the broker refused as not authorized (0x87) or over quota (0x97)
    /// is attempted again. Default 30 s.
    pub refused_retry: Duration,
}

/// Default [`SupervisorConfig::refused_retry`].
pub const DEFAULT_REFUSED_RETRY: Duration = Duration::from_secs(30);

/// Default [`SupervisorConfig::max_in_flight`].
pub const DEFAULT_MAX_IN_FLIGHT: NonZeroUsize = NonZeroUsize::new(1024).expect("not zero");
/// Default [`SupervisorConfig::checkpoint_interval`].
pub const DEFAULT_CHECKPOINT_INTERVAL: Duration = Duration::from_millis(250);

impl SupervisorConfig {
    /// The defaults, with checkpoints under `state_dir` and `client_id` as `__srcId`.
    pub fn new(state_dir: impl Into<PathBuf>, client_id: impl Into<String>) -> Self {
        Self {
            state_dir: state_dir.into(),
            client_id: client_id.into(),
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            checkpoint_interval: DEFAULT_CHECKPOINT_INTERVAL,
            idle_timeout: None,
            connect_timeout: None,
            retry: None,
            refused_retry: DEFAULT_REFUSED_RETRY,
        }
    }
}

/// What one [`Supervisor::apply`] did, by stream URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Streams started (new, or started again after a failure or a change of credentials or
    /// trust).
    pub started: Vec<Url>,
    /// Running streams whose operations changed (no reconnection).
    pub updated: Vec<Url>,
    /// Streams stopped.
    pub stopped: Vec<Url>,
    /// Operations (added or changed) whose destination this supervisor does not have; their
    /// streams run, and their events are counted as unsupported.
    pub unsupported: Vec<Unsupported>,
}

/// An operation that cannot deliver to its destination here, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    /// The operation.
    pub operation: OperationId,
    /// Its destination kind: `Mqtt`, `BrokerStateStore` or `Storage`.
    pub sink: &'static str,
    /// Why, e.g. "no state store is configured".
    pub reason: &'static str,
}

/// A view of one running stream, for status.
#[derive(Debug, Clone)]
pub struct StreamHandle {
    /// The URL.
    pub url: Url,
    /// The operations reading it.
    pub operations: Vec<OperationId>,
    /// Its state; changes are sent as they happen.
    pub state: watch::Receiver<StreamState>,
    /// Its counters.
    pub stats: Arc<StreamStats>,
    /// The message schema of each of its operations (empty without
    /// [`Supervisor::with_schemas`]); changes are sent as they happen.
    pub schemas: watch::Receiver<OperationSchemas>,
    /// The delivery problems of its operations (retries, dead letters); changes are sent as
    /// they happen.
    pub deliveries: watch::Receiver<OperationDeliveries>,
}

struct Running {
    /// The operations reading it (their definitions are in the plan).
    operations: BTreeSet<OperationId>,
    router: watch::Sender<Arc<Router>>,
    stop: CancellationToken,
    done: CancellationToken,
    state: watch::Receiver<StreamState>,
    stats: Arc<StreamStats>,
    schemas: watch::Sender<OperationSchemas>,
    deliveries: watch::Sender<OperationDeliveries>,
}

/// The runtime from plan to deliveries. See the module documentation.
pub struct Supervisor<P: Publisher> {
    config: Arc<SupervisorConfig>,
    sinks: Sinks<P>,
    clock: Arc<HybridLogicalClock>,
    store: CheckpointStore,
    /// Checkpoints in the state store, under a lease; `None`: files only.
    shared: Option<SharedCheckpoints>,
    dead_letters: DeadLetters,
    connections: Connections,
    schemas: Option<SchemaSetup>,
    schema_sampling: Sampling,
    plan: Plan,
    streams: BTreeMap<StreamSpec, Running>,
    /// Stopped tasks that may still be saving their checkpoint (done token, stream), by URL.
    stopping: HashMap<Url, Vec<(CancellationToken, StreamSpec)>>,
    tasks: TaskTracker,
    abort: CancellationToken,
    /// Counters of streams and operations, for telemetry.
    metrics: RuntimeMetrics,
    /// The live tail's feeds.
    tail: Tail,
    /// Spans of connection attempts and sampled events (disabled by default).
    tracer: telemetry::Tracer,
    /// Every operation's transform, kept across plans (see `transform.rs`).
    transforms: Transforms,
}

impl<P: Publisher> std::fmt::Debug for Supervisor<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervisor")
            .field("client_id", &self.config.client_id)
            .field("streams", &self.streams.len())
            .field("operations", &self.plan.len())
            .finish_non_exhaustive()
    }
}

impl<P: Publisher> Supervisor<P> {
    /// A supervisor with nothing running that delivers to MQTT through `publisher`;
    /// [`apply`](Self::apply) a plan to start. `BrokerStateStore` and `Storage` operations
    /// are reported as [`Unsupported`] unless [`with_key_value`](Self::with_key_value) and
    /// [`with_files`](Self::with_files) give their destinations.
    pub fn new(config: SupervisorConfig, publisher: P) -> Self {
        Self {
            store: CheckpointStore::new(&config.state_dir),
            shared: None,
            dead_letters: DeadLetters::new(&config.state_dir),
            config: Arc::new(config),
            sinks: Sinks::new(publisher),
            clock: Arc::new(HybridLogicalClock::new()),
            connections: Connections::default(),
            schemas: None,
            schema_sampling: Sampling::default(),
            plan: Plan::default(),
            streams: BTreeMap::new(),
            stopping: HashMap::new(),
            tasks: TaskTracker::new(),
            abort: CancellationToken::new(),
            metrics: RuntimeMetrics::default(),
            tail: Tail::default(),
            tracer: telemetry::Tracer::disabled(),
            transforms: Transforms::default(),
        }
    }

    /// Traces connection attempts and sampled forwarded events with `tracer` (see
    /// `telemetry::traces`); sampled MQTT messages carry a `traceparent` user property. Call
    /// it before the first [`apply`](Self::apply), like [`with_key_value`](Self::with_key_value).
    pub fn with_tracer(mut self, tracer: telemetry::Tracer) -> Self {
        self.tracer = tracer;
        self
    }

    /// The counters of every stream and operation, for telemetry (a shared handle that
    /// implements [`telemetry::MetricsProducer`]; it outlives the supervisor).
    pub fn metrics(&self) -> RuntimeMetrics {
        self.metrics.clone()
    }

    /// The live tail's feeds (a shared handle, usable without the supervisor).
    pub fn tail(&self) -> Tail {
        self.tail.clone()
    }

    /// Keeps every stream's checkpoint in AIO's state store too (see
    /// [`checkpoint::shared`](crate::checkpoint::shared)): a stream starts once it holds its
    /// lease, resumes from the stored checkpoint, and writes it there (fenced) as it moves;
    /// when it stops it writes the last one and releases the lease. Call it before the first
    /// [`apply`](Self::apply), like [`with_key_value`](Self::with_key_value).
    pub fn with_shared_checkpoints(mut self, shared: SharedCheckpoints) -> Self {
        self.shared = Some(shared);
        self
    }

    /// Delivers `BrokerStateStore` operations to `store`: each event SETs the operation's key
    /// to its payload, and counts as delivered when the store replied OK. Call it before the
    /// first [`apply`](Self::apply): streams already running keep what they started with.
    pub fn with_key_value(mut self, store: impl KeyValueStore) -> Self {
        self.sinks.key_value = Some(AnyKeyValueStore::new(store));
        self
    }

    /// Delivers `Storage` operations to `files`: each event appends a line to the operation's
    /// file, and counts as delivered once the line is written (and flushed, per the files'
    /// durability). Call it before the first [`apply`](Self::apply), like
    /// [`with_key_value`](Self::with_key_value). The supervisor does not close the files:
    /// close them after [`shutdown`](Self::shutdown).
    pub fn with_files(mut self, files: FileSinks) -> Self {
        self.sinks.files = Some(files);
        self
    }

    /// Infers each operation's message schema from the payloads it forwards and registers
    /// it through `registrar` when it widens; from the message after a registration succeeded
    /// on, messages carry its reference as `dataschema`. A registration runs on its own task:
    /// streams never wait for it. Without this, no inference runs. Call it before the first
    /// [`apply`](Self::apply), like [`with_key_value`](Self::with_key_value).
    pub fn with_schemas(mut self, registrar: impl SchemaRegistrar) -> Self {
        self.schemas = Some(SchemaSetup::new(registrar, &self.config.state_dir));
        self
    }

    /// Which payloads schema inference looks at (default: every one; see [`Sampling`]). Has
    /// an effect only with [`with_schemas`](Self::with_schemas), called before or after it.
    pub fn with_schema_sampling(mut self, sampling: Sampling) -> Self {
        self.schema_sampling = sampling;
        self
    }

    /// Makes `plan` the running plan, touching only what changed (see the module
    /// documentation). Returns immediately: tasks start, drain and stop in the background.
    ///
    /// # Panics
    /// Outside a Tokio runtime (tasks are spawned on the current one).
    pub fn apply(&mut self, plan: &Plan) -> Applied {
        let mut applied = Applied::default();
        let changes = model::diff(&self.plan, plan);
        let fresh_transforms = self.transforms.update(plan);
        for id in changes.added.iter().chain(&changes.changed) {
            if let Some(op) = plan.operations.get(id)
                && let Some(reason) = self.sinks.unsupported(&op.sink)
            {
                let sink = sink_kind(&op.sink);
                tracing::warn!(operation = %id, sink, reason, "destination not available: the operation's events are not delivered");
                applied.unsupported.push(Unsupported {
                    operation: id.clone(),
                    sink,
                    reason,
                });
            }
        }

        let mut wanted: BTreeMap<&StreamSpec, BTreeMap<&OperationId, &Operation>> = BTreeMap::new();
        for op in plan.operations.values() {
            wanted.entry(&op.stream).or_default().insert(&op.id, op);
        }

        self.stopping.retain(|_, tokens| {
            tokens.retain(|(t, _)| !t.is_cancelled());
            !tokens.is_empty()
        });
        let gone: Vec<StreamSpec> = self
            .streams
            .keys()
            .filter(|spec| !wanted.contains_key(spec))
            .cloned()
            .collect();
        for spec in gone {
            self.stop(&spec);
            self.metrics.remove_stream(&spec);
            applied.stopped.push(spec.url.clone());
        }
        self.metrics
            .retain_operations(|id| plan.operations.contains_key(id));

        for (spec, operations) in wanted {
            match self.streams.get_mut(spec) {
                Some(running)
                    if running.operations.iter().eq(operations.keys().copied())
                        && !operations.keys().any(|id| changes.changed.contains(*id)) => {}
                Some(running) if !running.state.borrow().is_terminal() => {
                    let router = router(&self.sinks, &self.config.client_id, &operations)
                        .with_stats(|id| self.metrics.operation(id))
                        .with_transforms(|id| self.transforms.get(id));
                    running.router.send_replace(Arc::new(router));
                    running.schemas.send_if_modified(|schemas| {
                        let before = schemas.len();
                        schemas.retain(|id, _| operations.contains_key(id));
                        schemas.len() != before
                    });
                    // A changed definition may fix what sent its events to the dead letters.
                    running.deliveries.send_if_modified(|deliveries| {
                        let before = deliveries.len();
                        deliveries.retain(|id, problem| {
                            operations.contains_key(id)
                                && (problem.retrying.is_some() || !changes.changed.contains(id))
                        });
                        deliveries.len() != before
                    });
                    running.operations = operations.keys().map(|id| (*id).clone()).collect();
                    applied.updated.push(spec.url.clone());
                }
                Some(_) => {
                    self.stop(spec);
                    self.start(spec.clone(), &operations);
                    applied.started.push(spec.url.clone());
                }
                None => {
                    self.start(spec.clone(), &operations);
                    applied.started.push(spec.url.clone());
                }
            }
        }
        self.connections.retain(self.streams.keys());
        // Load failures a change or a new stream cleared, then the transforms to load.
        for running in self.streams.values() {
            self.transforms
                .report(&running.operations, &running.deliveries);
        }
        for (id, transform) in fresh_transforms {
            let deliveries = self
                .streams
                .values()
                .find(|running| running.operations.contains(&id))
                .map(|running| running.deliveries.clone());
            Transforms::load(transform, id, deliveries);
        }
        self.plan = plan.clone();
        if !applied.started.is_empty() || !applied.stopped.is_empty() {
            tracing::info!(
                started = applied.started.len(),
                updated = applied.updated.len(),
                stopped = applied.stopped.len(),
                streams = self.streams.len(),
                "plan applied"
            );
        }
        applied
    }

    fn stop(&mut self, spec: &StreamSpec) {
        if let Some(running) = self.streams.remove(spec) {
            running.stop.cancel();
            self.stopping
                .entry(spec.url.clone())
                .or_default()
                .push((running.done, spec.clone()));
        }
    }

    fn start(&mut self, spec: StreamSpec, operations: &BTreeMap<&OperationId, &Operation>) {
        let router = router(&self.sinks, &self.config.client_id, operations)
            .with_stats(|id| self.metrics.operation(id))
            .with_transforms(|id| self.transforms.get(id));
        let (router_tx, router_rx) = watch::channel(Arc::new(router));
        let (state_tx, state_rx) = watch::channel(StreamState::Connecting);
        let stats: Arc<StreamStats> = self.metrics.stream(&spec, operations.values().copied());
        let schema_status = watch::Sender::new(OperationSchemas::new());
        let deliveries = watch::Sender::new(OperationDeliveries::new());
        let schemas = self.schemas.clone().map(|mut setup| {
            setup.sampling = self.schema_sampling;
            setup
        });
        let stop = CancellationToken::new();
        let done = CancellationToken::new();
        let stopping = self.stopping.get(&spec.url).map_or(&[][..], Vec::as_slice);
        // The stream this one takes over from (same URL, other credentials or trust): its
        // checkpoint is the starting point when this stream has none of its own.
        let replaces = stopping
            .iter()
            .rev()
            .map(|(_, previous)| previous)
            .find(|previous| **previous != spec)
            .cloned();
        // The device endpoint whose keys the stream's checkpoint lives under: the first one
        // reading it, in name order.
        let shared = self.shared.clone().zip(
            operations
                .values()
                .map(|op| &op.device)
                .min()
                .map(|device| SharedCheckpoints::keys(device, &spec)),
        );
        let task = Box::new(StreamTask {
            spec: spec.clone(),
            shared,
            router: router_rx,
            sinks: self.sinks.clone(),
            clock: self.clock.clone(),
            store: self.store.clone(),
            connections: self.connections.clone(),
            config: self.config.clone(),
            state: state_tx,
            stats: stats.clone(),
            schemas,
            schema_status: schema_status.clone(),
            deliveries: deliveries.clone(),
            dead_letters: self.dead_letters.clone(),
            stop: stop.clone(),
            abort: self.abort.clone(),
            after: stopping.iter().map(|(done, _)| done.clone()).collect(),
            replaces,
            tail: self.tail.clone(),
            tracer: self.tracer.clone(),
        });
        // Cancelled when the task ends, even by a panic: its successor may then start.
        let guard = done.clone().drop_guard();
        self.tasks.spawn(async move {
            let _guard = guard;
            task.run().await;
        });
        self.streams.insert(
            spec,
            Running {
                operations: operations.keys().map(|id| (*id).clone()).collect(),
                router: router_tx,
                stop,
                done,
                state: state_rx,
                stats,
                schemas: schema_status,
                deliveries,
            },
        );
    }

    /// The running plan.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Every stream of the running plan, in stream order.
    pub fn streams(&self) -> Vec<StreamHandle> {
        self.streams
            .iter()
            .map(|(spec, running)| StreamHandle {
                url: spec.url.clone(),
                operations: running.operations.iter().cloned().collect(),
                state: running.state.clone(),
                stats: running.stats.clone(),
                schemas: running.schemas.subscribe(),
                deliveries: running.deliveries.subscribe(),
            })
            .collect()
    }

    /// The message schema of every operation that has one (see
    /// [`with_schemas`](Self::with_schemas)), by operation: its `messageSchemaReference` and
    /// whether it is degraded.
    pub fn schemas(&self) -> OperationSchemas {
        self.streams
            .values()
            .flat_map(|running| running.schemas.borrow().clone())
            .collect()
    }

    /// The message schema of `operation`, when it has one.
    pub fn schema(&self, operation: &OperationId) -> Option<OperationSchema> {
        self.streams
            .values()
            .find_map(|running| running.schemas.borrow().get(operation).cloned())
    }

    /// The stream of `url` (the first one, if several use different credentials).
    pub fn stream(&self, url: &Url) -> Option<StreamHandle> {
        self.streams().into_iter().find(|s| &s.url == url)
    }

    /// Stops reading every stream, waits until every message in flight is delivered (or has
    /// failed) and every checkpoint is saved.
    ///
    /// # Cancel safety
    /// Dropping the future leaves the tasks draining in the background.
    pub async fn shutdown(mut self) {
        self.stop_all();
        self.tasks.wait().await;
        self.dead_letters.close().await;
    }

    /// Like [`shutdown`](Self::shutdown), but waits for deliveries at most `grace`; then the
    /// tasks save the checkpoints they have (messages not acknowledged by then are read again
    /// at the next start). Returns whether everything in flight was delivered in time.
    ///
    /// # Cancel safety
    /// Dropping the future leaves the tasks draining in the background, without a limit.
    pub async fn shutdown_within(mut self, grace: Duration) -> bool {
        self.stop_all();
        if tokio::time::timeout(grace, self.tasks.wait()).await.is_ok() {
            self.dead_letters.close().await;
            return true;
        }
        tracing::warn!(
            ?grace,
            "deliveries still in flight at the end of the grace period; they will be read again at the next start"
        );
        self.abort.cancel();
        self.tasks.wait().await;
        self.dead_letters.close().await;
        false
    }

    fn stop_all(&mut self) {
        let specs: Vec<StreamSpec> = self.streams.keys().cloned().collect();
        for spec in &specs {
            self.stop(spec);
        }
        self.tasks.close();
    }
}

/// Dropping a supervisor stops its streams; they drain in the background.
impl<P: Publisher> Drop for Supervisor<P> {
    fn drop(&mut self) {
        for running in self.streams.values() {
            running.stop.cancel();
        }
    }
}

/// The router of a stream's `operations`; those `sinks` cannot serve are kept aside.
fn router<P: Publisher>(
    sinks: &Sinks<P>,
    client_id: &str,
    operations: &BTreeMap<&OperationId, &Operation>,
) -> Router {
    Router::new(operations.values().copied(), client_id, |sink| {
        sinks.unsupported(sink).is_none()
    })
}

fn sink_kind(sink: &Sink) -> &'static str {
    match sink {
        Sink::Mqtt { .. } => "Mqtt",
        Sink::BrokerStateStore { .. } => "BrokerStateStore",
        Sink::Storage { .. } => "Storage",
    }
}
