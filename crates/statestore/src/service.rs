//! [`StateStoreService`]: an embedded state store that answers the protocol on any MQTT v5
//! broker, as an ordinary client of it.
//!
//! Two tasks ([`aio_mqtt::rpc::Executor`]):
//! - the **connection task** keeps the request topic subscribed across reconnects and hands
//!   each request to the worker;
//! - the **worker** owns the store (`store.rs`) and the log (`persist.rs`). It takes requests in batches, executes
//!   them, appends the batch's changes to the log with one `fdatasync` (on a blocking thread),
//!   and only then publishes the replies and the key notifications. It also wakes up at the
//!   next `PX` expiry to delete the key and notify observers.
//!
//! Replies go to the request's Response Topic with its Correlation Data, `__stat`, `__ts`
//! (the value's version, or the service's clock), `__srcId` and `__protVer`. Headers the
//! service cannot accept get a non-200 `__stat`: 400 (no correlation data), 415 (a content
//! type other than `application/octet-stream`), 505 (a major protocol version other than 1).
//! Requests without a Response Topic, or one the protocol forbids, are dropped and logged.
//!
//! KEYNOTIFY registrations belong to the client id in `__srcId` (else the one in a
//! `clients/{id}/...` response topic); they are persisted like values, so observers keep
//! hearing about their keys across a service restart.
//!
//! If the log cannot be written, the service stops serving (every later request gets 503):
//! after a failed `fdatasync` the file's state is unknown, and retrying could acknowledge
//! changes that are not on disk. A restart replays what the log holds.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aio_mqtt::MqttConfig;
use aio_mqtt::hlc::{HlcTimestamp, wall_millis};
use aio_mqtt::rpc::{Executor, Request};
use bytes::Bytes;
use rumqttc::v5::AsyncClient;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::PublishProperties;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::admit::{Admission, Answer, Reply, admit};
use crate::connection;
use crate::error::{Error, ErrorKind, Result};
use crate::persist::Log;
use crate::protocol::{self, CONTENT_TYPE, PROTOCOL_VERSION, REQUEST_TOPIC, property, status};
use crate::resp3::Notification;
use crate::store::{Outcome, Store};

/// Requests executed before their changes are synced and answered together.
const MAX_BATCH: usize = 256;

/// Settings of the service beyond its broker and directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceOptions {
    /// Most keys stored; a SET of a new key beyond it gets "the quota has been exceeded".
    pub max_keys: usize,
}

impl Default for ServiceOptions {
    /// 1,000,000 keys.
    fn default() -> Self {
        Self {
            max_keys: 1_000_000,
        }
    }
}

/// A running embedded state store. Dropping it stops it without waiting; call
/// [`shutdown`](Self::shutdown) to finish the current batch and disconnect cleanly.
#[derive(Debug)]
pub struct StateStoreService {
    executor: Executor,
}

impl StateStoreService {
    /// [`start_with`](Self::start_with) and the default options.
    ///
    /// # Errors
    /// As [`start_with`](Self::start_with).
    pub fn start(mqtt: MqttConfig, dir: PathBuf) -> Result<Self> {
        Self::start_with(mqtt, dir, ServiceOptions::default())
    }

    /// Opens (or creates) the store in `dir`, replays it, and starts serving on the broker of
    /// `mqtt` (connecting in the background; see [`ready`](Self::ready)). `mqtt.client_id`
    /// must be unique on the broker. Blocks while it reads the log.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] for invalid MQTT settings or outside a tokio runtime;
    /// [`ErrorKind::Storage`] when `dir` cannot be created, read or locked (another service
    /// uses it).
    pub fn start_with(mqtt: MqttConfig, dir: PathBuf, options: ServiceOptions) -> Result<Self> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| Error::new(ErrorKind::Config, "the state store needs a tokio runtime"))?;
        let (client, eventloop) = connection::build(&mqtt)?;
        let (log, records) = Log::open(&dir)?;
        let mut store = Store::new(&mqtt.client_id, options.max_keys);
        let replayed = records.len();
        for record in records {
            store.replay(record);
        }
        tracing::info!(dir = %dir.display(), records = replayed, keys = store.len(),
            "state store opened");
        let worker = Worker {
            store,
            log: Some(log),
            client: client.clone(),
            service_id: Arc::from(mqtt.client_id.as_str()),
            failed: false,
        };
        let executor = Executor::start(
            &runtime,
            (client, eventloop),
            mqtt,
            "state store",
            vec![REQUEST_TOPIC.to_owned()],
            |requests, stop| worker.run(requests, stop),
        );
        Ok(Self { executor })
    }

    /// Waits until the service is subscribed to the request topic (requests sent before that
    /// are not seen by it).
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn ready(&self) {
        self.executor.ready().await;
    }

    /// Whether the service is connected and subscribed right now.
    pub fn is_ready(&self) -> bool {
        self.executor.is_ready()
    }

    /// Stops taking requests, finishes (and syncs) the batch in hand, publishes its replies,
    /// disconnects, and releases the directory.
    pub async fn shutdown(self) {
        self.executor.shutdown().await;
    }
}

