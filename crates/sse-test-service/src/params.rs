//! The JSON the harness sends and receives, and the pure validation that turns a create
//! request into a stream configuration.
//!
//! Everything the harness may get wrong is checked here, before any task starts, so that a
//! bad request is answered `400` with a message that says which field is wrong.

use std::collections::BTreeMap;
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};
use sse_client::{Event, RetryPolicy, StreamConfig};
use url::Url;

/// What this service supports, as reported by `GET /`.
///
/// Only what the client really does is listed: it sends `GET` only (no `post` / `report`)
/// and delivers every event type without registration (no `event-type-listeners`).
pub const CAPABILITIES: &[&str] = &[
    "bom",
    "comments",
    "headers",
    "last-event-id",
    "read-timeout",
    "restart",
    "server-directed-shutdown-request",
];

/// The body of `GET /`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// A name for the harness' log.
    pub name: String,
    /// The optional features supported; see [`CAPABILITIES`].
    pub capabilities: Vec<String>,
}

impl Status {
    /// The status of this service.
    pub fn current() -> Self {
        Self {
            name: concat!("sse-connector sse-client ", env!("CARGO_PKG_VERSION")).to_owned(),
            capabilities: CAPABILITIES.iter().map(|c| (*c).to_owned()).collect(),
        }
    }
}

/// The body of `POST /` (create stream), as the harness spells it.
///
/// Unknown fields are ignored so that a newer harness still works; the harness sends `null`
/// for the optional numbers it does not set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateStreamParams {
    /// The SSE endpoint to read.
    pub stream_url: String,
    /// The base URL callbacks are posted under (`{callbackUrl}/{n}`).
    pub callback_url: String,
    /// The test's name, for logs.
    #[serde(default)]
    pub tag: Option<String>,
    /// The initial reconnection delay.
    #[serde(default)]
    pub initial_delay_ms: Option<u64>,
    /// The read (idle) timeout.
    #[serde(default)]
    pub read_timeout_ms: Option<u64>,
    /// Sent as `Last-Event-ID` on the first request.
    #[serde(default)]
    pub last_event_id: Option<String>,
    /// Extra request headers (lowercase names).
    #[serde(default)]
    pub headers: Option<BTreeMap<String, String>>,
    /// A method other than `GET` (rejected: the client only sends `GET`).
    #[serde(default)]
    pub method: Option<String>,
    /// A request body (rejected: `GET` requests carry none).
    #[serde(default)]
    pub body: Option<String>,
}

/// A validated create request: what the stream task needs.
#[derive(Debug, Clone)]
pub struct StreamSpec {
    /// The client configuration of the stream.
    pub stream: StreamConfig,
    /// Where callbacks go.
    pub callback_url: Url,
    /// The test's name, for logs (empty when not given).
    pub tag: String,
}

/// Why a request was refused with `400`.
#[derive(Debug, thiserror::Error)]
pub enum ParamError {
    /// The body is not JSON of the expected shape (syntax, missing field, wrong type).
    #[error("invalid JSON body: {0}")]
    Json(#[from] serde_json::Error),
    /// `streamUrl` is not a usable http(s) URL.
    #[error("invalid streamUrl: {0}")]
    StreamUrl(#[source] sse_client::Error),
    /// `callbackUrl` is not an http(s) URL.
    #[error("invalid callbackUrl {url:?}: {why}")]
    CallbackUrl {
        /// The value received.
        url: String,
        /// What is wrong with it.
        why: String,
    },
    /// A `method` other than `GET`.
    #[error(
        "method {0:?} is not supported: the client only sends GET (capabilities \"post\" and \"report\" are not declared)"
    )]
    Method(String),
    /// A non-empty `body`.
    #[error("a request body is not supported: the client only sends GET without a body")]
    Body,
    /// A header name that HTTP does not allow.
    #[error("invalid header name {0:?}")]
    HeaderName(String),
    /// A header value that HTTP does not allow.
    #[error("invalid value for header {0:?}")]
    HeaderValue(String),
    /// `readTimeoutMs` is zero.
    #[error("invalid readTimeoutMs: {0}")]
    ReadTimeout(#[source] sse_client::Error),
    /// `initialDelayMs` does not make a valid retry policy.
    #[error("invalid initialDelayMs: {0}")]
    InitialDelay(#[source] sse_client::Error),
    /// A command this service does not know.
    #[error("unknown command {0:?}: supported commands are \"restart\"")]
    UnknownCommand(String),
}

impl CreateStreamParams {
    /// Parses a create request body.
    ///
    /// # Errors
    /// [`ParamError::Json`] for malformed JSON, missing `streamUrl` / `callbackUrl`, or fields
    /// of the wrong type (e.g. a negative timeout).
    pub fn from_json(body: &[u8]) -> Result<Self, ParamError> {
        Ok(serde_json::from_slice(body)?)
    }

    /// Checks every field and builds the stream configuration.
    ///
    /// `initialDelayMs` becomes the first reconnection delay (the harness sends `0` to keep
    /// reconnection tests fast; the client's floor of 1 ms applies); the cap, the healthy
    /// period and the jitter keep the client's defaults.
    ///
    /// # Errors
    /// The first problem found, as a [`ParamError`].
    pub fn validate(self) -> Result<StreamSpec, ParamError> {
        if let Some(method) = self.method.as_deref()
            && !method.is_empty()
            && !method.eq_ignore_ascii_case("GET")
        {
            return Err(ParamError::Method(method.to_owned()));
        }
        if self.body.as_deref().is_some_and(|body| !body.is_empty()) {
            return Err(ParamError::Body);
        }
        let callback_url = callback_url(&self.callback_url)?;
        let mut stream = StreamConfig::new(&self.stream_url).map_err(ParamError::StreamUrl)?;
        if let Some(headers) = &self.headers {
            stream = stream.with_headers(header_map(headers)?);
        }
        if let Some(millis) = self.read_timeout_ms {
            stream = stream
                .with_idle_timeout(Duration::from_millis(millis))
                .map_err(ParamError::ReadTimeout)?;
        }
        if let Some(millis) = self.initial_delay_ms {
            stream = stream.with_retry_policy(retry_policy(millis)?);
        }
        if let Some(id) = self.last_event_id.as_deref() {
            stream = stream.with_last_event_id(id);
        }
        Ok(StreamSpec {
            stream,
            callback_url,
            tag: self.tag.unwrap_or_default(),
        })
    }
}

fn callback_url(text: &str) -> Result<Url, ParamError> {
    let invalid = |why: String| ParamError::CallbackUrl {
        url: text.to_owned(),
        why,
    };
    let url = Url::parse(text).map_err(|e| invalid(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("not an http or https URL".to_owned()));
    }
    Ok(url)
}

fn header_map(headers: &BTreeMap<String, String>) -> Result<HeaderMap, ParamError> {
    let mut map = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| ParamError::HeaderName(name.clone()))?;
        let value =
            HeaderValue::from_str(value).map_err(|_| ParamError::HeaderValue(name.clone()))?;
        map.insert(header, value);
    }
    Ok(map)
}

