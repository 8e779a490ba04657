//! Message schemas per data operation: each forwarded payload goes through the operation's
//! [`Inferrer`]; when the shape widens, the new schema is registered through the
//! [`SchemaRegistrar`] on a task of its own, and the messages carry its reference as
//! `dataschema` from the first one built after the registration succeeded.
//!
//! ```text
//! payload ─► Inferrer ─ Changed ─► (one at a time per operation) spawn register(version n)
//!    │                                        │ Ok(reference): status + headers for next messages
//!    └─► headers: with `dataschema` when the  │ Err: status; retried with backoff if retryable
//!        registered schema describes the shape ◄┘
//! ```
//!
//! Rules:
//! - A message carries `dataschema` only when the registered schema describes every payload
//!   merged so far: from the payload that widens the shape until the wider schema is
//!   registered, messages go without it (never with a reference they may not match).
//! - Versions go `1`, `2`, `3`… per operation and stream task, one per registration that
//!   succeeded; widenings while a registration is in flight are coalesced into the next one,
//!   started at the first payload after it finished (a finished registration is taken up at
//!   the next payload: the stream task's loop is not woken for it; a quiet stream has no
//!   message to label).
//! - A failed registration is tried again, at the first payload once a backoff (1 s doubling
//!   to 60 s, from its end) is over, when retryable; otherwise at the next widening.
//! - A payload that is not JSON is forwarded unchanged, without `dataschema`; the operation's
//!   [`OperationSchema::failure`](crate::state::OperationSchema::failure) is set once (`SseConnectorSchemaGenerationFailure`: degraded,
//!   not stopped) and a warning logged once.
//! - When an operation's data points change, its shape starts again (versions continue).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use model::plan::{DataPointRule, OperationId};
use schema::{
    Inferrer, Observed, RegisterError, RegisterRequest, SCHEMA_GENERATION_FAILURE, Sampling,
    SchemaReference, SchemaRegistrar,
};
use sinks::cloudevents::{self, OperationHeaders};
use tokio::sync::{mpsc, watch};
use tokio::task::{Id, JoinSet};
use tokio::time::Instant;

use crate::router::Target;
use crate::state::{OperationSchemas, SchemaFailure};

/// First wait before a retryable registration is tried again; it doubles up to
/// [`MAX_RETRY_DELAY`].
const FIRST_RETRY_DELAY: Duration = Duration::from_secs(1);
/// Longest wait between registration attempts.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(60);

type Registration = Pin<Box<dyn Future<Output = Result<SchemaReference, RegisterError>> + Send>>;

/// [`SchemaRegistrar`] made object-safe, so the supervisor needs no type parameter for it.
trait DynRegistrar: Send + Sync {
    fn register(&self, request: RegisterRequest) -> Registration;
}

impl<R: SchemaRegistrar> DynRegistrar for R {
    fn register(&self, request: RegisterRequest) -> Registration {
        let registrar = self.clone();
        Box::pin(async move { registrar.register(request).await })
    }
}

/// What inference needs, shared by every stream task: the registrar and the sampling policy.
#[derive(Clone)]
pub(crate) struct SchemaSetup {
    registrar: Arc<dyn DynRegistrar>,
    pub sampling: Sampling,
}

impl std::fmt::Debug for SchemaSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemaSetup")
            .field("sampling", &self.sampling)
            .finish_non_exhaustive()
    }
}

impl SchemaSetup {
    /// Inference with `registrar` and the default sampling.
    pub fn new(registrar: impl SchemaRegistrar) -> Self {
        Self {
            registrar: Arc::new(registrar),
            sampling: Sampling::default(),
        }
    }
}

/// A finished registration.
struct Done {
    operation: OperationId,
    version: u32,
    result: Result<SchemaReference, RegisterError>,
    /// When it finished (the stream task learns of it at its next payload): retries count
    /// from here.
    at: Instant,
}

/// The schema state of one operation in one stream task.
struct OpSchema {
    inferrer: Inferrer,
    /// The data points the shape was learnt with: when they change, it starts again.
    data_points: Vec<DataPointRule>,
    /// The registered schema that describes the shape now, if any.
    current: Option<SchemaReference>,
    /// The operation's headers with `current` as `dataschema` (built on first use).
    headers: Option<OperationHeaders>,
    /// The router generation `headers` were built from.
    generation: u64,
    /// The version the next successful registration gets.
    next_version: u32,
    /// The task of the registration in flight.
    in_flight: Option<Id>,
    /// The shape widened since the last registration started (or that one failed).
    dirty: bool,
    failures: u32,
    retry_at: Option<Instant>,
    reported_not_json: bool,
}

