//! Message schemas per data operation: each forwarded payload goes through the operation's
//! [`Inferrer`]; when the shape widens, the new schema is registered through the
//! [`SchemaRegistrar`] on a task of its own, and the messages carry its reference as
//! `dataschema` from the first one built after the registration succeeded.
//!
//! ```text
//! payload ─► Inferrer ─ Changed ─► (one at a time per operation) spawn register(schema)
//!    │                                   │ version: the content's own, or after the highest
//!    │                                   │ (the operation's history, STATE_DIR/schema-versions)
//!    │                                   │ Ok(reference): history saved, status, headers
//!    └─► headers: with `dataschema` when │ Err: status; retried with backoff if retryable
//!        the registered schema describes the shape ◄┘
//! ```
//!
//! Rules:
//! - A message carries `dataschema` only when the registered schema describes every payload
//!   merged so far: from the payload that widens the shape until the wider schema is
//!   registered, messages go without it (never with a reference they may not match).
//! - Versions are per operation and persist (see [`history`]): a content registered before
//!   keeps its version (the registry's `put` of the same content and version is idempotent);
//!   a new content gets the one after the highest the operation has used, from
//!   [`FIRST_VERSION`] up to [`MAX_VERSION`] (what AIO's registry accepts). The protocol
//!   cannot list versions and the registry names a schema only at its `put`, so the history
//!   is what "highest" means. A version the registry refuses
//!   ([`VersionRefused`](RegisterErrorKind::VersionRefused)) is skipped: the next one is tried
//!   at once. A new content when [`MAX_VERSION`] is used is not registered
//!   ([`VersionsExhausted`](RegisterErrorKind::VersionsExhausted)). Registrations of one
//!   operation never overlap, in any stream task.
//! - Widenings while a registration is in flight are coalesced into the next one, started at
//!   the first payload after it finished (a finished registration is taken up at the next
//!   payload: the stream task's loop is not woken for it; a quiet stream has no message to
//!   label).
//! - A failed registration is tried again, at the first payload once a backoff (1 s doubling
//!   to 60 s, from its end) is over, when retryable; otherwise at the next widening.
//! - A payload that is not JSON is forwarded unchanged, without `dataschema`; the operation's
//!   [`OperationSchema::failure`](crate::state::OperationSchema::failure) is set once (`SseConnectorSchemaGenerationFailure`: degraded,
//!   not stopped) and a warning logged once.
//! - When an operation's data points change, its shape starts again (the history stays).

mod history;

use std::collections::HashMap;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use aio_mqtt::cloudevents::{self, OperationHeaders};
use model::plan::{DataPointRule, OperationId};
use schema::{
    FIRST_VERSION, Inferrer, MAX_VERSION, Observed, RegisterError, RegisterErrorKind,
    RegisterRequest, SCHEMA_GENERATION_FAILURE, Sampling, Schema, SchemaReference, SchemaRegistrar,
};
use tokio::sync::{mpsc, watch};
use tokio::task::{Id, JoinSet};
use tokio::time::Instant;

use self::history::{Histories, VersionHistory};
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

/// What inference needs, shared by every stream task: the registrar, the operations'
/// version histories and the sampling policy.
#[derive(Clone)]
pub(crate) struct SchemaSetup {
    registrar: Arc<dyn DynRegistrar>,
    histories: Arc<Histories>,
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
    /// Inference with `registrar`, version histories under `state_dir`, and the default
    /// sampling.
    pub fn new(registrar: impl SchemaRegistrar, state_dir: &Path) -> Self {
        Self {
            registrar: Arc::new(registrar),
            histories: Arc::new(Histories::new(state_dir)),
            sampling: Sampling::default(),
        }
    }
}