fn retry_policy(initial_delay_ms: u64) -> Result<RetryPolicy, ParamError> {
    let defaults = RetryPolicy::default();
    let initial = Duration::from_millis(initial_delay_ms).max(sse_client::retry::MIN_DELAY);
    RetryPolicy::try_new(
        initial,
        defaults.max().max(initial),
        defaults.reset_after(),
        defaults.jitter(),
    )
    .map_err(ParamError::InitialDelay)
}

/// The body of `POST /streams/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CommandParams {
    /// The command name.
    pub command: String,
}

/// A command the service carries out on a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Drop the connection and reconnect now, keeping the last event id.
    Restart,
}

impl Command {
    /// Parses a command body.
    ///
    /// # Errors
    /// [`ParamError::Json`] for a malformed body, [`ParamError::UnknownCommand`] for any
    /// command other than `restart` (including `listen`: capability `event-type-listeners`
    /// is not declared because every event type is delivered anyway).
    pub fn from_json(body: &[u8]) -> Result<Self, ParamError> {
        let params: CommandParams = serde_json::from_slice(body)?;
        match params.command.as_str() {
            "restart" => Ok(Self::Restart),
            _ => Err(ParamError::UnknownCommand(params.command)),
        }
    }
}

/// One callback body, posted to `{callbackUrl}/{n}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum CallbackMessage {
    /// An event was received.
    Event {
        /// The event.
        event: EventMessage,
    },
    /// A comment line was received.
    Comment {
        /// The comment text without the leading colon.
        comment: String,
    },
    /// The stream failed, is reconnecting, dropped an event, or was closed by the server.
    Error {
        /// What happened, for people.
        error: String,
    },
}

/// The event of a [`CallbackMessage::Event`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventMessage {
    /// The event type (`message` when the stream gave none).
    #[serde(rename = "type")]
    pub event_type: String,
    /// The data lines joined with LF.
    pub data: String,
    /// The stream's last event id when the event was dispatched, inherited from earlier
    /// events like the `Last-Event-ID` a reconnection would send; absent when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

