//! From an event and an operation to the [`Message`] the publisher sends: topic, QoS, retain
//! and expiry from the plan's [`Sink::Mqtt`], AIO's headers from [`sinks::cloudevents`], and
//! the payload: the event data itself (zero-copy) or its projection.

use bytes::Bytes;
use model::destination::{Qos as PlanQos, Retain, Sink};
use sinks::cloudevents::{self, OperationHeaders};
use sinks::hlc::HybridLogicalClock;
use sinks::{Message, Qos};
use sse_client::Event;

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
    /// The settings of an MQTT sink; `None` for the sinks not supported by this runtime yet
    /// (`BrokerStateStore`, `Storage`).
    pub fn from_sink(sink: &Sink) -> Option<Self> {
        match sink {
            Sink::Mqtt {
                topic,
                qos,
                retain,
                ttl,
            } => Some(Self {
                topic: topic.clone(),
                qos: match qos {
                    PlanQos::Qos0 => Qos::AtMostOnce,
                    PlanQos::Qos1 => Qos::AtLeastOnce,
                },
                retain: *retain == Retain::Keep,
                expiry_secs: ttl.unwrap_or(cloudevents::DEFAULT_EXPIRY_SECS),
            }),
            Sink::BrokerStateStore { .. } | Sink::Storage { .. } => None,
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
    use model::plan::{AssetIdentity, DeviceIdentity, Match, Operation, OperationId, StreamSpec};
    use sse_client::{ByteString, SmolStr};

    fn mqtt(qos: PlanQos, retain: Retain, ttl: Option<u32>) -> Sink {
        Sink::Mqtt {
            topic: "t/x".into(),
            qos,
            retain,
            ttl,
        }
    }

    #[test]
    fn settings_from_the_plan_with_aio_defaults() {
        let s = MqttSettings::from_sink(&mqtt(PlanQos::Qos1, Retain::Never, None)).expect("mqtt");
        assert_eq!(
            s,
            MqttSettings {
                topic: "t/x".into(),
                qos: Qos::AtLeastOnce,
                retain: false,
                expiry_secs: 10
            }
        );
        let s =
            MqttSettings::from_sink(&mqtt(PlanQos::Qos0, Retain::Keep, Some(3600))).expect("mqtt");
        assert_eq!(
            (s.qos, s.retain, s.expiry_secs),
            (Qos::AtMostOnce, true, 3600)
        );
        assert!(MqttSettings::from_sink(&Sink::BrokerStateStore { key: "k".into() }).is_none());
        assert!(MqttSettings::from_sink(&Sink::Storage { path: "p".into() }).is_none());
    }

    #[test]
    fn message_carries_payload_and_headers() {
        let op = Operation {
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
            sink: mqtt(PlanQos::Qos1, Retain::Never, Some(60)),
            data_source: "/s".into(),
            type_ref: None,
        };
        let settings = MqttSettings::from_sink(&op.sink).expect("mqtt");
        let headers = OperationHeaders::new(&op, "client");
        let event = Event {
            event_type: SmolStr::new("reading"),
            data: ByteString::from_static("{\"a\":1}"),
            last_event_id: SmolStr::new("7"),
            has_own_id: true,
        };
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
}
