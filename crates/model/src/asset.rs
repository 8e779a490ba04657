//! `Asset` (ARM `NamespaceAssetProperties`, stable 2026-11-01): what to read from a device
//! endpoint (datasets, event groups with events) and where to send it.
//!
//! Streams and management groups are part of the model and are kept, but this connector does
//! not act on them. Fields the model does not know are kept in `extra`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::destination::Destination;
use crate::extra::{Extra, impl_extras};

/// The `spec` of an `Asset` (the `properties` of its ARM form).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Asset {
    /// Globally unique id, set by the service; used in CloudEvents `aioassetref`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    /// Default `true`; a disabled asset contributes no data operations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// The asset's own id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_asset_id: Option<String>,
    /// Human-readable name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The device and inbound endpoint this asset reads from (required).
    pub device_ref: DeviceRef,
    /// Asset type references.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset_type_refs: Option<Vec<String>>,
    /// Incremented by the service on each modification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// Read-only, set by the service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
    /// Manufacturer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manufacturer: Option<String>,
    /// Manufacturer URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manufacturer_uri: Option<String>,
    /// Model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Product code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_code: Option<String>,
    /// Hardware revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardware_revision: Option<String>,
    /// Software revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_revision: Option<String>,
    /// Documentation URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub documentation_uri: Option<String>,
    /// Serial number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
    /// Custom attributes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<BTreeMap<String, Value>>,
    /// Discovered assets this one was created from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovered_asset_refs: Option<Vec<String>>,
    /// JSON (as a string) used by datasets that have no `datasetConfiguration`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_datasets_configuration: Option<String>,
    /// JSON (as a string) used by events that have no configuration of their own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_events_configuration: Option<String>,
    /// JSON (as a string) for streams; kept, not acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_streams_configuration: Option<String>,
    /// JSON (as a string) for management groups; kept, not acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_management_groups_configuration: Option<String>,
    /// Destination of datasets that name none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_datasets_destinations: Option<Vec<Destination>>,
    /// Destination of events whose event and group name none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_events_destinations: Option<Vec<Destination>>,
    /// Destination of streams; kept, not acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_streams_destinations: Option<Vec<Destination>>,
    /// Datasets: a stream whose events are all forwarded (optionally narrowed and projected).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datasets: Option<Vec<Dataset>>,
    /// Event groups: a stream whose events are matched to the group's events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_groups: Option<Vec<EventGroup>>,
    /// Streams; kept, not acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub streams: Option<Vec<Stream>>,
    /// Management groups; kept, not acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management_groups: Option<Vec<ManagementGroup>>,
    /// Read-only status written by the service; kept verbatim, never acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Value>,
    /// Read-only (ARM only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioning_state: Option<String>,
    /// Fields this model does not know, kept verbatim.
    #[serde(flatten)]
    pub extra: Extra,
}
impl_extras!(Asset {
    device_ref: "deviceRef",
    default_datasets_destinations: "defaultDatasetsDestinations",
    default_events_destinations: "defaultEventsDestinations",
    default_streams_destinations: "defaultStreamsDestinations",
    datasets: "datasets",
    event_groups: "eventGroups",
    streams: "streams",
    management_groups: "managementGroups",
});

impl Asset {
    /// Whether the asset is enabled (`enabled` defaults to `true`).
    pub fn is_enabled(&self) -> bool {
        self.enabled.unwrap_or(true)
    }
}

/// `deviceRef`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceRef {
    /// Name of a `Device`.
    pub device_name: String,
    /// Name of one of its inbound endpoints.
    pub endpoint_name: String,
    /// Fields this model does not know, kept verbatim.
    #[serde(flatten)]
    pub extra: Extra,
}
impl_extras!(DeviceRef {});

