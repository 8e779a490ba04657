//! The metric catalogue: one table of every metric's name, kind, unit, help text and labels,
//! and where its values come from in a [`MetricsSnapshot`]. Both exports read it: the
//! Prometheus text ([`prometheus::render`](crate::prometheus::render)) and the OTLP request
//! ([`otlp::metrics_request`](fn@crate::otlp::metrics_request)), so a name, a text or a label
//! cannot differ between them.
//!
//! Names and meanings are AIO's (its "SSE connector metrics": every series carries `service`
//! and `instance`; `errors` adds a general `error` category), so dashboards written for AIO's
//! connector apply. Units are OTLP's (UCUM: `By`, `ms`, `{message}`); the Prometheus text
//! format 0.0.4 has no unit line, so `/metrics` shows them only through the help text.

use crate::histogram::HistogramSnapshot;
use crate::metrics::{
    ErrorCategory, MetricsSnapshot, OperationMetrics, SERVICE, StreamMetrics, TransformFailureKind,
    TransformMetrics,
};

/// How a metric aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A cumulative monotonic counter (OTLP sum).
    Counter,
    /// A cumulative histogram with the buckets of [`BOUNDS_MS`](crate::histogram::BOUNDS_MS).
    Histogram,
}

impl Kind {
    /// The `# TYPE` of the Prometheus text format.
    pub fn prometheus_type(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Histogram => "histogram",
        }
    }
}

/// Where a metric's series come from; this also fixes its labels and its kind.
#[derive(Debug, Clone, Copy)]
enum Source {
    /// One series per device endpoint (`device`, `endpoint`).
    Stream(fn(&StreamMetrics) -> u64),
    /// One series per device endpoint and [`ErrorCategory`] (`device`, `endpoint`, `error`),
    /// every category present (0 when none happened).
    StreamErrors,
    /// One series per data operation (`asset`, `operation`).
    Operation(fn(&OperationMetrics) -> u64),
    /// The latency histogram of each data operation (`asset`, `operation`).
    Latency,
    /// One series per data operation with a transform (`asset`, `operation`).
    Transform(fn(&TransformMetrics) -> u64),
    /// One series per data operation with a transform and [`TransformFailureKind`]
    /// (`asset`, `operation`, `kind`), every kind present.
    TransformFailures,
    /// The connector's heartbeat (no other label).
    Heartbeat,
}

/// One metric of the catalogue.
#[derive(Debug, Clone, Copy)]
pub struct MetricDef {
    /// AIO's name, exactly (no `_total` suffix).
    pub name: &'static str,
    /// The UCUM unit of the OTLP export.
    pub unit: &'static str,
    /// What it counts: the Prometheus `# HELP` and the OTLP description.
    pub help: &'static str,
    source: Source,
}

/// A value of one series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// A counter's value.
    Count(u64),
    /// A histogram.
    Histogram(&'a HistogramSnapshot),
}

/// One series of a metric: its labels (`service` and `instance` first, then
/// [`MetricDef::labels`] in order) and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Series<'a> {
    /// Label names and values.
    pub labels: Vec<(&'static str, &'a str)>,
    /// The value.
    pub value: Value<'a>,
}

impl MetricDef {
    /// Counter or histogram.
    pub fn kind(&self) -> Kind {
        match self.source {
            Source::Latency => Kind::Histogram,
            _ => Kind::Counter,
        }
    }

