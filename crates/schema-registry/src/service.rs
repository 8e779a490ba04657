//! [`SchemaRegistryService`]: an embedded schema registry that answers `put` and `get` on
//! any MQTT v5 broker, as an ordinary client of it, with its schemas in a directory
//! ([`SchemaStore`]).
//!
//! Two tasks ([`aio_mqtt::rpc::Executor`]):
//! - the **connection task** keeps both request topics subscribed across reconnects and hands
//!   each request to the worker;
//! - the **worker** admits each request (`admit.rs`), executes it on the store, writes a new
//!   version to its file on a blocking thread, and only then replies.
//!
//! Replies go to the request's Response Topic with its Correlation Data and the envelope
//! of [`protocol::response_properties`]: `{"schema": ...}` or `{"error": ...}` with
//! `__stat` 200, or a non-200 `__stat` for a request that cannot be read. Their message
//! expiry is what is left of the request's; a request that expired while it waited is not
//! answered (its invoker has given up).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aio_mqtt::MqttConfig;
use aio_mqtt::hlc::HybridLogicalClock;
use aio_mqtt::rpc::{Executor, Request};
use bytes::Bytes;
use rumqttc::v5::AsyncClient;
use rumqttc::v5::mqttbytes::QoS;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::admit::{Admission, Operation, Reply, admit};
use crate::connection;
use crate::error::{Error, ErrorKind, ErrorSource, Result};
use crate::protocol::{self, Command, Refusal, ResponsePayload};
use crate::store::{Catalog, PutPlan, SchemaStore, persist_error, write_schema};

/// A running embedded schema registry. Dropping it stops it without waiting; call
/// [`shutdown`](Self::shutdown) to answer what was received and disconnect cleanly.
#[derive(Debug)]
pub struct SchemaRegistryService {
    executor: Executor,
    catalog: Catalog,
    namespace: String,
}

impl SchemaRegistryService {
    /// Opens (or creates) the store in `dir`, loads it, and starts serving on the broker of
    /// `mqtt` (connecting in the background; see [`ready`](Self::ready)). New versions get
    /// `namespace`. `mqtt.client_id` must be unique on the broker (for example the
    /// connector's id with a `-schema-registry-service` suffix). Blocks while it reads the
    /// directory.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] for invalid MQTT settings, an empty namespace, or outside a
    /// tokio runtime; [`ErrorKind::Storage`] when `dir` cannot be created or read.
    pub fn start(mqtt: MqttConfig, dir: PathBuf, namespace: &str) -> Result<Self> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            Error::new(
                ErrorKind::Config,
                "the schema registry needs a tokio runtime",
            )
        })?;
        if namespace.trim().is_empty() {
            return Err(Error::new(
                ErrorKind::Config,
                "the schema registry namespace is empty",
            ));
        }
        let (client, eventloop) = connection::build(&mqtt)?;
        let store = SchemaStore::open(&dir, namespace).map_err(|e| {
            Error::new(
                ErrorKind::Storage,
                format!("cannot open the schema registry in {}: {e}", dir.display()),
            )
            .with_source(ErrorSource::Io(e))
        })?;
        let catalog = store.catalog();
        tracing::info!(dir = %dir.display(), schemas = catalog.len(), namespace,
            "schema registry opened");
        let worker = Worker {
            store: Arc::new(store),
            client: client.clone(),
            service_id: mqtt.client_id.clone(),
            clock: HybridLogicalClock::new(),
        };
        let topics = [Command::Put, Command::Get]
            .map(|c| c.request_topic().to_owned())
            .to_vec();
        let executor = Executor::start(
            &runtime,
            (client, eventloop),
            mqtt,
            "schema registry",
            topics,
            |requests, stop| worker.run(requests, stop),
        );
        Ok(Self {
            executor,
            catalog,
            namespace: namespace.to_owned(),
        })
    }

    /// Waits until the service is subscribed to the request topics (requests sent before
    /// that are not seen by it).
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

    /// The schemas it holds, live (for listing: the protocol cannot list).
    pub fn catalog(&self) -> Catalog {
        self.catalog.clone()
    }

    /// The namespace of new versions.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Stops taking requests, answers those already received, disconnects.
    pub async fn shutdown(self) {
        self.executor.shutdown().await;
    }
}

