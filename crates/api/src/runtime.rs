//! The runtime adapters: what the routes read from the runtime, as traits the runtime
//! implements. This crate does not depend on the supervisor, the registry's watcher or the
//! telemetry exporters (the registry directory itself is written through the `registry`
//! crate, see `store`); the live tail's types are the `tail-feed` crate's, shared with the
//! supervisor.

use std::sync::Arc;

use registry::RegistryPaths;
use tail_feed::TailFeed;

use crate::schemas::SchemaCatalog;

/// What `/readyz` asks of the runtime.
pub trait Readiness: Send + Sync + 'static {
    /// `None` when ready; otherwise what is not ready yet, for people to read.
    fn not_ready(&self) -> Option<String>;
}

/// Answers `GET /api/v1/status`: configuration status and runtime health of every device
/// endpoint, asset, dataset and event, in AIO's shapes (see `docs/status.md`).
pub trait StatusSource: Send + Sync + 'static {
    /// The status now, as the JSON document the route returns.
    fn status(&self) -> serde_json::Value;
}

/// Answers `GET /metrics`.
pub trait MetricsSource: Send + Sync + 'static {
    /// Every metric now, in the Prometheus text exposition format (version 0.0.4).
    fn prometheus_text(&self) -> String;
}

/// Answers `GET /api/v1/assets/{name}/tail`.
pub trait TailSource: Send + Sync + 'static {
    /// A feed of the messages forwarded for `asset` from now on (see [`TailFeed`]): slow
    /// readers lose the oldest messages and are told how many, never slow the flow of
    /// events. `tail_feed::feed` makes one from a `broadcast` receiver.
    fn subscribe(&self, asset: &str) -> TailFeed;
}

/// The running totals the rate ring ([`crate::rates`]) samples: what the runtime already
/// counts for its metrics, read without locking the flow of events.
pub trait CounterSource: Send + Sync + 'static {
    /// Events received from every SSE stream since the connector started.
    fn received(&self) -> u64;
    /// The counters of every data operation now.
    fn operations(&self) -> Vec<OperationCount>;
}

/// One data operation's running totals, as [`CounterSource::operations`] reports them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OperationCount {
    /// The operation (`asset/datasets/name`, `asset/eventGroups/group/events/name`).
    pub operation: String,
    /// Its asset.
    pub asset: String,
    /// Messages delivered.
    pub forwarded: u64,
    /// Messages whose delivery failed.
    pub failed: u64,
}

/// What the routes read from the runtime.
#[derive(Clone)]
pub struct Sources {
    /// Answers `/readyz`.
    pub readiness: Arc<dyn Readiness>,
    /// Answers `/api/v1/schemas...`; `None`: those routes answer 404.
    pub schemas: Option<Arc<dyn SchemaCatalog>>,
    /// Answers `/api/v1/status`; `None`: 404.
    pub status: Option<Arc<dyn StatusSource>>,
    /// Answers `/metrics`; `None`: 404.
    pub metrics: Option<Arc<dyn MetricsSource>>,
    /// Answers `/api/v1/assets/{name}/tail`; `None`: 404.
    pub tail: Option<Arc<dyn TailSource>>,
    /// What `/api/v1/rates` and the rates of `/api/v1/overview` are sampled from; `None`:
    /// `/api/v1/rates` answers 404 and the overview has no rates.
    pub counters: Option<Arc<dyn CounterSource>>,
    /// The registry directory the CRUD routes (devices, assets, secrets, trust lists) read
    /// and write; `None`: 404.
    pub registry: Option<RegistryPaths>,
}

impl Sources {
    /// Readiness only.
    pub fn new(readiness: Arc<dyn Readiness>) -> Self {
        Self {
            readiness,
            schemas: None,
            status: None,
            metrics: None,
            tail: None,
            counters: None,
            registry: None,
        }
    }

    /// Adds the schema catalog.
    #[must_use]
    pub fn with_schemas(mut self, schemas: Arc<dyn SchemaCatalog>) -> Self {
        self.schemas = Some(schemas);
        self
    }

    /// Adds the status.
    #[must_use]
    pub fn with_status(mut self, status: Arc<dyn StatusSource>) -> Self {
        self.status = Some(status);
        self
    }

    /// Adds the metrics.
    #[must_use]
    pub fn with_metrics(mut self, metrics: Arc<dyn MetricsSource>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Adds the registry directory: the CRUD routes write there, through the registry
    /// crate, and the running connector picks the change up by watching it.
    #[must_use]
    pub fn with_registry(mut self, paths: RegistryPaths) -> Self {
        self.registry = Some(paths);
        self
    }

    /// Adds the live tail.
    #[must_use]
    pub fn with_tail(mut self, tail: Arc<dyn TailSource>) -> Self {
        self.tail = Some(tail);
        self
    }

    /// Adds the counters the message rates are sampled from.
    #[must_use]
    pub fn with_counters(mut self, counters: Arc<dyn CounterSource>) -> Self {
        self.counters = Some(counters);
        self
    }
}
