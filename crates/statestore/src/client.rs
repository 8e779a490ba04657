//! [`StateStoreClient`]: requests to a state store (AIO's or the embedded one) over its own
//! MQTT v5 connection.
//!
//! A thin typed layer over [`aio_mqtt::rpc::CommandClient`], which owns the connection, keeps
//! the response topic subscribed, matches responses to requests by their correlation data and
//! checks their `__stat` and content type; a request waits for the subscription before it is
//! sent, so its response cannot be missed. What is the state store's is here: its command set
//! (topics, content type), RESP3 payloads, `-ERR` replies, and key observations: the
//! notification topics are subscribed beside the response topic, and once subscribed again
//! after a reconnect the client sends KEYNOTIFY for every observed key once more (AIO's state
//! store drops observations when a client disconnects).
//!
//! Every request carries `__srcId`, `__ts` from the client's hybrid logical clock,
//! `__protVer` = `1.0`, `$partition` = client id (and `__ft` when fenced), and a message
//! expiry equal to the timeout.
//!
//! # Cancel safety
//! Every request method is cancel safe in this sense: dropping its future forgets the request
//! (nothing leaks), but a request already sent may still be applied by the service, exactly
//! as after [`ErrorKind::Timeout`].

use std::collections::HashMap;
use std::collections::hash_map::Entry as MapEntry;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use aio_mqtt::MqttConfig;
use aio_mqtt::hlc::HlcTimestamp;
use aio_mqtt::rpc::{CommandClient, CommandSet, OutgoingRequest, PendingCommand};
use bytes::Bytes;
use rumqttc::v5::mqttbytes::v5::{Publish, PublishProperties};
use tokio::sync::mpsc;

use crate::connection;
use crate::error::{Error, ErrorKind, ErrorSource, Result};
use crate::observation::{KeyNotification, KeyObservation, OBSERVATION_BUFFER, deliver};
use crate::protocol::{self, CONTENT_TYPE, REQUEST_TOPIC, property};
use crate::resp3::{Request, Response, SetCondition};

/// Default time a request waits for its response.
pub const DEFAULT_TIMEOUT: Duration = aio_mqtt::rpc::DEFAULT_TIMEOUT;

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
    client: CommandClient<StateStore>,
}

/// The state store's command set, and the keys this client observes.
#[derive(Debug, Default)]
pub(crate) struct StateStore {
    observers: Observers,
}