impl OpSchema {
    fn new(target: &Target, sampling: Sampling, generation: u64) -> Self {
        Self {
            inferrer: Inferrer::new().with_sampling(sampling),
            data_points: target.data_points.clone(),
            current: None,
            headers: None,
            generation,
            next_version: 1,
            in_flight: None,
            dirty: false,
            failures: 0,
            retry_at: None,
            reported_not_json: false,
        }
    }

    /// Learns again from scratch (new data points); versions continue.
    fn restart(&mut self, target: &Target, sampling: Sampling) {
        self.inferrer = Inferrer::new().with_sampling(sampling);
        self.data_points = target.data_points.clone();
        self.current = None;
        self.headers = None;
        self.dirty = false;
        self.failures = 0;
        self.retry_at = None;
    }
}

/// The schemas of one stream task's operations. Without a [`SchemaSetup`] it does nothing and
/// every message keeps its operation's headers.
pub(crate) struct Schemas {
    setup: Option<SchemaSetup>,
    ops: HashMap<OperationId, OpSchema>,
    /// The registration tasks (aborted when the stream task ends).
    registrations: JoinSet<()>,
    /// Finished registrations, sent before their status is: once a reference shows in the
    /// status, the next payload's message carries it.
    /// Finished registrations; made at the first registration, because a channel allocates a
    /// block of 32 slots up front and most streams (idle ones) never register anything.
    done: Option<(mpsc::UnboundedSender<Done>, mpsc::UnboundedReceiver<Done>)>,
    status: watch::Sender<OperationSchemas>,
    /// Bumped when the router changes: headers are rebuilt from the new targets.
    generation: u64,
}

impl Schemas {
    /// The schemas of a stream task, reported on `status`.
    pub fn new(setup: Option<SchemaSetup>, status: watch::Sender<OperationSchemas>) -> Self {
        Self {
            setup,
            ops: HashMap::new(),
            registrations: JoinSet::new(),
            done: None,
            status,
            generation: 0,
        }
    }

    /// The router changed: operations' headers and data points are checked again at their
    /// next payload.
    pub fn router_changed(&mut self) {
        self.generation += 1;
    }

    /// Takes the registrations that finished: from the next message on, their reference is
    /// used (unless the shape widened meanwhile: then the next version is registered).
    pub fn poll_registrations(&mut self) {
        while let Some(done) = self
            .done
            .as_mut()
            .and_then(|(_, finished)| finished.try_recv().ok())
        {
            self.finished(done);
        }
        while let Some(finished) = self.registrations.try_join_next_with_id() {
            match finished {
                Ok(_) => {}
                Err(error) => {
                    // The registrar panicked (or the task was cancelled): count as a failure.
                    let id = error.id();
                    if let Some((operation, op)) =
                        self.ops.iter_mut().find(|(_, op)| op.in_flight == Some(id))
                    {
                        tracing::warn!(%operation, %error, "schema registration task failed");
                        op.in_flight = None;
                        op.dirty = true;
                        op.failures += 1;
                        op.retry_at = Some(Instant::now() + retry_delay(op.failures));
                    }
                }
            }
        }
    }

    fn finished(&mut self, done: Done) {
        let Some(op) = self.ops.get_mut(&done.operation) else {
            return;
        };
        op.in_flight = None;
        match done.result {
            Ok(reference) => {
                tracing::info!(operation = %done.operation, schema = %reference, "message schema registered");
                op.next_version = done.version + 1;
                op.failures = 0;
                op.retry_at = None;
                if !op.dirty {
                    op.current = Some(reference);
                    op.headers = None;
                }
            }
            Err(error) => {
                op.failures += 1;
                if error.is_retryable() {
                    let delay = retry_delay(op.failures);
                    tracing::warn!(operation = %done.operation, %error, reason = error.reason_code(), ?delay, "message schema not registered; trying again");
                    op.dirty = true;
                    op.retry_at = Some(done.at + delay);
                } else {
                    tracing::warn!(operation = %done.operation, %error, reason = error.reason_code(), "message schema not registered; trying again when the shape changes");
                }
            }
        }
    }

