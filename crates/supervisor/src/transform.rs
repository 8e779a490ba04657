//! Transforms on the event path (DESIGN 3.12): an operation's graph of WebAssembly operators
//! (`crates/transform`) runs on each event it takes, after routing and before the AIO headers.
//!
//! The operator sees a message with the operation's topic (its key or path for the other
//! destinations), the event data as payload, its content type, the time, and the SSE event
//! type and id as the user properties `sse-event` and `sse-id`. What comes out is what is
//! published: the headers, schema inference and `dataschema` apply to it; a map may change
//! the topic (MQTT destinations) and add user properties. A filter's `false`, or a branch arm
//! that leads nowhere, drops the event; it counts as done for the checkpoint.
//!
//! Loading: the supervisor keeps each operation's transform across plan changes
//! ([`Transforms`]). A new or changed one is loaded in the background when the plan is applied
//! (graph read, modules compiled on the blocking pool, `init` run); until it is, the last good
//! one of the operation runs in its place, and the stream switches to the new one between
//! events. One that cannot load is a configuration error (reported on the operation,
//! [`TransformLoadFailure`]): the last good one keeps running; with none, events wait for the
//! first load, and after a failed one follow `onError`.
//!
//! A trap, a timeout or an `error` result is a failure: the event follows `onError` (`drop`,
//! `deadLetter`, `passThrough`), the operation's delivery problem says so (status
//! `Degraded`, `SseConnectorTransformError`), and a failed instance is made again at the next
//! event.

use std::collections::BTreeMap;
use std::sync::Arc;

use model::plan::{OperationId, Plan};
use model::transform::{OnError, TransformSpec};
use sse_client::Event;
use tokio::sync::watch;

use crate::dead_letter::DeadLetters;
use crate::forward::Outgoing;
use crate::router::Target;
use crate::state::{OperationDeliveries, TransformFailure, TransformLoadFailure};

/// The transform of one operation: its configuration and, once loaded, its operators.
#[derive(Debug)]
pub(crate) struct OperationTransform {
    spec: TransformSpec,
    #[cfg(feature = "transforms")]
    slot: engine::Slot,
}

impl OperationTransform {
    /// The transform of `spec`, not loaded yet; `previous` (the last good one) runs in its
    /// place until it is.
    #[cfg_attr(not(feature = "transforms"), allow(unused_variables))]
    fn new(spec: TransformSpec, previous: Option<Arc<Self>>) -> Self {
        Self {
            #[cfg(feature = "transforms")]
            slot: engine::Slot::new(previous),
            spec,
        }
    }

    /// What runs in place of a newer transform that is not loaded (yet): this one once
    /// loaded, else the one it stands in for.
    fn last_good(self: &Arc<Self>) -> Option<Arc<Self>> {
        #[cfg(feature = "transforms")]
        {
            self.slot.last_good(self)
        }
        #[cfg(not(feature = "transforms"))]
        {
            None
        }
    }

    /// Marks it replaced: a load still running reports nothing.
    fn supersede(&self) {
        #[cfg(feature = "transforms")]
        self.slot
            .superseded
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Why it cannot be loaded, once that is known.
    fn load_failure(&self) -> Option<TransformLoadFailure> {
        #[cfg(feature = "transforms")]
        {
            self.slot.load_failure()
        }
        #[cfg(not(feature = "transforms"))]
        {
            None
        }
    }
}

/// Every operation's transform, kept across plan changes so that a changed one is loaded
/// while the last good one runs.
#[derive(Debug, Default)]
pub(crate) struct Transforms {
    by_operation: BTreeMap<OperationId, Arc<OperationTransform>>,
}

impl Transforms {
    /// Makes `plan`'s transforms the current ones: an unchanged one is kept, a removed one
    /// forgotten; a new or changed one is returned, to be [loaded](Self::load).
    pub fn update(&mut self, plan: &Plan) -> Vec<(OperationId, Arc<OperationTransform>)> {
        let mut fresh = Vec::new();
        for op in plan.operations.values() {
            let Some(spec) = &op.transform else {
                continue;
            };
            let current = self.by_operation.get(&op.id);
            if current.is_some_and(|t| t.spec == *spec) {
                continue;
            }
            let previous = current.and_then(OperationTransform::last_good);
            let transform = Arc::new(OperationTransform::new(spec.clone(), previous));
            if let Some(replaced) = self.by_operation.insert(op.id.clone(), transform.clone()) {
                replaced.supersede();
            }
            fresh.push((op.id.clone(), transform));
        }
        self.by_operation.retain(|id, current| {
            let kept = plan
                .operations
                .get(id)
                .is_some_and(|op| op.transform.is_some());
            if !kept {
                current.supersede();
            }
            kept
        });
        fresh
    }

