//! How the MQTT destination fails: the broker's PUBACK reason codes, and what a refusal says.
//! [`PublishError::is_retryable`](crate::PublishError::is_retryable) decides by these codes
//! whether sending the message again can help.

use rumqttc::v5::mqttbytes::v5::{PubAck, PubAckReason};

/// PUBACK reason codes (MQTT 5.0, 3.4.2.1) that say something about the message itself.
pub mod reason_code {
    /// Unspecified error: the broker gives no reason; may pass later.
    pub const UNSPECIFIED: u8 = 0x80;
    /// Implementation specific error: may pass later.
    pub const IMPLEMENTATION_SPECIFIC: u8 = 0x83;
    /// Not authorized: passes once the broker's authorization changes.
    pub const NOT_AUTHORIZED: u8 = 0x87;
    /// Topic Name invalid: the same message never passes.
    pub const TOPIC_NAME_INVALID: u8 = 0x90;
    /// Packet Identifier in use: a client bookkeeping conflict; passes when sent again.
    pub const PACKET_IDENTIFIER_IN_USE: u8 = 0x91;
    /// Packet too large: the same message never passes.
    pub const PACKET_TOO_LARGE: u8 = 0x95;
    /// Quota exceeded: passes once the broker's quota allows it.
    pub const QUOTA_EXCEEDED: u8 = 0x97;
    /// Payload format invalid: the same message never passes.
    pub const PAYLOAD_FORMAT_INVALID: u8 = 0x99;
}

/// The failure reason code and text of a PUBACK, or `None` when the broker took the message.
pub(crate) fn refusal(ack: &PubAck) -> Option<(u8, String)> {
    match ack.reason {
        PubAckReason::Success | PubAckReason::NoMatchingSubscribers => None,
        reason => {
            let detail = ack
                .properties
                .as_ref()
                .and_then(|p| p.reason_string.as_deref())
                .map(|s| format!(" ({s})"))
                .unwrap_or_default();
            Some((pub_ack_code(reason), format!("{reason:?}{detail}")))
        }
    }
}

/// The MQTT 5 reason code of a PUBACK reason (rumqttc keeps only the name).
fn pub_ack_code(reason: PubAckReason) -> u8 {
    match reason {
        PubAckReason::Success => 0x00,
        PubAckReason::NoMatchingSubscribers => 0x10,
        PubAckReason::UnspecifiedError => 0x80,
        PubAckReason::ImplementationSpecificError => 0x83,
        PubAckReason::NotAuthorized => 0x87,
        PubAckReason::TopicNameInvalid => 0x90,
        PubAckReason::PacketIdentifierInUse => 0x91,
        PubAckReason::QuotaExceeded => 0x97,
        PubAckReason::PayloadFormatInvalid => 0x99,
    }
}
