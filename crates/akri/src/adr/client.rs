//! [`AdrClient`]: the connector's side of the device registry service, over its own MQTT v5
//! connection: the commands of the DTDL, the update events, and the runtime health events.
//!
//! A thin typed layer over [`aio_mqtt::rpc::CommandClient`], which owns the connection, keeps
//! the response filter and the update event filters subscribed, and checks every response's
//! `__stat` and content type. The update events arrive on the [`Notification`] channel
//! returned by [`AdrClient::start`].

use aio_mqtt::MqttConfig;
use aio_mqtt::hlc::HlcTimestamp;
use aio_mqtt::rpc::{CommandClient, CommandSet, OutgoingRequest};
use bytes::Bytes;
use rumqttc::v5::mqttbytes::v5::{Publish, PublishProperties};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use status::report::{AssetConfigStatus, DeviceConfigStatus};
use tokio::sync::mpsc;

use super::error::AdrError;
use super::protocol::{
    self, AssetName, AssetNotifications, AssetPreference, AssetStatusOf, AssetStatusUpdate,
    AssetUpdate, CONTENT_TYPE, Command, DeviceNotifications, DeviceStatusUpdate, DeviceUpdate,
    NotificationPreference, PAYLOAD_FORMAT_UTF8, PROTOCOL_VERSION, ServiceError, Telemetry,
};

/// How long a health event may wait in the broker (the SDK's: the registry timeout).
const HEALTH_EXPIRY_SECS: u32 = 10;

/// An update event from the service.
#[derive(Debug, Clone)]
pub enum Notification {
    /// A device changed (`deviceUpdateEvent`).
    Device {
        /// The device.
        device: String,
        /// The inbound endpoint of the topic.
        endpoint: String,
        /// The new definition.
        definition: Value,
    },
    /// An asset changed (`assetUpdateEvent`).
    Asset {
        /// The device of the topic.
        device: String,
        /// The inbound endpoint of the topic.
        endpoint: String,
        /// The asset.
        asset: String,
        /// The new definition.
        definition: Value,
    },
}

/// The device registry's command set.
#[derive(Debug)]
pub(crate) struct Adr {
    notifications: mpsc::UnboundedSender<Notification>,
}

impl CommandSet for Adr {
    const SERVICE: &'static str = "device registry";

    fn response_topics(&self, client_id: &str) -> Vec<String> {
        vec![protocol::response_filter(client_id)]
    }

    fn accepts_content_type(content_type: &str) -> bool {
        content_type
            .strip_prefix(CONTENT_TYPE)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['+', ';']))
    }

    fn other_topics(&self, client_id: &str) -> Vec<String> {
        [Telemetry::DeviceUpdate, Telemetry::AssetUpdate]
            .map(|t| t.filter(client_id))
            .to_vec()
    }

    fn on_other(&self, client: &CommandClient<Self>, publish: Publish) {
        let topic = String::from_utf8_lossy(&publish.topic);
        match read_notification(client.client_id(), &topic, &publish.payload) {
            Ok(Some(notification)) => {
                let _ = self.notifications.send(notification);
            }
            Ok(None) => {}
            Err(what) => tracing::warn!(%topic, "ignored an update event: {what}"),
        }
    }
}

