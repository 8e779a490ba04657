//! Routing (DESIGN 3.2–3.3): which data operations of a stream take an event.
//!
//! A stream's [`Router`] holds every operation reading it. An event goes to each operation
//! whose [`Match`] accepts its SSE type: a dataset takes every event, or the event types of its
//! `datasetConfiguration`; an event takes the events whose type is its `dataSource`, or every
//! event of its own path stream. Events no operation takes are counted and dropped.
//!
//! Operations whose destination this runtime does not have (a `BrokerStateStore` without a
//! state store, a `Storage` without a storage root) are kept aside (the supervisor logs each
//! once) so that their events are counted as `unsupported`, not as unmatched.

use std::sync::Arc;

use aio_mqtt::cloudevents::OperationHeaders;
use model::destination::Sink;
use model::plan::{DataPointRule, Match, Operation, OperationId};

use crate::forward::Destination;
use crate::state::OperationStats;
use crate::transform::OperationTransform;

/// One operation, ready to publish.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// Which operation.
    pub id: OperationId,
    /// Which events it takes.
    pub matching: Match,
    /// Its projection; empty: the event data as it is.
    pub data_points: Vec<DataPointRule>,
    /// Its headers (computed once).
    pub headers: OperationHeaders,
    /// Where it delivers.
    pub destination: Destination,
    /// Its counters (the supervisor's, kept across router changes; see [`Router::with_stats`]).
    pub stats: Arc<OperationStats>,
    /// Its transform, when it has one.
    pub transform: Option<Arc<OperationTransform>>,
}

/// The operations of one stream.
#[derive(Debug, Clone, Default)]
pub(crate) struct Router {
    /// Shared with the deliveries in flight, which keep their operation's target.
    targets: Vec<Arc<Target>>,
    unsupported: Vec<Match>,
}

