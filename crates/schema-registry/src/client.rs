//! [`SchemaRegistryClient`]: `put` and `get` against a schema registry (AIO's or the
//! embedded one) over its own MQTT v5 connection.
//!
//! One task owns rumqttc's event loop. At every CONNACK it subscribes to the client's two
//! response topics (a broker restarted without sessions forgets them); a request waits for
//! that subscription before it is sent, so its response cannot be missed. Responses are
//! matched to requests by their 16 random bytes of correlation data. Requests carry the
//! envelope of [`protocol::request_properties`].
//!
//! # Cancel safety
//! `put` and `get` are cancel safe in this sense: dropping the future forgets the request
//! (nothing leaks), but a `put` already sent may still be applied by the registry, exactly
//! as after [`ErrorKind::Timeout`]. A `put` can be repeated safely: it is idempotent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use bytes::Bytes;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{Filter, Packet, SubscribeReasonCode};
use rumqttc::v5::{AsyncClient, Event, EventLoop};
use sinks::MqttConfig;
use sinks::hlc::HybridLogicalClock;
use tokio::sync::{oneshot, watch};
use tokio::time::{Instant, timeout_at};
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::connection;
use crate::error::{Error, ErrorKind, ErrorSource, Result};
use crate::protocol::{
    self, CONTENT_TYPE, Command, GetRequest, PutRequest, ResponsePayload, Schema, error_code,
    find_property, property,
};

/// Default time a request waits for its response.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// A schema registry client; cheap to clone (clones share the connection). Dropping the
/// last clone ends the connection.
#[derive(Debug, Clone)]
pub struct SchemaRegistryClient {
    inner: Arc<Inner>,
    timeout: Duration,
}

#[derive(Debug)]
struct Inner {
    client: AsyncClient,
    client_id: String,
    clock: HybridLogicalClock,
    shared: Arc<Shared>,
    stop: CancellationToken,
    _stop_on_drop: DropGuard,
}