/// `NamespaceDataset`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Dataset {
    /// Unique within the asset.
    pub name: String,
    /// Path (or same-origin URL) of the stream, joined to the endpoint address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_source: Option<String>,
    /// Type reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub type_ref: Option<String>,
    /// JSON (as a string), e.g. `{"eventTypes": ["reading"]}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset_configuration: Option<String>,
    /// Where to send (only the first is used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destinations: Option<Vec<Destination>>,
    /// Optional projection of each event's JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_points: Option<Vec<DataPoint>>,
    /// Fields this model does not know, kept verbatim.
    #[serde(flatten)]
    pub extra: Extra,
}
impl_extras!(Dataset {
    destinations: "destinations",
    data_points: "dataPoints"
});

/// `NamespaceDatasetDataPoint`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataPoint {
    /// Key of the value in the projected payload.
    pub name: String,
    /// JSON Pointer (RFC 6901) into the event's JSON data.
    pub data_source: String,
    /// JSON (as a string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_point_configuration: Option<String>,
    /// Type reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub type_ref: Option<String>,
    /// Fields this model does not know, kept verbatim.
    #[serde(flatten)]
    pub extra: Extra,
}
impl_extras!(DataPoint {});

/// `NamespaceEventGroup`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventGroup {
    /// Unique within the asset.
    pub name: String,
    /// Path of the group's stream; empty or absent: the endpoint address itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_source: Option<String>,
    /// JSON (as a string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_group_configuration: Option<String>,
    /// Destination of events that name none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_destinations: Option<Vec<Destination>>,
    /// Type reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub type_ref: Option<String>,
    /// The events of this group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<Event>>,
    /// Fields this model does not know, kept verbatim.
    #[serde(flatten)]
    pub extra: Extra,
}
impl_extras!(EventGroup {
    default_destinations: "defaultDestinations",
    events: "events"
});

/// `NamespaceEvent`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// Unique within the group.
    pub name: String,
    /// The SSE event type to match, or (starting with `/`) a path with a stream of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_source: Option<String>,
    /// JSON (as a string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_configuration: Option<String>,
    /// Where to send (only the first is used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destinations: Option<Vec<Destination>>,
    /// Type reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub type_ref: Option<String>,
    /// Fields this model does not know, kept verbatim.
    #[serde(flatten)]
    pub extra: Extra,
}
impl_extras!(Event {
    destinations: "destinations"
});

/// `NamespaceStream`; kept, not acted on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stream {
    /// Unique within the asset.
    pub name: String,
    /// JSON (as a string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_configuration: Option<String>,
    /// Type reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub type_ref: Option<String>,
    /// Where to send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destinations: Option<Vec<Destination>>,
    /// Fields this model does not know, kept verbatim.
    #[serde(flatten)]
    pub extra: Extra,
}
impl_extras!(Stream {
    destinations: "destinations"
});

/// `ManagementGroup`; kept, not acted on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagementGroup {
    /// Unique within the asset.
    pub name: String,
    /// Data source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_source: Option<String>,
    /// JSON (as a string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management_group_configuration: Option<String>,
    /// Type reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub type_ref: Option<String>,
    /// Default MQTT topic of the actions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_topic: Option<String>,
    /// Default action timeout (the model's default is 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_timeout_in_seconds: Option<u64>,
    /// Actions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actions: Option<Vec<ManagementAction>>,
    /// Fields this model does not know, kept verbatim.
    #[serde(flatten)]
    pub extra: Extra,
}
impl_extras!(ManagementGroup { actions: "actions" });

/// `ManagementAction`; kept, not acted on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagementAction {
    /// Unique within the group.
    pub name: String,
    /// JSON (as a string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_configuration: Option<String>,
    /// Target of the action (required).
    pub target_uri: String,
    /// Type reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub type_ref: Option<String>,
    /// MQTT topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// `Call` (default), `Read` or `Write`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_type: Option<String>,
    /// Timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_in_seconds: Option<u64>,
    /// Fields this model does not know, kept verbatim.
    #[serde(flatten)]
    pub extra: Extra,
}
impl_extras!(ManagementAction {});
