//! [`RegisteredSchema`]: a schema version as a registry holds and returns it (AIO's `Schema`
//! object). The schema registry's protocol sends it and the HTTP API serves it, so both use
//! this one type and the API shows exactly what the registry returns.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::registrar::SCHEMA_TYPE_MESSAGE;

/// The kind of schema; AIO's registry protocol knows one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SchemaType {
    /// The schema of a message payload.
    #[default]
    MessageSchema,
}

impl SchemaType {
    /// The wire text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MessageSchema => SCHEMA_TYPE_MESSAGE,
        }
    }
}

/// A registered schema version. Serializes as the registry's `Schema` object: camelCase
/// members in alphabetical order, absent ones left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisteredSchema {
    /// Human-readable description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Human-readable name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Format of the content, e.g. `JsonSchema/draft-07`.
    pub format: String,
    /// Hash of the content (the embedded registry: SHA-256 of the canonical content, hex).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    /// Name assigned by the registry.
    pub name: String,
    /// The registry's namespace.
    pub namespace: String,
    /// The schema document, as text.
    pub schema_content: String,
    /// Kind of schema.
    pub schema_type: SchemaType,
    /// User-defined tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
    /// Version.
    pub version: String,
}

impl RegisteredSchema {
    /// `aio-sr://{namespace}/{name}:{version}`: the `dataschema` of messages that follow it.
    pub fn reference(&self) -> String {
        format!("aio-sr://{}/{}:{}", self.namespace, self.name, self.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_as_the_registrys_object() {
        let schema = RegisteredSchema {
            format: "JsonSchema/draft-07".into(),
            name: "n".into(),
            namespace: "ns".into(),
            schema_content: "{}".into(),
            version: "1".into(),
            ..RegisteredSchema::default()
        };
        assert_eq!(
            serde_json::to_string(&schema).expect("json"),
            r#"{"format":"JsonSchema/draft-07","name":"n","namespace":"ns","schemaContent":"{}","schemaType":"MessageSchema","version":"1"}"#
        );
        assert_eq!(schema.reference(), "aio-sr://ns/n:1");
    }
}
