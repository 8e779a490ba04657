//! [`StateStoreClient`]: requests to a state store (AIO's or the embedded one) over its own
//! MQTT v5 connection.
//!
//! One task owns rumqttc's event loop. At every CONNACK it subscribes to the client's response
//! topic and notification topics (a broker restarted without sessions forgets them), and once
//! subscribed again after a reconnect it sends KEYNOTIFY for every observed key once more (AIO's
//! state store drops observations when a client disconnects). Responses are matched to
//! requests by their 16-byte random correlation data. A request waits for the subscription
//! before it is sent, so its response cannot be missed.
//!
//! Every request carries `__ts` from the client's hybrid logical clock, `__srcId`,
//! `__protVer` = `1.0`, `$partition` = client id, and a message expiry equal to the timeout.
//!
//! # Cancel safety
//! Every request method is cancel safe in this sense: dropping its future forgets the request
//! (nothing leaks), but a request already sent may still be applied by the service, exactly
//! as after [`ErrorKind::Timeout`].

use std::collections::HashMap;
use std::collections::hash_map::Entry as MapEntry;
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use aio_mqtt::MqttConfig;
use aio_mqtt::hlc::{HlcTimestamp, HybridLogicalClock};
use aio_mqtt::rpc::envelope::{StatusProblem, response_status};
use aio_mqtt::rpc::{InvokeError, Invoker, Pending, Reply, Session, poll_subscribed};
use bytes::Bytes;
use rumqttc::v5::EventLoop;
use rumqttc::v5::mqttbytes::v5::PublishProperties;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::DropGuard;

use crate::connection;
use crate::error::{Error, ErrorKind, ErrorSource, Result};
use crate::observation::{KeyNotification, KeyObservation, OBSERVATION_BUFFER, deliver};
use crate::protocol::{self, CONTENT_TYPE, PROTOCOL_VERSION, REQUEST_TOPIC, property};
use crate::resp3::{Request, Response, SetCondition};

/// Default time a request waits for its response.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Options of [`StateStoreClient::set`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SetOptions {
    /// When the SET applies.
    pub condition: SetCondition,
    /// Time to live (`PX`, millisecond precision); `None` keeps the key until deleted.
    pub expires: Option<Duration>,
    /// Fencing token (`__ft`).
    pub fencing_token: Option<HlcTimestamp>,
}

/// A state store client; cheap to clone (clones share the connection). Dropping the last
/// clone ends the connection.
#[derive(Debug, Clone)]
pub struct StateStoreClient {
    inner: Arc<Inner>,
    timeout: Duration,
}

#[derive(Debug)]
struct Inner {
    invoker: Invoker,
    client_id: String,
    response_topic: String,
    clock: HybridLogicalClock,
    observers: Arc<Observers>,
    _stop_on_drop: DropGuard,
}

