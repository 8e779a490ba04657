//! The Azure Device Registry (ADR) service's wire format, from its DTDL
//! (`dtmi:com:microsoft:akri:AdrBaseService;1`): command and telemetry topics, request and
//! response payloads, the service's error, and the edge runtime health shape.
//!
//! Definitions (`Device`, `Asset`) are kept as JSON here: [`crate::definitions`] turns them
//! into the model, with every problem reported the way a YAML file's would be. Status
//! payloads are the `status` crate's AIO shapes, which are the DTDL's.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use status::report::{AssetConfigStatus, DeviceConfigStatus};

/// The content type of every request, response and telemetry message.
pub const CONTENT_TYPE: &str = "application/json";

/// The payload format indicator of UTF-8 payloads.
pub const PAYLOAD_FORMAT_UTF8: u8 = 1;

/// The protocol version of the envelope (`__protVer`).
pub const PROTOCOL_VERSION: &str = "1.0";

/// The commands the connector invokes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// `getDevice`: the device, with only the named inbound endpoint.
    GetDevice,
    /// `getDeviceStatus`.
    GetDeviceStatus,
    /// `updateDeviceStatus`.
    UpdateDeviceStatus,
    /// `setNotificationPreferenceForDeviceUpdates`.
    SetDeviceNotifications,
    /// `getAsset`.
    GetAsset,
    /// `getAssetStatus`.
    GetAssetStatus,
    /// `updateAssetStatus`.
    UpdateAssetStatus,
    /// `setNotificationPreferenceForAssetUpdates`.
    SetAssetNotifications,
}

impl Command {
    /// Every command.
    pub const ALL: [Self; 8] = [
        Self::GetDevice,
        Self::GetDeviceStatus,
        Self::UpdateDeviceStatus,
        Self::SetDeviceNotifications,
        Self::GetAsset,
        Self::GetAssetStatus,
        Self::UpdateAssetStatus,
        Self::SetAssetNotifications,
    ];

    /// The DTDL's command name (the last topic level).
    pub fn name(self) -> &'static str {
        match self {
            Self::GetDevice => "getDevice",
            Self::GetDeviceStatus => "getDeviceStatus",
            Self::UpdateDeviceStatus => "updateDeviceStatus",
            Self::SetDeviceNotifications => "setNotificationPreferenceForDeviceUpdates",
            Self::GetAsset => "getAsset",
            Self::GetAssetStatus => "getAssetStatus",
            Self::UpdateAssetStatus => "updateAssetStatus",
            Self::SetAssetNotifications => "setNotificationPreferenceForAssetUpdates",
        }
    }

    /// The name of the response's success field.
    pub fn ok_field(self) -> &'static str {
        match self {
            Self::GetDevice => "device",
            Self::GetDeviceStatus => "deviceStatus",
            Self::UpdateDeviceStatus => "updatedDeviceStatus",
            Self::GetAsset => "asset",
            Self::GetAssetStatus => "assetStatus",
            Self::UpdateAssetStatus => "updatedAssetStatus",
            Self::SetDeviceNotifications | Self::SetAssetNotifications => "responsePayload",
        }
    }

    /// The name of the response's error field (`getDeviceError`, ...).
    pub fn error_field(self) -> String {
        format!("{}Error", self.name())
    }

    /// `akri/connector/resources/{connectorClientId}/{deviceName}/{inboundEndpointName}/{command}`.
    pub fn topic(self, client_id: &str, device: &str, endpoint: &str) -> String {
        format!(
            "akri/connector/resources/{client_id}/{device}/{endpoint}/{}",
            self.name()
        )
    }
}

/// The response topic of a request topic: `clients/{clientId}/{requestTopic}`, the SDKs'
/// default.
pub fn response_topic(client_id: &str, request_topic: &str) -> String {
    format!("clients/{client_id}/{request_topic}")
}

/// The filter every response to `client_id` matches.
pub fn response_filter(client_id: &str) -> String {
    format!("clients/{client_id}/akri/connector/resources/{client_id}/+/+/+")
}

