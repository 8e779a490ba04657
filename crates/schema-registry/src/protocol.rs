//! The wire protocol, pure: topics, payloads and the command envelope of AIO's schema registry
//! (`dtmi:ms:adr:SchemaRegistry;2`), as AIO's SDKs send and expect it.
//!
//! | what | value |
//! |---|---|
//! | request topics | `adr/dtmi:ms:adr:SchemaRegistry;2/put`, `adr/dtmi:ms:adr:SchemaRegistry;2/get` |
//! | response topic | `clients/{clientId}/` + the request topic |
//! | QoS | 1, both ways |
//! | content type | `application/json`, Payload Format Indicator 1 (UTF-8) |
//! | correlation data | 16 random bytes, echoed in the response |
//! | message expiry | the request timeout in whole seconds (rounded up); a response gets what is left |
//! | request user properties | `__srcId`, `__ts`, `__protVer` = `1.0`, `$partition` = client id, `$high_priority` = `""`, in this order |
//! | response user properties | `__apErr`, `__stat`, `__protVer`, `__srcId`, `__ts`, then on a refusal `__stMsg`, `__propName`, `__propVal`, `__supProtMajVer`, `__requestProtVer`; last `$high_priority` = `""` |
//!
//! Payloads are JSON objects with their members in alphabetical order, as the SDKs'
//! generated types serialize them (tags in key order). An application error travels as
//! `{"error": {...}}` with `__stat` 200; a non-200 `__stat` means the request itself could not
//! be read (no correlation data, a wrong content type, a payload that is not a request...).

use std::collections::BTreeMap;
use std::time::Duration;

use aio_mqtt::hlc::HlcTimestamp;
use bytes::Bytes;
use rumqttc::v5::mqttbytes::v5::PublishProperties;
use serde::{Deserialize, Serialize};

/// Request topic of `put`.
pub const PUT_TOPIC: &str = "adr/dtmi:ms:adr:SchemaRegistry;2/put";

/// Request topic of `get`.
pub const GET_TOPIC: &str = "adr/dtmi:ms:adr:SchemaRegistry;2/get";

/// Content type of requests and responses.
pub const CONTENT_TYPE: &str = "application/json";

/// Payload Format Indicator of requests and responses: UTF-8 character data.
pub const PAYLOAD_FORMAT_UTF8: u8 = 1;

/// The protocol version this crate speaks (`__protVer`).
pub const PROTOCOL_VERSION: &str = "1.0";

/// Major protocol versions the service accepts (`__supProtMajVer`).
pub const SUPPORTED_MAJOR_VERSIONS: &str = "1";

/// Schema formats the registry knows.
pub mod format {
    /// JSON Schema draft-07: the format of inferred message schemas.
    pub const JSON_SCHEMA_DRAFT_07: &str = "JsonSchema/draft-07";
    /// Delta (Parquet) schema.
    pub const DELTA_1: &str = "Delta/1.0";
}

/// The user property names: the envelope's, and the two routing properties of requests.
pub mod property {
    pub use aio_mqtt::rpc::envelope::property::*;
    /// Broker property: the partition key (the invoker's client id).
    pub const PARTITION: &str = "$partition";
    /// Broker property: bypass backpressure; its presence matters, its value is empty.
    pub const HIGH_PRIORITY: &str = "$high_priority";
}

/// Response status codes (`__stat`): the envelope's.
pub use aio_mqtt::rpc::envelope::status;

/// The `code` of an application error (`{"error": {"code": ...}}`).
pub mod error_code {
    /// The request is invalid.
    pub const BAD_REQUEST: i32 = 400;
    /// No such schema (version).
    pub const NOT_FOUND: i32 = 404;
    /// The registry failed.
    pub const INTERNAL_ERROR: i32 = 500;
}