/// State shared with the connection task.
#[derive(Debug)]
struct Shared {
    pending: Mutex<HashMap<Bytes, oneshot::Sender<Reply>>>,
    subscribed: watch::Sender<bool>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A response as it arrived.
#[derive(Debug)]
struct Reply {
    payload: Bytes,
    content_type: Option<String>,
    user_properties: Vec<(String, String)>,
}

impl SchemaRegistryClient {
    /// Validates `config` and connects in the background (requests wait for the connection,
    /// within their timeout). `config.client_id` is used as is and must be unique on the
    /// broker: give the client its own (for example the connector's id with a
    /// `-schema-registry` suffix).
    ///
    /// # Errors
    /// [`ErrorKind::Config`] for an invalid setting, an unusable TLS or password file, or
    /// outside a tokio runtime.
    pub fn start(config: MqttConfig) -> Result<Self> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            Error::new(
                ErrorKind::Config,
                "the schema registry client needs a tokio runtime",
            )
        })?;
        let (client, eventloop) = connection::build(&config)?;
        let stop = CancellationToken::new();
        let shared = Arc::new(Shared {
            pending: Mutex::new(HashMap::new()),
            subscribed: watch::channel(false).0,
        });
        let inner = Arc::new(Inner {
            client,
            client_id: config.client_id.clone(),
            clock: HybridLogicalClock::new(),
            shared,
            stop: stop.clone(),
            _stop_on_drop: stop.clone().drop_guard(),
        });
        runtime.spawn(run(eventloop, Arc::downgrade(&inner), config, stop));
        Ok(Self {
            inner,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// A handle on the same connection whose requests wait `timeout` for their response
    /// (also their message expiry, in whole seconds rounded up).
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

    /// Waits until connected and subscribed to the response topics.
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn ready(&self) {
        let mut subscribed = self.inner.shared.subscribed.subscribe();
        let _ = subscribed.wait_for(|s| *s).await;
    }

    /// Registers a schema version; returns it as the registry stored it (with its name and
    /// namespace). Empty tags are left out of the request, as AIO's SDKs do.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidArgument`] for an empty format, content or version;
    /// [`ErrorKind::Registry`] when the registry refuses it (400 with the member in
    /// `target`, 500 when it cannot store it); [`ErrorKind::Timeout`], [`ErrorKind::Closed`],
    /// [`ErrorKind::Status`], [`ErrorKind::UnexpectedResponse`]. Cancel safe (see the module
    /// docs).
    pub async fn put(&self, mut request: PutRequest) -> Result<Schema> {
        let empty = [
            ("format", request.format.is_empty()),
            ("schema content", request.schema_content.is_empty()),
            ("version", request.version.is_empty()),
        ];
        if let Some((what, _)) = empty.iter().find(|(_, empty)| *empty) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("put: the {what} is empty"),
            ));
        }
        request.tags = request.tags.filter(|tags| !tags.is_empty());
        let response = self
            .invoke(Command::Put, protocol::to_json(&request))
            .await?;
        into_schema(Command::Put, response)
    }

    /// Version `version` of schema `name`; `None` when the registry has no such version
    /// (`{"error": {"code": 404}}`).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidArgument`] for an empty name or version; otherwise as
    /// [`put`](Self::put). Cancel safe.
    pub async fn get(&self, name: &str, version: &str) -> Result<Option<Schema>> {
        if name.is_empty() || version.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "get: the name and the version must not be empty",
            ));
        }
        let request = GetRequest {
            name: name.to_owned(),
            version: version.to_owned(),
        };
        let response = self
            .invoke(Command::Get, protocol::to_json(&request))
            .await?;
        match into_schema(Command::Get, response) {
            Ok(schema) => Ok(Some(schema)),
            Err(error)
                if error
                    .registry_error()
                    .is_some_and(|e| e.code == error_code::NOT_FOUND) =>
            {
                Ok(None)
            }
            Err(error) => Err(error),
        }
    }

    /// Disconnects (for every clone); pending and later requests fail with
    /// [`ErrorKind::Closed`].
    pub fn close(&self) {
        self.inner.stop.cancel();
    }

    /// Sends one request and waits for its response payload.
    async fn invoke(&self, command: Command, payload: Bytes) -> Result<ResponsePayload> {
        let name = command.name();
        let inner = &self.inner;
        if inner.stop.is_cancelled() {
            return Err(closed(name));
        }
        let deadline = Instant::now() + self.timeout;
        let mut subscribed = inner.shared.subscribed.subscribe();
        match timeout_at(deadline, subscribed.wait_for(|s| *s)).await {
            Err(_) => {
                return Err(timed_out(
                    name,
                    "no connection to the MQTT broker",
                    self.timeout,
                ));
            }
            Ok(Err(_)) => return Err(closed(name)),
            Ok(Ok(_)) => {}
        }
        let correlation = Bytes::from(rand::random::<[u8; 16]>().to_vec());
        let (tx, rx) = oneshot::channel();
        lock(&inner.shared.pending).insert(correlation.clone(), tx);
        // Removes the entry however this function ends.
        struct Forget<'a>(&'a Shared, Bytes);
        impl Drop for Forget<'_> {
            fn drop(&mut self) {
                lock(&self.0.pending).remove(&self.1);
            }
        }
        let _forget = Forget(&inner.shared, correlation.clone());
        let properties = protocol::request_properties(
            &inner.client_id,
            command,
            correlation,
            &inner.clock.now(),
            self.timeout,
        );
        let publish = inner.client.publish_with_properties(
            command.request_topic(),
            QoS::AtLeastOnce,
            false,
            payload,
            properties,
        );
        match timeout_at(deadline, publish).await {
            Err(_) => {
                return Err(timed_out(
                    name,
                    "the request could not be queued",
                    self.timeout,
                ));
            }
            Ok(Err(_)) => return Err(closed(name)),
            Ok(Ok(())) => {}
        }
        let reply = match timeout_at(deadline, rx).await {
            Err(_) => return Err(timed_out(name, "no response", self.timeout)),
            Ok(Err(_)) => return Err(closed(name)),
            Ok(Ok(reply)) => reply,
        };
        read_reply(name, &reply)
    }
}

fn timed_out(command: &str, what: &str, timeout: Duration) -> Error {
    Error::new(
        ErrorKind::Timeout,
        format!("{command}: {what} within {timeout:?}"),
    )
}

fn closed(command: &str) -> Error {
    Error::new(
        ErrorKind::Closed,
        format!("{command}: the schema registry client has shut down"),
    )
}

/// Checks `__stat` and the content type, and parses the payload.
fn read_reply(command: &str, reply: &Reply) -> Result<ResponsePayload> {
    let props = &reply.user_properties;
    let unexpected =
        |what: String| Error::new(ErrorKind::UnexpectedResponse, format!("{command}: {what}"));
    let status = find_property(props, property::STATUS)
        .ok_or_else(|| unexpected("the response has no __stat".into()))?;
    let status: u16 = status
        .parse()
        .map_err(|_| unexpected(format!("the response status {status:?} is not a number")))?;
    if status != protocol::status::OK {
        let mut detail = find_property(props, property::STATUS_MESSAGE)
            .unwrap_or("no message")
            .to_owned();
        if let Some(name) = find_property(props, property::INVALID_PROPERTY_NAME) {
            detail.push_str(&format!(" (property {name}"));
            if let Some(value) = find_property(props, property::INVALID_PROPERTY_VALUE) {
                detail.push_str(&format!(" = {value:?}"));
            }
            detail.push(')');
        }
        return Err(Error::status(command, status, &detail));
    }
    if let Some(content_type) = &reply.content_type
        && !is_json(content_type)
    {
        return Err(unexpected(format!(
            "the response content type is {content_type}"
        )));
    }
    serde_json::from_slice(&reply.payload).map_err(|e| {
        unexpected("the response is not a schema registry response".into())
            .with_source(ErrorSource::Json(e))
    })
}