/// The observed keys and where their notifications go.
type Observers = Mutex<HashMap<Bytes, mpsc::Sender<KeyNotification>>>;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl StateStoreClient {
    /// Validates `config` and connects in the background (requests wait for the connection,
    /// within their timeout). `config.client_id` is used as is and must be unique on the
    /// broker: give the state store client its own (for example the connector's id with a
    /// `-statestore` suffix).
    ///
    /// # Errors
    /// [`ErrorKind::Config`] for an invalid setting, an unusable TLS or password file, or
    /// outside a tokio runtime.
    pub fn start(config: MqttConfig) -> Result<Self> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            Error::new(
                ErrorKind::Config,
                "the state store client needs a tokio runtime",
            )
        })?;
        let (client, eventloop) = connection::build(&config)?;
        let response_topic = protocol::response_topic(&config.client_id);
        let invoker = Invoker::new(client, vec![response_topic.clone()]);
        let inner = Arc::new(Inner {
            _stop_on_drop: invoker.stop().clone().drop_guard(),
            invoker,
            client_id: config.client_id.clone(),
            response_topic,
            clock: HybridLogicalClock::new(),
            observers: Arc::new(Mutex::new(HashMap::new())),
        });
        runtime.spawn(run(eventloop, Arc::downgrade(&inner), config));
        Ok(Self {
            inner,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// A handle on the same connection whose requests wait `timeout` for their response.
    #[must_use]
    pub fn with_timeout(&self, timeout: Duration) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            timeout,
        }
    }

    /// The request timeout of this handle.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The MQTT client id.
    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    /// Waits until connected and subscribed.
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn ready(&self) {
        self.inner.invoker.wait_ready().await;
    }

    /// Sets `key` to `value`. `Ok(true)` when applied, `Ok(false)` when the condition kept it
    /// from applying (`:-1`).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidArgument`] for an empty key; [`ErrorKind::Service`] for a refusal
    /// (a fencing token missing or too old, the quota...); [`ErrorKind::Timeout`],
    /// [`ErrorKind::Closed`], [`ErrorKind::Status`], [`ErrorKind::UnexpectedResponse`].
    /// Cancel safe (see the module docs).
    pub async fn set(
        &self,
        key: impl Into<Bytes>,
        value: impl Into<Bytes>,
        options: SetOptions,
    ) -> Result<bool> {
        self.queue_set(key, value, options).await?.applied().await
    }

    /// Queues `SET key value` and returns at once with what waits for its reply. SETs queued
    /// one after the other reach the service in that order (one connection, QoS 1), so a key
    /// set back to back ends with the last value: what a destination needs to keep up with a
    /// stream without waiting for each reply.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidArgument`] for an empty key; [`ErrorKind::Closed`];
    /// [`ErrorKind::Timeout`] when there is no connection within the timeout. The reply's
    /// errors come from [`QueuedSet::applied`].
    ///
    /// # Cancel safety
    /// Dropping the future may or may not have queued the SET.
    pub async fn queue_set(
        &self,
        key: impl Into<Bytes>,
        value: impl Into<Bytes>,
        options: SetOptions,
    ) -> Result<QueuedSet> {
        let expires_ms = options
            .expires
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1));
        let request = Request::Set {
            key: key.into(),
            value: value.into(),
            condition: options.condition,
            expires_ms,
        };
        let pending = self.send(request, options.fencing_token.as_ref()).await?;
        Ok(QueuedSet { pending })
    }

    /// The value of `key`, `None` when it does not exist.
    ///
    /// # Errors
    /// As [`set`](Self::set). Cancel safe.
    pub async fn get(&self, key: impl Into<Bytes>) -> Result<Option<Bytes>> {
        match self.invoke(Request::Get { key: key.into() }, None).await? {
            Response::Value(value) => Ok(Some(value)),
            Response::NotFound => Ok(None),
            other => Err(unexpected("GET", &other)),
        }
    }

    /// Deletes `key`; the number of keys deleted (0 or 1).
    ///
    /// # Errors
    /// As [`set`](Self::set). Cancel safe.
    pub async fn del(
        &self,
        key: impl Into<Bytes>,
        fencing_token: Option<HlcTimestamp>,
    ) -> Result<u64> {
        let response = self
            .invoke(Request::Del { key: key.into() }, fencing_token.as_ref())
            .await?;
        deleted("DEL", &response)
    }

    /// Deletes `key` only while it holds `value`; the number of keys deleted: 1, or 0 when the
    /// key is missing or holds another value (`:-1`).
    ///
    /// # Errors
    /// As [`set`](Self::set). Cancel safe.
    pub async fn vdel(
        &self,
        key: impl Into<Bytes>,
        value: impl Into<Bytes>,
        fencing_token: Option<HlcTimestamp>,
    ) -> Result<u64> {
        let request = Request::VDel {
            key: key.into(),
            value: value.into(),
        };
        match self.invoke(request, fencing_token.as_ref()).await? {
            Response::Integer(-1) => Ok(0),
            response => deleted("VDEL", &response),
        }
    }

    /// Starts notifications about `key` (KEYNOTIFY): every later SET and DELETE (including
    /// expiry) arrives on the returned observation.
    ///
    /// # Errors
    /// [`ErrorKind::DuplicateObserve`] when this client already observes `key`; otherwise as
    /// [`set`](Self::set). Cancel safe: a cancelled observe leaves nothing registered here.
    pub async fn observe(&self, key: impl Into<Bytes>) -> Result<KeyObservation> {
        let key = key.into();
        let (tx, notifications) = mpsc::channel(OBSERVATION_BUFFER);
        {
            let mut observers = lock(&self.inner.observers);
            match observers.entry(key.clone()) {
                MapEntry::Occupied(entry) if !entry.get().is_closed() => {
                    return Err(Error::new(
                        ErrorKind::DuplicateObserve,
                        format!("{} is already observed", String::from_utf8_lossy(&key)),
                    ));
                }
                MapEntry::Occupied(mut entry) => {
                    entry.insert(tx);
                }
                MapEntry::Vacant(entry) => {
                    entry.insert(tx);
                }
            }
        }
        // Registered before the request, so no notification right after the reply is lost;
        // removed again unless the service confirmed.
        struct Unregister<'a>(&'a Observers, Option<Bytes>);
        impl Drop for Unregister<'_> {
            fn drop(&mut self) {
                if let Some(key) = self.1.take() {
                    lock(self.0).remove(&key);
                }
            }
        }
        let mut unregister = Unregister(&self.inner.observers, Some(key.clone()));
        let request = Request::KeyNotify {
            key: key.clone(),
            stop: false,
        };
        match self.invoke(request, None).await? {
            Response::Ok => {
                unregister.1 = None;
                Ok(KeyObservation { key, notifications })
            }
            other => Err(unexpected("KEYNOTIFY", &other)),
        }
    }

    /// Stops notifications about `key` (KEYNOTIFY STOP) and ends its observation. `Ok(true)`
    /// when the service had it registered.
    ///
    /// # Errors
    /// As [`set`](Self::set). Cancel safe.
    pub async fn unobserve(&self, key: impl Into<Bytes>) -> Result<bool> {
        let key = key.into();
        let response = self
            .invoke(
                Request::KeyNotify {
                    key: key.clone(),
                    stop: true,
                },
                None,
            )
            .await?;
        lock(&self.inner.observers).remove(&key);
        match response {
            Response::Ok => Ok(true),
            Response::Integer(0) => Ok(false),
            other => Err(unexpected("KEYNOTIFY STOP", &other)),
        }
    }

    /// Disconnects (for every clone); pending and later requests fail with
    /// [`ErrorKind::Closed`].
    pub fn close(&self) {
        self.inner.invoker.close();
    }

    /// Sends one request and waits for its response; `-ERR` and non-200 statuses become
    /// errors here, the rest is left to the caller.
    async fn invoke(&self, request: Request, fencing: Option<&HlcTimestamp>) -> Result<Response> {
        self.send(request, fencing).await?.response().await
    }

    /// Queues one request on the connection (waiting for the connection, within the
    /// timeout) and returns what waits for its response. Requests queued one after the other
    /// reach the service in that order (one connection, QoS 1).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidArgument`] for an empty key, [`ErrorKind::Closed`],
    /// [`ErrorKind::Timeout`] when there is no connection within the timeout.
    pub(crate) async fn send(
        &self,
        request: Request,
        fencing: Option<&HlcTimestamp>,
    ) -> Result<PendingRequest> {
        let verb = request.verb();
        if request.key().is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("{verb}: the key is empty"),
            ));
        }
        let inner = &self.inner;
        let timeout = self.timeout;
        let mut user_properties = vec![
            (
                property::TIMESTAMP.to_owned(),
                inner.clock.now().to_string(),
            ),
            (property::SOURCE_ID.to_owned(), inner.client_id.clone()),
            (
                property::PROTOCOL_VERSION.to_owned(),
                PROTOCOL_VERSION.to_owned(),
            ),
            ("$partition".to_owned(), inner.client_id.clone()),
        ];
        if let Some(token) = fencing {
            user_properties.push((property::FENCING_TOKEN.to_owned(), token.to_string()));
        }
        let properties = |correlation| PublishProperties {
            message_expiry_interval: Some(protocol::expiry_secs(timeout)),
            content_type: Some(CONTENT_TYPE.to_owned()),
            response_topic: Some(inner.response_topic.clone()),
            correlation_data: Some(correlation),
            user_properties,
            ..PublishProperties::default()
        };
        let deadline = Instant::now() + timeout;
        let pending = inner
            .invoker
            .send(REQUEST_TOPIC, request.encode(), properties, deadline)
            .await
            .map_err(|e| failed(verb, e, timeout))?;
        Ok(PendingRequest {
            pending,
            timeout,
            verb,
        })
    }
}

