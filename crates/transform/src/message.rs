//! The message an operator sees and returns, and its conversion to and from the WIT
//! `data-model`: the payload goes in as a `buffer` (no copy until the module reads it; no
//! copy back when it returns it unread), the topic as bytes, the rest as strings. What comes
//! back is checked against the [`Limits`].

use bytes::Bytes;
use wasmtime::component::{Resource, ResourceTable};

use crate::bindings::wasm_graph::processor::hybrid_logical_clock::{HybridLogicalClock, Timespec};
use crate::bindings::wasm_graph::processor::types::{
    BufferOrBytes, BufferOrString, DataModel, Message as WitMessage, MessageProperties, Timestamp,
};
use crate::host::HostBytes;
use crate::runtime::Limits;

/// One message on its way through a transform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// MQTT topic it is published to.
    pub topic: String,
    /// The payload.
    pub payload: Bytes,
    /// Its content type, e.g. `application/json`.
    pub content_type: Option<String>,
    /// Hybrid logical clock timestamp.
    pub timestamp: Clock,
    /// User properties (for an SSE event: `sse-event` and `sse-id`).
    pub properties: Vec<(String, String)>,
}

/// A hybrid logical clock reading.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Clock {
    /// Seconds since the Unix epoch.
    pub secs: u64,
    /// Nanoseconds within the second.
    pub nanos: u32,
    /// Logical counter.
    pub counter: u64,
    /// The node that made it.
    pub node_id: String,
}

impl Clock {
    pub(crate) fn to_wit(&self) -> HybridLogicalClock {
        HybridLogicalClock {
            timestamp: Timespec {
                secs: self.secs,
                nanos: self.nanos,
            },
            counter: self.counter,
            node_id: self.node_id.clone(),
        }
    }
}

impl Message {
    /// The WIT `data-model` of this message; its payload handle is put in `table`.
    pub(crate) fn to_wit(&self, table: &mut ResourceTable) -> wasmtime::Result<DataModel> {
        let payload = table.push(HostBytes(self.payload.clone()))?;
        Ok(DataModel::Message(WitMessage {
            timestamp: Timestamp {
                timestamp: Timespec {
                    secs: self.timestamp.secs,
                    nanos: self.timestamp.nanos,
                },
                counter: self.timestamp.counter,
                node_id: BufferOrString::String(self.timestamp.node_id.clone()),
            },
            topic: BufferOrBytes::Bytes(self.topic.as_bytes().to_vec()),
            content_type: self.content_type.clone().map(BufferOrString::String),
            payload: BufferOrBytes::Buffer(payload),
            properties: MessageProperties {
                user_properties: self
                    .properties
                    .iter()
                    .map(|(k, v)| {
                        (
                            BufferOrString::String(k.clone()),
                            BufferOrString::String(v.clone()),
                        )
                    })
                    .collect(),
            },
            schema: None,
        }))
    }

    /// The message a map returned, checked: a valid topic, a payload and a property count
    /// within `limits`. Its `schema` is not used: the connector references its own.
    pub(crate) fn from_wit(
        data: DataModel,
        table: &mut ResourceTable,
        limits: &Limits,
    ) -> Result<Self, String> {
        let DataModel::Message(m) = data else {
            return Err("a map must return a message".into());
        };
        let topic = String::from_utf8(bytes_of(m.topic, table)?.to_vec())
            .map_err(|_| "the topic is not UTF-8".to_owned())?;
        check_topic(&topic)?;
        let payload = bytes_of(m.payload, table)?;
        if payload.len() > limits.output_bytes {
            return Err(format!(
                "the payload has {} bytes, more than the limit of {}",
                payload.len(),
                limits.output_bytes
            ));
        }
        if m.properties.user_properties.len() > limits.properties {
            return Err(format!(
                "{} user properties, more than the limit of {}",
                m.properties.user_properties.len(),
                limits.properties
            ));
        }
        let content_type = m.content_type.map(|c| string_of(c, table)).transpose()?;
        let properties = m
            .properties
            .user_properties
            .into_iter()
            .map(|(k, v)| Ok((string_of(k, table)?, string_of(v, table)?)))
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Self {
            topic,
            payload,
            content_type,
            timestamp: Clock {
                secs: m.timestamp.timestamp.secs,
                nanos: m.timestamp.timestamp.nanos,
                counter: m.timestamp.counter,
                node_id: string_of(m.timestamp.node_id, table)?,
            },
            properties,
        })
    }
}

/// The bytes of a returned value: a host buffer handed back (no copy) or the module's bytes.
fn bytes_of(value: BufferOrBytes, table: &mut ResourceTable) -> Result<Bytes, String> {
    match value {
        BufferOrBytes::Bytes(b) => Ok(Bytes::from(b)),
        BufferOrBytes::Buffer(handle) => take(handle, table),
    }
}

fn string_of(value: BufferOrString, table: &mut ResourceTable) -> Result<String, String> {
    match value {
        BufferOrString::String(s) => Ok(s),
        BufferOrString::Buffer(handle) => String::from_utf8(take(handle, table)?.to_vec())
            .map_err(|_| "a string buffer is not UTF-8".to_owned()),
    }
}

fn take(handle: Resource<HostBytes>, table: &mut ResourceTable) -> Result<Bytes, String> {
    table
        .delete(handle)
        .map(|b| b.0)
        .map_err(|e| format!("an unknown buffer handle: {e}"))
}

/// An MQTT topic name a message can be published to: not empty, at most 65,535 bytes, no
/// wildcards (`+`, `#`), no NUL.
pub fn check_topic(topic: &str) -> Result<(), String> {
    if topic.is_empty() {
        return Err("the topic is empty".into());
    }
    if topic.len() > usize::from(u16::MAX) {
        return Err("the topic is longer than 65,535 bytes".into());
    }
    if let Some(c) = topic.chars().find(|c| matches!(c, '+' | '#' | '\0')) {
        return Err(format!("the topic {topic:?} contains {c:?}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics() {
        assert!(check_topic("a/b/c").is_ok());
        assert!(check_topic("").is_err());
        assert!(check_topic("a/+/c").is_err());
        assert!(check_topic("a/#").is_err());
        assert!(check_topic("a\0").is_err());
        assert!(check_topic(&"x".repeat(65_536)).is_err());
    }
}