/// `application/json`, optionally with `+suffix` or `;parameters`.
fn is_json(content_type: &str) -> bool {
    content_type
        .strip_prefix(CONTENT_TYPE)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['+', ';']))
}

/// The schema of a response, or its error.
fn into_schema(command: Command, response: ResponsePayload) -> Result<Schema> {
    match response {
        ResponsePayload {
            error: Some(error), ..
        } => Err(Error::registry(command.name(), error)),
        ResponsePayload {
            schema: Some(schema),
            ..
        } => Ok(schema),
        _ => Err(Error::new(
            ErrorKind::UnexpectedResponse,
            format!(
                "{}: the response has neither schema nor error",
                command.name()
            ),
        )),
    }
}

/// The connection task: polls, routes responses, re-subscribes after reconnects.
async fn run(
    mut eventloop: EventLoop,
    inner: Weak<Inner>,
    config: MqttConfig,
    stop: CancellationToken,
) {
    let Some(strong) = inner.upgrade() else {
        return;
    };
    let (client, shared) = (strong.client.clone(), Arc::clone(&strong.shared));
    let filters = [Command::Put, Command::Get].map(|c| {
        Filter::new(
            protocol::response_topic(&strong.client_id, c),
            QoS::AtLeastOnce,
        )
    });
    let response_topics = filters.clone().map(|f| f.path);
    drop(strong);
    let mut failures = 0u32;
    loop {
        let event = tokio::select! {
            () = stop.cancelled() => break,
            event = eventloop.poll() => event,
        };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                failures = 0;
                // Never wait on the request channel from the polling task.
                if let Err(error) = client.try_subscribe_many(filters.clone()) {
                    tracing::warn!(%error, "schema registry client cannot subscribe");
                }
            }
            Ok(Event::Incoming(Packet::SubAck(ack))) => {
                let ok = ack
                    .return_codes
                    .iter()
                    .all(|c| matches!(c, SubscribeReasonCode::Success(_)));
                if !ok {
                    tracing::error!(codes = ?ack.return_codes,
                        "the broker refused the schema registry client's subscriptions");
                }
                shared.subscribed.send_replace(ok);
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                if !response_topics
                    .iter()
                    .any(|t| publish.topic.as_ref() == t.as_bytes())
                {
                    continue;
                }
                let props = publish.properties.unwrap_or_default();
                let Some(correlation) = props.correlation_data else {
                    continue;
                };
                if let Some(waiter) = lock(&shared.pending).remove(&correlation) {
                    let _ = waiter.send(Reply {
                        payload: publish.payload,
                        content_type: props.content_type,
                        user_properties: props.user_properties,
                    });
                }
            }
            Ok(_) => {}
            Err(error) => {
                shared.subscribed.send_replace(false);
                failures = failures.saturating_add(1);
                if failures == 1 {
                    tracing::warn!(%error, "schema registry client lost the MQTT broker; reconnecting");
                }
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = tokio::time::sleep(connection::backoff(&config, failures)) => {}
                }
            }
        }
    }
    // Wake every waiter: their requests will not be answered on this connection.
    shared.subscribed.send_replace(false);
    lock(&shared.pending).clear();
    connection::disconnect(&client, &mut eventloop).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: &str, content_type: Option<&str>, payload: &str) -> Reply {
        Reply {
            payload: Bytes::from(payload.to_owned()),
            content_type: content_type.map(str::to_owned),
            user_properties: vec![
                ("__stat".into(), status.into()),
                ("__stMsg".into(), "bad header".into()),
                ("__propName".into(), "Correlation Data".into()),
            ],
        }
    }

    #[test]
    fn replies_are_read_by_status_then_payload() {
        let ok = read_reply(
            "get",
            &reply(
                "200",
                Some("application/json"),
                r#"{"error":{"code":404,"message":"no"}}"#,
            ),
        )
        .expect("ok");
        let error = into_schema(Command::Get, ok).expect_err("404");
        assert_eq!(error.registry_error().map(|e| e.code), Some(404));
        let refused = read_reply("get", &reply("400", None, "")).expect_err("400");
        assert_eq!(refused.status_code(), Some(400));
        assert!(
            refused
                .to_string()
                .contains("bad header (property Correlation Data)")
        );
        for (status, content_type, payload) in [
            ("abc", None, "{}"),
            ("200", Some("text/plain"), "{}"),
            ("200", None, "not json"),
        ] {
            let error =
                read_reply("put", &reply(status, content_type, payload)).expect_err(payload);
            assert_eq!(
                error.kind(),
                ErrorKind::UnexpectedResponse,
                "{status} {payload}"
            );
        }
        let neither = into_schema(Command::Put, ResponsePayload::default()).expect_err("empty");
        assert_eq!(neither.kind(), ErrorKind::UnexpectedResponse);
        assert!(is_json("application/json; charset=utf-8"));
        assert!(!is_json("application/jsonx"));
    }
}
