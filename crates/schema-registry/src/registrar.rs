//! [`schema::SchemaRegistrar`] for [`SchemaRegistryClient`]: how the runtime registers an
//! inferred message schema through AIO's `put`, with the embedded registry or AIO's.
//!
//! The request is a JSON Schema draft-07 `MessageSchema` with the runtime's `version` and
//! `displayName`; the request's `name` is not sent (the protocol's `put` has none: the
//! registry names the schema). The [`SchemaReference`] is read from the registry's reply,
//! which is authoritative: the namespace, name and version it stored.
//!
//! | client error | [`RegisterErrorKind`] |
//! |---|---|
//! | [`ErrorKind::Timeout`]; `__stat` 408 | `Timeout` |
//! | [`ErrorKind::Closed`], [`ErrorKind::Config`]; `__stat` 500 or 503; `{"error"}` with code ≥ 500 | `Unavailable` |
//! | `{"error"}` with code 400 and target `Version` | `VersionRefused` |
//! | `{"error"}` with another code < 500; any other `__stat`; [`ErrorKind::InvalidArgument`] | `Rejected` |
//! | [`ErrorKind::UnexpectedResponse`]; a reply without namespace, name or version | `InvalidResponse` |
//!
//! So exactly the errors that [`Error::is_retryable`] calls retryable, plus a closed or
//! unconfigured client, are retried by the runtime. The runtime only asks for versions from
//! [`schema::FIRST_VERSION`] to [`schema::MAX_VERSION`], which every AIO registry reads; a
//! refused version is then one the registry holds for other content (as Azure Device
//! Registry does: a version's content cannot change), and the runtime moves on to the next.

use schema::{
    FORMAT_JSON_SCHEMA_DRAFT_07, RegisterError, RegisterErrorKind, RegisterRequest,
    SchemaReference, SchemaRegistrar,
};

use crate::client::SchemaRegistryClient;
use crate::error::{Error, ErrorKind};
use crate::protocol::{PutRequest, Schema, SchemaType, error_code, target};

impl SchemaRegistrar for SchemaRegistryClient {
    /// `put`s the schema and returns where the registry stored it.
    ///
    /// # Errors
    /// See the module's table. Cancel safe as [`SchemaRegistryClient::put`].
    async fn register(&self, request: RegisterRequest) -> Result<SchemaReference, RegisterError> {
        let schema = self
            .put(put_request(request))
            .await
            .map_err(|e| register_error(&e))?;
        reference(schema)
    }
}

/// The `put` of `request`: JSON Schema draft-07, `MessageSchema`, its content, version and
/// display name (left out when empty).
fn put_request(request: RegisterRequest) -> PutRequest {
    PutRequest {
        display_name: Some(request.display_name).filter(|name| !name.is_empty()),
        format: FORMAT_JSON_SCHEMA_DRAFT_07.to_owned(),
        schema_content: request.content,
        schema_type: SchemaType::MessageSchema,
        version: request.version,
        ..PutRequest::default()
    }
}

/// The reference of the schema the registry stored.
fn reference(schema: Schema) -> Result<SchemaReference, RegisterError> {
    let missing = [
        ("namespace", schema.namespace.is_empty()),
        ("name", schema.name.is_empty()),
        ("version", schema.version.is_empty()),
    ];
    if let Some((what, _)) = missing.iter().find(|(_, empty)| *empty) {
        return Err(RegisterError::new(
            RegisterErrorKind::InvalidResponse,
            format!("the registry's schema has no {what}"),
        ));
    }
    Ok(SchemaReference {
        namespace: schema.namespace,
        name: schema.name,
        version: schema.version,
    })
}

