//! What the routes read from the runtime, as traits the runtime implements: this crate does
//! not depend on the supervisor, the registry's watcher or the telemetry exporters (the
//! registry directory itself is written through the `registry` crate, see `store`).

use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use registry::RegistryPaths;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

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

/// One message forwarded for an asset, as the live tail shows it.
#[derive(Debug, Clone)]
pub struct TailMessage {
    /// `asset/datasets/name` or `asset/eventGroups/group/events/name`.
    pub operation: String,
    /// Where it went: the MQTT topic, the state store key or the file path.
    pub destination: String,
    /// The SSE event type.
    pub sse_event: String,
    /// The SSE event id (may be empty).
    pub sse_id: String,
    /// The payload's content type.
    pub content_type: String,
    /// The payload, as forwarded.
    pub payload: Bytes,
    /// When it was forwarded, RFC 3339.
    pub time: String,
}

/// One item of a live tail.
#[derive(Debug, Clone)]
pub enum TailItem {
    /// A message forwarded for the asset.
    Message(TailMessage),
    /// The feed fell behind: this many messages (the oldest) were skipped before the next.
    Lagged(u64),
}

/// A live tail: the items of one asset from now on, until the runtime stops. The route reads
/// it as fast as the client takes the events, so a feed must not queue anything of its own:
/// a lag anywhere must reach the client as [`TailItem::Lagged`], never be hidden.
pub type TailFeed = BoxStream<'static, TailItem>;

/// The feed of `receiver`: each value as `convert` makes it a message, and each lag of the
/// channel (the receiver fell more than its capacity behind) as [`TailItem::Lagged`] with
/// the count. Ends when the channel closes. No task, no queue of its own: dropping the feed
/// drops the receiver, which is how the sender learns that nobody listens any more.
pub fn tail_feed<T>(receiver: broadcast::Receiver<T>, convert: fn(T) -> TailMessage) -> TailFeed
where
    T: Clone + Send + 'static,
{
    Box::pin(futures_util::stream::unfold(
        receiver,
        move |mut receiver| async move {
            let item = match receiver.recv().await {
                Ok(value) => TailItem::Message(convert(value)),
                Err(RecvError::Lagged(skipped)) => TailItem::Lagged(skipped),
                Err(RecvError::Closed) => return None,
            };
            Some((item, receiver))
        },
    ))
}

/// Answers `GET /api/v1/assets/{name}/tail`.
pub trait TailSource: Send + Sync + 'static {
    /// A feed of the messages forwarded for `asset` from now on (see [`TailFeed`]): slow
    /// readers lose the oldest messages and are told how many, never slow the flow of
    /// events. [`tail_feed`] makes one from a `broadcast` receiver.
    fn subscribe(&self, asset: &str) -> TailFeed;
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
}