/// A SET queued by [`StateStoreClient::queue_set`], waiting for its reply. Dropping it forgets
/// the reply; the SET may still be applied.
#[derive(Debug)]
pub struct QueuedSet {
    pending: PendingRequest,
}

impl QueuedSet {
    /// The reply: `Ok(true)` when applied, `Ok(false)` when the condition kept it from
    /// applying (`:-1`).
    ///
    /// # Errors
    /// As [`StateStoreClient::set`].
    pub async fn applied(self) -> Result<bool> {
        match self.pending.response().await? {
            Response::Ok => Ok(true),
            Response::Integer(-1) => Ok(false),
            other => Err(unexpected("SET", &other)),
        }
    }
}

/// A request sent, waiting for its response; dropping it forgets the request.
#[derive(Debug)]
pub(crate) struct PendingRequest {
    pending: Pending,
    timeout: Duration,
    verb: &'static str,
}

impl PendingRequest {
    /// The response.
    ///
    /// # Errors
    /// As the request methods.
    pub(crate) async fn response(self) -> Result<Response> {
        let reply = self
            .pending
            .reply()
            .await
            .map_err(|e| failed(self.verb, e, self.timeout))?;
        read_reply(self.verb, reply)
    }
}

/// The error of a request that got no response.
fn failed(verb: &str, error: InvokeError, timeout: Duration) -> Error {
    match error {
        InvokeError::Closed => Error::new(
            ErrorKind::Closed,
            format!("{verb}: the state store client has shut down"),
        ),
        waited => Error::new(
            ErrorKind::Timeout,
            format!("{verb}: {waited} within {timeout:?}"),
        ),
    }
}