/// The worker: store, log, replies.
struct Worker {
    store: Store,
    /// `None` only while a blocking thread writes it.
    log: Option<Log>,
    client: AsyncClient,
    service_id: Arc<str>,
    failed: bool,
}

impl Worker {
    async fn run(
        mut self,
        mut requests: mpsc::UnboundedReceiver<Request>,
        stop: CancellationToken,
    ) {
        loop {
            let next_expiry = self.store.next_expiry();
            let wake = async {
                match next_expiry {
                    Some(at) => {
                        let wait = at.saturating_sub(wall_millis());
                        tokio::time::sleep(Duration::from_millis(wait)).await;
                    }
                    None => std::future::pending().await,
                }
            };
            let first = tokio::select! {
                biased;
                () = stop.cancelled() => {
                    // Answer what the broker already handed over (rumqttc acknowledged it).
                    let mut rest = Vec::new();
                    while let Ok(incoming) = requests.try_recv() {
                        rest.push(incoming);
                    }
                    if !rest.is_empty() {
                        self.process(rest).await;
                    }
                    break;
                }
                incoming = requests.recv() => match incoming {
                    Some(incoming) => Some(incoming),
                    None => break,
                },
                () = wake => None,
            };
            let mut batch: Vec<Request> = first.into_iter().collect();
            while batch.len() < MAX_BATCH {
                match requests.try_recv() {
                    Ok(incoming) => batch.push(incoming),
                    Err(_) => break,
                }
            }
            self.process(batch).await;
        }
    }

    /// Executes a batch (plus due expiries), syncs its changes, then replies and notifies.
    async fn process(&mut self, batch: Vec<Request>) {
        let now = wall_millis();
        let mut outcomes = vec![(None, self.store.expire(now))];
        let mut answers = Vec::new();
        for incoming in batch {
            match admit(&incoming.publish) {
                Admission::Drop => {}
                Admission::Answer(reply, answer) => answers.push((reply, answer)),
                Admission::Execute(_, reply) if self.failed => answers.push((
                    reply,
                    Answer::Status {
                        code: status::SERVICE_UNAVAILABLE,
                        message: "the state store cannot write to its directory".into(),
                        extra: Vec::new(),
                    },
                )),
                Admission::Execute(command, reply) => {
                    outcomes.push((Some(reply), self.store.execute(command, now)));
                }
            }
        }
        let records: Vec<_> = outcomes
            .iter_mut()
            .flat_map(|(_, outcome)| std::mem::take(&mut outcome.records))
            .collect();
        if !records.is_empty() && !self.persist(records).await {
            for (reply, _) in outcomes {
                if let Some(reply) = reply {
                    let answer = Answer::Status {
                        code: status::INTERNAL_SERVER_ERROR,
                        message: "the state store could not persist the change".into(),
                        extra: Vec::new(),
                    };
                    self.answer(reply, answer, now).await;
                }
            }
            return;
        }
        for (reply, answer) in answers {
            self.answer(reply, answer, now).await;
        }
        for (reply, outcome) in outcomes {
            self.notify(&outcome).await;
            if let (Some(reply), Some(response)) = (reply, outcome.response) {
                let version = outcome.version.unwrap_or_else(|| self.store.timestamp(now));
                self.publish_reply(
                    reply,
                    status::OK,
                    Some(response.encode()),
                    version,
                    Vec::new(),
                )
                .await;
            }
        }
    }

