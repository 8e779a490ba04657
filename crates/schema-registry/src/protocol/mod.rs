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
//!
//! # Layout
//! - this module: topics, names and codes of the protocol, the two [`Command`]s.
//! - `payload`: the JSON payloads of requests and responses ([`PutRequest`],
//!   [`ResponsePayload`], [`RegistryError`]...).
//! - `envelope`: the MQTT properties of requests and responses, in the SDKs' order, and the
//!   [`Refusal`] a non-200 response carries.

mod envelope;
mod payload;

pub use envelope::{
    Refusal, expiry_secs, find_property, is_hlc, is_valid_response_topic, request_properties,
    response_properties,
};
pub use payload::{
    ErrorDetails, GetRequest, PutRequest, RegistryError, ResponsePayload, Schema, SchemaType,
    to_json,
};

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
