//! The protobuf `ExportMetricsServiceRequest` of a [`MetricsSnapshot`], built from the
//! [`catalogue`](crate::catalogue) (the same names, help texts and labels as `/metrics`).

use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, metric, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;

use crate::catalogue::{CATALOGUE, Kind, Value};
use crate::histogram::BOUNDS_MS;
use crate::metrics::{MetricsSnapshot, SERVICE};

/// The OTLP request of `snapshot` at `now`: every counter as a cumulative monotonic sum and
/// the latency as a cumulative explicit-bucket histogram, each data point with the `service`
/// and `instance` attributes and its own labels (as in the Prometheus text).
pub fn metrics_request(snapshot: &MetricsSnapshot, now: SystemTime) -> ExportMetricsServiceRequest {
    let start = nanos(snapshot.start.unwrap_or(now));
    let now = nanos(now);
    let metrics = CATALOGUE
        .iter()
        .map(|def| {
            let mut numbers = Vec::new();
            let mut histograms = Vec::new();
            for series in def.series(snapshot) {
                let attributes = series.labels.iter().map(|(k, v)| kv(k, v)).collect();
                match series.value {
                    Value::Count(n) => numbers.push(NumberDataPoint {
                        attributes,
                        start_time_unix_nano: start,
                        time_unix_nano: now,
                        value: Some(number_data_point::Value::AsInt(
                            i64::try_from(n).unwrap_or(i64::MAX),
                        )),
                        ..NumberDataPoint::default()
                    }),
                    Value::Histogram(h) => histograms.push(HistogramDataPoint {
                        attributes,
                        start_time_unix_nano: start,
                        time_unix_nano: now,
                        count: h.count,
                        sum: Some(h.sum_ms()),
                        bucket_counts: h.buckets.to_vec(),
                        explicit_bounds: BOUNDS_MS.to_vec(),
                        ..HistogramDataPoint::default()
                    }),
                }
            }
            let data = match def.kind() {
                Kind::Counter => metric::Data::Sum(Sum {
                    data_points: numbers,
                    aggregation_temporality: AggregationTemporality::Cumulative as i32,
                    is_monotonic: true,
                }),
                Kind::Histogram => metric::Data::Histogram(Histogram {
                    data_points: histograms,
                    aggregation_temporality: AggregationTemporality::Cumulative as i32,
                }),
            };
            Metric {
                name: def.name.to_owned(),
                description: def.help.to_owned(),
                unit: def.unit.to_owned(),
                data: Some(data),
                ..Metric::default()
            }
        })
        .collect();
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: resource_attributes(&snapshot.instance),
                ..Resource::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: "sse-connector".to_owned(),
                    version: env!("CARGO_PKG_VERSION").to_owned(),
                    ..InstrumentationScope::default()
                }),
                metrics,
                ..ScopeMetrics::default()
            }],
            ..ResourceMetrics::default()
        }],
    }
}

/// The resource of every signal: `service.name=aio_sse_connector`,
/// `service.instance.id=<connector id>`, `service.version`.
fn resource_attributes(instance: &str) -> Vec<KeyValue> {
    vec![
        kv("service.name", SERVICE),
        kv("service.instance.id", instance),
        kv("service.version", env!("CARGO_PKG_VERSION")),
    ]
}

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
        ..KeyValue::default()
    }
}

fn nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::{MESSAGES_FORWARDED, PROCESSING_LATENCY};

    #[test]
    fn request_has_every_metric_of_the_catalogue_with_labels() {
        let snapshot = crate::metrics::tests::sample().snapshot();
        let request = metrics_request(&snapshot, SystemTime::now());
        let metrics = &request.resource_metrics[0].scope_metrics[0].metrics;
        assert_eq!(metrics.len(), CATALOGUE.len());
        for (metric, def) in metrics.iter().zip(CATALOGUE) {
            assert_eq!(
                (
                    metric.name.as_str(),
                    metric.description.as_str(),
                    metric.unit.as_str()
                ),
                (def.name, def.help, def.unit)
            );
        }
        let forwarded = metrics
            .iter()
            .find(|m| m.name == MESSAGES_FORWARDED.name)
            .expect("forwarded");
        let Some(metric::Data::Sum(sum)) = &forwarded.data else {
            panic!("not a sum")
        };
        assert!(sum.is_monotonic);
        let point = &sum.data_points[0];
        assert_eq!(point.value, Some(number_data_point::Value::AsInt(2)));
        let attr = |key: &str| {
            point
                .attributes
                .iter()
                .find(|kv| kv.key == key)
                .and_then(|kv| kv.value.clone())
        };
        assert_eq!(
            attr("service"),
            Some(AnyValue {
                value: Some(any_value::Value::StringValue(SERVICE.into()))
            })
        );
        assert!(attr("instance").is_some() && attr("operation").is_some());
        let latency = metrics
            .iter()
            .find(|m| m.name == PROCESSING_LATENCY.name)
            .expect("latency");
        let Some(metric::Data::Histogram(h)) = &latency.data else {
            panic!("not a histogram")
        };
        assert_eq!(h.data_points[0].count, 2);
        assert_eq!(h.data_points[0].bucket_counts.len(), BOUNDS_MS.len() + 1);
        assert_eq!(h.data_points[0].sum, Some(33.0));
    }
}
