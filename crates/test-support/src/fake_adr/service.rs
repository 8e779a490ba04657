//! The ADR service's behaviour, without MQTT: the state, the commands of
//! `eng/dtdl/adr-base-service.json` and the mRPC envelope checks of an AIO command executor.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde_json::{Value, json};

use super::clock;
use super::model;

/// Prefix of every command and telemetry topic.
pub const TOPIC_ROOT: &str = "akri/connector/resources";

/// The commands of the ADR base service DTDL, by their wire name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Command {
    /// `getDevice`: empty request, `{"device": Device}`.
    GetDevice,
    /// `getDeviceStatus`: empty request, `{"deviceStatus": DeviceStatus}`.
    GetDeviceStatus,
    /// `updateDeviceStatus`: `{"deviceStatusUpdate": DeviceStatus}`, `{"updatedDeviceStatus": …}`.
    UpdateDeviceStatus,
    /// `setNotificationPreferenceForDeviceUpdates`: `{"notificationPreferenceRequest": "On"|"Off"}`.
    SetNotificationPreferenceForDeviceUpdates,
    /// `getAsset`: `{"assetName": …}`, `{"asset": Asset}`.
    GetAsset,
    /// `getAssetStatus`: `{"assetName": …}`, `{"assetStatus": AssetStatus}`.
    GetAssetStatus,
    /// `updateAssetStatus`: `{"assetStatusUpdate": {"assetName", "assetStatus"}}`.
    UpdateAssetStatus,
    /// `setNotificationPreferenceForAssetUpdates`:
    /// `{"notificationPreferenceRequest": {"assetName", "notificationPreference"}}`.
    SetNotificationPreferenceForAssetUpdates,
    /// `createOrUpdateDiscoveredAsset`:
    /// `{"discoveredAssetRequest": {"discoveredAssetName", "discoveredAsset"}}`.
    CreateOrUpdateDiscoveredAsset,
}

impl Command {
    /// Every command, in DTDL order.
    pub const ALL: [Command; 9] = [
        Command::GetDevice,
        Command::GetDeviceStatus,
        Command::GetAsset,
        Command::GetAssetStatus,
        Command::UpdateDeviceStatus,
        Command::UpdateAssetStatus,
        Command::SetNotificationPreferenceForDeviceUpdates,
        Command::SetNotificationPreferenceForAssetUpdates,
        Command::CreateOrUpdateDiscoveredAsset,
    ];

    /// The DTDL name (the last topic level).
    pub fn name(self) -> &'static str {
        match self {
            Command::GetDevice => "getDevice",
            Command::GetDeviceStatus => "getDeviceStatus",
            Command::UpdateDeviceStatus => "updateDeviceStatus",
            Command::SetNotificationPreferenceForDeviceUpdates => {
                "setNotificationPreferenceForDeviceUpdates"
            }
            Command::GetAsset => "getAsset",
            Command::GetAssetStatus => "getAssetStatus",
            Command::UpdateAssetStatus => "updateAssetStatus",
            Command::SetNotificationPreferenceForAssetUpdates => {
                "setNotificationPreferenceForAssetUpdates"
            }
            Command::CreateOrUpdateDiscoveredAsset => "createOrUpdateDiscoveredAsset",
        }
    }

    /// The command named `name`.
    pub fn from_name(name: &str) -> Option<Command> {
        Command::ALL.into_iter().find(|c| c.name() == name)
    }

    /// The field of the response's normal result.
    pub fn result_field(self) -> &'static str {
        match self {
            Command::GetDevice => "device",
            Command::GetDeviceStatus => "deviceStatus",
            Command::UpdateDeviceStatus => "updatedDeviceStatus",
            Command::SetNotificationPreferenceForDeviceUpdates
            | Command::SetNotificationPreferenceForAssetUpdates => "responsePayload",
            Command::GetAsset => "asset",
            Command::GetAssetStatus => "assetStatus",
            Command::UpdateAssetStatus => "updatedAssetStatus",
            Command::CreateOrUpdateDiscoveredAsset => "discoveredAssetResponse",
        }
    }

    /// The field of the response's error result (an `AkriServiceError`): `<name>Error`.
    pub fn error_field(self) -> String {
        format!("{}Error", self.name())
    }
}

