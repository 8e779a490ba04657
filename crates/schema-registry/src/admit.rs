//! Admission of a request, pure: reads its MQTT headers and payload and decides whether to
//! execute it, refuse it at once with a non-200 `__stat` (as AIO's command executor does),
//! or drop it (there is nowhere to answer).
//!
//! | problem | `__stat` | `__propName` |
//! |---|---|---|
//! | no correlation data, or not 16 bytes | 400 | `Correlation Data` |
//! | no message expiry | 400 | `Message Expiry` |
//! | `__protVer` of another major version | 505 (with `__supProtMajVer`, `__requestProtVer`) | |
//! | `__ts` that is not an HLC timestamp | 400 | `__ts` |
//! | content type other than `application/json` | 415 | `Content Type` |
//! | payload that is not a request | 400 | |

use bytes::Bytes;
use rumqttc::v5::mqttbytes::v5::Publish;

use crate::protocol::{
    self, CONTENT_TYPE, Command, GetRequest, PutRequest, Refusal, find_property, property, status,
};

/// What to do with one request.
#[derive(Debug)]
pub(crate) enum Admission {
    /// Execute it, then reply.
    Execute(Operation, Reply),
    /// Refuse it with a non-200 status.
    Refuse(Reply, Refusal),
    /// Nobody to answer (not a request topic, no or an invalid response topic).
    Drop,
}

/// A request to execute.
#[derive(Debug)]
pub(crate) enum Operation {
    /// `put`.
    Put(PutRequest),
    /// `get`.
    Get(GetRequest),
}

/// Where and how a reply goes.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) topic: String,
    pub(crate) correlation: Option<Bytes>,
    /// The request's message expiry, in seconds, as the broker delivered it.
    pub(crate) expiry: Option<u32>,
}

