//! [`SchemaRegistrar`]: how the runtime registers a schema, implemented by a schema registry
//! client (AIO's `adr/dtmi:ms:adr:SchemaRegistry;2/put`, or the embedded registry), and what
//! goes in and out: [`RegisterRequest`] and [`SchemaReference`].

use std::fmt;
use std::future::Future;

use crate::emit::Schema;
use crate::error::RegisterError;

/// `format` of every schema this crate makes (AIO's name for JSON Schema draft-07).
pub const FORMAT_JSON_SCHEMA_DRAFT_07: &str = "JsonSchema/draft-07";
/// `schemaType` of message schemas.
pub const SCHEMA_TYPE_MESSAGE: &str = "MessageSchema";

/// The version of an operation's first schema (the SDKs' default version).
pub const FIRST_VERSION: u32 = 1;
/// The highest version AIO's registry accepts: its reference says "Allowed between 0-9", and
/// AIO's stub service refuses a version that is not an integer from 0 to 9.
pub const MAX_VERSION: u32 = 9;

/// A schema to register for one data operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterRequest {
    /// The schema text (`schemaContent`): JSON Schema draft-07, canonical; its format is
    /// [`FORMAT_JSON_SCHEMA_DRAFT_07`] and its type [`SCHEMA_TYPE_MESSAGE`].
    pub content: String,
    /// The content's name ([`name_of`](crate::name_of): SHA-256 hex). AIO's put request has
    /// no name (the registry assigns it): a registry that names schemas by their content's
    /// hash gives this one; the [`SchemaReference`] returned is what counts.
    pub name: String,
    /// `version`: decimal digits, from [`FIRST_VERSION`] to [`MAX_VERSION`]. The runtime keeps
    /// one per content and operation, across restarts: the version the content had before, or
    /// the one after the highest the operation has used.
    pub version: String,
    /// The operation it describes, for people: `{asset}/{dataset}` or
    /// `{asset}/{event group}/{event}` (its CloudEvents `subject`); a `displayName`.
    pub display_name: String,
}

impl RegisterRequest {
    /// The request to register `schema` as `version` for the operation `display_name`.
    pub fn new(schema: Schema, version: u32, display_name: impl Into<String>) -> Self {
        Self {
            content: schema.content,
            name: schema.name,
            version: version.to_string(),
            display_name: display_name.into(),
        }
    }
}

/// Where a registered schema is: AIO's `MessageSchemaReference` (`schemaRegistryNamespace`,
/// `schemaName`, `schemaVersion`). Displayed as the CloudEvents `dataschema` value,
/// `aio-sr://{namespace}/{name}:{version}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SchemaReference {
    /// The registry's namespace.
    pub namespace: String,
    /// The schema's name.
    pub name: String,
    /// The schema's version.
    pub version: String,
}

impl fmt::Display for SchemaReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "aio-sr://{}/{}:{}",
            self.namespace, self.name, self.version
        )
    }
}

/// Registers schemas. The runtime calls [`register`](Self::register) on its own task (a
/// registration never holds a stream up) at most once at a time per operation, and uses the
/// reference from the next message on.
///
/// Putting the same content and version again is expected to be harmless (AIO's registry is
/// idempotent). A registrar reports a version the registry refuses as
/// [`VersionRefused`](crate::RegisterErrorKind::VersionRefused): the runtime then tries the
/// next one.
pub trait SchemaRegistrar: Clone + Send + Sync + 'static {
    /// Registers `request`; resolves to where it is.
    ///
    /// # Errors
    /// [`RegisterError`]: refused (the schema, or only its version), unreachable, late, or an
    /// answer not understood. Retryable kinds are tried again later by the runtime.
    ///
    /// # Cancel safety
    /// The future may be dropped (the stream stopped); the registration may then have
    /// happened or not.
    fn register(
        &self,
        request: RegisterRequest,
    ) -> impl Future<Output = Result<SchemaReference, RegisterError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_renders_as_dataschema() {
        let r = SchemaReference {
            namespace: "ns".into(),
            name: "abc".into(),
            version: "2".into(),
        };
        assert_eq!(r.to_string(), "aio-sr://ns/abc:2");
        let req = RegisterRequest::new(crate::infer(["{}"]).expect("JSON"), 3, "asset/dataset");
        assert_eq!(req.version, "3");
        assert_eq!(req.name, crate::name_of(&req.content));
    }
}
