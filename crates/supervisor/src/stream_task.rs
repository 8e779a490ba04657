//! The task of one stream: one SSE connection, its events routed to the operations reading
//! it, their deliveries tracked for the checkpoint.
//!
//! ```text
//! wait for the previous task of this URL ─► load checkpoint ─► build client (secrets)
//!   ─► loop: read an event (only while fewer than N are in flight)
//!            route → build what each destination receives → send (waits when it is full)
//!            (with schemas: each payload merged into its operation's schema, `dataschema` set)
//!            deliveries resolve → tracker → checkpoint (saved at most every interval)
//!   ─► stop: close the connection, wait for in-flight deliveries, save the checkpoint
//! ```
//!
//! Backpressure: when N events are in flight, or a destination (publisher, state store, file
//! queue) waits, the task does not poll the stream, so the socket is not read and TCP flow
//! control slows the server down.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::StreamExt as _;
use futures_util::stream::FuturesUnordered;
use model::plan::{OperationId, StreamSpec};
use sinks::cloudevents::{self, CONTENT_TYPE_JSON};
use sinks::hlc::HybridLogicalClock;
use sinks::{Delivery, PublishError, Publisher};
use sse_client::{Event, EventStream, StreamConfig, StreamItem};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::checkpoint::{CheckpointStore, Seq, Tracker};
use crate::client::ClientCache;
use crate::deliver::Sinks;
use crate::error::Error;
use crate::forward::{self, Outgoing};
use crate::projection;
use crate::router::{Router, Target};
use crate::schemas::{SchemaSetup, Schemas};
use crate::state::{Count, OperationSchemas, OperationStats, StreamState, StreamStats};
use crate::supervisor::SupervisorConfig;
use crate::tap::{Tap, TapMessage};
use telemetry::{EventSampler, EventSpan, ForwardAttributes, Tracer};

/// Everything a stream task needs; built by the supervisor.
pub(crate) struct StreamTask<P> {
    pub spec: StreamSpec,
    pub router: watch::Receiver<Arc<Router>>,
    pub sinks: Sinks<P>,
    pub clock: Arc<HybridLogicalClock>,
    pub store: CheckpointStore,
    pub clients: ClientCache,
    pub config: Arc<SupervisorConfig>,
    pub state: watch::Sender<StreamState>,
    pub stats: Arc<StreamStats>,
    /// Schema inference and registration; `None`: none.
    pub schemas: Option<SchemaSetup>,
    /// Where the operations' schemas are reported.
    pub schema_status: watch::Sender<OperationSchemas>,
    /// Stop reading, finish the deliveries in flight, save the checkpoint.
    pub stop: CancellationToken,
    /// Stop waiting for deliveries (shutdown grace period over); save what is committed.
    pub abort: CancellationToken,
    /// Done tokens of the tasks of the same URL being stopped: their checkpoint is saved
    /// when they are cancelled, so this task starts from it.
    pub after: Vec<CancellationToken>,
    /// The live tail's feeds.
    pub tap: Tap,
    /// Spans of connection attempts and sampled events.
    pub tracer: Tracer,
}

impl<P: Publisher> StreamTask<P> {
    /// Runs the stream until it is stopped, fails or is closed, and its deliveries are done.
    ///
    /// Boxed: an async fn keeps `self` both as its argument and as the value moved into the
    /// reader, so a task held inline would be stored two or three times in every stream's
    /// future, for the life of the stream (10,000 idle streams: about 13 MiB).
    pub async fn run(self: Box<Self>) {
        for previous in &self.after {
            tokio::select! {
                () = previous.cancelled() => {}
                () = self.abort.cancelled() => return,
            }
        }
        if self.stop.is_cancelled() {
            return;
        }
        let url = self.spec.url.clone();
        let checkpoint = self.load_checkpoint().await;
        let connect_span = self.tracer.connect_span(&url, 1);
        let stream = match self.open(checkpoint.as_deref()).await {
            Ok(stream) => stream,
            Err(error) => {
                tracing::warn!(%url, %error, reason = error.reason_code(), "stream cannot start");
                self.stats.add(Count::StreamFailures, 1);
                if let Some(span) = connect_span {
                    span.end(Some(error.reason_code()));
                }
                self.set_state(StreamState::Failed {
                    reason: error.to_string(),
                    code: error.reason_code(),
                });
                return;
            }
        };
        let router = self.router.borrow().clone();
        let schemas = Schemas::new(self.schemas.clone(), self.schema_status.clone());
        let sampler = self.tracer.sampler();
        let mut reader = Reader {
            task: self,
            stream: Some(stream),
            router,
            tracker: Tracker::new(checkpoint.as_deref()),
            deliveries: FuturesUnordered::new(),
            flush_at: None,
            warned_not_json: BTreeSet::new(),
            schemas,
            aborted: false,
            sampler,
            connect_span,
        };
        reader.run().await;
    }