/// A finished registration.
struct Done {
    operation: OperationId,
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
            in_flight: None,
            dirty: false,
            failures: 0,
            retry_at: None,
            reported_not_json: false,
        }
    }

    /// Learns again from scratch (new data points); the version history stays.
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
            let done = register(
                setup.clone(),
                self.done
                    .get_or_insert_with(mpsc::unbounded_channel)
                    .0
                    .clone(),
                self.status.clone(),
                target.id.clone(),
                op.inferrer.schema(),
                target.headers.subject().to_owned(),
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

/// Registers `schema` for `operation` (named `display_name` for people), hands the outcome
/// to the stream task, then reports it on `status`.
async fn register(
    setup: SchemaSetup,
    done: mpsc::UnboundedSender<Done>,
    status: watch::Sender<OperationSchemas>,
    operation: OperationId,
    schema: Schema,
    display_name: String,
) {
    let result = register_versioned(&setup, &operation, schema, &display_name).await;
    let reported = result.clone();
    // The stream task may have ended: then nobody needs the outcome but the status.
    let _ = done.send(Done {
        operation: operation.clone(),
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

/// Registers `schema` under the version the operation's history gives it (see the module
/// docs), and records the registry's answer in the history.
///
/// Cancel safety: if dropped after the registry stored the schema but before the history
/// did, the content may get another version the next time, after the highest recorded.
async fn register_versioned(
    setup: &SchemaSetup,
    operation: &OperationId,
    schema: Schema,
    display_name: &str,
) -> Result<SchemaReference, RegisterError> {
    let slot = setup.histories.slot(operation);
    let mut held = slot.lock().await;
    let history = match &mut *held {
        Some(history) => history,
        None => held.insert(load_history(&setup.histories, operation).await),
    };
    let content = schema.name.clone();
    let mut version = history
        .version_of(&content)
        .unwrap_or_else(|| history.next());
    loop {
        if version > MAX_VERSION {
            return Err(RegisterError::new(
                RegisterErrorKind::VersionsExhausted,
                format!(
                    "operation {operation} has used versions {FIRST_VERSION} to {MAX_VERSION}, \
                     the most AIO's schema registry accepts"
                ),
            ));
        }
        let request = RegisterRequest::new(schema.clone(), version, display_name);
        match setup.registrar.register(request).await {
            Ok(reference) => {
                // The registry's version is authoritative (it may keep an older one for
                // content it already holds).
                let stored = reference.version.parse().unwrap_or(version);
                if history.record(&content, stored) {
                    save_history(&setup.histories, operation, history.clone()).await;
                }
                return Ok(reference);
            }
            Err(error) if error.kind() == RegisterErrorKind::VersionRefused => {
                tracing::warn!(%operation, version, %error, "schema version refused; trying the next");
                version = (version + 1).max(history.next());
            }
            Err(error) => return Err(error),
        }
    }
}

/// The persisted history of `operation`; empty, with a warning, when its file is unusable
/// (the next registration replaces it).
async fn load_history(histories: &Arc<Histories>, operation: &OperationId) -> VersionHistory {
    let (histories, id) = (histories.clone(), operation.clone());
    let loaded = tokio::task::spawn_blocking(move || histories.load(&id)).await;
    match loaded {
        Ok(Ok(history)) => history,
        Ok(Err(error)) => {
            tracing::warn!(%operation, %error, "ignoring the schema version history; versions start again after the highest registered from now on");
            VersionHistory::default()
        }
        Err(error) => {
            tracing::warn!(%operation, %error, "schema version history not read");
            VersionHistory::default()
        }
    }
}

/// Persists `history`; a failure is logged (the registration stands, and the next one that
/// changes the history writes it again).
async fn save_history(
    histories: &Arc<Histories>,
    operation: &OperationId,
    history: VersionHistory,
) {
    let (histories, id) = (histories.clone(), operation.clone());
    let saved = tokio::task::spawn_blocking(move || histories.save(&id, &history)).await;
    match saved {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::warn!(%operation, %error, "schema version history not saved"),
        Err(error) => tracing::warn!(%operation, %error, "schema version history not saved"),
    }
}

/// The wait before attempt `failures + 1`: 1 s, 2 s, 4 s… at most 60 s.
fn retry_delay(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(6);
    (FIRST_RETRY_DELAY * 2u32.pow(doublings)).min(MAX_RETRY_DELAY)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// Stores what it is asked to, except the versions in `refused`; records the requests.
    #[derive(Clone, Default)]
    struct Registry {
        refused: Vec<u32>,
        asked: Arc<Mutex<Vec<(String, String)>>>,
    }

    impl SchemaRegistrar for Registry {
        async fn register(
            &self,
            request: RegisterRequest,
        ) -> Result<SchemaReference, RegisterError> {
            self.asked
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push((request.name.clone(), request.version.clone()));
            if self
                .refused
                .iter()
                .any(|v| v.to_string() == request.version)
            {
                return Err(RegisterError::new(
                    RegisterErrorKind::VersionRefused,
                    "taken",
                ));
            }
            Ok(SchemaReference {
                namespace: "ns".into(),
                name: request.name,
                version: request.version,
            })
        }
    }

    fn schema(n: usize) -> Schema {
        schema::infer([format!(r#"{{"f{n}":1}}"#)]).expect("JSON")
    }

    async fn version(
        setup: &SchemaSetup,
        operation: &OperationId,
        n: usize,
    ) -> Result<String, RegisterError> {
        register_versioned(setup, operation, schema(n), "line/readings")
            .await
            .map(|reference| reference.version)
    }

    #[tokio::test]
    async fn versions_persist_skip_refused_ones_and_stop_at_the_most_aio_accepts() {
        let dir = tempfile::tempdir().expect("dir");
        let operation = OperationId::Dataset {
            asset: "line".into(),
            dataset: "readings".into(),
        };
        let registry = Registry {
            refused: vec![2],
            ..Registry::default()
        };
        let setup = SchemaSetup::new(registry.clone(), dir.path());
        assert_eq!(version(&setup, &operation, 0).await, Ok("1".into()));
        assert_eq!(
            version(&setup, &operation, 1).await,
            Ok("3".into()),
            "2 refused"
        );
        assert_eq!(
            version(&setup, &operation, 0).await,
            Ok("1".into()),
            "same content"
        );

        // Restarted: the history is read from the state directory.
        let setup = SchemaSetup::new(registry.clone(), dir.path());
        assert_eq!(version(&setup, &operation, 1).await, Ok("3".into()));
        assert_eq!(version(&setup, &operation, 2).await, Ok("4".into()));
        for n in 3..=7 {
            assert_eq!(
                version(&setup, &operation, n).await,
                Ok((n + 2).to_string())
            );
        }
        let exhausted = version(&setup, &operation, 8).await.expect_err("past 9");
        assert_eq!(exhausted.kind(), RegisterErrorKind::VersionsExhausted);
        assert_eq!(
            version(&setup, &operation, 0).await,
            Ok("1".into()),
            "known content still"
        );
        let asked = registry.asked.lock().expect("asked").clone();
        assert_eq!(asked.len(), 12, "nothing sent past 9: {asked:?}");
        assert_eq!(asked[1], (schema(1).name, "2".into()));
        assert!(
            asked
                .iter()
                .all(|(_, v)| v.parse::<u32>().is_ok_and(|v| (1..=9).contains(&v)))
        );
    }

    #[test]
    fn retry_delays_double_up_to_a_minute() {
        let delays: Vec<u64> = (1..=9).map(|n| retry_delay(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
    }
}
