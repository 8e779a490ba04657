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

use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;

use aio_mqtt::MqttConfig;
use aio_mqtt::hlc::HybridLogicalClock;
use aio_mqtt::rpc::envelope::{StatusProblem, response_status};
use aio_mqtt::rpc::{InvokeError, Invoker, Reply, Session, poll_subscribed};
use bytes::Bytes;
use rumqttc::v5::EventLoop;
use tokio::time::Instant;
use tokio_util::sync::DropGuard;

use crate::connection;
use crate::error::{Error, ErrorKind, ErrorSource, Result};
use crate::protocol::{
    self, CONTENT_TYPE, Command, GetRequest, PutRequest, ResponsePayload, Schema, error_code,
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
    invoker: Invoker,
    client_id: String,
    clock: HybridLogicalClock,
    _stop_on_drop: DropGuard,
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
        let response_topics = [Command::Put, Command::Get]
            .map(|c| protocol::response_topic(&config.client_id, c))
            .to_vec();
        let invoker = Invoker::new(client, response_topics);
        let inner = Arc::new(Inner {
            _stop_on_drop: invoker.stop().clone().drop_guard(),
            invoker,
            client_id: config.client_id.clone(),
            clock: HybridLogicalClock::new(),
        });
        runtime.spawn(run(eventloop, inner.invoker.clone(), config));
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
        self.inner.invoker.wait_ready().await;
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
        self.inner.invoker.close();
    }

    /// Sends one request and waits for its response payload.
    async fn invoke(&self, command: Command, payload: Bytes) -> Result<ResponsePayload> {
        let name = command.name();
        let inner = &self.inner;
        let failed = |error: InvokeError| match error {
            InvokeError::Closed => Error::new(
                ErrorKind::Closed,
                format!("{name}: the schema registry client has shut down"),
            ),
            waited => Error::new(
                ErrorKind::Timeout,
                format!("{name}: {waited} within {:?}", self.timeout),
            ),
        };
        let deadline = Instant::now() + self.timeout;
        let properties = |correlation| {
            protocol::request_properties(
                &inner.client_id,
                command,
                correlation,
                &inner.clock.now(),
                self.timeout,
            )
        };
        let pending = inner
            .invoker
            .send(command.request_topic(), payload, properties, deadline)
            .await
            .map_err(failed)?;
        let reply = pending.reply().await.map_err(failed)?;
        read_reply(name, &reply)
    }
}

/// Checks `__stat` and the content type, and parses the payload.
fn read_reply(command: &str, reply: &Reply) -> Result<ResponsePayload> {
    let unexpected =
        |what: String| Error::new(ErrorKind::UnexpectedResponse, format!("{command}: {what}"));
    match response_status(&reply.user_properties) {
        Ok(()) => {}
        Err(StatusProblem::Malformed(what)) => return Err(unexpected(what)),
        Err(StatusProblem::Refused { status, detail }) => {
            return Err(Error::status(command, status, &detail));
        }
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

/// The connection task: polls, resolves responses, re-subscribes after reconnects; ends
/// when the client is closed or its last clone dropped.
async fn run(mut eventloop: EventLoop, invoker: Invoker, config: MqttConfig) {
    let client = invoker.client().clone();
    let session = Session {
        role: "schema registry client",
        topics: invoker.response_topics().to_vec(),
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
            invoker.take_response(publish);
            ControlFlow::Continue(())
        },
        |_| {},
    )
    .await;
    // Wake every waiter: their requests will not be answered on this connection.
    invoker.close();
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
