//! `Device` (ARM `NamespaceDeviceProperties`, stable 2026-11-01): the thing the connector
//! talks to, with its inbound endpoints, their authentication and trust settings.
//!
//! Every field of the model is here, including the ones this connector does not act on, so a
//! definition read and written back loses nothing; fields the model does not know are kept in
//! `extra`.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::extra::{Extra, impl_extras};

/// The `spec` of a `Device` (the `properties` of its ARM form).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    /// Globally unique id, set by the service; used in CloudEvents `aiodeviceref`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    /// Default `true`; a disabled device contributes no data operations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// The device's own id; used in CloudEvents `source` when it differs from `uuid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_device_id: Option<String>,
    /// Reference to the discovered device this one was created from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovered_device_ref: Option<String>,
    /// Manufacturer name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manufacturer: Option<String>,
    /// Model name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Operating system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operating_system: Option<String>,
    /// Operating system version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operating_system_version: Option<String>,
    /// Inbound (what connectors read) and outbound endpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoints: Option<Endpoints>,
    /// Custom attributes (any JSON in ARM, strings on the edge).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<BTreeMap<String, Value>>,
    /// Incremented by the service on each modification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// Read-only, set by the service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
    /// Read-only (ARM only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioning_state: Option<String>,
    /// Read-only status written by the service; kept verbatim, never acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Value>,
    /// Fields this model does not know, kept verbatim.
    #[serde(flatten)]
    pub extra: Extra,
}
impl_extras!(Device {
    endpoints: "endpoints"
});

impl Device {
    /// The inbound endpoint of that name, if any.
    pub fn inbound(&self, name: &str) -> Option<&InboundEndpoint> {
        self.endpoints.as_ref()?.inbound.as_ref()?.get(name)
    }

    /// Whether the device is enabled (`enabled` defaults to `true`).
    pub fn is_enabled(&self) -> bool {
        self.enabled.unwrap_or(true)
    }
}

/// `MessagingEndpoints`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoints {
    /// Endpoints connectors read from, by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inbound: Option<BTreeMap<String, InboundEndpoint>>,
    /// Endpoints the device sends to; kept, not acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbound: Option<OutboundEndpoints>,
    /// Fields this model does not know, kept verbatim.
    #[serde(flatten)]
    pub extra: Extra,
}
impl_extras!(Endpoints {
    inbound: "inbound",
    outbound: "outbound"
});

/// `InboundEndpoints`: one endpoint a connector reads from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InboundEndpoint {
    /// For this connector `Microsoft.SSEHttp` (case-insensitive; alias `Microsoft.Sse`).
    pub endpoint_type: String,
    /// Base URL, e.g. `https://sse-server.example:443/base-path`.
    pub address: String,
    /// Protocol version; a bare YAML number such as `1.0` is accepted and kept as text.
    #[serde(
        default,
        deserialize_with = "string_or_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub version: Option<String>,
    /// How to authenticate; absent means `Anonymous` (the edge model's rule).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<Authentication>,
    /// Extra CAs to trust.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_settings: Option<TrustSettings>,
    /// Connector-specific JSON, as a string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_configuration: Option<String>,
    /// Fields this model does not know, kept verbatim.
    #[serde(flatten)]
    pub extra: Extra,
}
impl_extras!(InboundEndpoint {
    authentication: "authentication",
    trust_settings: "trustSettings",
});

/// Authentication method names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Method {
    /// No credentials.
    #[default]
    Anonymous,
    /// HTTP Basic with a username and a password secret.
    UsernamePassword,
    /// A TLS client certificate (mTLS).
    Certificate,
}

/// `HostAuthentication`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Authentication {
    /// Which credentials are used.
    pub method: Method,
    /// For `UsernamePassword`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username_password_credentials: Option<UsernamePasswordCredentials>,
    /// For `Certificate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x509_credentials: Option<X509Credentials>,
    /// Fields this model does not know, kept verbatim.
    #[serde(flatten)]
    pub extra: Extra,
}
impl_extras!(Authentication {
    username_password_credentials: "usernamePasswordCredentials",
    x509_credentials: "x509Credentials",
});

/// Secret names (relative paths in the secrets directory) of a username and a password.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsernamePasswordCredentials {
    /// Secret holding the username, e.g. `sse-creds/username`.
    pub username_secret_name: String,
    /// Secret holding the password, e.g. `sse-creds/password`.
    pub password_secret_name: String,
    /// Fields this model does not know, kept verbatim.
    #[serde(flatten)]
    pub extra: Extra,
}
impl_extras!(UsernamePasswordCredentials {});

/// `X509CertificateCredentials`: secret names of a client certificate chain and key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct X509Credentials {
    /// Secret holding the PEM client certificate. Required by the model; optional here so that
    /// its absence is reported by validation with the other problems.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_secret_name: Option<String>,
    /// Secret holding the PEM private key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_secret_name: Option<String>,
    /// Secret holding PEM intermediate certificates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intermediate_certificates_secret_name: Option<String>,
    /// Fields this model does not know, kept verbatim.
    #[serde(flatten)]
    pub extra: Extra,
}
impl_extras!(X509Credentials {});

/// `trustSettings`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrustSettings {
    /// Name of a trust list: a directory of PEM files in the trust directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_list: Option<String>,
    /// Fields this model does not know, kept verbatim.
    #[serde(flatten)]
    pub extra: Extra,
}
impl_extras!(TrustSettings {});

/// `outbound`: endpoints the device sends to. Kept, not acted on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboundEndpoints {
    /// Endpoints assigned to the device.
    #[serde(default)]
    pub assigned: BTreeMap<String, OutboundEndpoint>,
    /// Endpoints not assigned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unassigned: Option<BTreeMap<String, OutboundEndpoint>>,
    /// Fields this model does not know, kept verbatim.
    #[serde(flatten)]
    pub extra: Extra,
}
impl_extras!(OutboundEndpoints {
    assigned: "assigned",
    unassigned: "unassigned"
});

/// One outbound endpoint.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboundEndpoint {
    /// Where the device sends.
    pub address: String,
    /// Endpoint type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_type: Option<String>,
    /// Fields this model does not know, kept verbatim.
    #[serde(flatten)]
    pub extra: Extra,
}
impl_extras!(OutboundEndpoint {});

/// Accepts a string, or a number that YAML read from an unquoted `1.0`, as text.
fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(serde::de::Error::custom(format!(
            "expected a string, found {other}"
        ))),
    }
}