/// The telemetry the service sends and the connector publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Telemetry {
    /// `deviceUpdateEvent` (received).
    DeviceUpdate,
    /// `assetUpdateEvent` (received).
    AssetUpdate,
    /// `deviceEndpointRuntimeHealthEvent` (sent).
    EndpointHealth,
    /// `datasetRuntimeHealthEvent` (sent).
    DatasetHealth,
    /// `eventRuntimeHealthEvent` (sent).
    EventHealth,
}

impl Telemetry {
    /// The DTDL's telemetry name: the last topic level and the payload's one field.
    pub fn name(self) -> &'static str {
        match self {
            Self::DeviceUpdate => "deviceUpdateEvent",
            Self::AssetUpdate => "assetUpdateEvent",
            Self::EndpointHealth => "deviceEndpointRuntimeHealthEvent",
            Self::DatasetHealth => "datasetRuntimeHealthEvent",
            Self::EventHealth => "eventRuntimeHealthEvent",
        }
    }

    /// `akri/connector/resources/telemetry/{connectorClientId}/{device}/{endpoint}/{name}`.
    pub fn topic(self, client_id: &str, device: &str, endpoint: &str) -> String {
        format!(
            "akri/connector/resources/telemetry/{client_id}/{device}/{endpoint}/{}",
            self.name()
        )
    }

    /// The filter of this telemetry for every device endpoint of `client_id`.
    pub fn filter(self, client_id: &str) -> String {
        self.topic(client_id, "+", "+")
    }

    /// The device and endpoint of a topic of this telemetry for `client_id`.
    pub fn parse_topic<'a>(self, client_id: &str, topic: &'a str) -> Option<(&'a str, &'a str)> {
        let rest = topic
            .strip_prefix("akri/connector/resources/telemetry/")?
            .strip_prefix(client_id)?
            .strip_prefix('/')?
            .strip_suffix(self.name())?
            .strip_suffix('/')?;
        let (device, endpoint) = rest.split_once('/')?;
        (!device.is_empty() && !endpoint.is_empty() && !endpoint.contains('/'))
            .then_some((device, endpoint))
    }
}

/// `AkriServiceError`: why the service refused a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceError {
    /// `BadRequest`, `KubeError`, `InternalError`, `SerializationError`, `Unauthorized`.
    pub code: String,
    /// For people.
    pub message: String,
    /// When (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
}

/// `NotificationPreference`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NotificationPreference {
    /// Send update events.
    On,
    /// Do not.
    Off,
}

/// The request of `getAsset`, `getAssetStatus`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AssetName<'a> {
    /// The asset.
    pub asset_name: &'a str,
}

/// The request of `updateDeviceStatus`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceStatusUpdate<'a> {
    /// The whole status: fields left out are removed.
    pub device_status_update: &'a DeviceConfigStatus,
}

/// The request of `updateAssetStatus`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AssetStatusUpdate<'a> {
    /// The asset and its whole status.
    pub asset_status_update: AssetStatusOf<'a>,
}

/// The asset and its status, in [`AssetStatusUpdate`].
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AssetStatusOf<'a> {
    /// The asset.
    pub asset_name: &'a str,
    /// Its status.
    pub asset_status: &'a AssetConfigStatus,
}

/// The request of `setNotificationPreferenceForDeviceUpdates`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceNotifications {
    /// On or off.
    pub notification_preference_request: NotificationPreference,
}

/// The request of `setNotificationPreferenceForAssetUpdates`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AssetNotifications<'a> {
    /// The asset and the preference.
    pub notification_preference_request: AssetPreference<'a>,
}

/// The asset and the preference, in [`AssetNotifications`].
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AssetPreference<'a> {
    /// The asset.
    pub asset_name: &'a str,
    /// On or off.
    pub notification_preference: NotificationPreference,
}

/// `deviceUpdateEvent`'s payload field.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceUpdate {
    /// The device.
    pub device_name: String,
    /// Its new definition.
    pub device: Value,
}

