//! What the MQTT destination accepts: an [`aio_mqtt::Message`] whose topic has no wildcards
//! and whose PUBLISH packet fits the smaller of the publisher's and the broker's packet limits.
//! Anything else would make the broker or rumqttc drop the connection, so it is refused before
//! it is queued, as [`PublishError::Invalid`] (a dead letter: sending it again cannot help).

use aio_mqtt::Message;

use crate::error::PublishError;

/// Checks `message` against the topic rules and the packet size `limit`, in bytes.
///
/// # Errors
/// [`PublishError::Invalid`] for an empty topic, a topic with `+`, `#` or NUL, or a packet
/// larger than `limit`.
pub fn check(message: &Message, limit: u32) -> Result<(), PublishError> {
    let invalid = |reason: String| PublishError::Invalid {
        topic: message.topic.clone(),
        reason,
    };
    if message.topic.is_empty() || message.topic.contains(['+', '#', '\0']) {
        return Err(invalid(
            "a topic name must be non-empty and have no wildcards".into(),
        ));
    }
    let size = encoded_len(message);
    if size > limit as usize {
        return Err(invalid(format!(
            "the packet of {size} bytes exceeds the limit of {limit}"
        )));
    }
    Ok(())
}

/// The encoded size of a message's PUBLISH packet (an upper bound: QoS 1 packet id counted).
pub fn encoded_len(message: &Message) -> usize {
    fn varint_len(n: usize) -> usize {
        match n {
            0..=127 => 1,
            128..=16_383 => 2,
            16_384..=2_097_151 => 3,
            _ => 4,
        }
    }
    let mut props = 0;
    if message.expiry_secs.is_some() {
        props += 5;
    }
    if let Some(ct) = &message.content_type {
        props += 3 + ct.len();
    }
    if let Some(cd) = &message.correlation_data {
        props += 3 + cd.len();
    }
    for (k, v) in &message.user_properties {
        props += 5 + k.len() + v.len();
    }
    let remaining = 2 + message.topic.len() + 2 + varint_len(props) + props + message.payload.len();
    1 + varint_len(remaining) + remaining
}

#[cfg(test)]
mod tests {
    use aio_mqtt::Qos;
    use bytes::Bytes;

    use super::*;

    #[test]
    fn encoded_len_matches_rumqttc() {
        let message = Message {
            topic: "a/b".into(),
            qos: Qos::AtLeastOnce,
            retain: false,
            expiry_secs: Some(10),
            content_type: Some("application/json".into()),
            correlation_data: Some(Bytes::from_static(b"xyz")),
            user_properties: vec![("k".into(), "v".repeat(200))],
            payload: Bytes::from(vec![b'x'; 20_000]),
        };
        let publish = super::super::connection::to_publish(&message, 1, false);
        assert_eq!(encoded_len(&message), publish.size());
    }
}
