//! [`SchemaRegistryClient`]: `put` and `get` against a schema registry (AIO's or the
//! embedded one) over its own MQTT v5 connection.
//!
//! A thin typed layer over [`aio_mqtt::rpc::CommandClient`], which owns the connection, keeps
//! the client's two response topics subscribed, matches responses to requests and checks
//! their `__stat` and content type. What is the registry's is here: its command set
//! (topics, JSON content type), the request envelope of [`protocol::request_properties`],
//! the JSON payloads, and the errors of the registry's `{"error": ...}` answers.
//!
//! # Cancel safety
//! `put` and `get` are cancel safe in this sense: dropping the future forgets the request
//! (nothing leaks), but a `put` already sent may still be applied by the registry, exactly
//! as after [`ErrorKind::Timeout`]. A `put` can be repeated safely: it is idempotent.

use std::time::Duration;

use aio_mqtt::MqttConfig;
use aio_mqtt::rpc::{CommandClient, CommandSet};
use bytes::Bytes;

use crate::connection;
use crate::error::{Error, ErrorKind, ErrorSource, Result};
use crate::protocol::{
    self, CONTENT_TYPE, Command, GetRequest, PutRequest, ResponsePayload, Schema, error_code,
};

/// Default time a request waits for its response.
pub const DEFAULT_TIMEOUT: Duration = aio_mqtt::rpc::DEFAULT_TIMEOUT;

/// The schema registry's command set: `put` and `get`, JSON both ways.
#[derive(Debug)]
pub(crate) struct Registry;

impl CommandSet for Registry {
    const SERVICE: &'static str = "schema registry";
    const QUEUE_CAPACITY: usize = connection::REQUEST_CAPACITY;

    fn response_topics(&self, client_id: &str) -> Vec<String> {
        [Command::Put, Command::Get]
            .map(|c| protocol::response_topic(client_id, c))
            .to_vec()
    }

    fn accepts_content_type(content_type: &str) -> bool {
        is_json(content_type)
    }
}

/// A schema registry client; cheap to clone (clones share the connection). Dropping the
/// last clone ends the connection.
#[derive(Debug, Clone)]
pub struct SchemaRegistryClient {
    client: CommandClient<Registry>,
}

// `with_timeout`, `timeout`, `client_id`, `ready`, `close`: the handle of every command client.
aio_mqtt::command_client_handle!(SchemaRegistryClient);

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
        let client = CommandClient::start(config, Registry)?;
        Ok(Self { client })
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

    /// Sends one request and waits for its response payload.
    async fn invoke(&self, command: Command, payload: Bytes) -> Result<ResponsePayload> {
        let reply = self
            .client
            .invoke(
                command.name(),
                command.request_topic(),
                payload,
                |request| protocol::request_properties(request, command),
            )
            .await?;
        read_payload(command.name(), &reply.payload)
    }
}

/// Parses a response payload whose status and content type were checked.
fn read_payload(command: &str, payload: &[u8]) -> Result<ResponsePayload> {
    serde_json::from_slice(payload).map_err(|e| {
        Error::new(
            ErrorKind::UnexpectedResponse,
            format!("{command}: the response is not a schema registry response"),
        )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_read_then_turned_into_a_schema() {
        let ok = read_payload("get", br#"{"error":{"code":404,"message":"no"}}"#).expect("ok");
        let error = into_schema(Command::Get, ok).expect_err("404");
        assert_eq!(error.registry_error().map(|e| e.code), Some(404));
        let garbled = read_payload("put", b"not json").expect_err("not json");
        assert_eq!(garbled.kind(), ErrorKind::UnexpectedResponse);
        assert_eq!(
            garbled.to_string(),
            "put: the response is not a schema registry response"
        );
        let neither = into_schema(Command::Put, ResponsePayload::default()).expect_err("empty");
        assert_eq!(neither.kind(), ErrorKind::UnexpectedResponse);
        assert!(is_json("application/json; charset=utf-8"));
        assert!(is_json("application/json"));
        assert!(!is_json("application/jsonx"));
        assert!(!is_json("text/plain"));
    }
}