/// `assetUpdateEvent`'s payload field.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssetUpdate {
    /// The asset.
    pub asset_name: String,
    /// Its new definition.
    pub asset: Value,
}

/// `RuntimeHealth` as the edge reports it: `Available` or `Unavailable`, with the version of
/// the definition it is about (required).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EdgeHealth {
    /// `Available` or `Unavailable`.
    pub status: EdgeHealthStatus,
    /// AIO's reason code; only when unavailable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_code: Option<String>,
    /// Why, for people; only when unavailable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When it was last evaluated (RFC 3339).
    pub last_update_time: String,
    /// The definition's version.
    pub version: u64,
}

/// The two states the edge reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EdgeHealthStatus {
    /// Working.
    Available,
    /// Not working.
    Unavailable,
}

/// `deviceEndpointRuntimeHealthEvent`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointHealthEvent<'a> {
    /// The payload.
    pub device_endpoint_runtime_health_event: EndpointHealthBody<'a>,
}

/// The body of [`EndpointHealthEvent`].
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointHealthBody<'a> {
    /// The endpoint's health.
    pub runtime_health: &'a EdgeHealth,
}

/// `datasetRuntimeHealthEvent`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetHealthEvent<'a> {
    /// The payload.
    pub dataset_runtime_health_event: DatasetHealthBody<'a>,
}

/// The body of [`DatasetHealthEvent`].
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetHealthBody<'a> {
    /// The asset.
    pub asset_name: &'a str,
    /// Its datasets.
    pub datasets: Vec<DatasetHealthItem<'a>>,
}

/// One dataset of [`DatasetHealthBody`].
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetHealthItem<'a> {
    /// The dataset.
    pub dataset_name: &'a str,
    /// Its health.
    pub runtime_health: &'a EdgeHealth,
}

/// `eventRuntimeHealthEvent`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventHealthEvent<'a> {
    /// The payload.
    pub event_runtime_health_event: EventHealthBody<'a>,
}

/// The body of [`EventHealthEvent`].
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventHealthBody<'a> {
    /// The asset.
    pub asset_name: &'a str,
    /// Its events.
    pub events: Vec<EventHealthItem<'a>>,
}

/// One event of [`EventHealthBody`].
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventHealthItem<'a> {
    /// The event group.
    pub event_group_name: &'a str,
    /// The event.
    pub event_name: &'a str,
    /// Its health.
    pub runtime_health: &'a EdgeHealth,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_follow_the_dtdl() {
        assert_eq!(
            Command::GetAsset.topic("conn-0", "dev", "ep-1"),
            "akri/connector/resources/conn-0/dev/ep-1/getAsset"
        );
        assert_eq!(
            Command::UpdateAssetStatus.error_field(),
            "updateAssetStatusError"
        );
        let topic = Telemetry::AssetUpdate.topic("conn-0", "dev", "ep_1");
        assert_eq!(
            topic,
            "akri/connector/resources/telemetry/conn-0/dev/ep_1/assetUpdateEvent"
        );
        assert_eq!(
            Telemetry::AssetUpdate.parse_topic("conn-0", &topic),
            Some(("dev", "ep_1"))
        );
        assert_eq!(Telemetry::DeviceUpdate.parse_topic("conn-0", &topic), None);
        assert_eq!(Telemetry::AssetUpdate.parse_topic("conn-1", &topic), None);
    }

    #[test]
    fn requests_are_the_dtdl_payloads() {
        let asset = serde_json::to_value(AssetNotifications {
            notification_preference_request: AssetPreference {
                asset_name: "a",
                notification_preference: NotificationPreference::On,
            },
        })
        .expect("json");
        assert_eq!(
            asset,
            serde_json::json!({"notificationPreferenceRequest": {"assetName": "a", "notificationPreference": "On"}})
        );
        let device = serde_json::to_value(DeviceNotifications {
            notification_preference_request: NotificationPreference::Off,
        })
        .expect("json");
        assert_eq!(
            device,
            serde_json::json!({"notificationPreferenceRequest": "Off"})
        );
    }
}