    /// The labels of its series besides `service` and `instance`.
    pub fn labels(&self) -> &'static [&'static str] {
        match self.source {
            Source::Stream(_) => &["device", "endpoint"],
            Source::StreamErrors => &["device", "endpoint", "error"],
            Source::Operation(_) | Source::Latency | Source::Transform(_) => {
                &["asset", "operation"]
            }
            Source::TransformFailures => &["asset", "operation", "kind"],
            Source::Heartbeat => &[],
        }
    }

    /// Its series in `snapshot`, in the snapshot's order.
    pub fn series<'a>(&self, snapshot: &'a MetricsSnapshot) -> Vec<Series<'a>> {
        let base = || {
            vec![
                ("service", SERVICE),
                ("instance", snapshot.instance.as_str()),
            ]
        };
        let stream = |s: &'a StreamMetrics| {
            let mut labels = base();
            labels.extend([
                ("device", s.device.as_str()),
                ("endpoint", s.endpoint.as_str()),
            ]);
            labels
        };
        let operation = |o: &'a OperationMetrics| {
            let mut labels = base();
            labels.extend([
                ("asset", o.asset.as_str()),
                ("operation", o.operation.as_str()),
            ]);
            labels
        };
        match self.source {
            Source::Stream(value) => snapshot
                .streams
                .iter()
                .map(|s| Series {
                    labels: stream(s),
                    value: Value::Count(value(s)),
                })
                .collect(),
            Source::StreamErrors => snapshot
                .streams
                .iter()
                .flat_map(|s| {
                    ErrorCategory::ALL.into_iter().map(move |category| {
                        let mut labels = stream(s);
                        labels.push(("error", category.as_str()));
                        Series {
                            labels,
                            value: Value::Count(s.errors.get(&category).copied().unwrap_or(0)),
                        }
                    })
                })
                .collect(),
            Source::Operation(value) => snapshot
                .operations
                .iter()
                .map(|o| Series {
                    labels: operation(o),
                    value: Value::Count(value(o)),
                })
                .collect(),
            Source::Latency => snapshot
                .operations
                .iter()
                .map(|o| Series {
                    labels: operation(o),
                    value: Value::Histogram(&o.latency),
                })
                .collect(),
            Source::Transform(value) => snapshot
                .operations
                .iter()
                .filter_map(|o| Some((o, o.transform.as_ref()?)))
                .map(|(o, t)| Series {
                    labels: operation(o),
                    value: Value::Count(value(t)),
                })
                .collect(),
            Source::TransformFailures => snapshot
                .operations
                .iter()
                .filter_map(|o| Some((o, o.transform.as_ref()?)))
                .flat_map(|(o, t)| {
                    TransformFailureKind::ALL.into_iter().map(move |kind| {
                        let mut labels = operation(o);
                        labels.push(("kind", kind.as_str()));
                        Series {
                            labels,
                            value: Value::Count(t.failures.get(&kind).copied().unwrap_or(0)),
                        }
                    })
                })
                .collect(),
            Source::Heartbeat => vec![Series {
                labels: base(),
                value: Value::Count(snapshot.heartbeat),
            }],
        }
    }
}

/// Every metric, in the order of both exports.
pub const CATALOGUE: [MetricDef; 12] = [
    MESSAGES_RECEIVED,
    MESSAGES_DROPPED,
    BYTES_IN,
    ERRORS,
    MESSAGES_FORWARDED,
    MESSAGES_FAILED,
    BYTES_OUT,
    PROCESSING_LATENCY,
    TRANSFORM_TRANSFORMED,
    TRANSFORM_FILTERED,
    TRANSFORM_FAILURES,
    HEARTBEAT,
];

/// SSE events received, per device endpoint.
pub const MESSAGES_RECEIVED: MetricDef = MetricDef {
    name: "aio_sse_connector_messages_received",
    unit: "{message}",
    help: "SSE events received (those dropped for their size included).",
    source: Source::Stream(|s| s.received),
};

/// Events forwarded nowhere, per device endpoint.
pub const MESSAGES_DROPPED: MetricDef = MetricDef {
    name: "aio_sse_connector_messages_dropped",
    unit: "{message}",
    help: "SSE events received and forwarded nowhere (no dataset or event takes them, \
           destination not available, too large).",
    source: Source::Stream(|s| s.dropped),
};

/// Event data bytes received, per device endpoint.
pub const BYTES_IN: MetricDef = MetricDef {
    name: "aio_sse_connector_bytes_in",
    unit: "By",
    help: "Event data bytes received (no SSE framing).",
    source: Source::Stream(|s| s.bytes_in),
};

/// Errors by category, per device endpoint.
pub const ERRORS: MetricDef = MetricDef {
    name: "aio_sse_connector_errors",
    unit: "{error}",
    help: "Errors by general category (label error).",
    source: Source::StreamErrors,
};

/// Messages delivered, per data operation.
pub const MESSAGES_FORWARDED: MetricDef = MetricDef {
    name: "aio_sse_connector_messages_forwarded",
    unit: "{message}",
    help: "Messages delivered (acknowledged by the broker for QoS 1).",
    source: Source::Operation(|o| o.forwarded),
};

/// Messages whose delivery failed, per data operation.
pub const MESSAGES_FAILED: MetricDef = MetricDef {
    name: "aio_sse_connector_messages_failed",
    unit: "{message}",
    help: "Messages whose delivery failed.",
    source: Source::Operation(|o| o.failed),
};

/// Payload bytes delivered, per data operation.
pub const BYTES_OUT: MetricDef = MetricDef {
    name: "aio_sse_connector_bytes_out",
    unit: "By",
    help: "Payload bytes delivered (no MQTT headers or CloudEvents properties).",
    source: Source::Operation(|o| o.bytes_out),
};