impl From<&Event> for EventMessage {
    fn from(event: &Event) -> Self {
        Self {
            event_type: event.event_type.to_string(),
            data: event.data.to_string(),
            id: (!event.last_event_id.is_empty()).then(|| event.last_event_id.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;

    fn params(value: serde_json::Value) -> Result<StreamSpec, ParamError> {
        CreateStreamParams::from_json(value.to_string().as_bytes())?.validate()
    }

    const STREAM: &str = "http://127.0.0.1:1/stream";
    const CALLBACK: &str = "http://127.0.0.1:2/cb";

    #[test]
    fn a_full_request_as_the_harness_sends_it_is_accepted() {
        let spec = params(json!({
            "tag": "reconnection/can set read timeout",
            "streamUrl": STREAM,
            "callbackUrl": CALLBACK,
            "initialDelayMs": 0,
            "readTimeoutMs": 500,
            "lastEventId": "abc",
            "headers": {"header-name-1": "value-1"},
        }))
        .unwrap();
        assert_eq!(spec.stream.url().as_str(), STREAM);
        assert_eq!(spec.callback_url.as_str(), CALLBACK);
        assert_eq!(spec.tag, "reconnection/can set read timeout");
        assert_eq!(spec.stream.idle_timeout(), Duration::from_millis(500));
        assert_eq!(spec.stream.last_event_id(), "abc");
        assert_eq!(spec.stream.headers()["header-name-1"], "value-1");
        assert_eq!(
            spec.stream.retry_policy().initial(),
            sse_client::retry::MIN_DELAY
        );
    }

    #[test]
    fn nulls_and_empty_optionals_mean_defaults() {
        let spec = params(json!({
            "tag": "",
            "streamUrl": STREAM,
            "callbackUrl": CALLBACK,
            "initialDelayMs": null,
            "readTimeoutMs": null,
            "method": "",
            "body": "",
        }))
        .unwrap();
        assert_eq!(spec.stream.idle_timeout(), sse_client::DEFAULT_IDLE_TIMEOUT);
        assert_eq!(spec.stream.retry_policy(), &RetryPolicy::default());
        assert_eq!(spec.stream.last_event_id(), "");
        assert!(
            params(json!({"streamUrl": STREAM, "callbackUrl": CALLBACK, "method": "GET"})).is_ok()
        );
    }

    #[test]
    fn bad_requests_name_the_problem() {
        let cases = [
            (json!({"callbackUrl": CALLBACK}), "streamUrl"),
            (json!({"streamUrl": STREAM}), "callbackUrl"),
            (
                json!({"streamUrl": "ftp://h/", "callbackUrl": CALLBACK}),
                "streamUrl",
            ),
            (
                json!({"streamUrl": STREAM, "callbackUrl": "nowhere"}),
                "callbackUrl",
            ),
            (
                json!({"streamUrl": STREAM, "callbackUrl": CALLBACK, "method": "POST"}),
                "POST",
            ),
            (
                json!({"streamUrl": STREAM, "callbackUrl": CALLBACK, "body": "{}"}),
                "body",
            ),
            (
                json!({"streamUrl": STREAM, "callbackUrl": CALLBACK, "headers": {"a b": "x"}}),
                "header name",
            ),
            (
                json!({"streamUrl": STREAM, "callbackUrl": CALLBACK, "headers": {"x": "a\nb"}}),
                "header",
            ),
            (
                json!({"streamUrl": STREAM, "callbackUrl": CALLBACK, "readTimeoutMs": 0}),
                "readTimeoutMs",
            ),
            (
                json!({"streamUrl": STREAM, "callbackUrl": CALLBACK, "readTimeoutMs": -1}),
                "invalid JSON",
            ),
        ];
        for (body, expected) in cases {
            let err = params(body.clone()).unwrap_err().to_string();
            assert!(err.contains(expected), "{body}: {err}");
        }
        let err = CreateStreamParams::from_json(b"not json").unwrap_err();
        assert!(matches!(err, ParamError::Json(_)));
    }

    #[test]
    fn commands_parse_and_unknown_ones_are_refused() {
        assert_eq!(
            Command::from_json(br#"{"command":"restart"}"#).unwrap(),
            Command::Restart
        );
        assert!(matches!(
            Command::from_json(br#"{"command":"listen","listen":{"type":"x"}}"#),
            Err(ParamError::UnknownCommand(c)) if c == "listen"
        ));
        assert!(matches!(
            Command::from_json(b"{}"),
            Err(ParamError::Json(_))
        ));
    }

    #[test]
    fn callback_messages_have_the_harness_shape() {
        let cases = [
            (
                CallbackMessage::Event {
                    event: EventMessage {
                        event_type: "put".into(),
                        data: "d".into(),
                        id: Some("7".into()),
                    },
                },
                json!({"kind": "event", "event": {"type": "put", "data": "d", "id": "7"}}),
            ),
            (
                CallbackMessage::Event {
                    event: EventMessage {
                        event_type: "message".into(),
                        data: String::new(),
                        id: None,
                    },
                },
                json!({"kind": "event", "event": {"type": "message", "data": ""}}),
            ),
            (
                CallbackMessage::Comment {
                    comment: "hi".into(),
                },
                json!({"kind": "comment", "comment": "hi"}),
            ),
            (
                CallbackMessage::Error {
                    error: "boom".into(),
                },
                json!({"kind": "error", "error": "boom"}),
            ),
        ];
        for (message, expected) in cases {
            assert_eq!(serde_json::to_value(&message).unwrap(), expected);
        }
    }

    #[test]
    fn events_report_their_inherited_id_and_omit_an_empty_one() {
        let event = |id: &str, own: bool| Event {
            event_type: "message".into(),
            data: "x".into(),
            last_event_id: id.into(),
            has_own_id: own,
        };
        assert_eq!(
            EventMessage::from(&event("abc", false)).id.as_deref(),
            Some("abc")
        );
        assert_eq!(
            EventMessage::from(&event("abc", true)).id.as_deref(),
            Some("abc")
        );
        assert_eq!(EventMessage::from(&event("", true)).id, None);
    }
}
