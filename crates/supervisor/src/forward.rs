//! From an event and an operation to what its destination receives: an MQTT [`Message`]
//! (topic, QoS, retain and expiry from the plan's [`Sink::Mqtt`], AIO's headers from
//! [`aio_mqtt::cloudevents`]), a state store SET (the key and the payload), or a `Storage`
//! [`Line`]. The payload is the event data itself (zero-copy) or its projection.

use aio_mqtt::cloudevents::{self, DataKind, OperationHeaders};
use aio_mqtt::hlc::HybridLogicalClock;
use aio_mqtt::{Message, Qos};
use bytes::Bytes;
use model::destination::{Qos as PlanQos, Retain, Sink};
use model::plan::Operation;
use sinks::file::{Line, Record};
use sse_client::Event;

/// Where one operation delivers, resolved once from its [`Sink`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// Publish to MQTT.
    Mqtt(MqttSettings),
    /// SET the payload at `key` in the key-value store.
    KeyValue {
        /// The key.
        key: String,
    },
    /// Append a line to the file at `path` below the storage root.
    File {
        /// The path, relative to the storage root.
        path: String,
        /// CloudEvents `type` of the lines.
        event_type: String,
    },
}

impl Destination {
    /// The destination of `operation`.
    pub fn of(operation: &Operation) -> Self {
        match &operation.sink {
            Sink::Mqtt {
                topic,
                qos,
                retain,
                ttl,
            } => Self::Mqtt(MqttSettings::new(topic, *qos, *retain, *ttl)),
            Sink::BrokerStateStore { key } => Self::KeyValue { key: key.clone() },
            Sink::Storage { path } => Self::File {
                path: path.clone(),
                event_type: cloudevents::event_type(
                    DataKind::from(&operation.id),
                    operation.type_ref.as_deref(),
                ),
            },
        }
    }
}

/// What one destination of one event receives.
#[derive(Debug)]
pub enum Outgoing {
    /// An MQTT message.
    Mqtt(Message),
    /// A SET.
    KeyValue {
        /// The key.
        key: String,
        /// The payload.
        value: Bytes,
    },
    /// A line of a `Storage` file.
    File {
        /// The path, relative to the storage root.
        path: String,
        /// The line.
        line: Line,
    },
}

/// What `destination` receives of `event` with `payload`: a message with a new CloudEvents
/// `id` and the next HLC timestamp, the SET of the payload, or a line with a new `id` and the
/// `time` of the next HLC timestamp.
pub fn outgoing(
    destination: &Destination,
    headers: &OperationHeaders,
    event: &Event,
    payload: Bytes,
    content_type: &'static str,
    clock: &HybridLogicalClock,
) -> Outgoing {
    match destination {
        Destination::Mqtt(settings) => Outgoing::Mqtt(message(
            settings,
            headers,
            event,
            payload,
            content_type,
            clock,
        )),
        Destination::KeyValue { key } => Outgoing::KeyValue {
            key: key.clone(),
            value: payload,
        },
        Destination::File { path, event_type } => {
            let time = cloudevents::time(clock.now().millis);
            let id = cloudevents::uuid_v4();
            let line = Line::new(&Record {
                time: &time,
                event_type,
                id: &id,
                subject: headers.subject(),
                sse_event: &event.event_type,
                sse_id: &event.last_event_id,
                data: &payload,
            });
            Outgoing::File {
                path: path.clone(),
                line,
            }
        }
    }
}

/// How an operation's messages are published: the MQTT part of its destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MqttSettings {
    /// Topic name.
    pub topic: String,
    /// `Qos0` → at most once, `Qos1` (the default) → at least once.
    pub qos: Qos,
    /// `retain: Keep` → true; `Never` (the default) → false.
    pub retain: bool,
    /// `ttl` seconds, else AIO's default of [`cloudevents::DEFAULT_EXPIRY_SECS`] (10 s).
    pub expiry_secs: u32,
}

impl MqttSettings {
    /// The settings of `Sink::Mqtt { topic, qos, retain, ttl }`.
    fn new(topic: &str, qos: PlanQos, retain: Retain, ttl: Option<u32>) -> Self {
        Self {
            topic: topic.to_owned(),
            qos: match qos {
                PlanQos::Qos0 => Qos::AtMostOnce,
                PlanQos::Qos1 => Qos::AtLeastOnce,
            },
            retain: retain == Retain::Keep,
            expiry_secs: ttl.unwrap_or(cloudevents::DEFAULT_EXPIRY_SECS),
        }
    }
}