/// The runtime health telemetry a connector sends (the DTDL's `…RuntimeHealthEvent`s).
pub const HEALTH_EVENTS: [&str; 5] = [
    "deviceEndpointRuntimeHealthEvent",
    "datasetRuntimeHealthEvent",
    "eventRuntimeHealthEvent",
    "streamRuntimeHealthEvent",
    "managementActionRuntimeHealthEvent",
];

/// `AkriServiceError.code` values.
pub const ERROR_CODES: [&str; 5] = [
    "BadRequest",
    "InternalError",
    "KubeError",
    "SerializationError",
    "Unauthorized",
];

/// A notification preference (`NotificationPreference` in the DTDL).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotificationPreference {
    /// Send update events.
    On,
    /// Do not.
    Off,
}

/// How the fake misbehaves for a command (see [`FakeAdr::fail`](super::FakeAdr::fail)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Status 200 with the error result `{"<command>Error": {code, message, timestamp}}`.
    ServiceError {
        /// One of [`ERROR_CODES`].
        code: String,
        /// Human-readable text.
        message: String,
    },
    /// A protocol-level error: this `__stat` (e.g. 500, 503) with `__stMsg`, empty payload.
    Status {
        /// The status code.
        status: u16,
        /// `__stMsg`.
        message: String,
    },
    /// No response at all (the invoker times out).
    NoResponse,
}

/// What the fake answered to a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// `__stat`.
    pub status: u16,
    /// `__stMsg`, on errors.
    pub status_message: Option<String>,
    /// `__propName`, on 400 errors about a header.
    pub invalid_property: Option<String>,
    /// The JSON payload (`Null` when empty).
    pub payload: Value,
}

/// One request the fake received.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    /// The command (`None` when the last topic level names no command of the DTDL).
    pub command: Option<Command>,
    /// The last topic level as received.
    pub command_name: String,
    /// The full request topic.
    pub topic: String,
    /// `{connectorClientId}` from the topic.
    pub connector_client_id: String,
    /// `{deviceName}` from the topic.
    pub device: String,
    /// `{inboundEndpointName}` from the topic.
    pub endpoint: String,
    /// The payload as JSON: `Null` when empty, a JSON string holding the text when it is
    /// not JSON.
    pub payload: Value,
    /// Content type property.
    pub content_type: Option<String>,
    /// Payload format indicator property.
    pub payload_format_indicator: Option<u8>,
    /// Message expiry interval as delivered (brokers send the remaining time).
    pub message_expiry: Option<u32>,
    /// Response topic property.
    pub response_topic: Option<String>,
    /// Correlation data property.
    pub correlation_data: Option<Bytes>,
    /// User properties in order, including any a broker added.
    pub user_properties: Vec<(String, String)>,
    /// What the fake answered (`None`: no response sent).
    pub reply: Option<Reply>,
}

impl RecordedRequest {
    /// The first user property named `name`.
    pub fn user_property(&self, name: &str) -> Option<&str> {
        find_property(&self.user_properties, name)
    }
}

/// One runtime health event the connector published.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthEvent {
    /// The telemetry name, one of [`HEALTH_EVENTS`], e.g. `datasetRuntimeHealthEvent`.
    pub kind: String,
    /// `{connectorClientId}` from the topic.
    pub connector_client_id: String,
    /// `{deviceName}` from the topic.
    pub device: String,
    /// `{inboundEndpointName}` from the topic.
    pub endpoint: String,
    /// The whole payload, e.g. `{"datasetRuntimeHealthEvent": {"assetName": …}}` (a JSON
    /// string holding the text when it is not JSON).
    pub payload: Value,
    /// Content type property.
    pub content_type: Option<String>,
    /// User properties in order.
    pub user_properties: Vec<(String, String)>,
}

impl HealthEvent {
    /// The payload's inner object (`payload[kind]`), `Null` when absent.
    pub fn body(&self) -> &Value {
        self.payload.get(&self.kind).unwrap_or(&Value::Null)
    }

    /// The asset named in the body (dataset, event, stream and management action events).
    pub fn asset_name(&self) -> Option<&str> {
        self.body().get("assetName").and_then(Value::as_str)
    }
}