/// The worker: store and replies.
struct Worker {
    store: Arc<SchemaStore>,
    client: AsyncClient,
    service_id: String,
    clock: HybridLogicalClock,
}

impl Worker {
    async fn run(self, mut requests: mpsc::UnboundedReceiver<Request>, stop: CancellationToken) {
        loop {
            let incoming = tokio::select! {
                biased;
                () = stop.cancelled() => {
                    // Answer what the broker already handed over (rumqttc acknowledged it).
                    while let Ok(incoming) = requests.try_recv() {
                        self.handle(incoming).await;
                    }
                    break;
                }
                incoming = requests.recv() => match incoming {
                    Some(incoming) => incoming,
                    None => break,
                },
            };
            self.handle(incoming).await;
        }
    }

    async fn handle(&self, incoming: Request) {
        match admit(&incoming.publish) {
            Admission::Drop => {}
            Admission::Refuse(reply, refusal) => {
                tracing::debug!(status = refusal.status, message = %refusal.message,
                    "refusing a schema registry request");
                self.reply(&reply, incoming.received, None, Some(&refusal))
                    .await;
            }
            Admission::Execute(operation, reply) => {
                let response = match operation {
                    Operation::Put(request) => self.put(request).await,
                    Operation::Get(request) => {
                        match self.store.get(&request.name, &request.version) {
                            Ok(schema) => ResponsePayload::schema(schema),
                            Err(error) => ResponsePayload::error(error),
                        }
                    }
                };
                let payload = protocol::to_json(&response);
                self.reply(&reply, incoming.received, Some(payload), None)
                    .await;
            }
        }
    }

    async fn put(&self, request: protocol::PutRequest) -> ResponsePayload {
        let schema = match self.store.plan_put(request) {
            Err(error) => return ResponsePayload::error(error),
            Ok(PutPlan::Unchanged(schema)) => return ResponsePayload::schema(schema),
            Ok(PutPlan::Write(schema)) => schema,
        };
        let dir = self.store.dir().to_owned();
        let written = {
            let schema = schema.clone();
            tokio::task::spawn_blocking(move || write_schema(&dir, &schema)).await
        };
        match written {
            Ok(Ok(())) => {
                tracing::info!(name = %schema.name, version = %schema.version,
                    "schema version registered");
                self.store.commit(schema.clone());
                ResponsePayload::schema(schema)
            }
            Ok(Err(error)) => ResponsePayload::error(persist_error(&schema, &error)),
            Err(join) => ResponsePayload::error(persist_error(
                &schema,
                &std::io::Error::other(join.to_string()),
            )),
        }
    }

    /// Publishes a reply, unless the request has expired meanwhile.
    async fn reply(
        &self,
        reply: &Reply,
        received: Instant,
        payload: Option<Bytes>,
        refusal: Option<&Refusal>,
    ) {
        let expiry = match reply.expiry {
            None => None,
            Some(seconds) => {
                let left = Duration::from_secs(u64::from(seconds))
                    .checked_sub(received.elapsed())
                    .filter(|left| !left.is_zero());
                let Some(left) = left else {
                    tracing::debug!("a schema registry request expired before its reply");
                    return;
                };
                Some(protocol::expiry_secs(left))
            }
        };
        let properties = protocol::response_properties(
            &self.service_id,
            reply.correlation.clone(),
            &self.clock.now(),
            expiry,
            refusal,
        );
        if let Err(error) = self
            .client
            .publish_with_properties(
                reply.topic.clone(),
                QoS::AtLeastOnce,
                false,
                payload.unwrap_or_default(),
                properties,
            )
            .await
        {
            tracing::debug!(%error, "schema registry reply not sent (shutting down)");
        }
    }
}