    /// The transform of operation `id`.
    pub fn get(&self, id: &OperationId) -> Option<Arc<OperationTransform>> {
        self.by_operation.get(id).cloned()
    }

    /// Puts the load failure of each of `operations`' transforms (those not loading) in
    /// `deliveries`: a new stream, or an operation whose problems a change cleared.
    pub fn report<'a>(
        &self,
        operations: impl IntoIterator<Item = &'a OperationId>,
        deliveries: &watch::Sender<OperationDeliveries>,
    ) {
        for id in operations {
            if let Some(failure) = self.by_operation.get(id).and_then(|t| t.load_failure()) {
                report_load(deliveries, id, Some(failure));
            }
        }
    }

    /// Loads `transform` (operation `id`) in the background, reporting the outcome in
    /// `deliveries`.
    ///
    /// # Panics
    /// Outside a Tokio runtime.
    #[cfg_attr(not(feature = "transforms"), allow(unused_variables))]
    pub fn load(
        transform: Arc<OperationTransform>,
        id: OperationId,
        deliveries: Option<watch::Sender<OperationDeliveries>>,
    ) {
        #[cfg(feature = "transforms")]
        tokio::spawn(engine::load(transform, id, deliveries));
    }
}

/// Sets (or with `None` clears) operation `id`'s load failure in `deliveries`.
fn report_load(
    deliveries: &watch::Sender<OperationDeliveries>,
    id: &OperationId,
    failure: Option<TransformLoadFailure>,
) {
    deliveries.send_if_modified(|all| {
        let entry = all.entry(id.clone()).or_default();
        let changed = entry.transform_load != failure;
        entry.transform_load = failure;
        if *entry == crate::state::DeliveryProblem::default() {
            all.remove(id);
        }
        changed
    });
}

/// What an operation publishes of an event.
pub(crate) enum Prepared {
    /// The event as it is (no transform, or `passThrough` after a failure).
    Original,
    /// What the transform made of it.
    #[cfg_attr(not(feature = "transforms"), allow(dead_code))]
    Transformed(Transformed),
    /// Nothing: filtered, or dropped or dead-lettered after a failure.
    Nothing,
}

/// An event as the transform returned it.
#[cfg_attr(not(feature = "transforms"), allow(dead_code))]
pub(crate) struct Transformed {
    /// The event with the new data.
    pub event: Event,
    /// Another topic, when a map changed it.
    topic: Option<String>,
    /// User properties the transform added.
    properties: Vec<(String, String)>,
}

impl Transformed {
    /// Applies the new topic and properties to the message built from [`Transformed::event`].
    pub fn finish(&self, item: &mut Outgoing) {
        if let Outgoing::Mqtt(message) = item {
            if let Some(topic) = &self.topic {
                message.topic.clone_from(topic);
            }
            for (key, value) in &self.properties {
                if !message.user_properties.iter().any(|(k, _)| k == key) {
                    message.user_properties.push((key.clone(), value.clone()));
                }
            }
        }
    }
}