    async fn load_checkpoint(&self) -> Option<String> {
        let store = self.store.clone();
        let url = self.spec.url.clone();
        let loaded = tokio::task::spawn_blocking(move || store.load(&url))
            .await
            .map_err(Error::from)
            .and_then(|r| r);
        match loaded {
            Ok(checkpoint) => checkpoint,
            Err(error) => {
                tracing::warn!(url = %self.spec.url, %error, "checkpoint ignored; reading from the live position");
                None
            }
        }
    }

    async fn open(&self, checkpoint: Option<&str>) -> Result<EventStream, Error> {
        self.set_state(StreamState::Connecting);
        let client = self
            .clients
            .get(&self.spec, self.config.connect_timeout)
            .await?;
        let mut config = StreamConfig::new(self.spec.url.as_str())?
            .with_last_event_id(checkpoint.unwrap_or_default());
        if let Some(idle) = self.config.idle_timeout {
            config = config.with_idle_timeout(idle)?;
        }
        if let Some(retry) = self.config.retry {
            config = config.with_retry_policy(retry);
        }
        Ok(client.stream(config))
    }

    /// Sends the state when it changed (only transitions are reported).
    fn set_state(&self, new: StreamState) {
        self.state.send_if_modified(|current| {
            if *current == new {
                false
            } else {
                *current = new;
                true
            }
        });
    }
}

/// One delivery, tagged with the event it belongs to.
struct Tagged {
    seq: Seq,
    delivery: Delivery,
    /// Taken when the delivery resolves.
    sent: Option<Sent>,
}

impl Future for Tagged {
    type Output = (Seq, Result<(), PublishError>, Option<Sent>);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        Pin::new(&mut this.delivery)
            .poll(cx)
            .map(|result| (this.seq, result, this.sent.take()))
    }
}

/// What a delivery updates when it resolves: its operation's counters, and its span when
/// its event was sampled.
struct Sent {
    stats: Arc<OperationStats>,
    /// When the event arrived (the latency's start).
    arrived: std::time::Instant,
    /// Payload bytes.
    bytes: u64,
    span: Option<EventSpan>,
}

impl Sent {
    fn delivered(self) {
        self.stats.delivered(self.bytes, self.arrived.elapsed());
        if let Some(span) = self.span {
            span.end(None);
        }
    }

    fn failed(self, error: &PublishError) {
        self.stats.failed();
        if let Some(span) = self.span {
            span.end(Some(&error.to_string()));
        }
    }
}

/// What woke the loop.
enum Step {
    Abort,
    Stop,
    Resolved(Seq, Result<(), PublishError>, Option<Sent>),
    Flush,
    Item(Option<StreamItem>),
}

/// The running part of a stream task.
struct Reader<P> {
    task: Box<StreamTask<P>>,
    /// `None` once reading stopped (stop, failure, 204).
    stream: Option<EventStream>,
    router: Arc<Router>,
    tracker: Tracker,
    deliveries: FuturesUnordered<Tagged>,
    /// When to save the checkpoint next (armed when it moves; idle streams have no timer).
    flush_at: Option<Instant>,
    warned_not_json: BTreeSet<OperationId>,
    /// Each operation's schema, and the `dataschema` of its messages.
    schemas: Schemas,
    aborted: bool,
    /// Which events get spans.
    sampler: EventSampler,
    /// The span of the connection attempt under way.
    connect_span: Option<EventSpan>,
}