pub(crate) fn find_property<'a>(props: &'a [(String, String)], name: &str) -> Option<&'a str> {
    props
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// Everything the fake knows.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub devices: BTreeMap<String, Value>,
    pub assets: BTreeMap<String, Value>,
    pub device_status: BTreeMap<String, Value>,
    pub asset_status: BTreeMap<String, Value>,
    /// (connector client id, device, endpoint) → preference.
    pub device_preferences: BTreeMap<(String, String, String), NotificationPreference>,
    /// (connector client id, device, endpoint, asset) → preference.
    pub asset_preferences: BTreeMap<(String, String, String, String), NotificationPreference>,
    /// discovered asset name → (request's `discoveredAsset`, version).
    pub discovered_assets: BTreeMap<String, (Value, u64)>,
    pub requests: Vec<RecordedRequest>,
    pub health_events: Vec<HealthEvent>,
    /// command → (failure, remaining count; `None` = until cleared).
    pub failures: BTreeMap<Command, (Failure, Option<usize>)>,
}

/// The parts of an incoming PUBLISH the service looks at.
pub(crate) struct Incoming {
    pub topic: String,
    pub payload: Bytes,
    pub content_type: Option<String>,
    pub payload_format_indicator: Option<u8>,
    pub message_expiry: Option<u32>,
    pub response_topic: Option<String>,
    pub correlation_data: Option<Bytes>,
    pub user_properties: Vec<(String, String)>,
}

/// A response to publish.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Outgoing {
    pub topic: String,
    pub payload: Bytes,
    pub content_type: Option<String>,
    pub correlation_data: Option<Bytes>,
    pub message_expiry: Option<u32>,
    pub user_properties: Vec<(String, String)>,
}

/// The topic levels after `akri/connector/resources/` (and `telemetry/`): connector client id,
/// device, endpoint, name. With a known client id the id may contain `/`.
pub(crate) fn split_topic<'a>(
    rest: &'a str,
    connector: Option<&str>,
) -> Option<(&'a str, &'a str, &'a str, &'a str)> {
    let (cid, tail) = match connector {
        Some(cid) => {
            let tail = rest.strip_prefix(cid)?.strip_prefix('/')?;
            (&rest[..cid.len()], tail)
        }
        None => rest.split_once('/')?,
    };
    let mut levels = tail.split('/');
    let (device, endpoint, name) = (levels.next()?, levels.next()?, levels.next()?);
    if levels.next().is_some() || cid.is_empty() || device.is_empty() || endpoint.is_empty() {
        return None;
    }
    Some((cid, device, endpoint, name))
}

/// Whether a content type is JSON the way the SDK's generated serializers check it
/// (`application/json` followed by nothing, `+` or `;`).
fn is_json_content_type(content_type: &str) -> bool {
    content_type
        .strip_prefix("application/json")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['+', ';']))
}

fn payload_as_json(payload: &[u8]) -> Value {
    if payload.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(payload)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(payload).into_owned()))
}

impl State {
    /// Records a health event published on `akri/connector/resources/telemetry/…`.
    pub fn record_telemetry(&mut self, incoming: Incoming, connector: Option<&str>) -> bool {
        let Some(rest) = incoming
            .topic
            .strip_prefix(TOPIC_ROOT)
            .and_then(|t| t.strip_prefix("/telemetry/"))
        else {
            return false;
        };
        let Some((cid, device, endpoint, name)) = split_topic(rest, connector) else {
            return false;
        };
        if !HEALTH_EVENTS.contains(&name) {
            return false;
        }
        self.health_events.push(HealthEvent {
            kind: name.to_owned(),
            connector_client_id: cid.to_owned(),
            device: device.to_owned(),
            endpoint: endpoint.to_owned(),
            payload: payload_as_json(&incoming.payload),
            content_type: incoming.content_type,
            user_properties: incoming.user_properties,
        });
        true
    }