/// Runs `target`'s transform, if it has one, on `event`. A failure follows the operation's
/// `onError`, is logged and reported in `deliveries`; a dead letter is on disk before this
/// returns.
pub(crate) async fn prepare(
    target: &Target,
    event: &Event,
    dead_letters: &DeadLetters,
    deliveries: &watch::Sender<OperationDeliveries>,
) -> Prepared {
    let Some(transform) = &target.transform else {
        return Prepared::Original;
    };
    let counters = &target.stats.transform;
    let failure = match run(transform, target, event).await {
        Ok(prepared) => {
            let counter = match prepared {
                Prepared::Nothing => &counters.filtered,
                _ => &counters.transformed,
            };
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return prepared;
        }
        Err(failure) => failure,
    };
    counters.failed(failure.code);
    tracing::warn!(operation = %target.id, code = failure.code, reason = %failure.reason, on_error = ?transform.spec.on_error, "transform failed");
    deliveries.send_modify(|all| {
        let entry = all.entry(target.id.clone()).or_default();
        let count = entry.transform.as_ref().map_or(0, |t| t.count) + 1;
        entry.transform = Some(TransformFailure {
            count,
            ..failure.clone()
        });
    });
    match transform.spec.on_error {
        OnError::Drop => Prepared::Nothing,
        OnError::PassThrough => Prepared::Original,
        OnError::DeadLetter => {
            let written = match dead_letters
                .append_reason(target, event, failure.code, &failure.reason)
                .await
            {
                Ok(delivery) => delivery.await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            if let Err(error) = written {
                tracing::warn!(operation = %target.id, %error, "the dead letter of a failed transform was not written");
            }
            Prepared::Nothing
        }
    }
}

/// The transform's outcome, or why it failed.
async fn run(
    transform: &OperationTransform,
    target: &Target,
    event: &Event,
) -> Result<Prepared, TransformFailure> {
    #[cfg(feature = "transforms")]
    {
        engine::event(transform, target, event).await
    }
    #[cfg(not(feature = "transforms"))]
    {
        let _ = (transform, target, event);
        Err(TransformFailure {
            reason: "this build has no transforms (cargo feature `transforms`)".into(),
            code: "unavailable",
            count: 0,
        })
    }
}

#[cfg(feature = "transforms")]
mod engine {
    //! Loading a graph into operators, and running them.

    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, OnceLock, PoisonError};
    use std::time::{Duration, Instant};

    use model::plan::OperationId;
    use tokio::sync::watch;

    use model::transform::{Flow, OperatorType, TransformSpec};
    use sse_client::Event;
    use transform::{Clock, Limits, Message, Module, Operator, OperatorKind, Output, Runtime};

    use sse_client::ByteString;

    use super::{OperationTransform, Prepared, Transformed};
    use crate::forward::Destination;
    use crate::router::Target;
    use crate::state::{OperationDeliveries, TransformFailure, TransformLoadFailure};

    /// The user properties the transform gets from the event; never published twice.
    const SSE_EVENT: &str = "sse-event";
    const SSE_ID: &str = "sse-id";

    /// The topic, key or path the operation sends to: the message's topic.
    fn topic_of(target: &Target) -> &str {
        match &target.destination {
            Destination::Mqtt(settings) => &settings.topic,
            Destination::KeyValue { key } => key,
            Destination::File { path, .. } => path,
        }
    }

    /// What `transform` makes of `event`.
    pub async fn event(
        transform: &OperationTransform,
        target: &Target,
        event: &Event,
    ) -> Result<Prepared, TransformFailure> {
        let topic = topic_of(target);
        let message = message(topic, event);
        let Some(out) = run(&transform.slot, &message).await? else {
            return Ok(Prepared::Nothing);
        };
        let data = ByteString::try_from(out.payload).map_err(|_| TransformFailure {
            reason: "the transform returned a payload that is not UTF-8 text".into(),
            code: "output",
            count: 0,
        })?;
        Ok(Prepared::Transformed(Transformed {
            event: Event {
                data,
                ..event.clone()
            },
            topic: (out.topic != topic).then_some(out.topic),
            properties: out
                .properties
                .into_iter()
                .filter(|(k, _)| k != SSE_EVENT && k != SSE_ID)
                .collect(),
        }))
    }

    /// An operation's operators: loading, loaded or failed to load, and the last good
    /// transform that runs until they are loaded.
    #[derive(Debug)]
    pub struct Slot {
        status: watch::Sender<Status>,
        /// `Some` once loaded.
        stage: tokio::sync::Mutex<Option<(Stage, Streak)>>,
        /// Runs in its place until it is loaded; dropped then.
        previous: std::sync::Mutex<Option<Arc<OperationTransform>>>,
        /// Replaced by a newer transform: its load reports nothing.
        pub superseded: AtomicBool,
    }

    #[derive(Debug, Clone)]
    enum Status {
        Loading,
        Loaded,
        Failed(TransformFailure),
    }

    impl Slot {
        pub fn new(previous: Option<Arc<OperationTransform>>) -> Self {
            Self {
                status: watch::Sender::new(Status::Loading),
                stage: tokio::sync::Mutex::new(None),
                previous: std::sync::Mutex::new(previous),
                superseded: AtomicBool::new(false),
            }
        }

        fn previous(&self) -> Option<Arc<OperationTransform>> {
            self.previous
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
        }

        /// `this` (whose slot it is) once loaded, else the transform standing in for it.
        pub fn last_good(&self, this: &Arc<OperationTransform>) -> Option<Arc<OperationTransform>> {
            match *self.status.borrow() {
                Status::Loaded => Some(this.clone()),
                _ => self.previous(),
            }
        }

        pub fn load_failure(&self) -> Option<TransformLoadFailure> {
            match &*self.status.borrow() {
                Status::Failed(failure) => Some(TransformLoadFailure {
                    reason: failure.reason.clone(),
                    code: failure.code,
                    last_good_runs: self.previous().is_some(),
                }),
                _ => None,
            }
        }
    }

    /// Loads `transform`'s operators, then reports in `deliveries` (unless superseded).
    pub async fn load(
        transform: Arc<OperationTransform>,
        id: OperationId,
        deliveries: Option<watch::Sender<OperationDeliveries>>,
    ) {
        let slot = &transform.slot;
        let graph = transform.spec.graph.display();
        match load_stage(&transform.spec).await {
            Ok(stage) => {
                *slot.stage.lock().await = Some((stage, Streak::default()));
                slot.status.send_replace(Status::Loaded);
                let replaced = slot
                    .previous
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take();
                drop(replaced);
                tracing::info!(operation = %id, %graph, "transform loaded");
            }
            Err(failure) => {
                let keeps = if slot.previous().is_some() {
                    "the last good one keeps running"
                } else {
                    "its events follow onError"
                };
                tracing::warn!(operation = %id, %graph, code = failure.code, reason = %failure.reason, "the transform cannot be loaded; {keeps}");
                slot.status.send_replace(Status::Failed(failure));
            }
        }
        if let Some(deliveries) = deliveries
            && !slot.superseded.load(Ordering::Relaxed)
        {
            super::report_load(&deliveries, &id, slot.load_failure());
        }
    }

    /// Failed events in a row before the transform pauses.
    pub const STREAK: u32 = 5;
    /// The first pause; each pause after a failure that follows one doubles it.
    const FIRST_PAUSE: Duration = Duration::from_secs(1);
    /// The longest pause.
    const MAX_PAUSE: Duration = Duration::from_secs(60);

    /// Consecutive failed events of a transform, and the pause they earned: after
    /// [`STREAK`] failures in a row no instance is made for a while (events follow
    /// `onError`); a failure right after a pause pauses again, twice as long; a success ends
    /// it.
    #[derive(Debug, Default)]
    pub struct Streak {
        failures: u32,
        pauses: u32,
        until: Option<(Instant, TransformFailure)>,
    }

    impl Streak {
        /// The failure of an event at `now`, when paused.
        pub fn paused(&self, now: Instant) -> Option<TransformFailure> {
            let (until, last) = self.until.as_ref()?;
            (now < *until).then(|| TransformFailure {
                reason: format!(
                    "paused for {} ms after repeated failures; last: {}",
                    until.saturating_duration_since(now).as_millis(),
                    last.reason
                ),
                code: "backoff",
                count: 0,
            })
        }

        /// Notes `failure` at `now`; returns the pause it starts, if any.
        pub fn failed(&mut self, failure: &TransformFailure, now: Instant) -> Option<Duration> {
            self.failures = self.failures.saturating_add(1);
            if self.failures < STREAK && self.pauses == 0 {
                return None;
            }
            let pause = FIRST_PAUSE
                .saturating_mul(1 << self.pauses.min(6))
                .min(MAX_PAUSE);
            self.pauses = self.pauses.saturating_add(1);
            self.failures = 0;
            self.until = Some((now + pause, failure.clone()));
            Some(pause)
        }

        /// An event went through: no streak.
        pub fn succeeded(&mut self) {
            if self.failures != 0 || self.pauses != 0 {
                *self = Self::default();
            }
        }
    }

    /// A [`Flow`] with its operators.
    #[derive(Debug)]
    pub enum Stage {
        Sink,
        Drop,
        Step(Box<Operator>, Box<Stage>),
        Branch(Box<Operator>, Box<Stage>, Box<Stage>),
    }

    /// The engine every transform of the process shares.
    fn runtime() -> Result<Runtime, TransformFailure> {
        static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();
        RUNTIME
            .get_or_init(|| Runtime::new(Limits::default()).map_err(|e| e.to_string()))
            .clone()
            .map_err(|reason| TransformFailure {
                reason,
                code: "engine",
                count: 0,
            })
    }

    fn failure(e: &transform::Error) -> TransformFailure {
        TransformFailure {
            reason: e.to_string(),
            code: e.reason_code(),
            count: 0,
        }
    }

    fn config_failure(reason: String) -> TransformFailure {
        TransformFailure {
            reason,
            code: "configuration",
            count: 0,
        }
    }

    /// The message the operators see of `event`, sent to `topic`.
    pub fn message(topic: &str, event: &Event) -> Message {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let payload = event.data.clone().into_bytes();
        Message {
            topic: topic.to_owned(),
            content_type: Some(aio_mqtt::cloudevents::content_type(&payload).to_owned()),
            payload,
            timestamp: Clock {
                secs: now.as_secs(),
                nanos: now.subsec_nanos(),
                counter: 0,
                node_id: "sse-connector".into(),
            },
            properties: vec![
                (SSE_EVENT.to_owned(), event.event_type.to_string()),
                (SSE_ID.to_owned(), event.last_event_id.to_string()),
            ],
        }
    }

    /// Runs the operators on `message` (the last good ones until they are loaded; with
    /// none, it waits for the load): `None` when it is filtered out.
    async fn run(slot: &Slot, message: &Message) -> Result<Option<Message>, TransformFailure> {
        let mut status = slot.status.subscribe();
        loop {
            let current = status.borrow_and_update().clone();
            if matches!(current, Status::Loaded) {
                return run_loaded(slot, message).await;
            }
            if let Some(previous) = slot.previous() {
                return run_loaded(&previous.slot, message).await;
            }
            if let Status::Failed(failure) = current {
                return Err(failure);
            }
            if status.changed().await.is_err() {
                return Err(config_failure("the transform was never loaded".into()));
            }
        }
    }

    /// Runs the loaded operators of `slot` on `message`.
    async fn run_loaded(
        slot: &Slot,
        message: &Message,
    ) -> Result<Option<Message>, TransformFailure> {
        let mut loaded = slot.stage.lock().await;
        let Some((stage, streak)) = loaded.as_mut() else {
            return Err(config_failure("the transform is not loaded".into()));
        };
        if let Some(paused) = streak.paused(Instant::now()) {
            return Err(paused);
        }
        let result = run_stage(stage, message).await;
        match &result {
            Ok(_) => streak.succeeded(),
            Err(failure) => {
                if let Some(pause) = streak.failed(failure, Instant::now()) {
                    tracing::warn!(pause_ms = pause.as_millis(), code = failure.code, reason = %failure.reason, "the transform failed repeatedly: paused, its events follow onError meanwhile");
                }
            }
        }
        result
    }

    async fn run_stage(
        mut stage: &mut Stage,
        message: &Message,
    ) -> Result<Option<Message>, TransformFailure> {
        let mut current = std::borrow::Cow::Borrowed(message);
        loop {
            stage = match stage {
                Stage::Sink => return Ok(Some(current.into_owned())),
                Stage::Drop => return Ok(None),
                Stage::Step(op, next) => {
                    match op.process(&current).await.map_err(|e| failure(&e))? {
                        Output::Message(m) => {
                            current = std::borrow::Cow::Owned(m);
                            next
                        }
                        Output::Decision(true) => next,
                        Output::Decision(false) => return Ok(None),
                    }
                }
                Stage::Branch(op, when_false, when_true) => {
                    match op.process(&current).await.map_err(|e| failure(&e))? {
                        Output::Decision(true) => when_true,
                        _ => when_false,
                    }
                }
            };
        }
    }

    /// Reads the graph, compiles its modules (off the async threads) and makes its operators.
    async fn load_stage(spec: &TransformSpec) -> Result<Stage, TransformFailure> {
        let runtime = runtime()?;
        let graph_path = spec.graph.clone();
        let text = tokio::fs::read_to_string(&graph_path).await.map_err(|e| {
            config_failure(format!(
                "the graph definition {} cannot be read: {e}",
                graph_path.display()
            ))
        })?;
        let graph: model::transform::Graph = serde_saphyr::from_str(&text).map_err(|e| {
            config_failure(format!(
                "{} is not a graph definition: {e}",
                graph_path.display()
            ))
        })?;
        let flow = model::transform::flow(&graph, &spec.configuration).map_err(|problems| {
            config_failure(format!("{}: {}", graph_path.display(), problems.join("; ")))
        })?;
        let modules_dir = modules_dir(&graph_path);
        let mut modules: BTreeMap<PathBuf, Module> = BTreeMap::new();
        for node in flow.nodes() {
            if modules.contains_key(&node.module) {
                continue;
            }
            let path = modules_dir.join(&node.module);
            let rt = runtime.clone();
            let module = tokio::task::spawn_blocking(move || Module::from_file(&rt, &path))
                .await
                .map_err(|e| config_failure(format!("compiling a module stopped: {e}")))?
                .map_err(|e| failure(&e))?;
            modules.insert(node.module.clone(), module);
        }
        build(&flow, &modules).await
    }

    /// `modules/` beside the graph's folder (`DIR/graphs/g.yaml` → `DIR/modules`).
    fn modules_dir(graph: &Path) -> PathBuf {
        let dir = graph.parent().unwrap_or(Path::new("."));
        let root = if dir.file_name().is_some_and(|n| n == "graphs") {
            dir.parent().unwrap_or(dir)
        } else {
            dir
        };
        root.join("modules")
    }

    async fn build(
        flow: &Flow,
        modules: &BTreeMap<PathBuf, Module>,
    ) -> Result<Stage, TransformFailure> {
        Ok(match flow {
            Flow::Sink => Stage::Sink,
            Flow::Drop => Stage::Drop,
            Flow::Step { node, next } => Stage::Step(
                Box::new(operator(node, modules).await?),
                Box::new(Box::pin(build(next, modules)).await?),
            ),
            Flow::Branch {
                node,
                when_false,
                when_true,
            } => Stage::Branch(
                Box::new(operator(node, modules).await?),
                Box::new(Box::pin(build(when_false, modules)).await?),
                Box::new(Box::pin(build(when_true, modules)).await?),
            ),
        })
    }

    async fn operator(
        node: &model::transform::Node,
        modules: &BTreeMap<PathBuf, Module>,
    ) -> Result<Operator, TransformFailure> {
        let module = modules.get(&node.module).cloned().ok_or_else(|| {
            config_failure(format!("module {} not loaded", node.module.display()))
        })?;
        let kind = match node.operator {
            OperatorType::Map => OperatorKind::Map,
            OperatorType::Filter => OperatorKind::Filter,
            OperatorType::Branch => OperatorKind::Branch,
        };
        Operator::new(module, kind, node.parameters.clone())
            .await
            .map_err(|e| failure(&e))
    }
}