    /// Merges `payload`, forwarded for `target`, into its operation's shape (starting a
    /// registration when it widened) and returns the headers its message carries: the
    /// operation's own, with `dataschema` when a registered schema describes the shape.
    pub fn headers<'a>(&'a mut self, target: &'a Target, payload: &[u8]) -> &'a OperationHeaders {
        let Some(setup) = &self.setup else {
            return &target.headers;
        };
        if !self.ops.contains_key(&target.id) {
            self.ops.insert(
                target.id.clone(),
                OpSchema::new(target, setup.sampling, self.generation),
            );
            self.status.send_modify(|status| {
                status.entry(target.id.clone()).or_default();
            });
        }
        let Some(op) = self.ops.get_mut(&target.id) else {
            return &target.headers;
        };
        if op.generation != self.generation {
            op.generation = self.generation;
            op.headers = None;
            if op.data_points != target.data_points {
                op.restart(target, setup.sampling);
            }
        }
        let json = match op.inferrer.observe(payload) {
            Ok(Observed::Changed) => {
                op.dirty = true;
                op.current = None;
                op.headers = None;
                true
            }
            Ok(Observed::Unchanged | Observed::Skipped) => true,
            Err(error) => {
                if !op.reported_not_json {
                    op.reported_not_json = true;
                    tracing::warn!(operation = %target.id, %error, "payload is not JSON: forwarded without a message schema (warned once)");
                    let failure = SchemaFailure {
                        code: SCHEMA_GENERATION_FAILURE,
                        reason_code: error.reason_code(),
                        reason: error.to_string(),
                    };
                    self.status.send_modify(|status| {
                        status.entry(target.id.clone()).or_default().failure = Some(failure);
                    });
                }
                false
            }
        };
        if op.dirty && op.in_flight.is_none() && op.retry_at.is_none_or(|at| Instant::now() >= at) {
            op.dirty = false;
            op.retry_at = None;
            let request = RegisterRequest::new(
                op.inferrer.schema(),
                op.next_version,
                target.headers.subject(),
            );
            let done = register(
                setup.registrar.clone(),
                self.done
                    .get_or_insert_with(mpsc::unbounded_channel)
                    .0
                    .clone(),
                self.status.clone(),
                target.id.clone(),
                op.next_version,
                request,
            );
            op.in_flight = Some(self.registrations.spawn(done).id());
        }
        if !json {
            return &target.headers;
        }
        match &op.current {
            Some(reference) => op.headers.get_or_insert_with(|| {
                let data_schema = cloudevents::data_schema(
                    &reference.namespace,
                    &reference.name,
                    &reference.version,
                );
                target.headers.clone().with_data_schema(Some(data_schema))
            }),
            None => &target.headers,
        }
    }
}

/// Registers `request`, hands the outcome to the stream task, then reports it on `status`.
async fn register(
    registrar: Arc<dyn DynRegistrar>,
    done: mpsc::UnboundedSender<Done>,
    status: watch::Sender<OperationSchemas>,
    operation: OperationId,
    version: u32,
    request: RegisterRequest,
) {
    let result = registrar.register(request).await;
    let reported = result.clone();
    // The stream task may have ended: then nobody needs the outcome but the status.
    let _ = done.send(Done {
        operation: operation.clone(),
        version,
        result,
        at: Instant::now(),
    });
    status.send_modify(|status| {
        if let Some(entry) = status.get_mut(&operation) {
            match &reported {
                Ok(reference) => {
                    entry.reference = Some(reference.clone());
                    entry.registration_error = None;
                }
                Err(error) => {
                    entry.registration_error = Some(SchemaFailure {
                        code: SCHEMA_GENERATION_FAILURE,
                        reason_code: error.reason_code(),
                        reason: error.to_string(),
                    });
                }
            }
        }
    });
}

/// The wait before attempt `failures + 1`: 1 s, 2 s, 4 s… at most 60 s.
fn retry_delay(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(6);
    (FIRST_RETRY_DELAY * 2u32.pow(doublings)).min(MAX_RETRY_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_double_up_to_a_minute() {
        let delays: Vec<u64> = (1..=9).map(|n| retry_delay(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
    }
}
