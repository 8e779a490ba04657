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
//! The graph is loaded (modules compiled, `init` run) at the operation's first event. A
//! graph that cannot load, a trap, a timeout or an `error` result is a failure: the event
//! follows `onError` (`drop`, `deadLetter`, `passThrough`), the operation's delivery problem
//! says so (status `Degraded`, `SseConnectorTransformError`), and a failed instance is made
//! again at the next event.

use model::transform::{OnError, TransformSpec};
use sse_client::Event;
use tokio::sync::watch;

use crate::dead_letter::DeadLetters;
use crate::forward::Outgoing;
use crate::router::Target;
use crate::state::{OperationDeliveries, TransformFailure};

/// The transform of one operation: its configuration and, once loaded, its operators.
#[derive(Debug)]
pub(crate) struct OperationTransform {
    spec: TransformSpec,
    #[cfg(feature = "transforms")]
    state: tokio::sync::Mutex<engine::State>,
}

impl OperationTransform {
    /// The transform of `spec`, not loaded yet.
    pub fn new(spec: TransformSpec) -> Self {
        Self {
            #[cfg(feature = "transforms")]
            state: tokio::sync::Mutex::new(engine::State::Unloaded),
            spec,
        }
    }
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
    let failure = match run(transform, target, event).await {
        Ok(prepared) => return prepared,
        Err(failure) => failure,
    };
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
    use std::sync::OnceLock;

    use model::transform::{Flow, OperatorType, TransformSpec};
    use sse_client::Event;
    use transform::{Clock, Limits, Message, Module, Operator, OperatorKind, Output, Runtime};

    use sse_client::ByteString;

    use super::{OperationTransform, Prepared, Transformed};
    use crate::forward::Destination;
    use crate::router::Target;
    use crate::state::TransformFailure;

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
        let mut state = transform.state.lock().await;
        let Some(out) = run(&mut state, &transform.spec, &message).await? else {
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

    /// An operation's operators.
    #[derive(Debug, Default)]
    pub enum State {
        /// Not loaded yet.
        #[default]
        Unloaded,
        /// Loaded.
        Loaded(Stage),
        /// Cannot load; tried again when the operation changes.
        Failed(TransformFailure),
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

    /// Runs the operators (loading them first if needed) on `message`: `None` when it is
    /// filtered out.
    pub async fn run(
        state: &mut State,
        spec: &TransformSpec,
        message: &Message,
    ) -> Result<Option<Message>, TransformFailure> {
        if matches!(state, State::Unloaded) {
            *state = match load(spec).await {
                Ok(stage) => State::Loaded(stage),
                Err(failure) => State::Failed(failure),
            };
        }
        match state {
            State::Loaded(stage) => run_stage(stage, message).await,
            State::Failed(failure) => Err(failure.clone()),
            State::Unloaded => Ok(None),
        }
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
    async fn load(spec: &TransformSpec) -> Result<Stage, TransformFailure> {
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