impl<P: Publisher> Reader<P> {
    async fn run(&mut self) {
        let limit = self.task.config.max_in_flight.get();
        while !self.aborted && (self.stream.is_some() || !self.deliveries.is_empty()) {
            let can_read = self.stream.is_some() && self.tracker.in_flight() < limit;
            let flush_at = self.flush_at;
            let step = tokio::select! {
                biased;
                () = self.task.abort.cancelled() => Step::Abort,
                () = self.task.stop.cancelled(), if self.stream.is_some() => Step::Stop,
                Some((seq, result, sent)) = self.deliveries.next(), if !self.deliveries.is_empty() => {
                    Step::Resolved(seq, result, sent)
                }
                () = sleep_until(flush_at), if flush_at.is_some() => Step::Flush,
                item = next_item(&mut self.stream), if can_read => Step::Item(item),
            };
            match step {
                Step::Abort => self.aborted = true,
                Step::Stop => self.stream = None,
                Step::Resolved(seq, result, sent) => self.resolved(seq, result, sent),
                Step::Flush => {
                    self.flush_at = None;
                    self.flush().await;
                }
                Step::Item(None) => self.stream = None,
                // `item` hands events back rather than awaiting `event` itself: every stream's
                // future would otherwise keep room for both.
                Step::Item(Some(item)) => {
                    if let Some(event) = self.item(item) {
                        self.event(event).await;
                    }
                }
            }
            if self.flush_at.is_none() && self.tracker.is_dirty() {
                self.flush_at = Some(Instant::now() + self.task.config.checkpoint_interval);
            }
        }
        self.flush().await;
        tracing::debug!(url = %self.task.spec.url, checkpoint = ?self.tracker.checkpoint(), "stream task ended");
    }

    fn resolved(&mut self, seq: Seq, result: Result<(), PublishError>, sent: Option<Sent>) {
        match result {
            Ok(()) => {
                self.task.stats.add(Count::Delivered, 1);
                if let Some(sent) = sent {
                    sent.delivered();
                }
                self.tracker.resolve(seq, true);
            }
            Err(error) => {
                if let Some(sent) = sent {
                    sent.failed(&error);
                }
                self.failed_delivery(seq, &error);
            }
        }
    }

    /// Ends the current connection attempt's span, with `error` when it failed.
    fn end_attempt(&mut self, error: Option<&str>) {
        if let Some(span) = self.connect_span.take() {
            span.end(error);
        }
    }

    fn failed_delivery(&mut self, seq: Seq, error: &PublishError) {
        self.task.stats.add(Count::DeliveryFailures, 1);
        if self.tracker.resolve(seq, false) {
            tracing::error!(
                url = %self.task.spec.url,
                %error,
                checkpoint = ?self.tracker.checkpoint(),
                "delivery failed: the checkpoint stays before this event until the stream starts again"
            );
        } else {
            tracing::debug!(url = %self.task.spec.url, %error, "delivery failed");
        }
    }