/// Reads the request's headers and payload; pure.
pub(crate) fn admit(publish: &Publish) -> Admission {
    let Some(command) = Command::from_topic(&publish.topic) else {
        return Admission::Drop;
    };
    let Some(props) = publish.properties.as_ref() else {
        tracing::debug!("dropping a schema registry request without properties");
        return Admission::Drop;
    };
    let Some(topic) = props.response_topic.clone() else {
        tracing::debug!("dropping a schema registry request without a response topic");
        return Admission::Drop;
    };
    if !protocol::is_valid_response_topic(&topic) {
        tracing::warn!(%topic, "dropping a schema registry request with an invalid response topic");
        return Admission::Drop;
    }
    let reply = Reply {
        topic,
        correlation: props.correlation_data.clone(),
        expiry: props.message_expiry_interval,
    };
    let user = &props.user_properties;
    let refuse = |refusal: Refusal| Admission::Refuse(reply.clone(), refusal);
    match &reply.correlation {
        None => {
            return refuse(
                Refusal::new(status::BAD_REQUEST, "Correlation data missing")
                    .property("Correlation Data", None),
            );
        }
        Some(data) if data.len() != 16 => {
            let value = std::str::from_utf8(data).ok().map(str::to_owned);
            return refuse(
                Refusal::new(
                    status::BAD_REQUEST,
                    "Correlation data bytes do not conform to a GUID",
                )
                .property("Correlation Data", value),
            );
        }
        Some(_) => {}
    }
    if reply.expiry.is_none() {
        return refuse(
            Refusal::new(status::BAD_REQUEST, "Message expiry interval missing")
                .property("Message Expiry", None),
        );
    }
    if let Some(version) = find_property(user, property::PROTOCOL_VERSION)
        && version.split('.').next() != Some("1")
    {
        return refuse(Refusal {
            request_protocol_version: Some(version.to_owned()),
            ..Refusal::new(
                status::VERSION_NOT_SUPPORTED,
                format!("protocol version {version} is not supported"),
            )
        });
    }
    if let Some(timestamp) = find_property(user, property::TIMESTAMP)
        && !protocol::is_hlc(timestamp)
    {
        return refuse(
            Refusal::new(status::BAD_REQUEST, "the timestamp is not an HLC timestamp")
                .property(property::TIMESTAMP, Some(timestamp.to_owned())),
        );
    }
    if let Some(content_type) = props.content_type.as_deref()
        && content_type != CONTENT_TYPE
    {
        return refuse(
            Refusal::new(
                status::UNSUPPORTED_MEDIA_TYPE,
                format!("Invalid content type: '{content_type}'. Must be '{CONTENT_TYPE}'"),
            )
            .property("Content Type", Some(content_type.to_owned())),
        );
    }
    let operation = match command {
        Command::Put => serde_json::from_slice(&publish.payload).map(Operation::Put),
        Command::Get => serde_json::from_slice(&publish.payload).map(Operation::Get),
    };
    match operation {
        Ok(operation) => Admission::Execute(operation, reply),
        Err(error) => refuse(Refusal::new(
            status::BAD_REQUEST,
            format!("Error deserializing payload: {error}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use rumqttc::v5::mqttbytes::QoS;
    use rumqttc::v5::mqttbytes::v5::PublishProperties;

    use super::*;
    use crate::protocol::{GET_TOPIC, PUT_TOPIC};

    fn request(topic: &str, payload: &str, change: impl FnOnce(&mut PublishProperties)) -> Publish {
        let mut props = PublishProperties {
            response_topic: Some("clients/c/x".into()),
            correlation_data: Some(Bytes::from_static(&[1; 16])),
            message_expiry_interval: Some(10),
            content_type: Some("application/json".into()),
            user_properties: vec![
                ("__ts".into(), "001:00000:n".into()),
                ("__protVer".into(), "1.0".into()),
            ],
            ..PublishProperties::default()
        };
        change(&mut props);
        Publish::new(topic, QoS::AtLeastOnce, payload.to_owned(), Some(props))
    }

    fn refusal(publish: &Publish) -> Refusal {
        match admit(publish) {
            Admission::Refuse(_, refusal) => refusal,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn good_requests_are_executed() {
        let get = request(GET_TOPIC, r#"{"name":"n","version":"1"}"#, |_| {});
        assert!(matches!(admit(&get), Admission::Execute(Operation::Get(r), _) if r.name == "n"));
        let put = request(
            PUT_TOPIC,
            r#"{"format":"JsonSchema/draft-07","schemaContent":"{}","schemaType":"MessageSchema","version":"1"}"#,
            |p| p.user_properties.clear(),
        );
        assert!(matches!(
            admit(&put),
            Admission::Execute(Operation::Put(_), _)
        ));
    }

    #[test]
    fn nowhere_to_answer_is_dropped() {
        let payload = r#"{"name":"n","version":"1"}"#;
        assert!(matches!(
            admit(&request("other", payload, |_| {})),
            Admission::Drop
        ));
        assert!(matches!(
            admit(&request(GET_TOPIC, payload, |p| p.response_topic = None)),
            Admission::Drop
        ));
        assert!(matches!(
            admit(&request(GET_TOPIC, payload, |p| p.response_topic =
                Some(GET_TOPIC.into()))),
            Admission::Drop
        ));
    }

    #[test]
    fn bad_headers_and_payloads_are_refused_with_the_sdks_statuses() {
        let payload = r#"{"name":"n","version":"1"}"#;
        type Change = fn(&mut PublishProperties);
        let cases: [(Change, u16, Option<&str>); 6] = [
            (|p| p.correlation_data = None, 400, Some("Correlation Data")),
            (
                |p| p.correlation_data = Some(Bytes::from_static(b"short")),
                400,
                Some("Correlation Data"),
            ),
            (
                |p| p.message_expiry_interval = None,
                400,
                Some("Message Expiry"),
            ),
            (|p| p.user_properties[1].1 = "2.0".into(), 505, None),
            (
                |p| p.user_properties[0].1 = "yesterday".into(),
                400,
                Some("__ts"),
            ),
            (
                |p| p.content_type = Some("text/plain".into()),
                415,
                Some("Content Type"),
            ),
        ];
        for (change, code, name) in cases {
            let refused = refusal(&request(GET_TOPIC, payload, change));
            assert_eq!(
                (refused.status, refused.property_name.as_deref()),
                (code, name)
            );
        }
        let version = refusal(&request(GET_TOPIC, payload, |p| {
            p.user_properties[1].1 = "2.0".into()
        }));
        assert_eq!(version.request_protocol_version.as_deref(), Some("2.0"));
        let garbage = refusal(&request(PUT_TOPIC, "{", |_| {}));
        assert_eq!(garbage.status, 400);
        assert!(garbage.message.starts_with("Error deserializing payload"));
    }
}
