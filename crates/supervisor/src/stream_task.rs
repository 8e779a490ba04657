//! The task of one stream: one SSE connection, its events routed to the operations reading
//! it, their deliveries tracked for the checkpoint.
//!
//! ```text
//! wait for the previous task of this URL ─► load checkpoint (the file; with shared
//!   checkpoints: wait for the lease, then the state store's, the file's when it has none)
//!   ─► build client (secrets)
//!   ─► loop: read an event (only while fewer than N are in flight)
//!            route → build what each destination receives → send (waits when it is full)
//!            (with schemas: each payload merged into its operation's schema, `dataschema` set)
//!            deliveries resolve → tracker → checkpoint (saved at most every interval;
//!              the lease's keeper writes it to the state store at its own pace)
//!            a delivery fails → stop reading; once nothing else is in flight, attempt the
//!              failed ones again in event order (backoff) or write their dead letters
//!   ─► stop: close the connection, wait for in-flight deliveries, save the checkpoint,
//!      then (shared checkpoints) write it to the state store and release the lease
//! ```
//!
//! A lease lost while running (another replica took it: this one was cut off from the state
//! store for longer than the lease) stops reading as a stop does; once drained, the task waits
//! for the lease again and resumes from the stored checkpoint.
//!
//! Backpressure: when N events are in flight, a destination (publisher, state store, file
//! queue) waits, or a failed delivery waits for its next attempt, the task does not poll the
//! stream, so the socket is not read and TCP flow control slows the server down.
//!
//! # Failed deliveries
//! [`PublishError::is_retryable`] decides. A retryable failure is attempted again with the
//! stream's backoff (jitter, capped), or every [`refused_retry`] when the broker refused for
//! a reason only its operator changes (not authorized, quota exceeded), until it succeeds; the
//! message is built again from the event for its operation's definition in force (a new
//! CloudEvents `id` and timestamp). Attempts wait until every other delivery has resolved and
//! go one at a time in event order, so nothing sent later overtakes them; a state store SET
//! is not sent again when the SET of a later event was confirmed meanwhile (the key keeps
//! the newest value). A failure no retry
//! can fix writes the event to the dead-letter file (`dead_letter.rs`) and the stream goes on.
//! Only a destination that shut down leaves the checkpoint before the event for good (the
//! next start reads it again).
//!
//! [`refused_retry`]: crate::SupervisorConfig::refused_retry

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use aio_mqtt::cloudevents::{self, CONTENT_TYPE_JSON};
use aio_mqtt::hlc::HybridLogicalClock;
use bytes::Bytes;
use futures_util::StreamExt as _;
use futures_util::stream::FuturesUnordered;
use model::plan::{OperationId, StreamSpec};
use sinks::{Delivery, PublishError, Publisher};
use sse_client::{Event, EventStream, StreamConfig, StreamItem};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::checkpoint::shared::{Acquired, Owner, SharedCheckpoints, StreamKeys};
use crate::checkpoint::{CheckpointStore, Seq, Tracker};
use crate::connections::Connections;
use crate::dead_letter::DeadLetters;
use crate::deliver::Sinks;
use crate::error::Error;
use crate::forward::{self, Outgoing};
use crate::projection;
use crate::router::{Router, Target};
use crate::schemas::{SchemaSetup, Schemas};
use crate::state::{
    Count, DeadLettered, DeliveryProblem, OperationDeliveries, OperationSchemas, Retrying,
    StreamState, StreamStats,
};
use crate::supervisor::SupervisorConfig;
use crate::tail::Tail;
use crate::transform::{self, Prepared};
use tail_feed::TailMessage;
use telemetry::{EventSampler, EventSpan, ForwardAttributes, Tracer};

