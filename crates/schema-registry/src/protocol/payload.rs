//! The JSON payloads of the schema registry's commands: members in alphabetical order, optional
//! ones omitted, as the SDKs' generated types serialize them.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::format;

/// A registered schema version, as the registry returns it: the type the HTTP API serves too.
pub use schema::RegisteredSchema as Schema;
/// The kind of schema; the protocol knows one.
pub use schema::SchemaType;

/// The `put` request: register `schemaContent` as version `version`.
///
/// Members in alphabetical order, optional ones omitted when absent (the SDKs omit empty
/// tags too; [`PutRequest::json_schema`] and the client do the same).
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
    /// HTTP-like code: see [`error_code`](super::error_code).
    pub code: i32,
    /// More details (boxed: rarely there, and it keeps `Result<_, RegistryError>` small).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Box<ErrorDetails>>,
    /// A nested error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inner_error: Option<Box<ErrorDetails>>,
    /// Message for people.
    pub message: String,
    /// The request member it is about: see [`target`](super::target).
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::target;

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
}