/// The `target` of an application error: the request member it is about.
pub mod target {
    /// `schemaType`.
    pub const SCHEMA_TYPE: &str = "SchemaType";
    /// `format`.
    pub const FORMAT: &str = "Format";
    /// `version`.
    pub const VERSION: &str = "Version";
    /// `name`.
    pub const NAME: &str = "Name";
    /// `tags`.
    pub const TAGS: &str = "Tags";
    /// `description`.
    pub const DESCRIPTION: &str = "Description";
    /// `displayName`.
    pub const DISPLAY_NAME: &str = "DisplayName";
    /// `schemaContent`.
    pub const SCHEMA_CONTENT: &str = "SchemaContent";
}

/// The two commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    /// Register a schema version.
    Put,
    /// Read a schema version.
    Get,
}

impl Command {
    /// Its request topic.
    pub fn request_topic(self) -> &'static str {
        match self {
            Self::Put => PUT_TOPIC,
            Self::Get => GET_TOPIC,
        }
    }

    /// The command of a request topic.
    pub fn from_topic(topic: &[u8]) -> Option<Self> {
        if topic == PUT_TOPIC.as_bytes() {
            Some(Self::Put)
        } else if topic == GET_TOPIC.as_bytes() {
            Some(Self::Get)
        } else {
            None
        }
    }

    /// `put` or `get`, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Put => "put",
            Self::Get => "get",
        }
    }
}

/// `clients/{client_id}/{request topic}`: where the invoker `client_id` hears its responses.
pub fn response_topic(client_id: &str, command: Command) -> String {
    format!("clients/{client_id}/{}", command.request_topic())
}

/// A registered schema version, as the registry returns it: the type the HTTP API serves too.
pub use schema::RegisteredSchema as Schema;
/// The kind of schema; the protocol knows one.
pub use schema::SchemaType;

/// The `put` request: register `schemaContent` as version `version`.
///
/// Members in alphabetical order, optional ones omitted when absent (the SDKs omit empty
/// tags too; [`PutRequest::new`] and the client do the same).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutRequest {
    /// Human-readable description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Human-readable name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Format of the content, e.g. [`format::JSON_SCHEMA_DRAFT_07`].
    pub format: String,
    /// The schema document, as text.
    pub schema_content: String,
    /// Always [`SchemaType::MessageSchema`].
    pub schema_type: SchemaType,
    /// User-defined tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
    /// The version to register, e.g. `"1"`.
    pub version: String,
}

impl PutRequest {
    /// A JSON Schema draft-07 message schema `content` as `version`.
    pub fn json_schema(content: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            format: format::JSON_SCHEMA_DRAFT_07.to_owned(),
            schema_content: content.into(),
            schema_type: SchemaType::MessageSchema,
            version: version.into(),
            ..Self::default()
        }
    }
}

/// The `get` request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetRequest {
    /// Schema name (as the registry assigned it).
    pub name: String,
    /// Version.
    pub version: String,
}

/// More about an application error.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetails {
    /// Multi-part code, e.g. `400.200`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Correlation id for tracing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// Message for people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// An application error: `{"error": {...}}` in a response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistryError {
    /// HTTP-like code: see [`error_code`].
    pub code: i32,
    /// More details (boxed: rarely there, and it keeps `Result<_, RegistryError>` small).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Box<ErrorDetails>>,
    /// A nested error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inner_error: Option<Box<ErrorDetails>>,
    /// Message for people.
    pub message: String,
    /// The request member it is about: see [`target`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

impl RegistryError {
    /// An error with `code`, `message` and optionally a `target`.
    pub fn new(code: i32, message: impl Into<String>, target: Option<&str>) -> Self {
        Self {
            code,
            details: None,
            inner_error: None,
            message: message.into(),
            target: target.map(str::to_owned),
        }
    }
}

/// The payload of a response to either command: a schema or an error.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponsePayload {
    /// The application error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<RegistryError>,
    /// The schema.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<Schema>,
}

impl ResponsePayload {
    /// `{"schema": ...}`.
    pub fn schema(schema: Schema) -> Self {
        Self {
            error: None,
            schema: Some(schema),
        }
    }