/// Everything a stream task needs; built by the supervisor.
pub(crate) struct StreamTask<P> {
    pub spec: StreamSpec,
    pub router: watch::Receiver<Arc<Router>>,
    pub sinks: Sinks<P>,
    pub clock: Arc<HybridLogicalClock>,
    pub store: CheckpointStore,
    /// The state store's checkpoints and this stream's keys there; `None`: files only.
    pub shared: Option<(SharedCheckpoints, StreamKeys)>,
    pub connections: Connections,
    pub config: Arc<SupervisorConfig>,
    pub state: watch::Sender<StreamState>,
    pub stats: Arc<StreamStats>,
    /// Schema inference and registration; `None`: none.
    pub schemas: Option<SchemaSetup>,
    /// Where the operations' schemas are reported.
    pub schema_status: watch::Sender<OperationSchemas>,
    /// Where the operations' delivery problems (retries, dead letters) are reported.
    pub deliveries: watch::Sender<OperationDeliveries>,
    /// The dead-letter files.
    pub dead_letters: DeadLetters,
    /// Stop reading, finish the deliveries in flight, save the checkpoint.
    pub stop: CancellationToken,
    /// Stop waiting for deliveries (shutdown grace period over); save what is committed.
    pub abort: CancellationToken,
    /// Done tokens of the tasks of the same URL being stopped: their checkpoint is saved
    /// when they are cancelled, so this task starts from it.
    pub after: Vec<CancellationToken>,
    /// The stream this one replaces (same URL, other credentials or trust), whose checkpoint
    /// it starts from when it has none of its own.
    pub replaces: Option<StreamSpec>,
    /// The live tail's feeds.
    pub tail: Tail,
    /// Spans of connection attempts and sampled events.
    pub tracer: Tracer,
}

impl<P: Publisher> StreamTask<P> {
    /// Runs the stream until it is stopped, fails or is closed, and its deliveries are done.
    ///
    /// Boxed: an async fn keeps `self` both as its argument and as the value moved into the
    /// reader, so a task held inline would be stored two or three times in every stream's
    /// future, for the life of the stream (10,000 idle streams: about 13 MiB).
    pub async fn run(mut self: Box<Self>) {
        for previous in &self.after {
            tokio::select! {
                () = previous.cancelled() => {}
                () = self.abort.cancelled() => return,
            }
        }
        loop {
            if self.stop.is_cancelled() {
                return;
            }
            let file = self.load_checkpoint().await;
            let (checkpoint, owner) = match &self.shared {
                None => (file, None),
                Some((shared, keys)) => {
                    match shared.acquire(keys, file.clone(), &self.stop).await {
                        Acquired::Owned { checkpoint, owner } => (checkpoint, Some(owner)),
                        Acquired::Unavailable => (file, None),
                        Acquired::Stopped => return,
                    }
                }
            };
            let Some(task) = self.read(checkpoint, owner).await else {
                return;
            };
            self = task;
        }
    }

    /// Reads the stream from `checkpoint` until it is stopped, fails or is closed, or its
    /// lease is lost; then releases the lease. Returns the task when the lease was lost, to
    /// acquire it again.
    async fn read(
        self: Box<Self>,
        checkpoint: Option<String>,
        owner: Option<Owner>,
    ) -> Option<Box<Self>> {
        let url = self.spec.url.clone();
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
                if let Some(owner) = owner {
                    owner.release(checkpoint.as_deref()).await;
                }
                return None;
            }
        };
        let router = self.router.borrow().clone();
        let schemas = Schemas::new(self.schemas.clone(), self.schema_status.clone());
        let sampler = self.tracer.sampler();
        let mut reader = Reader {
            task: self,
            stream: Some(stream),
            stopped: false,
            router,
            tracker: Tracker::new(checkpoint.as_deref()),
            deliveries: FuturesUnordered::new(),
            window: VecDeque::new(),
            failures: BTreeMap::new(),
            confirmed_sets: BTreeMap::new(),
            flush_at: None,
            warned_not_json: BTreeSet::new(),
            schemas,
            aborted: false,
            owner,
            lease_lost: false,
            sampler,
            connect_span,
        };
        reader.run().await;
        if let Some(owner) = reader.owner.take() {
            owner.release(reader.tracker.checkpoint()).await;
        }
        let again = reader.lease_lost && !reader.aborted && !reader.task.stop.is_cancelled();
        again.then_some(reader.task)
    }

    async fn load_checkpoint(&self) -> Option<String> {
        let store = self.store.clone();
        let spec = self.spec.clone();
        let replaces = self.replaces.clone();
        let loaded = tokio::task::spawn_blocking(move || store.load(&spec, replaces.as_ref()))
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
            .connections
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

/// What a delivery in flight is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The first send of a message.
    Send,
    /// A message sent again after a retryable failure.
    Retry,
    /// The dead-letter line of a message its destination can never take.
    DeadLetter,
}

