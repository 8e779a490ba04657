//! AIO's status shapes, as the Azure Device Registry writes them on a device or asset
//! (`status.config`, per-component `error`, `messageSchemaReference`) and as runtime health
//! events carry them (`runtimeHealth`). Field names and casing are AIO's.

use serde::{Deserialize, Serialize};

/// `status.config`: which definition version the status is about, and its error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigStatus {
    /// The definition's `version` (the spec the status describes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// When the error last appeared, changed or cleared (RFC 3339).
    pub last_transition_time: String,
    /// The error only a definition change can fix; absent when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ConfigError>,
}

/// AIO's `ConfigError`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigError {
    /// A stable code: the HTTP status (`"401"`) or our reason code (`invalid_definition`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// What is wrong and what to do, for people. Never holds a secret's value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Each underlying problem, when there are several.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<ErrorDetail>,
}

impl ConfigError {
    /// An error with a code and a message.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: Some(code.into()),
            message: Some(message.into()),
            details: Vec::new(),
        }
    }
}

/// One item of [`ConfigError::details`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetail {
    /// A stable code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The problem, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Where: the file and field path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<String>,
}

/// `messageSchemaReference` of a dataset or event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageSchemaReference {
    /// The schema registry's namespace.
    pub schema_registry_namespace: String,
    /// The schema's name.
    pub schema_name: String,
    /// The schema's version.
    pub schema_version: String,
}

/// A health state. The edge reports `Available` and `Unavailable`; `Degraded` marks a part
/// that works with a fault (a schema that cannot be generated), and `Unknown` a part with
/// nothing to report yet (connecting, or read by no asset).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum HealthStatus {
    /// Working.
    Available,
    /// Working, with a fault.
    Degraded,
    /// Not working.
    Unavailable,
    /// Nothing known yet.
    Unknown,
}

impl HealthStatus {
    /// The name AIO uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Available => "Available",
            Self::Degraded => "Degraded",
            Self::Unavailable => "Unavailable",
            Self::Unknown => "Unknown",
        }
    }
}

/// `runtimeHealth`: the health of one part, with AIO's reason code when it is not available.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeHealth {
    /// The state.
    pub status: HealthStatus,
    /// AIO's reason code (`SseConnectorStreamError`, `SseConnectorStreamClosed`,
    /// `SseConnectorSchemaGenerationFailure`); absent when available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_code: Option<String>,
    /// Why, for people; absent when available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When the state last changed (RFC 3339).
    pub last_transition_time: String,
    /// When it was last evaluated (RFC 3339).
    pub last_update_time: String,
    /// The definition's `version` it is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
}

/// AIO's health reason codes of the SSE connector.
pub mod reason {
    /// The stream failed or is reconnecting.
    pub const STREAM_ERROR: &str = "SseConnectorStreamError";
    /// The server closed the stream (HTTP 204).
    pub const STREAM_CLOSED: &str = "SseConnectorStreamClosed";
    /// A message schema could not be generated or registered.
    pub const SCHEMA_GENERATION_FAILURE: &str = "SseConnectorSchemaGenerationFailure";
    /// Ours: the operation's transform failed (trap, timeout, error, or it cannot load); its
    /// events followed `onError`.
    pub const TRANSFORM_ERROR: &str = supervisor::TRANSFORM_ERROR;
    /// Ours (AIO has none for it): a delivery to the operation's destination failed and is
    /// being retried; the stream waits.
    pub const DELIVERY_ERROR: &str = supervisor::DELIVERY_ERROR;
}