/// The update event of a PUBLISH on `topic`, if it is one.
pub(crate) fn read_notification(
    client_id: &str,
    topic: &str,
    payload: &[u8],
) -> Result<Option<Notification>, String> {
    let field = |telemetry: Telemetry| -> Result<Value, String> {
        let mut outer: Map<String, Value> = serde_json::from_slice(payload)
            .map_err(|e| format!("the payload is not a JSON object: {e}"))?;
        outer
            .remove(telemetry.name())
            .ok_or_else(|| format!("the payload has no {:?}", telemetry.name()))
    };
    if let Some((device, endpoint)) = Telemetry::DeviceUpdate.parse_topic(client_id, topic) {
        let update: DeviceUpdate = serde_json::from_value(field(Telemetry::DeviceUpdate)?)
            .map_err(|e| format!("deviceUpdateEvent: {e}"))?;
        if update.device_name != device {
            return Err(format!(
                "deviceUpdateEvent names device {:?} on the topic of {device:?}",
                update.device_name
            ));
        }
        return Ok(Some(Notification::Device {
            device: device.to_owned(),
            endpoint: endpoint.to_owned(),
            definition: update.device,
        }));
    }
    if let Some((device, endpoint)) = Telemetry::AssetUpdate.parse_topic(client_id, topic) {
        let update: AssetUpdate = serde_json::from_value(field(Telemetry::AssetUpdate)?)
            .map_err(|e| format!("assetUpdateEvent: {e}"))?;
        return Ok(Some(Notification::Asset {
            device: device.to_owned(),
            endpoint: endpoint.to_owned(),
            asset: update.asset_name,
            definition: update.asset,
        }));
    }
    Ok(None)
}

/// A device registry client; cheap to clone (clones share the connection). Dropping the last
/// clone ends the connection.
#[derive(Debug, Clone)]
pub struct AdrClient {
    client: CommandClient<Adr>,
}

aio_mqtt::command_client_handle!(AdrClient);

impl AdrClient {
    /// Validates `config` and connects in the background. `config.client_id` is the one the
    /// service authorizes and the topics carry (`{connectorClientId}`). Update events arrive
    /// on the receiver.
    ///
    /// # Errors
    /// [`AdrError::Command`] for an invalid setting or outside a tokio runtime.
    pub fn start(
        config: MqttConfig,
    ) -> Result<(Self, mpsc::UnboundedReceiver<Notification>), AdrError> {
        let (tx, rx) = mpsc::unbounded_channel();
        let client = CommandClient::start(config, Adr { notifications: tx })?;
        Ok((Self { client }, rx))
    }

    /// `getDevice`: the device, with only `endpoint` among its inbound endpoints.
    ///
    /// # Errors
    /// [`AdrError`]; the service's refusal of an unknown device is [`AdrError::Refused`].
    pub async fn get_device(&self, device: &str, endpoint: &str) -> Result<Value, AdrError> {
        self.invoke(Command::GetDevice, device, endpoint, None)
            .await
    }

    /// `getDeviceStatus`.
    ///
    /// # Errors
    /// [`AdrError`].
    pub async fn get_device_status(&self, device: &str, endpoint: &str) -> Result<Value, AdrError> {
        self.invoke(Command::GetDeviceStatus, device, endpoint, None)
            .await
    }

    /// `updateDeviceStatus`: replaces the device's status (fields left out are removed; the
    /// endpoint's entry is added or updated). Returns the status stored.
    ///
    /// # Errors
    /// [`AdrError`].
    pub async fn update_device_status(
        &self,
        device: &str,
        endpoint: &str,
        status: &DeviceConfigStatus,
    ) -> Result<Value, AdrError> {
        let request = DeviceStatusUpdate {
            device_status_update: status,
        };
        self.invoke(
            Command::UpdateDeviceStatus,
            device,
            endpoint,
            Some(json(&request)),
        )
        .await
    }

    /// `setNotificationPreferenceForDeviceUpdates`.
    ///
    /// # Errors
    /// [`AdrError`].
    pub async fn set_device_notifications(
        &self,
        device: &str,
        endpoint: &str,
        preference: NotificationPreference,
    ) -> Result<(), AdrError> {
        let request = DeviceNotifications {
            notification_preference_request: preference,
        };
        self.invoke(
            Command::SetDeviceNotifications,
            device,
            endpoint,
            Some(json(&request)),
        )
        .await
        .map(drop)
    }

    /// `getAsset`.
    ///
    /// # Errors
    /// [`AdrError`]; an unknown asset is [`AdrError::Refused`].
    pub async fn get_asset(
        &self,
        device: &str,
        endpoint: &str,
        asset: &str,
    ) -> Result<Value, AdrError> {
        let request = AssetName { asset_name: asset };
        self.invoke(Command::GetAsset, device, endpoint, Some(json(&request)))
            .await
    }

