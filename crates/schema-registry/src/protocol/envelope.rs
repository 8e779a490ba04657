//! The MQTT properties of the schema registry's requests and responses, in the SDKs' order:
//! expiry, content type, correlation data and the user properties of AIO's command envelope.

use aio_mqtt::hlc::HlcTimestamp;
use aio_mqtt::rpc::OutgoingRequest;
use bytes::Bytes;
use rumqttc::v5::mqttbytes::v5::PublishProperties;

use super::{
    CONTENT_TYPE, Command, GET_TOPIC, PAYLOAD_FORMAT_UTF8, PROTOCOL_VERSION, PUT_TOPIC,
    SUPPORTED_MAJOR_VERSIONS, property, response_topic, status,
};

/// The properties of `request` for `command`: response topic, correlation data, expiry,
/// content type, format indicator, and the envelope's user properties in the SDKs' order,
/// then `$high_priority` = `""`.
pub fn request_properties(request: OutgoingRequest<'_>, command: Command) -> PublishProperties {
    let mut user_properties = request.envelope();
    user_properties.push((property::HIGH_PRIORITY.to_owned(), String::new()));
    PublishProperties {
        payload_format_indicator: Some(PAYLOAD_FORMAT_UTF8),
        message_expiry_interval: Some(request.expiry_secs()),
        response_topic: Some(response_topic(request.client_id, command)),
        correlation_data: Some(request.correlation),
        user_properties,
        content_type: Some(CONTENT_TYPE.to_owned()),
        ..PublishProperties::default()
    }
}

/// Why a request could not be read: a non-200 `__stat` and what goes with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The status: 400, 415, 500 or 505.
    pub status: u16,
    /// `__stMsg`.
    pub message: String,
    /// `__propName`: the header at fault.
    pub property_name: Option<String>,
    /// `__propVal`: its value.
    pub property_value: Option<String>,
    /// `__requestProtVer` (and then `__supProtMajVer`) on a version refusal.
    pub request_protocol_version: Option<String>,
}

impl Refusal {
    /// A refusal with `status` and `message`.
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            property_name: None,
            property_value: None,
            request_protocol_version: None,
        }
    }

    /// Names the header at fault.
    #[must_use]
    pub fn property(mut self, name: &str, value: Option<String>) -> Self {
        self.property_name = Some(name.to_owned());
        self.property_value = value;
        self
    }
}

/// The properties of a response from `service_id`: correlation data, expiry, and the user
/// properties in the SDKs' order. `refusal` is `None` for a 200 response, whose payload is
/// JSON (content type and format indicator set); a refusal has an empty payload and neither.
pub fn response_properties(
    service_id: &str,
    correlation: Option<Bytes>,
    timestamp: &HlcTimestamp,
    expiry_secs: Option<u32>,
    refusal: Option<&Refusal>,
) -> PublishProperties {
    let status = refusal.map_or(status::OK, |r| r.status);
    let mut user_properties = vec![
        (property::APPLICATION_ERROR.to_owned(), "false".to_owned()),
        (property::STATUS.to_owned(), status.to_string()),
        (
            property::PROTOCOL_VERSION.to_owned(),
            PROTOCOL_VERSION.to_owned(),
        ),
        (property::SOURCE_ID.to_owned(), service_id.to_owned()),
        (property::TIMESTAMP.to_owned(), timestamp.to_string()),
    ];
    if let Some(refusal) = refusal {
        user_properties.push((property::STATUS_MESSAGE.to_owned(), refusal.message.clone()));
        if let Some(name) = &refusal.property_name {
            user_properties.push((property::INVALID_PROPERTY_NAME.to_owned(), name.clone()));
        }
        if let Some(value) = &refusal.property_value {
            user_properties.push((property::INVALID_PROPERTY_VALUE.to_owned(), value.clone()));
        }
        if let Some(version) = &refusal.request_protocol_version {
            user_properties.push((
                property::SUPPORTED_MAJOR_VERSIONS.to_owned(),
                SUPPORTED_MAJOR_VERSIONS.to_owned(),
            ));
            user_properties.push((
                property::REQUEST_PROTOCOL_VERSION.to_owned(),
                version.clone(),
            ));
        }
    }
    user_properties.push((property::HIGH_PRIORITY.to_owned(), String::new()));
    let json = refusal.is_none();
    PublishProperties {
        payload_format_indicator: json.then_some(PAYLOAD_FORMAT_UTF8),
        message_expiry_interval: expiry_secs,
        correlation_data: correlation,
        user_properties,
        content_type: json.then(|| CONTENT_TYPE.to_owned()),
        ..PublishProperties::default()
    }
}