/// One delivery, tagged with the event it belongs to.
struct Tagged {
    seq: Seq,
    kind: Kind,
    delivery: Delivery,
    /// Taken when the delivery resolves.
    sent: Option<Sent>,
}

impl Future for Tagged {
    type Output = Resolved;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        Pin::new(&mut this.delivery)
            .poll(cx)
            .map(|result| Resolved {
                seq: this.seq,
                kind: this.kind,
                result,
                sent: this.sent.take(),
            })
    }
}

/// A delivery that resolved.
struct Resolved {
    seq: Seq,
    kind: Kind,
    result: Result<(), PublishError>,
    sent: Option<Sent>,
}

/// What a delivery updates when it resolves: its operation's counters, and its span when
/// its event was sampled. Holds the operation's target, for a retry or a dead letter.
struct Sent {
    target: Arc<Target>,
    /// When the event arrived (the latency's start).
    arrived: std::time::Instant,
    /// Payload bytes.
    bytes: u64,
    span: Option<EventSpan>,
}

impl Sent {
    fn delivered(self) {
        self.target
            .stats
            .delivered(self.bytes, self.arrived.elapsed());
        if let Some(span) = self.span {
            span.end(None);
        }
    }

    fn failed(&mut self, error: &PublishError) {
        self.target.stats.failed();
        if let Some(span) = self.span.take() {
            span.end(Some(&error.to_string()));
        }
    }
}

/// A failed delivery waiting for its next attempt.
struct Failure {
    error: PublishError,
    /// Attempts that failed so far.
    attempt: u32,
    /// When the next attempt is due.
    due: Instant,
    /// The next attempt writes the dead letter (the destination can never take it) instead
    /// of sending the message again.
    dead_letter: bool,
    /// When the event arrived (latency of the final delivery).
    arrived: std::time::Instant,
}

/// What woke the loop.
enum Step {
    Abort,
    Stop,
    Resolved(Resolved),
    Flush,
    Retry,
    LeaseLost,
    Item(Option<StreamItem>),
}

/// The running part of a stream task.
struct Reader<P> {
    task: Box<StreamTask<P>>,
    /// `None` once reading stopped (stop, failure, 204).
    stream: Option<EventStream>,
    /// Set by a stop: failed deliveries are no longer retried (the next start reads them
    /// again).
    stopped: bool,
    router: Arc<Router>,
    tracker: Tracker,
    deliveries: FuturesUnordered<Tagged>,
    /// The events whose deliveries are not all done, oldest first: what a retry or a dead
    /// letter is built from.
    window: VecDeque<(Seq, Event)>,
    /// Failed deliveries, in event order: while there is one, the stream is not read; the
    /// first is attempted again once nothing else is in flight and it is due.
    failures: BTreeMap<(Seq, OperationId), Failure>,
    /// The newest event whose SET each `BrokerStateStore` operation's store confirmed: a
    /// failed SET of an older event is not sent again, since the key holds a newer value.
    confirmed_sets: BTreeMap<OperationId, Seq>,
    /// When to save the checkpoint next (armed when it moves; idle streams have no timer).
    flush_at: Option<Instant>,
    warned_not_json: BTreeSet<OperationId>,
    /// Each operation's schema, and the `dataschema` of its messages.
    schemas: Schemas,
    aborted: bool,
    /// The stream's lease, when its checkpoint is shared: hands it the checkpoints saved.
    owner: Option<Owner>,
    /// Set when the lease was lost: reading stopped, to acquire it again once drained.
    lease_lost: bool,
    /// Which events get spans.
    sampler: EventSampler,
    /// The span of the connection attempt under way.
    connect_span: Option<EventSpan>,
}

