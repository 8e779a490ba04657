//! Helpers of the supervisor's integration tests: a recording publisher the test drives
//! (acknowledge, hold, fail), plan builders, and polling waits with generous limits.
#![allow(dead_code, missing_docs, clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::future::Future;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aio_mqtt::Message;
use model::destination::{Qos, Retain, Sink};
use model::environment::{FileRef, FileVersion};
use model::plan::{
    AssetIdentity, Credentials, DataPointRule, DeviceIdentity, Match, Operation, OperationId, Plan,
    StreamSpec,
};
use sinks::{Delivery, PublishError, Publisher};
use tokio::sync::oneshot;

/// How the recorder answers new publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Delivered at once.
    Ack,
    /// Held until the test resolves it.
    Hold,
}

type Sender = oneshot::Sender<Result<(), PublishError>>;

#[derive(Default)]
struct Inner {
    messages: Vec<Message>,
    /// Senders of held deliveries, by message index.
    held: Vec<Option<Sender>>,
    mode: Option<Mode>,
}

/// A publisher that records every message; deliveries are acknowledged or held on command.
#[derive(Clone, Default)]
pub struct Recorder {
    inner: Arc<Mutex<Inner>>,
}

impl Recorder {
    pub fn new(mode: Mode) -> Self {
        let r = Self::default();
        r.inner.lock().unwrap().mode = Some(mode);
        r
    }

    pub fn set_mode(&self, mode: Mode) {
        self.inner.lock().unwrap().mode = Some(mode);
    }

    pub fn messages(&self) -> Vec<Message> {
        self.inner.lock().unwrap().messages.clone()
    }

    pub fn count(&self) -> usize {
        self.inner.lock().unwrap().messages.len()
    }

    /// Resolves the held delivery of message `index`.
    pub fn resolve(&self, index: usize, result: Result<(), PublishError>) {
        let sender = self.inner.lock().unwrap().held[index].take();
        sender.expect("held").send(result).unwrap();
    }

    /// Acknowledges every held delivery.
    pub fn release_all(&self) {
        let senders: Vec<Sender> = self
            .inner
            .lock()
            .unwrap()
            .held
            .iter_mut()
            .filter_map(Option::take)
            .collect();
        for s in senders {
            let _ = s.send(Ok(()));
        }
    }

    /// Waits until at least `n` messages were published.
    pub async fn wait_for(&self, n: usize) -> Vec<Message> {
        eventually(&format!("{n} messages"), || self.count() >= n).await;
        self.messages()
    }
}

impl Publisher for Recorder {
    fn publish(
        &self,
        message: Message,
    ) -> impl Future<Output = Result<Delivery, PublishError>> + Send {
        let inner = self.inner.clone();
        async move {
            let mut inner = inner.lock().unwrap();
            inner.messages.push(message);
            match inner.mode.unwrap_or(Mode::Ack) {
                Mode::Ack => {
                    inner.held.push(None);
                    Ok(Delivery::done(Ok(())))
                }
                Mode::Hold => {
                    let (tx, delivery) = Delivery::channel();
                    inner.held.push(Some(tx));
                    Ok(delivery)
                }
            }
        }
    }
}

/// Polls `condition` every 10 ms; panics after 30 s (a broken test, not a slow box).
pub async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !condition() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Gives the runtime time to do what it should not do (a lower bound, never an upper one).
pub async fn settle() {
    tokio::time::sleep(Duration::from_millis(300)).await;
}

pub fn file(path: &Path) -> FileRef {
    let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    FileRef {
        path: path.to_path_buf(),
        version: FileVersion {
            len,
            modified: None,
        },
    }
}

pub fn spec(url: &str) -> StreamSpec {
    StreamSpec {
        url: url.parse().unwrap(),
        credentials: Credentials::Anonymous,
        trust: Vec::new(),
    }
}

pub fn mqtt(topic: &str) -> Sink {
    Sink::Mqtt {
        topic: topic.into(),
        qos: Qos::Qos1,
        retain: Retain::Never,
        ttl: None,
    }
}

pub fn types(names: &[&str]) -> Match {
    Match::EventTypes(
        names
            .iter()
            .map(|s| (*s).to_owned())
            .collect::<BTreeSet<_>>(),
    )
}

fn identities() -> (DeviceIdentity, AssetIdentity) {
    (
        DeviceIdentity {
            name: "sse-device".into(),
            endpoint: "sse-connector-0".into(),
            uuid: Some("dev-uuid".into()),
            external_id: Some("camera-42".into()),
            version: None,
        },
        AssetIdentity {
            name: "mysseasset".into(),
            uuid: Some("asset-uuid".into()),
            external_id: None,
            version: None,
        },
    )
}

pub fn dataset(name: &str, stream: StreamSpec, data_source: &str, sink: Sink) -> Operation {
    let (device, asset) = identities();
    Operation {
        id: OperationId::Dataset {
            asset: asset.name.clone(),
            dataset: name.into(),
        },
        device,
        asset,
        stream,
        matching: Match::All,
        data_points: Vec::new(),
        sink,
        data_source: data_source.into(),
        type_ref: None,
        transform: None,
    }
}

pub fn event(
    group: &str,
    name: &str,
    stream: StreamSpec,
    data_source: &str,
    matching: Match,
    sink: Sink,
) -> Operation {
    let (device, asset) = identities();
    Operation {
        id: OperationId::Event {
            asset: asset.name.clone(),
            group: group.into(),
            event: name.into(),
        },
        device,
        asset,
        stream,
        matching,
        data_points: Vec::new(),
        sink,
        data_source: data_source.into(),
        type_ref: None,
        transform: None,
    }
}

pub fn point(name: &str, pointer: &str) -> DataPointRule {
    DataPointRule {
        name: name.into(),
        pointer: pointer.into(),
    }
}

pub fn plan(ops: impl IntoIterator<Item = Operation>) -> Plan {
    Plan {
        operations: ops.into_iter().map(|op| (op.id.clone(), op)).collect(),
    }
}

/// A user property of a message.
pub fn prop<'m>(m: &'m Message, name: &str) -> Option<&'m str> {
    m.user_properties
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

pub fn payload(m: &Message) -> &str {
    std::str::from_utf8(&m.payload).unwrap()
}