    /// Handles connection changes, comments, drops and the end; hands events back.
    fn item(&mut self, item: StreamItem) -> Option<Event> {
        let url = &self.task.spec.url;
        match item {
            StreamItem::Connected { .. } => {
                tracing::info!(%url, "stream connected");
                self.end_attempt(None);
                self.task.set_state(StreamState::Connected);
            }
            StreamItem::Event(event) => return Some(event),
            StreamItem::Comment(_) => {}
            StreamItem::Reconnecting {
                attempt,
                delay,
                error,
            } => {
                self.task.stats.add(Count::Reconnects, 1);
                tracing::info!(%url, attempt, ?delay, reason = error.reason_code(), "stream reconnecting");
                self.end_attempt(Some(error.reason_code()));
                self.connect_span = self
                    .task
                    .tracer
                    .connect_span(&self.task.spec.url, attempt.saturating_add(1));
                self.task.set_state(StreamState::Backoff {
                    reason: error.to_string(),
                    code: error.reason_code(),
                    attempt,
                    delay,
                });
            }
            StreamItem::EventDropped(error) => {
                self.task.stats.add(Count::TooLarge, 1);
                tracing::warn!(%url, %error, "event dropped");
            }
            StreamItem::Failed(error) => {
                tracing::error!(%url, %error, reason = error.reason_code(), "stream failed; it stays stopped until its definition, a secret or a trust list changes");
                self.task.stats.add(Count::StreamFailures, 1);
                self.end_attempt(Some(error.reason_code()));
                self.task.set_state(StreamState::Failed {
                    reason: error.to_string(),
                    code: error.reason_code(),
                });
                self.stream = None;
            }
            StreamItem::Closed(error) => {
                tracing::warn!(%url, %error, "stream closed by the server (204)");
                self.end_attempt(Some("closed"));
                self.task.set_state(StreamState::Closed {
                    reason: error.to_string(),
                });
                self.stream = None;
            }
        }
        None
    }

    /// Routes one event, sends it to each destination and tracks the deliveries.
    async fn event(&mut self, event: Event) {
        let arrived = std::time::Instant::now();
        let stats = &self.task.stats;
        stats.add(Count::Events, 1);
        stats.add(Count::BytesIn, event.data.len() as u64);
        tracing::trace!(url = %self.task.spec.url, event = %event.event_type, id = %event.last_event_id, bytes = event.data.len(), "event");
        let sampled = self.sampler.sample();
        let extras = Extras {
            tracer: sampled.then_some(&self.task.tracer),
            tap: self.task.tap.is_listening().then_some(&self.task.tap),
            arrived,
        };
        if self.task.router.has_changed().unwrap_or(false) {
            self.router = self.task.router.borrow_and_update().clone();
            self.schemas.router_changed();
        }
        self.schemas.poll_registrations();
        let router = self.router.clone();
        let clock = &self.task.clock;
        let data: Bytes = event.data.clone().into_bytes();
        let mut raw_type: Option<&'static str> = None;
        let mut parsed: Option<Option<serde_json::Value>> = None;
        let mut outgoing: Vec<(Outgoing, Sent)> = Vec::new();
        let mut routed = false;
        for target in router.route(&event.event_type) {
            routed = true;
            if target.data_points.is_empty() {
                let content_type =
                    *raw_type.get_or_insert_with(|| cloudevents::content_type(&data));
                let headers = self.schemas.headers(target, &data);
                let item = forward::outgoing(
                    &target.destination,
                    headers,
                    &event,
                    data.clone(),
                    content_type,
                    clock,
                );
                outgoing.push(extras.sent(target, &event, &data, content_type, item));
                continue;
            }
            match parsed.get_or_insert_with(|| projection::parse(&event.data)) {
                Some(value) => {
                    let projected = projection::project(value, &target.data_points);
                    stats.add(Count::MissingDataPoints, projected.missing as u64);
                    let headers = self.schemas.headers(target, &projected.payload);
                    let payload = projected.payload;
                    let item = forward::outgoing(
                        &target.destination,
                        headers,
                        &event,
                        payload.clone(),
                        CONTENT_TYPE_JSON,
                        clock,
                    );
                    outgoing.push(extras.sent(target, &event, &payload, CONTENT_TYPE_JSON, item));
                }
                None => {
                    stats.add(Count::NotJson, 1);
                    if self.warned_not_json.insert(target.id.clone()) {
                        tracing::warn!(operation = %target.id, url = %self.task.spec.url, "event data is not JSON: not forwarded to this dataset with data points (counted; warned once)");
                    }
                }
            }
        }
        if !routed {
            if router.wanted_by_unsupported(&event.event_type) {
                stats.add(Count::Unsupported, 1);
            } else {
                stats.add(Count::Unmatched, 1);
            }
        }
        let seq = self.tracker.push(&event.last_event_id, outgoing.len());
        for (item, sent) in outgoing {
            let published = tokio::select! {
                biased;
                () = self.task.abort.cancelled() => None,
                result = self.task.sinks.send(item) => Some(result),
            };
            match published {
                // The remaining deliveries never resolve: the checkpoint stays before this event.
                None => {
                    self.aborted = true;
                    return;
                }
                Some(Ok(delivery)) => self.deliveries.push(Tagged {
                    seq,
                    delivery,
                    sent: Some(sent),
                }),
                Some(Err(error)) => {
                    sent.failed(&error);
                    self.failed_delivery(seq, &error);
                }
            }
        }
    }