impl<P: Publisher> Reader<P> {
    async fn run(&mut self) {
        let limit = self.task.config.max_in_flight.get();
        while !self.aborted
            && (self.stream.is_some()
                || !self.deliveries.is_empty()
                || (!self.failures.is_empty() && !self.stopped))
        {
            let can_read = self.stream.is_some()
                && self.failures.is_empty()
                && self.tracker.in_flight() < limit;
            let flush_at = self.flush_at;
            // Retries go one at a time, in event order, once every other delivery resolved:
            // nothing sent later can overtake them.
            let retry_at = self
                .failures
                .first_key_value()
                .filter(|_| self.deliveries.is_empty() && !self.stopped)
                .map(|(_, failure)| failure.due);
            let step = tokio::select! {
                biased;
                () = self.task.abort.cancelled() => Step::Abort,
                () = self.task.stop.cancelled(), if !self.stopped => Step::Stop,
                Some(resolved) = self.deliveries.next(), if !self.deliveries.is_empty() => {
                    Step::Resolved(resolved)
                }
                () = sleep_until(flush_at), if flush_at.is_some() => Step::Flush,
                () = sleep_until(retry_at), if retry_at.is_some() => Step::Retry,
                () = lost(self.owner.as_ref()), if !self.stopped => Step::LeaseLost,
                item = next_item(&mut self.stream), if can_read => Step::Item(item),
            };
            match step {
                Step::Abort => self.aborted = true,
                Step::Stop => {
                    self.stopped = true;
                    self.stream = None;
                }
                Step::Resolved(resolved) => self.resolved(resolved),
                Step::Flush => {
                    self.flush_at = None;
                    self.flush().await;
                }
                Step::Retry => self.retry().await,
                Step::LeaseLost => {
                    tracing::warn!(url = %self.task.spec.url, "checkpoint lease lost: reading stops until it is acquired again");
                    self.lease_lost = true;
                    self.stopped = true;
                    self.stream = None;
                    self.task.set_state(StreamState::Connecting);
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
        if !self.failures.is_empty() {
            tracing::warn!(
                url = %self.task.spec.url,
                failed = self.failures.len(),
                checkpoint = ?self.tracker.checkpoint(),
                "stream stopped with deliveries still failing: they are read again at the next start"
            );
        }
        self.flush().await;
        tracing::debug!(url = %self.task.spec.url, checkpoint = ?self.tracker.checkpoint(), "stream task ended");
    }

    fn resolved(&mut self, resolved: Resolved) {
        let Resolved {
            seq,
            kind,
            result,
            sent,
        } = resolved;
        let Some(mut sent) = sent else {
            return;
        };
        match result {
            Ok(()) => {
                // Every delivered message passes here: nothing is cloned unless it was a retry.
                let target = (kind != Kind::Send).then(|| sent.target.clone());
                if kind == Kind::DeadLetter {
                    self.task.stats.add(Count::DeadLetters, 1);
                    self.dead_lettered(seq, &sent.target);
                } else {
                    self.task.stats.add(Count::Delivered, 1);
                    if matches!(
                        sent.target.destination,
                        forward::Destination::KeyValue { .. }
                    ) {
                        self.confirmed_set(&sent.target.id, seq);
                    }
                    sent.delivered();
                }
                if let Some(target) = target {
                    self.failures.remove(&(seq, target.id.clone()));
                    self.report_retry(&target.id);
                    if let Some((_, next)) = self.failures.first_key_value() {
                        tracing::debug!(pending = self.failures.len(), due = ?next.due, "next failed delivery");
                    } else {
                        tracing::info!(url = %self.task.spec.url, "failed deliveries done; reading again");
                    }
                }
                self.done(seq);
            }
            Err(error) => {
                sent.failed(&error);
                self.failed(seq, kind, sent, error);
            }
        }
    }

    /// Event `seq` is done for one more of its deliveries.
    fn done(&mut self, seq: Seq) {
        self.tracker.resolve(seq, true);
        let oldest = self.tracker.oldest().unwrap_or(Seq::MAX);
        while self.window.front().is_some_and(|(s, _)| *s < oldest) {
            self.window.pop_front();
        }
    }

    /// A delivery of event `seq` failed: it is attempted again (the message, or its dead
    /// letter) unless its destination shut down.
    fn failed(&mut self, seq: Seq, kind: Kind, sent: Sent, error: PublishError) {
        let url = &self.task.spec.url;
        let id = sent.target.id.clone();
        self.task.stats.add(Count::DeliveryFailures, 1);
        if matches!(error, PublishError::Closed) {
            // Shutting down: the checkpoint stays before this event, read again at the next start.
            self.failures.remove(&(seq, id.clone()));
            self.report_retry(&id);
            if self.tracker.resolve(seq, false) {
                tracing::warn!(%url, %error, checkpoint = ?self.tracker.checkpoint(), "delivery not done: the checkpoint stays before this event");
            }
            return;
        }
        let dead_letter = kind == Kind::DeadLetter || error.is_dead_letter();
        let previous = self.failures.get(&(seq, id.clone()));
        let attempt = previous.map_or(0, |f| f.attempt) + 1;
        let delay = if dead_letter && kind != Kind::DeadLetter {
            Duration::ZERO
        } else if error.retry_slowly() {
            self.task.config.refused_retry
        } else {
            self.task
                .config
                .retry
                .unwrap_or_default()
                .next_delay(attempt, None, None)
        };
        if dead_letter && kind != Kind::DeadLetter {
            tracing::error!(%url, operation = %id, %error, "the destination can never take this message: it goes to the dead-letter file");
        } else {
            tracing::warn!(%url, operation = %id, %error, attempt, ?delay, "delivery failed; the stream waits and tries again");
        }
        self.failures.insert(
            (seq, id.clone()),
            Failure {
                error,
                attempt,
                due: Instant::now() + delay,
                dead_letter,
                arrived: sent.arrived,
            },
        );
        self.report_retry(&id);
    }

    /// Attempts the first failed delivery again: the message, built again from its event for
    /// its operation's current definition, or its dead letter.
    async fn retry(&mut self) {
        let Some(((seq, id), failure)) = self.failures.first_key_value() else {
            return;
        };
        let (seq, id) = (*seq, id.clone());
        let (dead_letter, arrived) = (failure.dead_letter, failure.arrived);
        let error = failure.error.clone();
        if self.task.router.has_changed().unwrap_or(false) {
            self.router = self.task.router.borrow_and_update().clone();
            self.schemas.router_changed();
        }
        let event = self
            .window
            .binary_search_by_key(&seq, |(s, _)| *s)
            .ok()
            .and_then(|i| self.window.get(i))
            .map(|(_, event)| event.clone());
        let (Some(target), Some(event)) = (self.router.target(&id).cloned(), event) else {
            tracing::info!(url = %self.task.spec.url, operation = %id, "the operation of a failed delivery was removed: not sent again");
            self.failures.remove(&(seq, id.clone()));
            self.report_retry(&id);
            self.done(seq);
            return;
        };
        let superseded = matches!(target.destination, forward::Destination::KeyValue { .. })
            && self
                .confirmed_sets
                .get(&id)
                .is_some_and(|newer| *newer > seq);
        if superseded && !dead_letter {
            tracing::info!(url = %self.task.spec.url, operation = %id, "a failed SET is not sent again: the key already holds a newer event's value");
            self.failures.remove(&(seq, id.clone()));
            self.report_retry(&id);
            self.done(seq);
            return;
        }
        let sent = Sent {
            target: target.clone(),
            arrived,
            bytes: event.data.len() as u64,
            span: None,
        };
        let (kind, queued) = if dead_letter {
            let queued = tokio::select! {
                biased;
                () = self.task.abort.cancelled() => None,
                queued = self.task.dead_letters.append(&target, &event, &error) => Some(queued),
            };
            (Kind::DeadLetter, queued)
        } else {
            self.task.stats.add(Count::DeliveryRetries, 1);
            let mut payloads = Payloads::new(&event);
            let Some(built) = self.transformed(&target, &event, &mut payloads).await else {
                self.failures.remove(&(seq, id.clone()));
                self.report_retry(&id);
                self.done(seq);
                return;
            };
            let queued = tokio::select! {
                biased;
                () = self.task.abort.cancelled() => None,
                queued = self.task.sinks.send(built.item) => Some(queued),
            };
            (Kind::Retry, queued)
        };
        match queued {
            None => self.aborted = true,
            Some(Ok(delivery)) => self.deliveries.push(Tagged {
                seq,
                kind,
                delivery,
                sent: Some(sent),
            }),
            Some(Err(error)) => {
                let mut sent = sent;
                sent.failed(&error);
                self.failed(seq, kind, sent, error);
            }
        }
    }

    /// Notes that the store confirmed the SET of event `seq` for operation `id`.
    fn confirmed_set(&mut self, id: &OperationId, seq: Seq) {
        match self.confirmed_sets.get_mut(id) {
            Some(newest) => *newest = (*newest).max(seq),
            None => {
                self.confirmed_sets.insert(id.clone(), seq);
            }
        }
    }

    /// Publishes the retry state of operation `id` (its first failed delivery, if any).
    fn report_retry(&self, id: &OperationId) {
        let retrying = self
            .failures
            .iter()
            .find(|((_, op), _)| op == id)
            .map(|(_, failure)| Retrying {
                reason: failure.error.to_string(),
                code: failure.error.reason_code(),
                attempt: failure.attempt,
                delay: failure.due.saturating_duration_since(Instant::now()),
            });
        self.task.deliveries.send_if_modified(|all| {
            let entry = all.entry(id.clone()).or_default();
            let changed = entry.retrying != retrying;
            entry.retrying = retrying;
            if *entry == DeliveryProblem::default() {
                all.remove(id);
            }
            changed
        });
    }

    /// Counts a dead letter of `target` in its status.
    fn dead_lettered(&self, seq: Seq, target: &Target) {
        let Some(failure) = self.failures.get(&(seq, target.id.clone())) else {
            return;
        };
        let dead = DeadLettered {
            reason: failure.error.to_string(),
            code: failure.error.reason_code(),
            destination: destination_text(target),
            file: DeadLetters::file_of(target),
            count: 0,
        };
        self.task.deliveries.send_modify(|all| {
            let entry = all.entry(target.id.clone()).or_default();
            let count = entry.dead_letters.as_ref().map_or(0, |d| d.count) + 1;
            entry.dead_letters = Some(DeadLettered { count, ..dead });
        });
    }

    /// Ends the current connection attempt's span, with `error` when it failed.
    fn end_attempt(&mut self, error: Option<&str>) {
        if let Some(span) = self.connect_span.take() {
            span.end(error);
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
        if self.task.router.has_changed().unwrap_or(false) {
            self.router = self.task.router.borrow_and_update().clone();
            self.schemas.router_changed();
        }
        self.schemas.poll_registrations();
        let router = self.router.clone();
        let mut payloads = Payloads::new(&event);
        let mut outgoing: Vec<(Outgoing, Sent)> = Vec::new();
        let mut routed = false;
        for target in router.route(&event.event_type) {
            routed = true;
            if let Some(built) = self.transformed(target, &event, &mut payloads).await {
                let extras = Extras {
                    tracer: sampled.then_some(&self.task.tracer),
                    tail: self.task.tail.is_listening().then_some(&self.task.tail),
                    arrived,
                };
                outgoing.push(extras.sent(target, &event, built));
            }
        }
        if !routed {
            let stats = &self.task.stats;
            if router.wanted_by_unsupported(&event.event_type) {
                stats.add(Count::Unsupported, 1);
            } else {
                stats.add(Count::Unmatched, 1);
            }
        }
        let seq = self.tracker.push(&event.last_event_id, outgoing.len());
        if !outgoing.is_empty() {
            self.window.push_back((seq, event));
        }
        for (item, mut sent) in outgoing {
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
                    kind: Kind::Send,
                    delivery,
                    sent: Some(sent),
                }),
                Some(Err(error)) => {
                    sent.failed(&error);
                    self.failed(seq, Kind::Send, sent, error);
                }
            }
        }
    }

    /// What `target`'s destination receives of `event` after its transform, if it has one
    /// (`None`: nothing, filtered or failed; see `transform.rs`).
    async fn transformed(
        &mut self,
        target: &Target,
        event: &Event,
        payloads: &mut Payloads,
    ) -> Option<Built> {
        let task = &self.task;
        match transform::prepare(target, event, &task.dead_letters, &task.deliveries).await {
            Prepared::Original => self.build(target, event, payloads),
            Prepared::Nothing => None,
            Prepared::Transformed(t) => {
                let mut built = self.build(target, &t.event, &mut Payloads::new(&t.event))?;
                t.finish(&mut built.item);
                Some(built)
            }
        }
    }

    /// What `target`'s destination receives of `event`: the data, or its projection (`None`
    /// when the operation has data points and the data is not JSON: counted, warned once).
    fn build(&mut self, target: &Target, event: &Event, payloads: &mut Payloads) -> Option<Built> {
        let clock = &self.task.clock;
        if target.data_points.is_empty() {
            let data = payloads.data.clone();
            let content_type = payloads.content_type();
            let headers = self.schemas.headers(target, &data);
            let item = forward::outgoing(
                &target.destination,
                headers,
                event,
                data.clone(),
                content_type,
                clock,
            );
            return Some(Built {
                item,
                payload: data,
                content_type,
            });
        }
        match payloads.parsed(event) {
            Some(value) => {
                let projected = projection::project(value, &target.data_points);
                self.task
                    .stats
                    .add(Count::MissingDataPoints, projected.missing as u64);
                let headers = self.schemas.headers(target, &projected.payload);
                let payload = projected.payload;
                let item = forward::outgoing(
                    &target.destination,
                    headers,
                    event,
                    payload.clone(),
                    CONTENT_TYPE_JSON,
                    clock,
                );
                Some(Built {
                    item,
                    payload,
                    content_type: CONTENT_TYPE_JSON,
                })
            }
            None => {
                self.task.stats.add(Count::NotJson, 1);
                if self.warned_not_json.insert(target.id.clone()) {
                    tracing::warn!(operation = %target.id, url = %self.task.spec.url, "event data is not JSON: not forwarded to this dataset with data points (counted; warned once)");
                }
                None
            }
        }
    }

    /// Saves the checkpoint if it moved; on failure, tries again at the next flush.
    async fn flush(&mut self) {
        let Some(checkpoint) = self.tracker.take_dirty() else {
            return;
        };
        if let Some(owner) = &self.owner {
            owner.save(&checkpoint);
        }
        let store = self.task.store.clone();
        let spec = self.task.spec.clone();
        let saved = tokio::task::spawn_blocking(move || store.save(&spec, &checkpoint))
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
    tail: Option<&'a Tail>,
    arrived: std::time::Instant,
}

impl Extras<'_> {
    /// `item` with what its delivery updates; its span started and its `traceparent` set
    /// when sampled; copied to the tail when someone listens.
    fn sent(&self, target: &Arc<Target>, event: &Event, built: Built) -> (Outgoing, Sent) {
        let Built {
            mut item,
            payload,
            content_type,
        } = built;
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
        if let Some(tail) = self.tail {
            tail.publish(target.id.asset(), || TailMessage {
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
            target: target.clone(),
            arrived: self.arrived,
            bytes: payload.len() as u64,
            span,
        };
        (item, sent)
    }
}

/// What one destination of one event receives, with the payload and content type it was
/// built from.
struct Built {
    item: Outgoing,
    payload: Bytes,
    content_type: &'static str,
}

/// An event's data and what is learnt of it once, shared by its operations.
struct Payloads {
    data: Bytes,
    content_type: Option<&'static str>,
    parsed: Option<Option<serde_json::Value>>,
}

impl Payloads {
    fn new(event: &Event) -> Self {
        Self {
            data: event.data.clone().into_bytes(),
            content_type: None,
            parsed: None,
        }
    }

    /// `application/json` when the data is JSON, else text.
    fn content_type(&mut self) -> &'static str {
        self.content_type
            .get_or_insert_with(|| cloudevents::content_type(&self.data))
    }

    /// The data as JSON, parsed once; `None` when it is not JSON.
    fn parsed(&mut self, event: &Event) -> Option<&serde_json::Value> {
        self.parsed
            .get_or_insert_with(|| projection::parse(&event.data))
            .as_ref()
    }
}

/// The destination of `target` as status text: `Mqtt topic a/b`, `BrokerStateStore key k`,
/// `Storage path p`.
fn destination_text(target: &Target) -> String {
    match &target.destination {
        forward::Destination::Mqtt(settings) => format!("Mqtt topic {}", settings.topic),
        forward::Destination::KeyValue { key } => format!("BrokerStateStore key {key}"),
        forward::Destination::File { path, .. } => format!("Storage path {path}"),
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

/// Completes when `owner`'s lease is lost (pending for ever without one).
async fn lost(owner: Option<&Owner>) {
    match owner {
        Some(owner) => owner.lost().cancelled().await,
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
