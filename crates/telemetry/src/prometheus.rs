//! The Prometheus text exposition format (version 0.0.4) of a [`MetricsSnapshot`], for
//! `GET /metrics`.
//!
//! Rendered by hand from the snapshot rather than through a Prometheus library: the values
//! already exist as atomics and fixed-bucket histograms, the format is a few lines per
//! series, and one source of truth serves both this page and the OTLP export: the
//! [`catalogue`](crate::catalogue) gives every name, help text and label.

use std::fmt::Write as _;

use crate::catalogue::{CATALOGUE, Value};
use crate::histogram::BOUNDS_MS;
use crate::metrics::MetricsSnapshot;

/// The content type of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Renders every series of `snapshot`, metric by metric in the catalogue's order.
pub fn render(snapshot: &MetricsSnapshot) -> String {
    let mut out = String::with_capacity(1024);
    for metric in &CATALOGUE {
        let name = metric.name;
        let _ = writeln!(out, "# HELP {name} {}", metric.help);
        let _ = writeln!(out, "# TYPE {name} {}", metric.kind().prometheus_type());
        for series in metric.series(snapshot) {
            let mut labels = String::new();
            for (i, (key, value)) in series.labels.iter().enumerate() {
                let comma = if i == 0 { "" } else { "," };
                let _ = write!(labels, "{comma}{key}=\"{}\"", escape(value));
            }
            match series.value {
                Value::Count(n) => {
                    let _ = writeln!(out, "{name}{{{labels}}} {n}");
                }
                Value::Histogram(h) => {
                    for (bound, count) in BOUNDS_MS.iter().zip(h.cumulative()) {
                        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {count}");
                    }
                    let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", h.count);
                    let _ = writeln!(out, "{name}_sum{{{labels}}} {}", h.sum_ms());
                    let _ = writeln!(out, "{name}_count{{{labels}}} {}", h.count);
                }
            }
        }
    }
    out
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
            "# TYPE aio_sse_connector_errors counter".to_owned(),
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line}\n{text}");
        }
        for metric in CATALOGUE {
            let help = format!("# HELP {} {}", metric.name, metric.help);
            assert!(text.lines().any(|l| l == help), "missing {help}\n{text}");
        }
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(escape("plain"), "plain");
    }
}