/// The registrar's error for a client error (see the module's table).
fn register_error(error: &Error) -> RegisterError {
    let kind = match error.kind() {
        ErrorKind::Timeout => RegisterErrorKind::Timeout,
        ErrorKind::Status if error.status_code() == Some(408) => RegisterErrorKind::Timeout,
        ErrorKind::Closed | ErrorKind::Config => RegisterErrorKind::Unavailable,
        ErrorKind::UnexpectedResponse => RegisterErrorKind::InvalidResponse,
        ErrorKind::Registry
            if error.registry_error().is_some_and(|e| {
                e.code == error_code::BAD_REQUEST && e.target.as_deref() == Some(target::VERSION)
            }) =>
        {
            RegisterErrorKind::VersionRefused
        }
        ErrorKind::Status | ErrorKind::Registry if error.is_retryable() => {
            RegisterErrorKind::Unavailable
        }
        ErrorKind::Status
        | ErrorKind::Registry
        | ErrorKind::InvalidArgument
        | ErrorKind::Storage => RegisterErrorKind::Rejected,
    };
    RegisterError::new(kind, error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::RegistryError;

    #[test]
    fn the_put_is_a_draft_07_message_schema_with_version_and_display_name() {
        let request = RegisterRequest {
            content: r#"{"type":"object"}"#.into(),
            name: "ignored".into(),
            version: "2".into(),
            display_name: "asset/dataset".into(),
        };
        let put = put_request(request);
        assert_eq!(put.format, FORMAT_JSON_SCHEMA_DRAFT_07);
        assert_eq!(put.schema_type.as_str(), schema::SCHEMA_TYPE_MESSAGE);
        assert_eq!(put.schema_content, r#"{"type":"object"}"#);
        assert_eq!(put.version, "2");
        assert_eq!(put.display_name.as_deref(), Some("asset/dataset"));
        assert_eq!((put.description, put.tags), (None, None));
        let anonymous = put_request(RegisterRequest {
            display_name: String::new(),
            ..RegisterRequest::new(schema::infer(["{}"]).expect("JSON"), 1, "")
        });
        assert_eq!(anonymous.display_name, None);
    }

    #[test]
    fn the_reference_is_the_registrys() {
        let mut stored = Schema {
            description: None,
            display_name: None,
            format: FORMAT_JSON_SCHEMA_DRAFT_07.into(),
            hash: None,
            name: "assigned".into(),
            namespace: "ns".into(),
            schema_content: "{}".into(),
            schema_type: SchemaType::MessageSchema,
            tags: None,
            version: "3".into(),
        };
        let reference = reference(stored.clone()).expect("complete");
        assert_eq!(reference.to_string(), "aio-sr://ns/assigned:3");
        stored.namespace.clear();
        let error = super::reference(stored).expect_err("no namespace");
        assert_eq!(error.kind(), RegisterErrorKind::InvalidResponse);
    }

    #[test]
    fn errors_map_to_retryable_kinds_exactly_when_retrying_may_help() {
        use RegisterErrorKind as K;
        let cases = [
            (Error::new(ErrorKind::Timeout, "late"), K::Timeout),
            (Error::status("put", 408, "late"), K::Timeout),
            (Error::new(ErrorKind::Closed, "closed"), K::Unavailable),
            (Error::new(ErrorKind::Config, "tls"), K::Unavailable),
            (Error::status("put", 500, "failed"), K::Unavailable),
            (Error::status("put", 503, "busy"), K::Unavailable),
            (
                Error::registry("put", RegistryError::new(500, "disk", None)),
                K::Unavailable,
            ),
            (
                Error::registry("put", RegistryError::new(400, "taken", Some("Version"))),
                K::VersionRefused,
            ),
            (
                Error::registry("put", RegistryError::new(400, "bad", Some("SchemaContent"))),
                K::Rejected,
            ),
            (
                Error::registry("put", RegistryError::new(404, "gone", Some("Version"))),
                K::Rejected,
            ),
            (Error::status("put", 400, "no correlation"), K::Rejected),
            (Error::status("put", 415, "json"), K::Rejected),
            (Error::status("put", 505, "version"), K::Rejected),
            (Error::new(ErrorKind::InvalidArgument, "empty"), K::Rejected),
            (Error::new(ErrorKind::Storage, "disk"), K::Rejected),
            (
                Error::new(ErrorKind::UnexpectedResponse, "garbled"),
                K::InvalidResponse,
            ),
        ];
        for (error, kind) in cases {
            let mapped = register_error(&error);
            assert_eq!(mapped.kind(), kind, "{error}");
            assert!(mapped.to_string().ends_with(&error.to_string()), "{mapped}");
            if error.is_retryable() {
                assert!(mapped.is_retryable(), "{error}");
            }
        }
    }
}