/// The message of one event for one operation: `payload` with its `content_type`, a new
/// CloudEvents `id` and correlation data, and the next HLC timestamp for `__ts` and `time`.
pub fn message(
    settings: &MqttSettings,
    headers: &OperationHeaders,
    event: &Event,
    payload: Bytes,
    content_type: &'static str,
    clock: &HybridLogicalClock,
) -> Message {
    let timestamp = clock.now();
    Message {
        topic: settings.topic.clone(),
        qos: settings.qos,
        retain: settings.retain,
        expiry_secs: Some(settings.expiry_secs),
        content_type: Some(content_type.to_owned()),
        correlation_data: Some(cloudevents::correlation_data()),
        user_properties: headers.user_properties(
            cloudevents::uuid_v4(),
            &timestamp,
            &event.event_type,
            &event.last_event_id,
        ),
        payload,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::plan::{AssetIdentity, DeviceIdentity, Match, OperationId, StreamSpec};
    use sse_client::{ByteString, SmolStr};

    fn mqtt(qos: PlanQos, retain: Retain, ttl: Option<u32>) -> Sink {
        Sink::Mqtt {
            topic: "t/x".into(),
            qos,
            retain,
            ttl,
        }
    }

    fn operation(sink: Sink) -> Operation {
        Operation {
            id: OperationId::Dataset {
                asset: "a".into(),
                dataset: "d".into(),
            },
            device: DeviceIdentity {
                name: "dev".into(),
                endpoint: "ep".into(),
                uuid: None,
                external_id: None,
                version: None,
            },
            asset: AssetIdentity {
                name: "a".into(),
                uuid: None,
                external_id: None,
                version: None,
            },
            stream: StreamSpec {
                url: "http://h/s".parse().expect("url"),
                credentials: model::Credentials::Anonymous,
                trust: Vec::new(),
            },
            matching: Match::All,
            data_points: Vec::new(),
            sink,
            data_source: "/s".into(),
            type_ref: None,
            transform: None,
        }
    }

    fn settings(sink: &Sink) -> Option<MqttSettings> {
        match Destination::of(&operation(sink.clone())) {
            Destination::Mqtt(settings) => Some(settings),
            _ => None,
        }
    }

    fn event() -> Event {
        Event {
            event_type: SmolStr::new("reading"),
            data: ByteString::from_static("{\"a\":1}"),
            last_event_id: SmolStr::new("7"),
            has_own_id: true,
        }
    }

    #[test]
    fn settings_from_the_plan_with_aio_defaults() {
        let s = settings(&mqtt(PlanQos::Qos1, Retain::Never, None)).expect("mqtt");
        assert_eq!(
            s,
            MqttSettings {
                topic: "t/x".into(),
                qos: Qos::AtLeastOnce,
                retain: false,
                expiry_secs: 10
            }
        );
        let s = settings(&mqtt(PlanQos::Qos0, Retain::Keep, Some(3600))).expect("mqtt");
        assert_eq!(
            (s.qos, s.retain, s.expiry_secs),
            (Qos::AtMostOnce, true, 3600)
        );
        assert!(settings(&Sink::BrokerStateStore { key: "k".into() }).is_none());
        assert!(settings(&Sink::Storage { path: "p".into() }).is_none());
    }

    #[test]
    fn message_carries_payload_and_headers() {
        let op = operation(mqtt(PlanQos::Qos1, Retain::Never, Some(60)));
        let settings = settings(&op.sink).expect("mqtt");
        let headers = OperationHeaders::new(&op, "client");
        let event = event();
        let clock = HybridLogicalClock::with_node_id("n");
        let payload = event.data.clone().into_bytes();
        let m = message(
            &settings,
            &headers,
            &event,
            payload,
            "application/json",
            &clock,
        );
        assert_eq!(m.topic, "t/x");
        assert_eq!(m.expiry_secs, Some(60));
        assert_eq!(m.content_type.as_deref(), Some("application/json"));
        assert_eq!(m.correlation_data.as_ref().map(Bytes::len), Some(16));
        assert_eq!(&m.payload[..], b"{\"a\":1}");
        let get = |k: &str| {
            m.user_properties
                .iter()
                .find(|(name, _)| name == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("sse-event"), Some("reading"));
        assert_eq!(get("sse-id"), Some("7"));
        assert_eq!(get("source"), Some("ms-aio:dev/s"));
        assert_eq!(get("subject"), Some("a/d"));
        assert_eq!(get("type"), Some("DataSet"));
        assert_eq!(get("__srcId"), Some("client"));
        assert!(get("__ts").is_some_and(|ts| ts.ends_with(":n")));
    }

    #[test]
    fn state_store_and_file_destinations() {
        let clock = HybridLogicalClock::with_node_id("n");
        let event = event();
        let payload = event.data.clone().into_bytes();

        let op = operation(Sink::BrokerStateStore {
            key: "latest".into(),
        });
        let headers = OperationHeaders::new(&op, "client");
        let out = outgoing(
            &Destination::of(&op),
            &headers,
            &event,
            payload.clone(),
            "application/json",
            &clock,
        );
        assert!(
            matches!(&out, Outgoing::KeyValue { key, value } if key == "latest" && value == &payload),
            "{out:?}"
        );

        let mut op = operation(Sink::Storage {
            path: "f/a.jsonl".into(),
        });
        op.type_ref = Some("weather".into());
        let headers = OperationHeaders::new(&op, "client");
        let out = outgoing(
            &Destination::of(&op),
            &headers,
            &event,
            payload,
            "application/json",
            &clock,
        );
        let Outgoing::File { path, line } = out else {
            panic!("a file line: {out:?}");
        };
        assert_eq!(path, "f/a.jsonl");
        let v: serde_json::Value = serde_json::from_slice(line.as_bytes()).expect("JSON");
        assert_eq!(v["type"], "DataSet/weather");
        assert_eq!(v["subject"], "a/d");
        assert_eq!(v["sse-id"], "7");
        assert_eq!(v["data"]["a"], 1);
        assert_eq!(v["id"].as_str().map(str::len), Some(36));
        assert!(v["time"].as_str().is_some_and(|t| t.ends_with('Z')));
    }
}