    /// `getAssetStatus`.
    ///
    /// # Errors
    /// [`AdrError`].
    pub async fn get_asset_status(
        &self,
        device: &str,
        endpoint: &str,
        asset: &str,
    ) -> Result<Value, AdrError> {
        let request = AssetName { asset_name: asset };
        self.invoke(
            Command::GetAssetStatus,
            device,
            endpoint,
            Some(json(&request)),
        )
        .await
    }

    /// `updateAssetStatus`: replaces the asset's status. Returns the status stored.
    ///
    /// # Errors
    /// [`AdrError`].
    pub async fn update_asset_status(
        &self,
        device: &str,
        endpoint: &str,
        asset: &str,
        status: &AssetConfigStatus,
    ) -> Result<Value, AdrError> {
        let request = AssetStatusUpdate {
            asset_status_update: AssetStatusOf {
                asset_name: asset,
                asset_status: status,
            },
        };
        self.invoke(
            Command::UpdateAssetStatus,
            device,
            endpoint,
            Some(json(&request)),
        )
        .await
    }

    /// `setNotificationPreferenceForAssetUpdates`.
    ///
    /// # Errors
    /// [`AdrError`].
    pub async fn set_asset_notifications(
        &self,
        device: &str,
        endpoint: &str,
        asset: &str,
        preference: NotificationPreference,
    ) -> Result<(), AdrError> {
        let request = AssetNotifications {
            notification_preference_request: AssetPreference {
                asset_name: asset,
                notification_preference: preference,
            },
        };
        self.invoke(
            Command::SetAssetNotifications,
            device,
            endpoint,
            Some(json(&request)),
        )
        .await
        .map(drop)
    }

    /// Publishes a runtime health event (`payload` is the whole event, e.g.
    /// [`protocol::DatasetHealthEvent`]) for the device endpoint.
    ///
    /// # Errors
    /// [`AdrError::Command`] when it cannot be queued on the connection.
    pub async fn send_health(
        &self,
        telemetry: Telemetry,
        device: &str,
        endpoint: &str,
        payload: &impl Serialize,
    ) -> Result<(), AdrError> {
        let topic = telemetry.topic(self.client.client_id(), device, endpoint);
        self.client
            .publish(
                telemetry.name(),
                &topic,
                json(payload),
                telemetry_properties,
            )
            .await?;
        Ok(())
    }

    /// Sends one command and returns its response's success field.
    async fn invoke(
        &self,
        command: Command,
        device: &str,
        endpoint: &str,
        payload: Option<Bytes>,
    ) -> Result<Value, AdrError> {
        let topic = command.topic(self.client.client_id(), device, endpoint);
        let response_topic = protocol::response_topic(self.client.client_id(), &topic);
        let reply = self
            .client
            .invoke(
                command.name(),
                &topic,
                payload.unwrap_or_default(),
                |request| request_properties(request, response_topic),
            )
            .await?;
        read_response(command, &reply.payload)
    }
}

/// The success field of a response, or the service's error.
pub(crate) fn read_response(command: Command, payload: &[u8]) -> Result<Value, AdrError> {
    let unexpected = |what: String| AdrError::Unexpected {
        command: command.name(),
        what,
    };
    let mut object: Map<String, Value> = serde_json::from_slice(payload)
        .map_err(|e| unexpected(format!("not a JSON object: {e}")))?;
    if let Some(value) = object.remove(command.ok_field()) {
        return Ok(value);
    }
    if let Some(error) = object.remove(&command.error_field()) {
        let error: ServiceError =
            parse(error).map_err(|e| unexpected(format!("{}: {e}", command.error_field())))?;
        return Err(AdrError::Refused {
            command: command.name(),
            error,
        });
    }
    Err(unexpected(format!(
        "neither {:?} nor {:?}",
        command.ok_field(),
        command.error_field()
    )))
}

