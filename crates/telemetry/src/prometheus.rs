//! The Prometheus text exposition format (version 0.0.4) of a [`MetricsSnapshot`], for
//! `GET /metrics`.
//!
//! Rendered by hand from the snapshot rather than through a Prometheus library: the values
//! already exist as atomics and fixed-bucket histograms, the format is a few lines per
//! series, and one source of truth serves both this page and the OTLP export. Names are
//! AIO's exactly (no `_total` suffix), so dashboards written for AIO's connector apply.

use std::fmt::Write as _;

use crate::histogram::BOUNDS_MS;
use crate::metrics::{ErrorCategory, MetricsSnapshot, SERVICE, names};

/// The content type of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Renders every series of `snapshot`.
pub fn render(snapshot: &MetricsSnapshot) -> String {
    let mut out = String::with_capacity(1024);
    let base = format!(
        "service=\"{SERVICE}\",instance=\"{}\"",
        escape(&snapshot.instance)
    );
    let stream_labels = |device: &str, endpoint: &str| {
        format!(
            "{base},device=\"{}\",endpoint=\"{}\"",
            escape(device),
            escape(endpoint)
        )
    };
    let op_labels = |asset: &str, operation: &str| {
        format!(
            "{base},asset=\"{}\",operation=\"{}\"",
            escape(asset),
            escape(operation)
        )
    };

    header(
        &mut out,
        names::MESSAGES_RECEIVED,
        "counter",
        "SSE events received.",
    );
    for s in &snapshot.streams {
        sample(
            &mut out,
            names::MESSAGES_RECEIVED,
            &stream_labels(&s.device, &s.endpoint),
            s.received,
        );
    }
    header(
        &mut out,
        names::MESSAGES_DROPPED,
        "counter",
        "Events received and forwarded nowhere (unmatched, unsupported destination, too large).",
    );
    for s in &snapshot.streams {
        sample(
            &mut out,
            names::MESSAGES_DROPPED,
            &stream_labels(&s.device, &s.endpoint),
            s.dropped,
        );
    }
    header(
        &mut out,
        names::BYTES_IN,
        "counter",
        "Event data bytes received.",
    );
    for s in &snapshot.streams {
        sample(
            &mut out,
            names::BYTES_IN,
            &stream_labels(&s.device, &s.endpoint),
            s.bytes_in,
        );
    }
    header(
        &mut out,
        names::ERRORS,
        "counter",
        "Errors by general category.",
    );
    for s in &snapshot.streams {
        for category in ErrorCategory::ALL {
            let n = s.errors.get(&category).copied().unwrap_or(0);
            let labels = format!(
                "{},error=\"{}\"",
                stream_labels(&s.device, &s.endpoint),
                category.as_str()
            );
            sample(&mut out, names::ERRORS, &labels, n);
        }
    }
    header(
        &mut out,
        names::MESSAGES_FORWARDED,
        "counter",
        "Messages delivered (acknowledged for QoS 1).",
    );
    for o in &snapshot.operations {
        sample(
            &mut out,
            names::MESSAGES_FORWARDED,
            &op_labels(&o.asset, &o.operation),
            o.forwarded,
        );
    }
    header(
        &mut out,
        names::MESSAGES_FAILED,
        "counter",
        "Messages whose delivery failed.",
    );
    for o in &snapshot.operations {
        sample(
            &mut out,
            names::MESSAGES_FAILED,
            &op_labels(&o.asset, &o.operation),
            o.failed,
        );
    }
    header(
        &mut out,
        names::BYTES_OUT,
        "counter",
        "Payload bytes delivered (no headers).",
    );
    for o in &snapshot.operations {
        sample(
            &mut out,
            names::BYTES_OUT,
            &op_labels(&o.asset, &o.operation),
            o.bytes_out,
        );
    }
    header(
        &mut out,
        names::PROCESSING_LATENCY,
        "histogram",
        "Milliseconds from an event's arrival until its delivery completed (PUBACK for QoS 1).",
    );
    for o in &snapshot.operations {
        let labels = op_labels(&o.asset, &o.operation);
        let cumulative = o.latency.cumulative();
        for (bound, count) in BOUNDS_MS.iter().zip(cumulative) {
            let _ = writeln!(
                out,
                "{}_bucket{{{labels},le=\"{bound}\"}} {count}",
                names::PROCESSING_LATENCY
            );
        }
        let _ = writeln!(
            out,
            "{}_bucket{{{labels},le=\"+Inf\"}} {}",
            names::PROCESSING_LATENCY,
            o.latency.count
        );
        let _ = writeln!(
            out,
            "{}_sum{{{labels}}} {}",
            names::PROCESSING_LATENCY,
            o.latency.sum_ms()
        );
        let _ = writeln!(
            out,
            "{}_count{{{labels}}} {}",
            names::PROCESSING_LATENCY,
            o.latency.count
        );
    }
    header(
        &mut out,
        names::HEARTBEAT,
        "counter",
        "+1 every 30 s while the connector runs.",
    );
    sample(&mut out, names::HEARTBEAT, &base, snapshot.heartbeat);
    out
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &str, value: u64) {
    let _ = writeln!(out, "{name}{{{labels}}} {value}");
}

/// A label value with `\`, `"` and line feeds escaped.
fn escape(value: &str) -> std::borrow::Cow<'_, str> {
    if !value.contains(['\\', '"', '\n']) {
        return value.into();
    }
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_series_with_service_and_instance() {
        let text = render(&crate::metrics::tests::sample().snapshot());
        let base = "service=\"aio_sse_connector\",instance=\"conn-1\"";
        for line in [
            format!(
                "aio_sse_connector_messages_received{{{base},device=\"dev\",endpoint=\"ep\"}} 6"
            ),
            format!(
                "aio_sse_connector_messages_dropped{{{base},device=\"dev\",endpoint=\"ep\"}} 2"
            ),
            format!("aio_sse_connector_bytes_in{{{base},device=\"dev\",endpoint=\"ep\"}} 60"),
            format!(
                "aio_sse_connector_errors{{{base},device=\"dev\",endpoint=\"ep\",error=\"connection\"}} 4"
            ),
            format!(
                "aio_sse_connector_errors{{{base},device=\"dev\",endpoint=\"ep\",error=\"delivery\"}} 0"
            ),
            format!(
                "aio_sse_connector_messages_forwarded{{{base},asset=\"a\",operation=\"a/datasets/d\"}} 2"
            ),
            format!(
                "aio_sse_connector_bytes_out{{{base},asset=\"a\",operation=\"a/datasets/d\"}} 20"
            ),
            format!(
                "aio_sse_connector_processing_latency_bucket{{{base},asset=\"a\",operation=\"a/datasets/d\",le=\"2\"}} 0"
            ),
            format!(
                "aio_sse_connector_processing_latency_bucket{{{base},asset=\"a\",operation=\"a/datasets/d\",le=\"5\"}} 1"
            ),
            format!(
                "aio_sse_connector_processing_latency_bucket{{{base},asset=\"a\",operation=\"a/datasets/d\",le=\"+Inf\"}} 2"
            ),
            format!(
                "aio_sse_connector_processing_latency_sum{{{base},asset=\"a\",operation=\"a/datasets/d\"}} 33"
            ),
            format!(
                "aio_sse_connector_processing_latency_count{{{base},asset=\"a\",operation=\"a/datasets/d\"}} 2"
            ),
            format!("aio_sse_connector_heartbeat{{{base}}} 0"),
            "# TYPE aio_sse_connector_processing_latency histogram".to_owned(),
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line}\n{text}");
        }
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(escape("plain"), "plain");
    }
}