pub use aio_mqtt::rpc::envelope::{expiry_secs, find_property};

/// Whether `text` has the form of an HLC timestamp: `{digits}:{digits}:{node id}`.
pub fn is_hlc(text: &str) -> bool {
    let mut parts = text.splitn(3, ':');
    let digits =
        |s: Option<&str>| s.is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
    digits(parts.next()) && digits(parts.next()) && parts.next().is_some()
}

/// Whether a response topic can be published to: not empty, no wildcards, not one of the
/// request topics (answering there would feed the service its own output).
pub fn is_valid_response_topic(topic: &str) -> bool {
    !topic.is_empty()
        && !topic.contains(['+', '#', '\0'])
        && topic != PUT_TOPIC
        && topic != GET_TOPIC
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    fn ts() -> HlcTimestamp {
        HlcTimestamp {
            millis: 1_777_630_530_123,
            counter: 0,
            node_id: Arc::from("node"),
        }
    }

    #[test]
    fn request_envelope_is_the_sdks() {
        let request = OutgoingRequest {
            client_id: "me",
            correlation: Bytes::from_static(&[7; 16]),
            timestamp: ts(),
            timeout: Duration::from_millis(2_500),
        };
        let props = request_properties(request, Command::Get);
        assert_eq!(props.message_expiry_interval, Some(3));
        assert_eq!(props.payload_format_indicator, Some(1));
        assert_eq!(props.content_type.as_deref(), Some("application/json"));
        assert_eq!(
            props.response_topic.as_deref(),
            Some("clients/me/adr/dtmi:ms:adr:SchemaRegistry;2/get")
        );
        let names: Vec<_> = props
            .user_properties
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        assert_eq!(
            names,
            [
                "__srcId=me",
                "__ts=001777630530123:00000:node",
                "__protVer=1.0",
                "$partition=me",
                "$high_priority="
            ]
        );
    }

    #[test]
    fn response_envelope_orders_refusal_details() {
        let ok = response_properties("svc", None, &ts(), Some(5), None);
        let names: Vec<_> = ok.user_properties.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "__apErr",
                "__stat",
                "__protVer",
                "__srcId",
                "__ts",
                "$high_priority"
            ]
        );
        assert_eq!(
            (ok.content_type.as_deref(), ok.payload_format_indicator),
            (Some("application/json"), Some(1))
        );
        let refusal = Refusal {
            request_protocol_version: Some("2.0".into()),
            ..Refusal::new(505, "no").property("__protVer", Some("2.0".into()))
        };
        let refused = response_properties("svc", None, &ts(), None, Some(&refusal));
        let pairs: Vec<_> = refused
            .user_properties
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        assert_eq!(
            pairs[1..],
            [
                "__stat=505",
                "__protVer=1.0",
                "__srcId=svc",
                "__ts=001777630530123:00000:node",
                "__stMsg=no",
                "__propName=__protVer",
                "__propVal=2.0",
                "__supProtMajVer=1",
                "__requestProtVer=2.0",
                "$high_priority="
            ]
        );
        assert_eq!(refused.content_type, None);
    }

    #[test]
    fn hlc_form_is_checked() {
        assert!(is_hlc("001696374425000:00000:node:x"));
        for bad in ["", "1:2", "a:0:n", ":0:n", "1::n"] {
            assert!(!is_hlc(bad), "{bad}");
        }
    }
}