impl Router {
    /// The router of `operations`, whose messages carry `client_id` as `__srcId`; those whose
    /// sink is not `supported` are kept aside.
    pub fn new<'a>(
        operations: impl IntoIterator<Item = &'a Operation>,
        client_id: &str,
        supported: impl Fn(&Sink) -> bool,
    ) -> Self {
        let mut router = Self::default();
        for op in operations {
            if supported(&op.sink) {
                router.targets.push(Arc::new(Target {
                    id: op.id.clone(),
                    matching: op.matching.clone(),
                    data_points: op.data_points.clone(),
                    headers: OperationHeaders::new(op, client_id),
                    destination: Destination::of(op),
                    stats: Arc::default(),
                    transform: None,
                }));
            } else {
                router.unsupported.push(op.matching.clone());
            }
        }
        router
    }

    /// Uses `stats` for each operation's counters.
    pub fn with_stats(mut self, stats: impl Fn(&OperationId) -> Arc<OperationStats>) -> Self {
        for target in &mut self.targets {
            Arc::make_mut(target).stats = stats(&target.id);
        }
        self
    }

    /// Uses `transforms` for each operation's transform (none without it); call it after
    /// [`with_stats`](Self::with_stats), whose counters then export the transform's.
    pub fn with_transforms(
        mut self,
        transforms: impl Fn(&OperationId) -> Option<Arc<OperationTransform>>,
    ) -> Self {
        for target in &mut self.targets {
            let transform = transforms(&target.id);
            if transform.is_some() {
                target
                    .stats
                    .transform
                    .present
                    .store(true, std::sync::atomic::Ordering::Relaxed);
            }
            Arc::make_mut(target).transform = transform;
        }
        self
    }

    /// The operations that take an event of SSE type `event_type`, in operation id order.
    pub fn route<'a>(&'a self, event_type: &'a str) -> impl Iterator<Item = &'a Arc<Target>> + 'a {
        self.targets
            .iter()
            .filter(move |t| t.matching.accepts(event_type))
    }

    /// The operation `id`, if this router delivers it.
    pub fn target(&self, id: &OperationId) -> Option<&Arc<Target>> {
        self.targets.iter().find(|t| t.id == *id)
    }

    /// Whether an operation that is not run yet would take an event of this type.
    pub fn wanted_by_unsupported(&self, event_type: &str) -> bool {
        self.unsupported.iter().any(|m| m.accepts(event_type))
    }

    /// Number of operations that deliver.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.targets.len()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use model::destination::{Qos, Retain};
    use model::plan::{AssetIdentity, DeviceIdentity, StreamSpec};

    use super::*;

    fn op(id: OperationId, matching: Match, sink: Sink) -> Operation {
        Operation {
            id,
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
            matching,
            data_points: Vec::new(),
            sink,
            data_source: String::new(),
            type_ref: None,
            transform: None,
        }
    }

    fn topic(t: &str) -> Sink {
        Sink::Mqtt {
            topic: t.into(),
            qos: Qos::Qos1,
            retain: Retain::Never,
            ttl: None,
        }
    }

    fn types(names: &[&str]) -> Match {
        Match::EventTypes(
            names
                .iter()
                .map(|s| (*s).to_owned())
                .collect::<BTreeSet<_>>(),
        )
    }

    fn dataset(name: &str) -> OperationId {
        OperationId::Dataset {
            asset: "a".into(),
            dataset: name.into(),
        }
    }

    fn event(name: &str) -> OperationId {
        OperationId::Event {
            asset: "a".into(),
            group: "g".into(),
            event: name.into(),
        }
    }

    #[test]
    fn each_event_goes_to_every_operation_that_takes_it() {
        let ops = [
            op(dataset("all"), Match::All, topic("t/all")),
            op(
                dataset("readings"),
                types(&["reading", "sample"]),
                topic("t/r"),
            ),
            op(event("alarm"), types(&["alarm"]), topic("t/alarm")),
            op(event("msg"), types(&["message"]), topic("t/msg")),
        ];
        let router = Router::new(&ops, "c", |_| true);
        assert_eq!(router.len(), 4);
        let topics = |ty: &str| -> Vec<String> {
            router
                .route(ty)
                .map(|t| match &t.destination {
                    Destination::Mqtt(mqtt) => mqtt.topic.clone(),
                    other => panic!("{other:?}"),
                })
                .collect()
        };
        assert_eq!(topics("reading"), ["t/all", "t/r"]);
        assert_eq!(topics("alarm"), ["t/all", "t/alarm"]);
        assert_eq!(topics("message"), ["t/all", "t/msg"]);
        assert_eq!(topics("other"), ["t/all"]);
    }

    #[test]
    fn unmatched_and_unsupported_are_told_apart() {
        let ops = [
            op(event("alarm"), types(&["alarm"]), topic("t/alarm")),
            op(
                dataset("latest"),
                types(&["reading"]),
                Sink::BrokerStateStore { key: "k".into() },
            ),
            op(
                event("file"),
                types(&["log"]),
                Sink::Storage { path: "x".into() },
            ),
        ];
        let router = Router::new(&ops, "c", |sink| matches!(sink, Sink::Mqtt { .. }));
        assert_eq!(router.len(), 1);
        assert_eq!(router.route("reading").count(), 0);
        assert!(router.wanted_by_unsupported("reading"));
        assert!(router.wanted_by_unsupported("log"));
        assert!(!router.wanted_by_unsupported("heartbeat"));
        assert_eq!(router.route("heartbeat").count(), 0);

        let router = Router::new(&ops, "c", |_| true);
        assert_eq!(router.len(), 3, "every sink supported");
        assert!(matches!(
            router.route("reading").next().map(|t| &t.destination),
            Some(Destination::KeyValue { key }) if key == "k"
        ));
        assert!(matches!(
            router.route("log").next().map(|t| &t.destination),
            Some(Destination::File { path, .. }) if path == "x"
        ));
        assert!(!router.wanted_by_unsupported("reading"));
    }

    #[test]
    fn targets_carry_headers_and_projection() {
        let mut o = op(dataset("d"), Match::All, topic("t"));
        o.data_points = vec![DataPointRule {
            name: "temp".into(),
            pointer: "/t".into(),
        }];
        let router = Router::new([&o], "client-9", |_| true);
        let t = router.route("message").next().expect("routed");
        assert_eq!(t.id, dataset("d"));
        assert_eq!(t.data_points.len(), 1);
        assert_eq!(t.headers.subject(), "a/d");
    }
}