    /// `{"error": ...}`.
    pub fn error(error: RegistryError) -> Self {
        Self {
            error: Some(error),
            schema: None,
        }
    }
}

/// Compact JSON of a payload type. These types have string keys only, so serialization
/// cannot fail; an empty payload would stand for the impossible failure.
pub fn to_json<T: Serialize>(value: &T) -> Bytes {
    Bytes::from(serde_json::to_vec(value).unwrap_or_default())
}

/// The Message Expiry Interval for a request timeout: whole seconds, rounded up, at least 1.
pub fn expiry_secs(timeout: Duration) -> u32 {
    let secs = timeout
        .as_secs()
        .saturating_add(u64::from(timeout.subsec_nanos() > 0));
    u32::try_from(secs.max(1)).unwrap_or(u32::MAX)
}

/// The properties of a request from `client_id`: response topic, correlation data, expiry,
/// content type, format indicator, and the user properties in the SDKs' order.
pub fn request_properties(
    client_id: &str,
    command: Command,
    correlation: Bytes,
    timestamp: &HlcTimestamp,
    timeout: Duration,
) -> PublishProperties {
    PublishProperties {
        payload_format_indicator: Some(PAYLOAD_FORMAT_UTF8),
        message_expiry_interval: Some(expiry_secs(timeout)),
        response_topic: Some(response_topic(client_id, command)),
        correlation_data: Some(correlation),
        user_properties: vec![
            (property::SOURCE_ID.to_owned(), client_id.to_owned()),
            (property::TIMESTAMP.to_owned(), timestamp.to_string()),
            (
                property::PROTOCOL_VERSION.to_owned(),
                PROTOCOL_VERSION.to_owned(),
            ),
            (property::PARTITION.to_owned(), client_id.to_owned()),
            (property::HIGH_PRIORITY.to_owned(), String::new()),
        ],
        content_type: Some(CONTENT_TYPE.to_owned()),
        ..PublishProperties::default()
    }
}

/// Why a request could not be read: a non-200 `__stat` and what goes with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The status: 400, 415, 500 or 505.
    pub status: u16,
    /// `__stMsg`.
    pub message: String,
    /// `__propName`: the header at fault.
    pub property_name: Option<String>,
    /// `__propVal`: its value.
    pub property_value: Option<String>,
    /// `__requestProtVer` (and then `__supProtMajVer`) on a version refusal.
    pub request_protocol_version: Option<String>,
}

impl Refusal {
    /// A refusal with `status` and `message`.
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            property_name: None,
            property_value: None,
            request_protocol_version: None,
        }
    }

    /// Names the header at fault.
    #[must_use]
    pub fn property(mut self, name: &str, value: Option<String>) -> Self {
        self.property_name = Some(name.to_owned());
        self.property_value = value;
        self
    }
}

