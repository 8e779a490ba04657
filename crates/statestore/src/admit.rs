//! Admission of a request, pure: reads its MQTT headers and payload and decides whether to
//! execute it, answer it at once (a bad header, an unreadable payload, a malformed
//! timestamp), or drop it (nowhere to answer).

use bytes::Bytes;
use rumqttc::v5::mqttbytes::v5::Publish;

use crate::error::ServiceError;
use crate::protocol::{
    self, CONTENT_TYPE, SUPPORTED_MAJOR_VERSIONS, find_property, property, status,
};
use crate::resp3::{Request, RequestError, Response};
use crate::store::Command;

/// What to do with one request.
pub(crate) enum Admission {
    /// Execute it, then reply to `reply`.
    Execute(Command, Reply),
    /// Answer at once.
    Answer(Reply, Answer),
    /// Nobody to answer (no or a forbidden response topic).
    Drop,
}

/// Where a reply goes.
pub(crate) struct Reply {
    pub(crate) topic: String,
    pub(crate) correlation: Option<Bytes>,
}

/// A reply without executing anything.
pub(crate) enum Answer {
    Resp(Response),
    Status {
        code: u16,
        message: String,
        /// More user properties (`__propName`, `__supProtMajVer`...).
        extra: Vec<(String, String)>,
    },
}

/// Reads the request's headers and payload; pure.
pub(crate) fn admit(publish: &Publish) -> Admission {
    let props = publish.properties.clone().unwrap_or_default();
    let Some(topic) = props.response_topic.clone() else {
        tracing::debug!("dropping a state store request without a response topic");
        return Admission::Drop;
    };
    if protocol::is_forbidden_response_topic(&topic) {
        tracing::warn!(%topic, "dropping a state store request with a forbidden response topic");
        return Admission::Drop;
    }
    let reply = Reply {
        topic,
        correlation: props.correlation_data.clone(),
    };
    let user = &props.user_properties;
    let status = |code, message: &str, extra: Vec<(&str, String)>| Answer::Status {
        code,
        message: message.to_owned(),
        extra: extra.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
    };
    if reply.correlation.is_none() {
        let answer = status(
            status::BAD_REQUEST,
            "the request has no correlation data",
            vec![(property::INVALID_PROPERTY_NAME, "Correlation Data".into())],
        );
        return Admission::Answer(reply, answer);
    }
    if let Some(version) = find_property(user, property::PROTOCOL_VERSION)
        && version.split('.').next() != Some("1")
    {
        let answer = status(
            status::VERSION_NOT_SUPPORTED,
            &format!("protocol version {version} is not supported"),
            vec![
                (
                    property::SUPPORTED_MAJOR_VERSIONS,
                    SUPPORTED_MAJOR_VERSIONS.into(),
                ),
                (property::REQUEST_PROTOCOL_VERSION, version.to_owned()),
            ],
        );
        return Admission::Answer(reply, answer);
    }
    if let Some(content_type) = props.content_type.as_deref()
        && content_type != CONTENT_TYPE
    {
        let answer = status(
            status::UNSUPPORTED_MEDIA_TYPE,
            &format!("content type {content_type} is not {CONTENT_TYPE}"),
            vec![
                (property::INVALID_PROPERTY_NAME, "Content Type".into()),
                (property::INVALID_PROPERTY_VALUE, content_type.to_owned()),
            ],
        );
        return Admission::Answer(reply, answer);
    }
    let refuse = |error: ServiceError| Answer::Resp(Response::Error(error.text().to_owned()));
    let hlc = |name| find_property(user, name).map(|text| protocol::parse_hlc(text).ok_or(()));
    let (Ok(timestamp), Ok(fencing)) = (
        hlc(property::TIMESTAMP).transpose(),
        hlc(property::FENCING_TOKEN).transpose(),
    ) else {
        return Admission::Answer(reply, refuse(ServiceError::MalformedTimestamp));
    };
    let request = match Request::parse(&publish.payload) {
        Ok(request) => request,
        Err(error) => {
            tracing::debug!(%error, "refusing a state store request");
            let kind = match error {
                RequestError::Syntax(_) => ServiceError::SyntaxError,
                RequestError::UnknownCommand(_) => ServiceError::UnknownCommand,
                RequestError::WrongArity(_) => ServiceError::WrongNumberOfArguments,
            };
            return Admission::Answer(reply, refuse(kind));
        }
    };
    let client = find_property(user, property::SOURCE_ID)
        .map(str::to_owned)
        .or_else(|| client_of_response_topic(&reply.topic));
    Admission::Execute(
        Command {
            request,
            timestamp,
            fencing,
            client,
        },
        reply,
    )
}

/// `id` of a `clients/{id}/...` response topic.
pub(crate) fn client_of_response_topic(topic: &str) -> Option<String> {
    let rest = topic.strip_prefix("clients/")?;
    let (id, _) = rest.split_once('/')?;
    (!id.is_empty()).then(|| id.to_owned())
}