    /// Handles a command request: records it, applies it, and returns the response to
    /// publish (`None`: not a request of this service, or no response to send).
    pub fn handle_request(
        &mut self,
        incoming: Incoming,
        connector: Option<&str>,
        source_id: &str,
    ) -> Option<Outgoing> {
        let rest = incoming.topic.strip_prefix(TOPIC_ROOT)?.strip_prefix('/')?;
        if rest.starts_with("telemetry/") {
            return None;
        }
        let (cid, device, endpoint, name) = split_topic(rest, connector)?;
        let mut record = RecordedRequest {
            command: Command::from_name(name),
            command_name: name.to_owned(),
            topic: incoming.topic.clone(),
            connector_client_id: cid.to_owned(),
            device: device.to_owned(),
            endpoint: endpoint.to_owned(),
            payload: payload_as_json(&incoming.payload),
            content_type: incoming.content_type.clone(),
            payload_format_indicator: incoming.payload_format_indicator,
            message_expiry: incoming.message_expiry,
            response_topic: incoming.response_topic.clone(),
            correlation_data: incoming.correlation_data.clone(),
            user_properties: incoming.user_properties.clone(),
            reply: None,
        };
        let reply = self.reply_to(&record, &incoming);
        record.reply = reply.clone();
        let response_topic = record.response_topic.clone();
        self.requests.push(record);
        let (reply, topic) = (reply?, response_topic?);
        let mut user_properties = vec![
            ("__stat".to_owned(), reply.status.to_string()),
            ("__protVer".to_owned(), "1.0".to_owned()),
            ("__srcId".to_owned(), source_id.to_owned()),
            ("__ts".to_owned(), clock::hlc_now(source_id)),
        ];
        if let Some(message) = &reply.status_message {
            user_properties.push(("__stMsg".to_owned(), message.clone()));
        }
        if let Some(name) = &reply.invalid_property {
            user_properties.push(("__propName".to_owned(), name.clone()));
        }
        if reply.status == 505 {
            user_properties.push(("__supProtMajVer".to_owned(), "1".to_owned()));
            if let Some(version) = find_property(&incoming.user_properties, "__protVer") {
                user_properties.push(("__requestProtVer".to_owned(), version.to_owned()));
            }
        }
        let json = reply.status == 200;
        Some(Outgoing {
            topic,
            payload: if json {
                Bytes::from(reply.payload.to_string())
            } else {
                Bytes::new()
            },
            content_type: json.then(|| "application/json".to_owned()),
            correlation_data: incoming.correlation_data,
            message_expiry: incoming.message_expiry,
            user_properties,
        })
    }