/// The properties of a response from `service_id`: correlation data, expiry, and the user
/// properties in the SDKs' order. `refusal` is `None` for a 200 response, whose payload is
/// JSON (content type and format indicator set); a refusal has an empty payload and neither.
pub fn response_properties(
    service_id: &str,
    correlation: Option<Bytes>,
    timestamp: &HlcTimestamp,
    expiry_secs: Option<u32>,
    refusal: Option<&Refusal>,
) -> PublishProperties {
    let status = refusal.map_or(status::OK, |r| r.status);
    let mut user_properties = vec![
        (property::APPLICATION_ERROR.to_owned(), "false".to_owned()),
        (property::STATUS.to_owned(), status.to_string()),
        (
            property::PROTOCOL_VERSION.to_owned(),
            PROTOCOL_VERSION.to_owned(),
        ),
        (property::SOURCE_ID.to_owned(), service_id.to_owned()),
        (property::TIMESTAMP.to_owned(), timestamp.to_string()),
    ];
    if let Some(refusal) = refusal {
        user_properties.push((property::STATUS_MESSAGE.to_owned(), refusal.message.clone()));
        if let Some(name) = &refusal.property_name {
            user_properties.push((property::INVALID_PROPERTY_NAME.to_owned(), name.clone()));
        }
        if let Some(value) = &refusal.property_value {
            user_properties.push((property::INVALID_PROPERTY_VALUE.to_owned(), value.clone()));
        }
        if let Some(version) = &refusal.request_protocol_version {
            user_properties.push((
                property::SUPPORTED_MAJOR_VERSIONS.to_owned(),
                SUPPORTED_MAJOR_VERSIONS.to_owned(),
            ));
            user_properties.push((
                property::REQUEST_PROTOCOL_VERSION.to_owned(),
                version.clone(),
            ));
        }
    }
    user_properties.push((property::HIGH_PRIORITY.to_owned(), String::new()));
    let json = refusal.is_none();
    PublishProperties {
        payload_format_indicator: json.then_some(PAYLOAD_FORMAT_UTF8),
        message_expiry_interval: expiry_secs,
        correlation_data: correlation,
        user_properties,
        content_type: json.then(|| CONTENT_TYPE.to_owned()),
        ..PublishProperties::default()
    }
}

pub use aio_mqtt::rpc::envelope::find_property;

/// Whether `text` has the form of an HLC timestamp: `{digits}:{digits}:{node id}`.
pub fn is_hlc(text: &str) -> bool {
    let mut parts = text.splitn(3, ':');
    let digits =
        |s: Option<&str>| s.is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
    digits(parts.next()) && digits(parts.next()) && parts.next().is_some()
}