/// Latency from an event's arrival to its delivery, per data operation.
pub const PROCESSING_LATENCY: MetricDef = MetricDef {
    name: "aio_sse_connector_processing_latency",
    unit: "ms",
    help: "Milliseconds from an event's arrival until its delivery completed \
           (PUBACK round trip included for QoS 1).",
    source: Source::Latency,
};

/// Events a transform passed on, per data operation with a transform (ours: AIO's
/// connector has no transforms).
pub const TRANSFORM_TRANSFORMED: MetricDef = MetricDef {
    name: "aio_sse_connector_transform_transformed",
    unit: "{message}",
    help: "Events the data operation's transform passed on to be published.",
    source: Source::Transform(|t| t.transformed),
};

/// Events a transform filtered out, per data operation with a transform.
pub const TRANSFORM_FILTERED: MetricDef = MetricDef {
    name: "aio_sse_connector_transform_filtered",
    unit: "{message}",
    help: "Events the data operation's transform filtered out (counted as done).",
    source: Source::Transform(|t| t.filtered),
};

/// Events a transform failed on, by kind, per data operation with a transform.
pub const TRANSFORM_FAILURES: MetricDef = MetricDef {
    name: "aio_sse_connector_transform_failures",
    unit: "{message}",
    help: "Events the data operation's transform failed on, by kind (label kind: trap, \
           timeout, error, output, load, backoff); each followed onError.",
    source: Source::TransformFailures,
};

/// The connector's liveness.
pub const HEARTBEAT: MetricDef = MetricDef {
    name: "aio_sse_connector_heartbeat",
    unit: "1",
    help: "+1 when the connector starts and every 30 s while it runs.",
    source: Source::Heartbeat,
};

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn names_are_aio_and_unique_texts_fit_both_formats() {
        let names: BTreeSet<&str> = CATALOGUE.iter().map(|m| m.name).collect();
        assert_eq!(names.len(), CATALOGUE.len());
        for metric in CATALOGUE {
            assert!(
                metric.name.starts_with("aio_sse_connector_"),
                "{}",
                metric.name
            );
            assert!(!metric.name.ends_with("_total"), "{}", metric.name);
            // `# HELP` ends at a line feed and escapes backslashes.
            assert!(
                !metric.help.is_empty() && !metric.help.contains(['\n', '\\']),
                "{}",
                metric.name
            );
            assert!(!metric.unit.is_empty(), "{}", metric.name);
        }
        assert_eq!(PROCESSING_LATENCY.kind(), Kind::Histogram);
        assert_eq!(PROCESSING_LATENCY.unit, "ms");
        assert_eq!(
            CATALOGUE
                .iter()
                .filter(|m| m.kind() == Kind::Histogram)
                .count(),
            1
        );
    }

    #[test]
    fn series_carry_their_labels_in_order() {
        let snapshot = crate::metrics::tests::sample().snapshot();
        for metric in CATALOGUE {
            for series in metric.series(&snapshot) {
                let names: Vec<&str> = series.labels.iter().map(|(k, _)| *k).collect();
                assert_eq!(names[..2], ["service", "instance"], "{}", metric.name);
                assert_eq!(&names[2..], metric.labels(), "{}", metric.name);
                assert_eq!(
                    matches!(series.value, Value::Histogram(_)),
                    metric.kind() == Kind::Histogram
                );
            }
        }
        let errors = ERRORS.series(&snapshot);
        assert_eq!(errors.len(), ErrorCategory::ALL.len());
        assert_eq!(errors[0].labels[4], ("error", "connection"));
        assert_eq!(errors[0].value, Value::Count(4));
        assert_eq!(errors[1].value, Value::Count(0));
        assert_eq!(
            HEARTBEAT.series(&snapshot),
            [Series {
                labels: vec![("service", SERVICE), ("instance", "conn-1")],
                value: Value::Count(0)
            }]
        );
        assert_eq!(BYTES_IN.series(&snapshot)[0].value, Value::Count(60));
        assert_eq!(BYTES_OUT.series(&snapshot)[0].value, Value::Count(20));
        assert_eq!(
            TRANSFORM_TRANSFORMED.series(&snapshot)[0].value,
            Value::Count(5)
        );
        let failures = TRANSFORM_FAILURES.series(&snapshot);
        assert_eq!(failures.len(), TransformFailureKind::ALL.len());
        assert_eq!(failures[1].labels[4], ("kind", "timeout"));
        assert_eq!(failures[1].value, Value::Count(1));
        assert_eq!(failures[0].value, Value::Count(0));
    }
}