    /// Saves the checkpoint if it moved; on failure, tries again at the next flush.
    async fn flush(&mut self) {
        let Some(checkpoint) = self.tracker.take_dirty() else {
            return;
        };
        let store = self.task.store.clone();
        let url = self.task.spec.url.clone();
        let saved = tokio::task::spawn_blocking(move || store.save(&url, &checkpoint))
            .await
            .map_err(Error::from)
            .and_then(|r| r);
        if let Err(error) = saved {
            self.task.stats.add(Count::CheckpointFailures, 1);
            tracing::warn!(url = %self.task.spec.url, %error, "checkpoint not saved; trying again");
            self.tracker.mark_dirty();
        }
    }
}

/// What an event's messages get besides their payload: a span and a `traceparent` when the
/// event is sampled, a copy for the live tail when someone listens. Both `None` (the usual
/// case) cost nothing.
struct Extras<'a> {
    tracer: Option<&'a Tracer>,
    tap: Option<&'a Tap>,
    arrived: std::time::Instant,
}

impl Extras<'_> {
    /// `item` with what its delivery updates; its span started and its `traceparent` set
    /// when sampled; copied to the tail when someone listens.
    fn sent(
        &self,
        target: &Target,
        event: &Event,
        payload: &Bytes,
        content_type: &str,
        mut item: Outgoing,
    ) -> (Outgoing, Sent) {
        let mut span = None;
        if let Some(tracer) = self.tracer {
            let operation = target.id.to_string();
            let arrived = std::time::SystemTime::now()
                .checked_sub(self.arrived.elapsed())
                .unwrap_or_else(std::time::SystemTime::now);
            span = tracer.forward_span(&ForwardAttributes {
                operation: &operation,
                destination: destination_name(target),
                sse_event: &event.event_type,
                sse_id: &event.last_event_id,
                payload_bytes: payload.len(),
                arrived,
            });
            if let (Some(span), Outgoing::Mqtt(message)) = (&span, &mut item) {
                message
                    .user_properties
                    .push(("traceparent".to_owned(), span.traceparent()));
            }
        }
        if let Some(tap) = self.tap {
            tap.publish(target.id.asset(), || TapMessage {
                operation: target.id.to_string(),
                destination: destination_name(target).to_owned(),
                sse_event: event.event_type.to_string(),
                sse_id: event.last_event_id.to_string(),
                content_type: content_type.to_owned(),
                payload: payload.clone(),
                time: cloudevents::time(
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
                ),
            });
        }
        let sent = Sent {
            stats: target.stats.clone(),
            arrived: self.arrived,
            bytes: payload.len() as u64,
            span,
        };
        (item, sent)
    }
}

/// The topic, key or file of `target`.
fn destination_name(target: &Target) -> &str {
    match &target.destination {
        forward::Destination::Mqtt(settings) => &settings.topic,
        forward::Destination::KeyValue { key } => key,
        forward::Destination::File { path, .. } => path,
    }
}

/// The next item of the stream (pending for ever when reading has stopped).
async fn next_item(stream: &mut Option<EventStream>) -> Option<StreamItem> {
    match stream {
        Some(stream) => stream.next().await,
        None => std::future::pending().await,
    }
}

/// Sleeps until `at` (pending for ever when `None`).
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