/// Whether a response topic can be published to: not empty, no wildcards, not one of the
/// request topics (answering there would feed the service its own output).
pub fn is_valid_response_topic(topic: &str) -> bool {
    !topic.is_empty()
        && !topic.contains(['+', '#', '\0'])
        && topic != PUT_TOPIC
        && topic != GET_TOPIC
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn ts() -> HlcTimestamp {
        HlcTimestamp {
            millis: 1_777_630_530_123,
            counter: 0,
            node_id: Arc::from("node"),
        }
    }

    #[test]
    fn topics_are_the_reference_ones() {
        assert_eq!(
            response_topic("conn-0", Command::Put),
            "clients/conn-0/adr/dtmi:ms:adr:SchemaRegistry;2/put"
        );
        assert_eq!(
            response_topic("conn-0", Command::Get),
            "clients/conn-0/adr/dtmi:ms:adr:SchemaRegistry;2/get"
        );
        assert_eq!(
            Command::from_topic(PUT_TOPIC.as_bytes()),
            Some(Command::Put)
        );
        assert_eq!(
            Command::from_topic(GET_TOPIC.as_bytes()),
            Some(Command::Get)
        );
        assert_eq!(Command::from_topic(b"adr/other"), None);
        assert!(is_valid_response_topic("clients/a/x"));
        for bad in ["", "a/+", "a/#", PUT_TOPIC, GET_TOPIC] {
            assert!(!is_valid_response_topic(bad), "{bad}");
        }
    }

    #[test]
    fn put_request_members_are_alphabetical_and_optional_ones_omitted() {
        let minimal = PutRequest::json_schema("{}", "1");
        assert_eq!(
            &to_json(&minimal)[..],
            br#"{"format":"JsonSchema/draft-07","schemaContent":"{}","schemaType":"MessageSchema","version":"1"}"#
        );
        let full = PutRequest {
            description: Some("d".into()),
            display_name: Some("n".into()),
            tags: Some(BTreeMap::from([
                ("z".into(), "1".into()),
                ("a".into(), "2".into()),
            ])),
            ..minimal
        };
        assert_eq!(
            &to_json(&full)[..],
            br#"{"description":"d","displayName":"n","format":"JsonSchema/draft-07","schemaContent":"{}","schemaType":"MessageSchema","tags":{"a":"2","z":"1"},"version":"1"}"#
        );
    }

    #[test]
    fn responses_read_both_shapes_and_ignore_unknown_members() {
        let ok: ResponsePayload = serde_json::from_str(
            r#"{"schema":{"format":"JsonSchema/draft-07","name":"n","namespace":"ns","schemaContent":"{}","schemaType":"MessageSchema","version":"1","extra":true}}"#,
        )
        .expect("schema");
        let schema = ok.schema.expect("schema");
        assert_eq!(
            (schema.hash.clone(), schema.reference()),
            (None, "aio-sr://ns/n:1".into())
        );
        let error: ResponsePayload = serde_json::from_str(
            r#"{"error":{"code":404,"message":"gone","target":"Name","details":{"code":"404.1"}}}"#,
        )
        .expect("error");
        let error = error.error.expect("error");
        assert_eq!((error.code, error.target.as_deref()), (404, Some("Name")));
        assert_eq!(
            &to_json(&ResponsePayload::error(RegistryError::new(
                400,
                "bad",
                Some(target::VERSION)
            )))[..],
            br#"{"error":{"code":400,"message":"bad","target":"Version"}}"#
        );
        assert!(
            serde_json::from_str::<PutRequest>(
                r#"{"format":"f","schemaContent":"c","schemaType":"Other","version":"1"}"#
            )
            .is_err()
        );
    }

    #[test]
    fn request_envelope_is_the_sdks() {
        let props = request_properties(
            "me",
            Command::Get,
            Bytes::from_static(&[7; 16]),
            &ts(),
            Duration::from_millis(2_500),
        );
        assert_eq!(props.message_expiry_interval, Some(3));
        assert_eq!(props.payload_format_indicator, Some(1));
        assert_eq!(props.content_type.as_deref(), Some("application/json"));
        assert_eq!(
            props.response_topic.as_deref(),
            Some("clients/me/adr/dtmi:ms:adr:SchemaRegistry;2/get")
        );
        let names: Vec<_> = props
            .user_properties
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        assert_eq!(
            names,
            [
                "__srcId=me",
                "__ts=001777630530123:00000:node",
                "__protVer=1.0",
                "$partition=me",
                "$high_priority="
            ]
        );
    }

    #[test]
    fn response_envelope_orders_refusal_details() {
        let ok = response_properties("svc", None, &ts(), Some(5), None);
        let names: Vec<_> = ok.user_properties.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "__apErr",
                "__stat",
                "__protVer",
                "__srcId",
                "__ts",
                "$high_priority"
            ]
        );
        assert_eq!(
            (ok.content_type.as_deref(), ok.payload_format_indicator),
            (Some("application/json"), Some(1))
        );
        let refusal = Refusal {
            request_protocol_version: Some("2.0".into()),
            ..Refusal::new(505, "no").property("__protVer", Some("2.0".into()))
        };
        let refused = response_properties("svc", None, &ts(), None, Some(&refusal));
        let pairs: Vec<_> = refused
            .user_properties
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        assert_eq!(
            pairs[1..],
            [
                "__stat=505",
                "__protVer=1.0",
                "__srcId=svc",
                "__ts=001777630530123:00000:node",
                "__stMsg=no",
                "__propName=__protVer",
                "__propVal=2.0",
                "__supProtMajVer=1",
                "__requestProtVer=2.0",
                "$high_priority="
            ]
        );
        assert_eq!(refused.content_type, None);
    }

    #[test]
    fn expiry_rounds_up_and_hlc_form_is_checked() {
        assert_eq!(expiry_secs(Duration::ZERO), 1);
        assert_eq!(expiry_secs(Duration::from_secs(10)), 10);
        assert_eq!(expiry_secs(Duration::from_millis(10_001)), 11);
        assert_eq!(expiry_secs(Duration::MAX), u32::MAX);
        assert!(is_hlc("001696374425000:00000:node:x"));
        for bad in ["", "1:2", "a:0:n", ":0:n", "1::n"] {
            assert!(!is_hlc(bad), "{bad}");
        }
    }
}
