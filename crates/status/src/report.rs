//! [`StatusReport`]: everything `sse-connector status`, `GET /api/v1/status` and the status
//! files show. Devices and assets carry AIO's shapes (`status` as the registry writes it,
//! `health` as runtime health events carry it); `streams` and `problems` are ours.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::aio::{ConfigError, ConfigStatus, HealthStatus, MessageSchemaReference, RuntimeHealth};

/// The status of the connector and of everything it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusReport {
    /// The process.
    pub connector: ConnectorStatus,
    /// Every device named by a definition, by name.
    pub devices: Vec<DeviceStatus>,
    /// Every asset named by a definition, by name.
    pub assets: Vec<AssetStatus>,
    /// Every SSE connection, by URL.
    pub streams: Vec<StreamStatus>,
    /// Every problem found in the definitions (errors and warnings), in file order.
    pub problems: Vec<ProblemEntry>,
}

/// The process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorStatus {
    /// The connector's id (its MQTT client id).
    pub instance: String,
    /// The connector's version.
    pub version: String,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// When this report was made (RFC 3339).
    pub generated_at: String,
    /// The MQTT broker.
    pub broker: BrokerStatus,
    /// The definitions.
    pub registry: RegistryStatus,
    /// Where the state store and the schema registry run; absent until the runtime says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<ServicesStatus>,
}

/// Where the services the connector uses on the broker run, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicesStatus {
    /// The state store of `BrokerStateStore` destinations.
    pub state_store: ServiceStatus,
    /// The schema registry of inferred message schemas.
    pub schema_registry: ServiceStatus,
}

/// Where one service runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceStatus {
    /// `embedded` (the connector runs it on the broker), `external` (the broker's own
    /// answers) or `off`.
    pub mode: String,
    /// Why: `configured`, or what `auto` found (`auto: no answer from the broker within
    /// 2s`).
    pub reason: String,
}

/// The MQTT broker connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BrokerStatus {
    /// `mqtt://host:port` or `mqtts://host:port`.
    pub url: String,
    /// Whether the connection is up.
    pub connected: bool,
}

/// The definitions read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistryStatus {
    /// The definitions directory.
    pub directory: String,
    /// Definition files read.
    pub files: usize,
    /// Errors found (each makes its resource keep its last good version, or not run).
    pub errors: usize,
    /// Warnings.
    pub warnings: usize,
}

/// A device: its configuration status and the health of its inbound endpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceStatus {
    /// Its name.
    pub name: String,
    /// Its definition's `version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// Configuration status (AIO's `DeviceStatus`).
    pub status: DeviceConfigStatus,
    /// Runtime health.
    pub health: DeviceHealth,
}

/// AIO's device status: `config` and `endpoints.inbound.{name}.error`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceConfigStatus {
    /// The device's own status.
    pub config: ConfigStatus,
    /// Its endpoints'.
    pub endpoints: EndpointStatuses,
}

/// `endpoints` of a device status.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointStatuses {
    /// Inbound endpoints by name; one without an error is present and empty.
    pub inbound: BTreeMap<String, EndpointStatus>,
}

/// The status of one inbound endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointStatus {
    /// Why the endpoint cannot be used (credentials, TLS); absent when it can.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ConfigError>,
}

/// The health of a device's inbound endpoints.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceHealth {
    /// By endpoint name.
    pub endpoints: BTreeMap<String, RuntimeHealth>,
}

/// An asset: its configuration status and the health of its datasets and events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssetStatus {
    /// Its name.
    pub name: String,
    /// The device it reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// The device's inbound endpoint it reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Its definition's `version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// Configuration status (AIO's `AssetStatus`).
    pub status: AssetConfigStatus,
    /// Runtime health.
    pub health: AssetHealth,
}