    /// The envelope checks of an AIO command executor, then the command itself.
    fn reply_to(&mut self, record: &RecordedRequest, incoming: &Incoming) -> Option<Reply> {
        let status = |status: u16, message: &str, property: Option<&str>| {
            Some(Reply {
                status,
                status_message: Some(message.to_owned()),
                invalid_property: property.map(str::to_owned),
                payload: Value::Null,
            })
        };
        // Without a response topic an executor cannot answer.
        record.response_topic.as_ref()?;
        match &record.correlation_data {
            None => return status(400, "Correlation data missing", Some("Correlation Data")),
            Some(data) if data.len() != 16 => {
                return status(
                    400,
                    "Correlation data bytes do not conform to a GUID",
                    Some("Correlation Data"),
                );
            }
            Some(_) => {}
        }
        if record.message_expiry.is_none() {
            return status(
                400,
                "Message expiry interval missing",
                Some("Message Expiry"),
            );
        }
        if let Some(version) = record.user_property("__protVer")
            && !version
                .split_once('.')
                .is_some_and(|(major, minor)| major == "1" && minor.parse::<u16>().is_ok())
        {
            return status(
                505,
                &format!("protocol version {version} is not supported"),
                None,
            );
        }
        if let Some(ts) = record.user_property("__ts")
            && !clock::is_hlc(ts)
        {
            return status(400, &format!("Timestamp invalid: {ts}"), Some("__ts"));
        }
        let Some(command) = record.command else {
            return status(
                404,
                &format!("no command {} in the ADR service", record.command_name),
                None,
            );
        };
        if let Some(content_type) = &record.content_type
            && !is_json_content_type(content_type)
        {
            return status(
                415,
                &format!("Invalid content type: '{content_type}'. Must be 'application/json'"),
                Some("Content Type"),
            );
        }
        if let Some((failure, remaining)) = self.failures.get_mut(&command) {
            let failure = failure.clone();
            if let Some(n) = remaining {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.failures.remove(&command);
                }
            }
            return match failure {
                Failure::NoResponse => None,
                Failure::Status {
                    status: code,
                    message,
                } => status(code, &message, None),
                Failure::ServiceError { code, message } => Some(Reply {
                    status: 200,
                    status_message: None,
                    invalid_property: None,
                    payload: service_error(command, &code, &message),
                }),
            };
        }
        // getDevice and getDeviceStatus take an empty body (the SDK sends zero bytes and
        // ignores whatever is there); the others need their JSON.
        let body = if matches!(command, Command::GetDevice | Command::GetDeviceStatus) {
            Value::Null
        } else {
            match serde_json::from_slice::<Value>(&incoming.payload) {
                Ok(body) => body,
                Err(e) => {
                    return status(400, &format!("Error deserializing payload: {e}"), None);
                }
            }
        };
        match self.execute(command, record, &body) {
            Ok(payload) => Some(Reply {
                status: 200,
                status_message: None,
                invalid_property: None,
                payload,
            }),
            Err(message) => status(
                400,
                &format!("Error deserializing payload: {message}"),
                None,
            ),
        }
    }

    /// Runs one command; `Err` is a payload that does not match the DTDL (status 400).
    fn execute(
        &mut self,
        command: Command,
        record: &RecordedRequest,
        body: &Value,
    ) -> Result<Value, String> {
        let (cid, device, endpoint) = (
            record.connector_client_id.as_str(),
            record.device.as_str(),
            record.endpoint.as_str(),
        );
        let ok = |value: Value| json!({ command.result_field(): value });
        let not_found = |what: String| service_error(command, "KubeError", &what);
        let device_missing = || not_found(format!("device {device} not found"));
        Ok(match command {
            Command::GetDevice => match self.devices.get(device) {
                Some(spec) => ok(model::device_for_endpoint(spec, endpoint)),
                None => device_missing(),
            },
            Command::GetDeviceStatus => {
                if !self.devices.contains_key(device) {
                    return Ok(device_missing());
                }
                let status = self.device_status.get(device).cloned().unwrap_or(json!({}));
                ok(model::device_status_for_endpoint(&status, endpoint))
            }
            Command::UpdateDeviceStatus => {
                let update = required_object(body, "deviceStatusUpdate")?;
                if !self.devices.contains_key(device) {
                    return Ok(device_missing());
                }
                let merged =
                    model::merge_device_status(self.device_status.get(device), update, endpoint);
                let answer = model::device_status_for_endpoint(&merged, endpoint);
                self.device_status.insert(device.to_owned(), merged);
                ok(answer)
            }
            Command::SetNotificationPreferenceForDeviceUpdates => {
                let preference = preference(required(body, "notificationPreferenceRequest")?)?;
                if !self.devices.contains_key(device) {
                    return Ok(device_missing());
                }
                self.device_preferences.insert(
                    (cid.to_owned(), device.to_owned(), endpoint.to_owned()),
                    preference,
                );
                ok(json!("Success"))
            }
            Command::GetAsset | Command::GetAssetStatus => {
                let name = required_str(body, "assetName")?;
                if let Err(error) = self.asset_of(name, device, endpoint) {
                    return Ok(not_found(error));
                }
                if command == Command::GetAsset {
                    ok(self.assets.get(name).cloned().unwrap_or(Value::Null))
                } else {
                    ok(self.asset_status.get(name).cloned().unwrap_or(json!({})))
                }
            }
            Command::UpdateAssetStatus => {
                let update = required_object(body, "assetStatusUpdate")?;
                let name = required_str(update, "assetName")?;
                let status = required_object(update, "assetStatus")?;
                if let Err(error) = self.asset_of(name, device, endpoint) {
                    return Ok(not_found(error));
                }
                self.asset_status.insert(name.to_owned(), status.clone());
                ok(status.clone())
            }
            Command::SetNotificationPreferenceForAssetUpdates => {
                let request = required_object(body, "notificationPreferenceRequest")?;
                let name = required_str(request, "assetName")?;
                let preference = preference(required(request, "notificationPreference")?)?;
                if let Err(error) = self.asset_of(name, device, endpoint) {
                    return Ok(not_found(error));
                }
                self.asset_preferences.insert(
                    (
                        cid.to_owned(),
                        device.to_owned(),
                        endpoint.to_owned(),
                        name.to_owned(),
                    ),
                    preference,
                );
                ok(json!("Success"))
            }
            Command::CreateOrUpdateDiscoveredAsset => {
                let request = required_object(body, "discoveredAssetRequest")?;
                let name = required_str(request, "discoveredAssetName")?;
                let asset = required_object(request, "discoveredAsset")?;
                model::asset_device_ref(asset).ok_or("discoveredAsset.deviceRef is missing")?;
                let entry = self
                    .discovered_assets
                    .entry(name.to_owned())
                    .or_insert((Value::Null, 0));
                entry.0 = asset.clone();
                entry.1 += 1;
                ok(json!({"discoveryId": format!("discovered-{name}"), "version": entry.1}))
            }
        })
    }

    /// Checks that asset `name` exists and belongs to (device, endpoint).
    fn asset_of(&self, name: &str, device: &str, endpoint: &str) -> Result<(), String> {
        let spec = self
            .assets
            .get(name)
            .ok_or_else(|| format!("asset {name} not found"))?;
        match model::asset_device_ref(spec) {
            Some((d, e)) if d == device && e == endpoint => Ok(()),
            _ => Err(format!(
                "asset {name} not found for device {device} endpoint {endpoint}"
            )),
        }
    }
}