fn read_reply(verb: &str, reply: Reply) -> Result<Response> {
    let unexpected =
        |what: String| Error::new(ErrorKind::UnexpectedResponse, format!("{verb}: {what}"));
    match response_status(&reply.user_properties) {
        Ok(()) => {}
        Err(StatusProblem::Malformed(what)) => return Err(unexpected(what)),
        Err(StatusProblem::Refused { status, detail }) => {
            return Err(Error::status(verb, status, &detail));
        }
    }
    if let Some(content_type) = &reply.content_type
        && content_type != CONTENT_TYPE
    {
        return Err(unexpected(format!(
            "the response content type is {content_type}"
        )));
    }
    match Response::parse(&reply.payload) {
        Ok(Response::Error(text)) => Err(Error::service(verb, &text)),
        Ok(response) => Ok(response),
        Err(error) => Err(unexpected("the response is not valid RESP3".into())
            .with_source(ErrorSource::Resp3(error))),
    }
}

fn unexpected(verb: &str, response: &Response) -> Error {
    Error::new(
        ErrorKind::UnexpectedResponse,
        format!("{verb}: unexpected response {response:?}"),
    )
}

fn deleted(verb: &str, response: &Response) -> Result<u64> {
    match response {
        Response::Integer(n) if *n >= 0 => Ok(n.unsigned_abs()),
        other => Err(unexpected(verb, other)),
    }
}

/// The connection task: polls, resolves responses, delivers notifications, re-subscribes
/// and observes again after reconnects; ends when the client is closed or its last clone
/// dropped.
async fn run(mut eventloop: EventLoop, inner: Weak<Inner>, config: MqttConfig) {
    let Some(strong) = inner.upgrade() else {
        return;
    };
    let invoker = strong.invoker.clone();
    let observers = Arc::clone(&strong.observers);
    let client_id = strong.client_id.clone();
    drop(strong);
    let client = invoker.client().clone();
    let session = Session {
        role: "state store client",
        topics: vec![
            invoker.response_topics()[0].clone(),
            protocol::notification_filter(&client_id),
        ],
        ready: invoker.ready(),
        announce: false,
    };
    poll_subscribed(
        &mut eventloop,
        &client,
        &config,
        &session,
        invoker.stop(),
        |publish| {
            if let Some(publish) = invoker.take_response(publish) {
                let topic = String::from_utf8_lossy(&publish.topic);
                if let Some(key) = protocol::notification_key(&topic, &client_id) {
                    let props = publish.properties.unwrap_or_default();
                    deliver(
                        &observers,
                        Bytes::from(key),
                        &publish.payload,
                        &props.user_properties,
                    );
                }
            }
            ControlFlow::Continue(())
        },
        |connection| {
            if connection > 1 {
                reobserve(&inner);
            }
        },
    )
    .await;
    // Wake every waiter: their requests will not be answered on this connection.
    invoker.close();
    lock(&observers).clear();
}

/// Sends KEYNOTIFY again for every observed key, in a task of its own (it waits for replies,
/// which the polling task delivers).
fn reobserve(inner: &Weak<Inner>) {
    let Some(inner) = inner.upgrade() else { return };
    let keys: Vec<Bytes> = lock(&inner.observers)
        .iter()
        .filter(|(_, tx)| !tx.is_closed())
        .map(|(key, _)| key.clone())
        .collect();
    if keys.is_empty() {
        return;
    }
    let client = StateStoreClient {
        inner,
        timeout: DEFAULT_TIMEOUT,
    };
    tokio::spawn(async move {
        for key in keys {
            let request = Request::KeyNotify {
                key: key.clone(),
                stop: false,
            };
            if let Err(error) = client.invoke(request, None).await {
                tracing::warn!(%error, key = %String::from_utf8_lossy(&key),
                    "cannot observe the key again after reconnecting");
            }
        }
    });
}
