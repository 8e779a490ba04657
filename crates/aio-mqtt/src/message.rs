//! One message for an MQTT v5 destination.

use bytes::Bytes;

/// MQTT quality of service; QoS 2 is not used by AIO connectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Qos {
    /// At most once: delivered when written to the connection.
    AtMostOnce,
    /// At least once: delivered when the broker sent PUBACK.
    AtLeastOnce,
}

/// A publish with every MQTT v5 property the connector sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Topic name (no wildcards).
    pub topic: String,
    /// Quality of service.
    pub qos: Qos,
    /// Retain flag.
    pub retain: bool,
    /// Message expiry interval in seconds.
    pub expiry_secs: Option<u32>,
    /// Content type property.
    pub content_type: Option<String>,
    /// Correlation data property.
    pub correlation_data: Option<Bytes>,
    /// User properties, in order.
    pub user_properties: Vec<(String, String)>,
    /// The payload (a zero-copy slice of the SSE event's data, usually).
    pub payload: Bytes,
}