#[cfg(all(test, feature = "transforms"))]
mod tests {
    use std::time::{Duration, Instant};

    use super::engine::{STREAK, Streak};
    use crate::state::TransformFailure;

    fn trap() -> TransformFailure {
        TransformFailure {
            reason: "module m trapped".into(),
            code: "trap",
            count: 0,
        }
    }

    #[test]
    fn repeated_failures_pause_the_transform_with_a_doubling_pause() {
        let start = Instant::now();
        let mut streak = Streak::default();
        for _ in 1..STREAK {
            assert_eq!(streak.failed(&trap(), start), None);
            assert!(streak.paused(start).is_none(), "not yet");
        }
        let first = streak.failed(&trap(), start).expect("paused");
        let paused = streak.paused(start).expect("paused now");
        assert_eq!(paused.code, "backoff");
        assert!(
            paused.reason.contains("module m trapped"),
            "{}",
            paused.reason
        );
        let after = start + first;
        assert!(streak.paused(after).is_none(), "over at its end");

        // A failure right after a pause pauses again, twice as long.
        assert_eq!(streak.failed(&trap(), after), Some(first * 2));
        let later = after + first * 2;
        assert_eq!(streak.failed(&trap(), later), Some(first * 4));

        // A success ends the streak: it takes STREAK failures again.
        streak.succeeded();
        assert!(streak.paused(later).is_none());
        for _ in 1..STREAK {
            assert_eq!(streak.failed(&trap(), later), None);
        }
        assert_eq!(streak.failed(&trap(), later), Some(first));
    }

    #[test]
    fn the_pause_is_bounded() {
        let now = Instant::now();
        let mut streak = Streak::default();
        let longest = (0..40)
            .filter_map(|_| streak.failed(&trap(), now))
            .max()
            .expect("paused");
        assert_eq!(longest, Duration::from_secs(60));
    }
}