    /// Appends and syncs on a blocking thread; `false` (and the service fails) on an error.
    async fn persist(&mut self, records: Vec<crate::store::Record>) -> bool {
        let Some(mut log) = self.log.take() else {
            return false;
        };
        let snapshot_needed = log.wants_compaction();
        let snapshot = snapshot_needed.then(|| self.store.snapshot());
        let joined = tokio::task::spawn_blocking(move || {
            let mut result = log.append(&records);
            if result.is_ok()
                && let Some(snapshot) = snapshot
                && let Err(error) = log.compact(&snapshot)
            {
                // The complete old log is still in place: keep serving, try again later.
                tracing::warn!(%error, "state store compaction failed");
            }
            if let Err(error) = &result {
                tracing::error!(%error, "the state store cannot persist; refusing requests");
                result = Err(Error::new(ErrorKind::Storage, error.to_string()));
            }
            (log, result)
        })
        .await;
        match joined {
            Ok((log, result)) => {
                self.log = Some(log);
                self.failed = result.is_err();
                !self.failed
            }
            Err(_) => {
                self.failed = true;
                false
            }
        }
    }

    async fn answer(&self, reply: Reply, answer: Answer, now: u64) {
        let version = self.store.timestamp(now);
        match answer {
            Answer::Resp(response) => {
                self.publish_reply(
                    reply,
                    status::OK,
                    Some(response.encode()),
                    version,
                    Vec::new(),
                )
                .await;
            }
            Answer::Status {
                code,
                message,
                mut extra,
            } => {
                extra.push((property::STATUS_MESSAGE.into(), message));
                extra.push((property::APPLICATION_ERROR.into(), "false".into()));
                self.publish_reply(reply, code, None, version, extra).await;
            }
        }
    }

    async fn publish_reply(
        &self,
        reply: Reply,
        code: u16,
        payload: Option<Bytes>,
        version: HlcTimestamp,
        extra: Vec<(String, String)>,
    ) {
        let mut user_properties = vec![
            (property::STATUS.to_owned(), code.to_string()),
            (property::TIMESTAMP.to_owned(), version.to_string()),
            (
                property::PROTOCOL_VERSION.to_owned(),
                PROTOCOL_VERSION.to_owned(),
            ),
            (property::SOURCE_ID.to_owned(), self.service_id.to_string()),
        ];
        user_properties.extend(extra);
        let properties = PublishProperties {
            content_type: Some(CONTENT_TYPE.to_owned()),
            correlation_data: reply.correlation,
            user_properties,
            ..PublishProperties::default()
        };
        let payload = payload.unwrap_or_default();
        if let Err(error) = self
            .client
            .publish_with_properties(reply.topic, QoS::AtLeastOnce, false, payload, properties)
            .await
        {
            tracing::debug!(%error, "state store reply not sent (shutting down)");
        }
    }

    async fn notify(&self, outcome: &Outcome) {
        for change in &outcome.changes {
            let payload = match &change.value {
                Some(value) => Notification::Set(value.clone()),
                None => Notification::Delete,
            }
            .encode();
            for client in self.store.watchers(&change.key) {
                let properties = PublishProperties {
                    content_type: Some(CONTENT_TYPE.to_owned()),
                    user_properties: vec![
                        (property::TIMESTAMP.to_owned(), change.version.to_string()),
                        (
                            property::PROTOCOL_VERSION.to_owned(),
                            PROTOCOL_VERSION.to_owned(),
                        ),
                        (property::SOURCE_ID.to_owned(), self.service_id.to_string()),
                    ],
                    ..PublishProperties::default()
                };
                let topic = protocol::notification_topic(client, &change.key);
                let sent = self
                    .client
                    .publish_with_properties(
                        topic,
                        QoS::AtLeastOnce,
                        false,
                        payload.clone(),
                        properties,
                    )
                    .await;
                if let Err(error) = sent {
                    tracing::debug!(%error, "key notification not sent (shutting down)");
                }
            }
        }
    }
}