/// `{"<command>Error": {"code", "message", "timestamp"}}`.
pub(crate) fn service_error(command: Command, code: &str, message: &str) -> Value {
    json!({ command.error_field(): {
        "code": code,
        "message": message,
        "timestamp": clock::rfc3339_now(),
    }})
}

fn required<'a>(body: &'a Value, field: &str) -> Result<&'a Value, String> {
    body.get(field)
        .filter(|v| !v.is_null())
        .ok_or_else(|| format!("missing field `{field}`"))
}

fn required_object<'a>(body: &'a Value, field: &str) -> Result<&'a Value, String> {
    required(body, field).and_then(|v| {
        if v.is_object() {
            Ok(v)
        } else {
            Err(format!("`{field}` is not an object"))
        }
    })
}

fn required_str<'a>(body: &'a Value, field: &str) -> Result<&'a str, String> {
    required(body, field)?
        .as_str()
        .ok_or_else(|| format!("`{field}` is not a string"))
}

fn preference(value: &Value) -> Result<NotificationPreference, String> {
    match value.as_str() {
        Some("On") => Ok(NotificationPreference::On),
        Some("Off") => Ok(NotificationPreference::Off),
        _ => Err(format!("unknown variant {value}, expected `On` or `Off`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(topic: &str, payload: &str) -> Incoming {
        Incoming {
            topic: topic.to_owned(),
            payload: Bytes::from(payload.to_owned()),
            content_type: Some("application/json".to_owned()),
            payload_format_indicator: Some(1),
            message_expiry: Some(10),
            response_topic: Some(format!("clients/c0/{topic}")),
            correlation_data: Some(Bytes::from_static(&[7; 16])),
            user_properties: vec![
                ("__srcId".to_owned(), "c0".to_owned()),
                ("__ts".to_owned(), clock::hlc_now("c0")),
                ("__protVer".to_owned(), "1.0".to_owned()),
            ],
        }
    }

    fn state() -> State {
        let mut state = State::default();
        state.devices.insert(
            "dev".into(),
            json!({"endpoints": {"inbound": {"ep": {"address": "x", "endpointType": "t"},
                                             "other": {"address": "y", "endpointType": "t"}}}}),
        );
        state.assets.insert(
            "a1".into(),
            json!({"deviceRef": {"deviceName": "dev", "endpointName": "ep"}}),
        );
        state
    }

    fn call(state: &mut State, command: &str, payload: &str) -> (u16, Value) {
        let out = state
            .handle_request(
                request(&format!("{TOPIC_ROOT}/c0/dev/ep/{command}"), payload),
                Some("c0"),
                "fake",
            )
            .expect("a response");
        let stat = find_property(&out.user_properties, "__stat").expect("__stat");
        let payload = if out.payload.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&out.payload).expect("JSON")
        };
        (stat.parse().expect("number"), payload)
    }

    #[test]
    fn the_envelope_is_an_aio_response() {
        let mut state = state();
        let out = state
            .handle_request(
                request(&format!("{TOPIC_ROOT}/c0/dev/ep/getDevice"), ""),
                Some("c0"),
                "fake",
            )
            .expect("a response");
        assert_eq!(
            out.topic,
            format!("clients/c0/{TOPIC_ROOT}/c0/dev/ep/getDevice")
        );
        assert_eq!(out.correlation_data, Some(Bytes::from_static(&[7; 16])));
        assert_eq!(out.content_type.as_deref(), Some("application/json"));
        let props = &out.user_properties;
        assert_eq!(find_property(props, "__stat"), Some("200"));
        assert_eq!(find_property(props, "__protVer"), Some("1.0"));
        assert_eq!(find_property(props, "__srcId"), Some("fake"));
        assert!(find_property(props, "__ts").is_some_and(clock::is_hlc));
        let recorded = &state.requests[0];
        assert_eq!(recorded.command, Some(Command::GetDevice));
        assert_eq!(
            (recorded.device.as_str(), recorded.endpoint.as_str()),
            ("dev", "ep")
        );
    }

    #[test]
    fn devices_and_assets_are_served_per_the_dtdl() {
        let mut state = state();
        let (stat, body) = call(&mut state, "getDevice", "");
        assert_eq!(stat, 200);
        assert_eq!(
            body,
            json!({"device": {"endpoints": {"inbound": {"ep": {"address": "x", "endpointType": "t"}}}}})
        );
        let (_, body) = call(&mut state, "getAsset", r#"{"assetName":"a1"}"#);
        assert_eq!(body["asset"]["deviceRef"]["deviceName"], "dev");
        let (_, body) = call(&mut state, "getAsset", r#"{"assetName":"nope"}"#);
        assert_eq!(body["getAssetError"]["code"], "KubeError");
        let (_, body) = call(&mut state, "getAssetStatus", r#"{"assetName":"a1"}"#);
        assert_eq!(body, json!({"assetStatus": {}}));
        let status = json!({"config": {"version": 1}, "datasets": [{"name": "d"}]});
        let (_, body) = call(
            &mut state,
            "updateAssetStatus",
            &json!({"assetStatusUpdate": {"assetName": "a1", "assetStatus": status}}).to_string(),
        );
        assert_eq!(body, json!({"updatedAssetStatus": status}));
        assert_eq!(state.asset_status["a1"], status);
        let (_, body) = call(
            &mut state,
            "updateDeviceStatus",
            r#"{"deviceStatusUpdate":{"config":{"version":4},"endpoints":{"inbound":{"ep":{}}}}}"#,
        );
        assert_eq!(
            body,
            json!({"updatedDeviceStatus": {"config": {"version": 4}, "endpoints": {"inbound": {"ep": {}}}}})
        );
        let (_, body) = call(
            &mut state,
            "setNotificationPreferenceForDeviceUpdates",
            r#"{"notificationPreferenceRequest":"On"}"#,
        );
        assert_eq!(body, json!({"responsePayload": "Success"}));
        assert_eq!(
            state.device_preferences[&("c0".into(), "dev".into(), "ep".into())],
            NotificationPreference::On
        );
        let (stat, _) = call(
            &mut state,
            "updateAssetStatus",
            r#"{"assetStatusUpdate":{}}"#,
        );
        assert_eq!(stat, 400);
        let (stat, _) = call(&mut state, "getAsset", "not json");
        assert_eq!(stat, 400);
    }

    #[test]
    fn envelope_errors_are_executor_errors() {
        let mut state = state();
        let topic = format!("{TOPIC_ROOT}/c0/dev/ep/getDevice");
        let mut no_correlation = request(&topic, "");
        no_correlation.correlation_data = None;
        let out = state
            .handle_request(no_correlation, Some("c0"), "fake")
            .expect("a response");
        assert_eq!(find_property(&out.user_properties, "__stat"), Some("400"));
        assert_eq!(
            find_property(&out.user_properties, "__propName"),
            Some("Correlation Data")
        );
        let mut version_2 = request(&topic, "");
        version_2.user_properties[2].1 = "2.0".into();
        let out = state
            .handle_request(version_2, Some("c0"), "fake")
            .expect("a response");
        assert_eq!(find_property(&out.user_properties, "__stat"), Some("505"));
        let mut no_response_topic = request(&topic, "");
        no_response_topic.response_topic = None;
        assert!(
            state
                .handle_request(no_response_topic, Some("c0"), "fake")
                .is_none()
        );
        assert_eq!(state.requests.len(), 3, "every request is recorded");
    }

    #[test]
    fn topics_split_with_and_without_a_known_client_id() {
        assert_eq!(
            split_topic("c/0/dev/ep/getDevice", Some("c/0")),
            Some(("c/0", "dev", "ep", "getDevice"))
        );
        assert_eq!(
            split_topic("c0/dev/ep/getDevice", None),
            Some(("c0", "dev", "ep", "getDevice"))
        );
        assert_eq!(split_topic("c1/dev/ep/getDevice", Some("c0")), None);
        assert_eq!(split_topic("c0/dev/ep/x/y", None), None);
    }
}