/// AIO's asset status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssetConfigStatus {
    /// The asset's own status.
    pub config: ConfigStatus,
    /// Its datasets, in definition order.
    pub datasets: Vec<OperationStatus>,
    /// Its event groups, in definition order.
    pub event_groups: Vec<EventGroupStatus>,
}

/// The status of a dataset or an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationStatus {
    /// Its name.
    pub name: String,
    /// The message schema registered last for its payloads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_schema_reference: Option<MessageSchemaReference>,
    /// Why it does not run (a failure retrying cannot fix, a destination not available).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ConfigError>,
}

/// The status of an event group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventGroupStatus {
    /// Its name.
    pub name: String,
    /// Its events, in definition order.
    pub events: Vec<OperationStatus>,
}

/// The health of an asset: aggregated, and of each dataset and event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssetHealth {
    /// Aggregated from the parts: `Available` when all are, `Unavailable` when all are,
    /// `Degraded` when some are unavailable or degraded, `Unknown` when nothing is known.
    pub status: HealthStatus,
    /// When the parts were last evaluated (RFC 3339).
    pub last_update_time: String,
    /// Datasets.
    pub datasets: Vec<DatasetHealth>,
    /// Events.
    pub events: Vec<EventHealth>,
}

/// AIO's dataset health item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetHealth {
    /// The dataset.
    pub dataset_name: String,
    /// Its health.
    pub runtime_health: RuntimeHealth,
}

/// AIO's event health item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventHealth {
    /// The event group.
    pub event_group_name: String,
    /// The event.
    pub event_name: String,
    /// Its health.
    pub runtime_health: RuntimeHealth,
}

/// One SSE connection and how much flows through it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamStatus {
    /// The URL.
    pub url: String,
    /// `connecting`, `connected`, `backoff`, `failed` or `closed`.
    pub state: String,
    /// Our reason code when not connected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_code: Option<String>,
    /// Why, when not connected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The operations reading it (`asset/datasets/name`...).
    pub operations: Vec<String>,
    /// Events read.
    pub events: u64,
    /// Messages delivered (acknowledged by their destination).
    pub delivered: u64,
    /// Messages whose delivery failed.
    pub delivery_failures: u64,
    /// Reconnections.
    pub reconnects: u64,
    /// Events dropped: matched by no operation, destination not available, or too large.
    pub dropped: u64,
}

/// A problem in the definitions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProblemEntry {
    /// The file.
    pub file: String,
    /// `Kind/name`, or `document N`.
    pub resource: String,
    /// The field path, or `line L, column C`.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// `error` or `warning`.
    pub severity: String,
}

impl StatusReport {
    /// The device called `name`.
    pub fn device(&self, name: &str) -> Option<&DeviceStatus> {
        self.devices.iter().find(|d| d.name == name)
    }

    /// The asset called `name`.
    pub fn asset(&self, name: &str) -> Option<&AssetStatus> {
        self.assets.iter().find(|a| a.name == name)
    }
}

impl AssetStatus {
    /// The health of dataset `name`.
    pub fn dataset_health(&self, name: &str) -> Option<&RuntimeHealth> {
        self.health
            .datasets
            .iter()
            .find(|d| d.dataset_name == name)
            .map(|d| &d.runtime_health)
    }

    /// The health of event `event` of group `group`.
    pub fn event_health(&self, group: &str, event: &str) -> Option<&RuntimeHealth> {
        self.health
            .events
            .iter()
            .find(|e| e.event_group_name == group && e.event_name == event)
            .map(|e| &e.runtime_health)
    }

    /// The status of dataset `name`.
    pub fn dataset(&self, name: &str) -> Option<&OperationStatus> {
        self.status.datasets.iter().find(|d| d.name == name)
    }

    /// The status of event `event` of group `group`.
    pub fn event(&self, group: &str, event: &str) -> Option<&OperationStatus> {
        self.status
            .event_groups
            .iter()
            .find(|g| g.name == group)
            .and_then(|g| g.events.iter().find(|e| e.name == event))
    }
}