/// The observed keys and where their notifications go.
type Observers = Mutex<HashMap<Bytes, mpsc::Sender<KeyNotification>>>;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl CommandSet for StateStore {
    const SERVICE: &'static str = "state store";
    const QUEUE_CAPACITY: usize = connection::REQUEST_CAPACITY;

    fn response_topics(&self, client_id: &str) -> Vec<String> {
        vec![protocol::response_topic(client_id)]
    }

    fn accepts_content_type(content_type: &str) -> bool {
        content_type == CONTENT_TYPE
    }

    fn other_topics(&self, client_id: &str) -> Vec<String> {
        vec![protocol::notification_filter(client_id)]
    }

    /// Delivers a key notification to the key's observer.
    fn on_other(&self, client: &CommandClient<Self>, publish: Publish) {
        let topic = String::from_utf8_lossy(&publish.topic);
        if let Some(key) = protocol::notification_key(&topic, client.client_id()) {
            let properties = publish.properties.unwrap_or_default();
            deliver(
                &self.observers,
                Bytes::from(key),
                &publish.payload,
                &properties.user_properties,
            );
        }
    }

    /// Sends KEYNOTIFY again for every observed key, in a task of its own (it waits for
    /// replies, which the connection task delivers).
    fn on_resubscribed(&self, client: &CommandClient<Self>) {
        let keys: Vec<Bytes> = lock(&self.observers)
            .iter()
            .filter(|(_, tx)| !tx.is_closed())
            .map(|(key, _)| key.clone())
            .collect();
        if keys.is_empty() {
            return;
        }
        let client = StateStoreClient {
            client: client.clone(),
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

    /// Ends every observation.
    fn on_closed(&self) {
        lock(&self.observers).clear();
    }
}

// `with_timeout`, `timeout`, `client_id`, `ready`, `close`: the handle of every command client.
aio_mqtt::command_client_handle!(StateStoreClient);

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
        let client = CommandClient::start(config, StateStore::default())?;
        Ok(Self { client })
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

    /// Sets `key` to `value` like [`set`](Self::set) and returns the version the service
    /// gave the value (the reply's `__ts`): `Some` when applied, `None` when the condition
    /// kept it from applying. The version of a lock key's SET is what AIO's leased-lock
    /// pattern uses as the fencing token of the keys the lock protects.
    ///
    /// # Errors
    /// As [`set`](Self::set); [`ErrorKind::UnexpectedResponse`] when an applied SET's reply
    /// has no valid `__ts`. Cancel safe (see the module docs).
    pub async fn set_versioned(
        &self,
        key: impl Into<Bytes>,
        value: impl Into<Bytes>,
        options: SetOptions,
    ) -> Result<Option<HlcTimestamp>> {
        let queued = self.queue_set(key, value, options).await?;
        let (response, version) = response_and_version(queued.pending).await?;
        match response {
            Response::Ok => version.map(Some).ok_or_else(|| {
                Error::new(
                    ErrorKind::UnexpectedResponse,
                    "SET: the reply has no valid __ts (the value's version)",
                )
            }),
            Response::Integer(-1) => Ok(None),
            other => Err(unexpected("SET", &other)),
        }
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
            let mut observers = lock(&self.client.commands().observers);
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
        let mut unregister = Unregister(&self.client.commands().observers, Some(key.clone()));
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
        lock(&self.client.commands().observers).remove(&key);
        match response {
            Response::Ok => Ok(true),
            Response::Integer(0) => Ok(false),
            other => Err(unexpected("KEYNOTIFY STOP", &other)),
        }
    }

    /// Sends one request and waits for its response; `-ERR` and non-200 statuses become
    /// errors here, the rest is left to the caller.
    async fn invoke(&self, request: Request, fencing: Option<&HlcTimestamp>) -> Result<Response> {
        response(self.send(request, fencing).await?).await
    }

    /// Queues one request on the connection (waiting for the connection, within the
    /// timeout) and returns what waits for its response. Requests queued one after the other
    /// reach the service in that order (one connection, QoS 1).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidArgument`] for an empty key, [`ErrorKind::Closed`],
    /// [`ErrorKind::Timeout`] when there is no connection within the timeout.
    async fn send(
        &self,
        request: Request,
        fencing: Option<&HlcTimestamp>,
    ) -> Result<PendingCommand<StateStore>> {
        let verb = request.verb();
        if request.key().is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("{verb}: the key is empty"),
            ));
        }
        let properties = |outgoing: OutgoingRequest<'_>| {
            let mut user_properties = outgoing.envelope();
            if let Some(token) = fencing {
                user_properties.push((property::FENCING_TOKEN.to_owned(), token.to_string()));
            }
            PublishProperties {
                message_expiry_interval: Some(outgoing.expiry_secs()),
                content_type: Some(CONTENT_TYPE.to_owned()),
                response_topic: Some(protocol::response_topic(outgoing.client_id)),
                correlation_data: Some(outgoing.correlation),
                user_properties,
                ..PublishProperties::default()
            }
        };
        let pending = self
            .client
            .send(verb, REQUEST_TOPIC, request.encode(), properties)
            .await?;
        Ok(pending)
    }
}

/// A SET queued by [`StateStoreClient::queue_set`], waiting for its reply. Dropping it forgets
/// the reply; the SET may still be applied.
#[derive(Debug)]
pub struct QueuedSet {
    pending: PendingCommand<StateStore>,
}

impl QueuedSet {
    /// The reply: `Ok(true)` when applied, `Ok(false)` when the condition kept it from
    /// applying (`:-1`).
    ///
    /// # Errors
    /// As [`StateStoreClient::set`].
    pub async fn applied(self) -> Result<bool> {
        match response(self.pending).await? {
            Response::Ok => Ok(true),
            Response::Integer(-1) => Ok(false),
            other => Err(unexpected("SET", &other)),
        }
    }
}

/// The RESP3 response of a request whose status and content type were checked; `-ERR`
/// becomes [`ErrorKind::Service`].
async fn response(pending: PendingCommand<StateStore>) -> Result<Response> {
    response_and_version(pending)
        .await
        .map(|(response, _)| response)
}

/// [`response`], with the reply's `__ts` when it is a valid HLC timestamp.
async fn response_and_version(
    pending: PendingCommand<StateStore>,
) -> Result<(Response, Option<HlcTimestamp>)> {
    let verb = pending.command();
    let reply = pending.reply().await?;
    let version = protocol::find_property(&reply.user_properties, property::TIMESTAMP)
        .and_then(protocol::parse_hlc);
    match Response::parse(&reply.payload) {
        Ok(Response::Error(text)) => Err(Error::service(verb, &text)),
        Ok(response) => Ok((response, version)),
        Err(error) => Err(Error::new(
            ErrorKind::UnexpectedResponse,
            format!("{verb}: the response is not valid RESP3"),
        )
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