fn parse<T: DeserializeOwned>(value: Value) -> Result<T, serde_json::Error> {
    serde_json::from_value(value)
}

/// JSON bytes of a payload (our own types always serialize).
fn json(value: &impl Serialize) -> Bytes {
    Bytes::from(serde_json::to_vec(value).unwrap_or_default())
}

/// A request's properties: response topic, correlation data, expiry, content type, format
/// indicator, and the envelope's user properties in the SDKs' order (`__srcId`, `__ts`,
/// `__protVer`, `$partition`, `$high_priority`).
fn request_properties(request: OutgoingRequest<'_>, response_topic: String) -> PublishProperties {
    let mut user_properties = request.envelope();
    // The SDKs send it on every request: presence asks the broker to bypass backpressure.
    user_properties.push(("$high_priority".to_owned(), String::new()));
    PublishProperties {
        payload_format_indicator: Some(PAYLOAD_FORMAT_UTF8),
        message_expiry_interval: Some(request.expiry_secs()),
        response_topic: Some(response_topic),
        correlation_data: Some(request.correlation.clone()),
        user_properties,
        content_type: Some(CONTENT_TYPE.to_owned()),
        ..PublishProperties::default()
    }
}

/// A health event's properties, as the SDK's telemetry sender sets them: expiry, content
/// type, format indicator, 16 bytes of correlation data, and `__ts`, `__protVer`, `__srcId`
/// in that order.
fn telemetry_properties(client_id: &str, timestamp: HlcTimestamp) -> PublishProperties {
    PublishProperties {
        payload_format_indicator: Some(PAYLOAD_FORMAT_UTF8),
        message_expiry_interval: Some(HEALTH_EXPIRY_SECS),
        content_type: Some(CONTENT_TYPE.to_owned()),
        correlation_data: Some(Bytes::from(rand::random::<[u8; 16]>().to_vec())),
        user_properties: vec![
            ("__ts".to_owned(), timestamp.to_string()),
            ("__protVer".to_owned(), PROTOCOL_VERSION.to_owned()),
            ("__srcId".to_owned(), client_id.to_owned()),
        ],
        ..PublishProperties::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_give_their_field_or_the_service_error() {
        let ok = read_response(Command::GetAsset, br#"{"asset": {"deviceRef": {}}}"#).expect("ok");
        assert_eq!(ok, serde_json::json!({"deviceRef": {}}));
        let refused = read_response(
            Command::GetAsset,
            br#"{"getAssetError": {"code": "KubeError", "message": "not found", "timestamp": "2026-12-04T00:00:00Z"}}"#,
        )
        .expect_err("refused");
        assert!(refused.is_transient(), "KubeError is the service's trouble");
        assert_eq!(
            refused.to_string(),
            "getAsset: the device registry refused it: not found (KubeError)"
        );
        let odd = read_response(Command::GetDevice, br#"{"asset": {}}"#).expect_err("odd");
        assert!(
            odd.to_string()
                .contains("neither \"device\" nor \"getDeviceError\""),
            "{odd}"
        );
    }

    #[test]
    fn update_events_are_read_from_topic_and_payload() {
        let topic = Telemetry::AssetUpdate.topic("c0", "dev", "ep");
        let payload = br#"{"assetUpdateEvent": {"assetName": "a1", "asset": {"version": 2}}}"#;
        let Some(Notification::Asset {
            asset, definition, ..
        }) = read_notification("c0", &topic, payload).expect("read")
        else {
            panic!("an asset update");
        };
        assert_eq!(asset, "a1");
        assert_eq!(definition["version"], 2);
        let topic = Telemetry::DeviceUpdate.topic("c0", "dev", "ep");
        let wrong = br#"{"deviceUpdateEvent": {"deviceName": "other", "device": {}}}"#;
        assert!(read_notification("c0", &topic, wrong).is_err());
        assert!(
            read_notification("c0", "elsewhere", b"{}")
                .expect("none")
                .is_none()
        );
    }
}
