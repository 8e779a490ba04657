//! OTLP: where each signal goes (endpoint resolution from AIO's and OpenTelemetry's
//! environment variables and our settings), the HTTP client the exporters share, and the
//! metrics exporter.
//!
//! # Endpoint precedence, per signal (metrics, traces, logs), highest first
//! 1. AIO's variables: `OTLP_GRPC_{METRIC,TRACE,LOG}_ENDPOINT` (gRPC; only in a build with
//!    the `otlp-grpc` feature, otherwise ignored with a warning) and
//!    `OTLP_HTTP_{METRIC,TRACE,LOG}_ENDPOINT` (HTTP/protobuf). When both are set, gRPC wins
//!    in a build that has it.
//! 2. `OTEL_EXPORTER_OTLP_{METRICS,TRACES,LOGS}_ENDPOINT`, with
//!    `OTEL_EXPORTER_OTLP_{METRICS,TRACES,LOGS}_PROTOCOL` or the general protocol.
//! 3. The general endpoint: `--otlp-endpoint` / `OTEL_EXPORTER_OTLP_ENDPOINT`, then the
//!    config file's `otlpEndpoint` (the caller passes the one that applies as
//!    [`OtlpSettings::endpoint`]), with `--otlp-protocol` / `OTEL_EXPORTER_OTLP_PROTOCOL`
//!    (`http/protobuf`, the default, or `grpc`).
//!
//! A signal with no endpoint is not exported. `OTEL_SDK_DISABLED=true` turns every export off.
//! HTTP URLs from the per-signal variables are used as they are, except that a URL with no
//! path gets the signal path (`/v1/metrics`, `/v1/traces`, `/v1/logs`); the general endpoint
//! always gets the signal path appended, as the OpenTelemetry specification says.
//!
//! # Why metrics do not go through the OpenTelemetry SDK
//! The SDK has observable counters but no observable histogram, and the runtime keeps its
//! latency histogram as fixed atomic buckets (recording an SDK histogram per delivery would
//! put a lock and an attribute lookup on the event path). Replaying the buckets into an SDK
//! histogram from periodic deltas would lose the exact sum and re-bucket the values. So the
//! exporter builds the `ExportMetricsServiceRequest` itself from the same
//! [`MetricsSnapshot`] that `/metrics` renders: cumulative monotonic sums for the counters
//! and a cumulative explicit-bucket histogram with our exact bounds, counts and sum, POSTed
//! as protobuf with the ring-based `reqwest` client (or sent with tonic under `otlp-grpc`).
//! One source of truth, no double aggregation, and nothing of the SDK's metrics pipeline on
//! the event path. Traces and logs do use the SDK and `opentelemetry-otlp`.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, metric, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message as _;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, ErrorKind};
use crate::histogram::BOUNDS_MS;
use crate::metrics::{ErrorCategory, Metrics, MetricsSnapshot, SERVICE, names};

/// Default metric export interval (`OTEL_METRIC_EXPORT_INTERVAL`, milliseconds).
pub const DEFAULT_METRIC_INTERVAL: Duration = Duration::from_secs(60);

/// How long one export may take.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// HTTP with protobuf bodies (port 4318 by convention).
    #[default]
    HttpProtobuf,
    /// gRPC (port 4317 by convention); needs the `otlp-grpc` feature.
    Grpc,
}

impl std::str::FromStr for Protocol {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        match text.trim() {
            "http/protobuf" | "http" => Ok(Self::HttpProtobuf),
            "grpc" => Ok(Self::Grpc),
            other => Err(Error::new(
                ErrorKind::InvalidConfig,
                format!("OTLP protocol {other:?}: use http/protobuf or grpc"),
            )),
        }
    }
}

/// Where one signal is exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// For HTTP the full URL (with `/v1/<signal>`); for gRPC the server's URL.
    pub url: String,
    /// The transport.
    pub protocol: Protocol,
}

/// The three signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Metrics.
    Metrics,
    /// Traces.
    Traces,
    /// Logs.
    Logs,
}

impl Signal {
    fn aio_name(self) -> &'static str {
        match self {
            Self::Metrics => "METRIC",
            Self::Traces => "TRACE",
            Self::Logs => "LOG",
        }
    }

    fn otel_name(self) -> &'static str {
        match self {
            Self::Metrics => "METRICS",
            Self::Traces => "TRACES",
            Self::Logs => "LOGS",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Self::Metrics => "/v1/metrics",
            Self::Traces => "/v1/traces",
            Self::Logs => "/v1/logs",
        }
    }
}

/// What the caller resolved from its options and config file.
#[derive(Debug, Clone, Default)]
pub struct OtlpSettings {
    /// The general endpoint (option, `OTEL_EXPORTER_OTLP_ENDPOINT`, config file).
    pub endpoint: Option<String>,
    /// The general protocol (option, `OTEL_EXPORTER_OTLP_PROTOCOL`, config file).
    pub protocol: Option<Protocol>,
}

/// The endpoint of each signal; `None`: not exported.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OtlpEndpoints {
    /// Metrics.
    pub metrics: Option<Endpoint>,
    /// Traces.
    pub traces: Option<Endpoint>,
    /// Logs.
    pub logs: Option<Endpoint>,
}

impl OtlpEndpoints {
    /// Resolves the endpoints from the process environment and `settings` (see the module
    /// documentation for the precedence).
    ///
    /// # Errors
    /// An invalid protocol name.
    pub fn resolve(settings: &OtlpSettings) -> Result<Self, Error> {
        Self::resolve_with(settings, |name| std::env::var(name).ok())
    }

    /// [`resolve`](Self::resolve) with `env` as the environment (for tests).
    ///
    /// # Errors
    /// An invalid protocol name.
    pub fn resolve_with(
        settings: &OtlpSettings,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, Error> {
        let var = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        if var("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
            return Ok(Self::default());
        }
        let general_protocol = match var("OTEL_EXPORTER_OTLP_PROTOCOL") {
            Some(text) if settings.protocol.is_none() => text.parse()?,
            _ => settings.protocol.unwrap_or_default(),
        };
        let signal = |signal: Signal| -> Result<Option<Endpoint>, Error> {
            let grpc = var(&format!("OTLP_GRPC_{}_ENDPOINT", signal.aio_name()));
            let http = var(&format!("OTLP_HTTP_{}_ENDPOINT", signal.aio_name()));
            if let Some(url) = &grpc {
                if cfg!(feature = "otlp-grpc") {
                    return Ok(Some(Endpoint {
                        url: grpc_url(url),
                        protocol: Protocol::Grpc,
                    }));
                }
                if http.is_none() {
                    tracing::warn!(
                        signal = signal.otel_name(),
                        "OTLP_GRPC_{}_ENDPOINT is set but this build has no gRPC export (feature otlp-grpc); not exported",
                        signal.aio_name()
                    );
                }
            }
            if let Some(url) = http {
                return Ok(Some(Endpoint {
                    url: with_path_if_none(&url, signal),
                    protocol: Protocol::HttpProtobuf,
                }));
            }
            let protocol = match var(&format!(
                "OTEL_EXPORTER_OTLP_{}_PROTOCOL",
                signal.otel_name()
            )) {
                Some(text) => text.parse()?,
                None => general_protocol,
            };
            if let Some(url) = var(&format!(
                "OTEL_EXPORTER_OTLP_{}_ENDPOINT",
                signal.otel_name()
            )) {
                return Ok(Some(endpoint(&url, protocol, signal, false)));
            }
            Ok(settings
                .endpoint
                .as_deref()
                .filter(|url| !url.trim().is_empty())
                .map(|url| endpoint(url, general_protocol, signal, true)))
        };
        Ok(Self {
            metrics: signal(Signal::Metrics)?,
            traces: signal(Signal::Traces)?,
            logs: signal(Signal::Logs)?,
        })
    }
}

fn endpoint(url: &str, protocol: Protocol, signal: Signal, append: bool) -> Endpoint {
    let url = match protocol {
        Protocol::Grpc => grpc_url(url),
        Protocol::HttpProtobuf if append => {
            format!("{}{}", url.trim().trim_end_matches('/'), signal.path())
        }
        Protocol::HttpProtobuf => with_path_if_none(url, signal),
    };
    Endpoint { url, protocol }
}

/// `grpc://` and `grpcs://` (as AIO passes them) as `http://` and `https://`.
fn grpc_url(url: &str) -> String {
    let url = url.trim();
    if let Some(rest) = url.strip_prefix("grpcs://") {
        format!("https://{rest}")
    } else if let Some(rest) = url.strip_prefix("grpc://") {
        format!("http://{rest}")
    } else {
        url.to_owned()
    }
}

fn with_path_if_none(url: &str, signal: Signal) -> String {
    let url = url.trim();
    match url::Url::parse(url) {
        Ok(parsed) if parsed.path() == "/" || parsed.path().is_empty() => {
            format!("{}{}", url.trim_end_matches('/'), signal.path())
        }
        _ => url.to_owned(),
    }
}

/// The HTTP client of the exporters: rustls with the ring provider and the system roots (never
/// reqwest's `rustls` feature, which brings aws-lc).
///
/// # Errors
/// When the TLS configuration cannot be built.
pub fn http_client() -> Result<reqwest::Client, Error> {
    let mut roots = rustls::RootCertStore::empty();
    let loaded = rustls_native_certs::load_native_certs();
    let _ = roots.add_parsable_certificates(loaded.certs);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::new(ErrorKind::InvalidConfig, format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(EXPORT_TIMEOUT)
        .build()
        .map_err(|e| Error::new(ErrorKind::InvalidConfig, format!("HTTP client: {e}")))
}

/// The resource of every signal: `service.name=aio_sse_connector`,
/// `service.instance.id=<connector id>`.
pub(crate) fn resource_attributes(instance: &str) -> Vec<KeyValue> {
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

/// The OTLP request of `snapshot` at `now`: every counter as a cumulative monotonic sum and
/// the latency as a cumulative explicit-bucket histogram, each data point with the `service`
/// and `instance` attributes and its own labels (as in the Prometheus text).
pub fn metrics_request(snapshot: &MetricsSnapshot, now: SystemTime) -> ExportMetricsServiceRequest {
    let start = nanos(snapshot.start.unwrap_or(now));
    let now = nanos(now);
    let base = |extra: &[(&str, &str)]| -> Vec<KeyValue> {
        let mut attrs = vec![kv("service", SERVICE), kv("instance", &snapshot.instance)];
        attrs.extend(extra.iter().map(|(k, v)| kv(k, v)));
        attrs
    };
    let point = |attributes: Vec<KeyValue>, value: u64| NumberDataPoint {
        attributes,
        start_time_unix_nano: start,
        time_unix_nano: now,
        value: Some(number_data_point::Value::AsInt(
            i64::try_from(value).unwrap_or(i64::MAX),
        )),
        ..NumberDataPoint::default()
    };
    let sum =
        |name: &str, description: &str, unit: &str, data_points: Vec<NumberDataPoint>| Metric {
            name: name.to_owned(),
            description: description.to_owned(),
            unit: unit.to_owned(),
            data: Some(metric::Data::Sum(Sum {
                data_points,
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
                is_monotonic: true,
            })),
            ..Metric::default()
        };
    let per_stream = |value: fn(&crate::metrics::StreamMetrics) -> u64| {
        snapshot
            .streams
            .iter()
            .map(|s| {
                point(
                    base(&[("device", &s.device), ("endpoint", &s.endpoint)]),
                    value(s),
                )
            })
            .collect::<Vec<_>>()
    };
    let per_op = |value: fn(&crate::metrics::OperationMetrics) -> u64| {
        snapshot
            .operations
            .iter()
            .map(|o| {
                point(
                    base(&[("asset", &o.asset), ("operation", &o.operation)]),
                    value(o),
                )
            })
            .collect::<Vec<_>>()
    };
    let mut errors = Vec::new();
    for s in &snapshot.streams {
        for category in ErrorCategory::ALL {
            errors.push(point(
                base(&[
                    ("device", &s.device),
                    ("endpoint", &s.endpoint),
                    ("error", category.as_str()),
                ]),
                s.errors.get(&category).copied().unwrap_or(0),
            ));
        }
    }
    let latency = snapshot
        .operations
        .iter()
        .map(|o| HistogramDataPoint {
            attributes: base(&[("asset", &o.asset), ("operation", &o.operation)]),
            start_time_unix_nano: start,
            time_unix_nano: now,
            count: o.latency.count,
            sum: Some(o.latency.sum_ms()),
            bucket_counts: o.latency.buckets.to_vec(),
            explicit_bounds: BOUNDS_MS.to_vec(),
            ..HistogramDataPoint::default()
        })
        .collect();
    let metrics = vec![
        sum(
            names::MESSAGES_RECEIVED,
            "SSE events received",
            "{message}",
            per_stream(|s| s.received),
        ),
        sum(
            names::MESSAGES_DROPPED,
            "Events received and forwarded nowhere",
            "{message}",
            per_stream(|s| s.dropped),
        ),
        sum(
            names::BYTES_IN,
            "Event data bytes received",
            "By",
            per_stream(|s| s.bytes_in),
        ),
        sum(
            names::ERRORS,
            "Errors by general category",
            "{error}",
            errors,
        ),
        sum(
            names::MESSAGES_FORWARDED,
            "Messages delivered",
            "{message}",
            per_op(|o| o.forwarded),
        ),
        sum(
            names::MESSAGES_FAILED,
            "Messages whose delivery failed",
            "{message}",
            per_op(|o| o.failed),
        ),
        sum(
            names::BYTES_OUT,
            "Payload bytes delivered",
            "By",
            per_op(|o| o.bytes_out),
        ),
        Metric {
            name: names::PROCESSING_LATENCY.to_owned(),
            description: "From an event's arrival until its delivery completed".to_owned(),
            unit: "ms".to_owned(),
            data: Some(metric::Data::Histogram(Histogram {
                data_points: latency,
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
            })),
            ..Metric::default()
        },
        sum(
            names::HEARTBEAT,
            "+1 every 30 s while the connector runs",
            "1",
            vec![point(base(&[]), snapshot.heartbeat)],
        ),
    ];
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

/// Sends metrics snapshots to one endpoint.
#[derive(Debug, Clone)]
pub(crate) struct MetricsExporter {
    endpoint: Endpoint,
    client: reqwest::Client,
}

impl MetricsExporter {
    pub(crate) fn new(endpoint: Endpoint, client: reqwest::Client) -> Self {
        Self { endpoint, client }
    }

    /// Exports one snapshot.
    ///
    /// # Errors
    /// When the collector cannot be reached or does not answer 2xx.
    pub(crate) async fn export(&self, request: ExportMetricsServiceRequest) -> Result<(), Error> {
        match self.endpoint.protocol {
            Protocol::HttpProtobuf => self.export_http(request).await,
            Protocol::Grpc => self.export_grpc(request).await,
        }
    }

    async fn export_http(&self, request: ExportMetricsServiceRequest) -> Result<(), Error> {
        let response = self
            .client
            .post(&self.endpoint.url)
            .header(http::header::CONTENT_TYPE, "application/x-protobuf")
            .body(request.encode_to_vec())
            .send()
            .await
            .map_err(|e| {
                Error::new(
                    ErrorKind::Export,
                    format!("OTLP metrics to {}: {e}", self.endpoint.url),
                )
            })?;
        if !response.status().is_success() {
            return Err(Error::new(
                ErrorKind::Export,
                format!(
                    "OTLP metrics to {}: HTTP {}",
                    self.endpoint.url,
                    response.status()
                ),
            ));
        }
        Ok(())
    }

    #[cfg(feature = "otlp-grpc")]
    async fn export_grpc(&self, request: ExportMetricsServiceRequest) -> Result<(), Error> {
        use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
        let fail = |e: &dyn std::fmt::Display| {
            Error::new(
                ErrorKind::Export,
                format!("OTLP metrics to {}: {e}", self.endpoint.url),
            )
        };
        let mut endpoint = tonic::transport::Endpoint::from_shared(self.endpoint.url.clone())
            .map_err(|e| fail(&e))?
            .timeout(EXPORT_TIMEOUT);
        if self.endpoint.url.starts_with("https://") {
            endpoint = endpoint
                .tls_config(tonic::transport::ClientTlsConfig::new().with_native_roots())
                .map_err(|e| fail(&e))?;
        }
        let channel = endpoint.connect().await.map_err(|e| fail(&e))?;
        MetricsServiceClient::new(channel)
            .export(request)
            .await
            .map_err(|e| fail(&e))?;
        Ok(())
    }

    #[cfg(not(feature = "otlp-grpc"))]
    async fn export_grpc(&self, _request: ExportMetricsServiceRequest) -> Result<(), Error> {
        Err(Error::new(
            ErrorKind::InvalidConfig,
            "OTLP over gRPC needs the otlp-grpc feature",
        ))
    }
}

/// Exports `metrics` every `interval` until `stop`, then once more (the last values).
pub(crate) async fn export_metrics(
    exporter: MetricsExporter,
    metrics: Arc<Metrics>,
    interval: Duration,
    stop: CancellationToken,
) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        let last = tokio::select! {
            () = stop.cancelled() => true,
            _ = ticks.tick() => false,
        };
        let request = metrics_request(&metrics.snapshot(), SystemTime::now());
        match exporter.export(request).await {
            Ok(()) if failing => {
                failing = false;
                tracing::info!(target: "telemetry", "OTLP metrics export works again");
            }
            Ok(()) => {}
            Err(error) if !failing => {
                failing = true;
                tracing::warn!(target: "telemetry", %error, "OTLP metrics export failed (warned once until it works again)");
            }
            Err(error) => {
                tracing::debug!(target: "telemetry", %error, "OTLP metrics export failed")
            }
        }
        if last {
            return;
        }
    }
}

/// The OTLP exporter of one signal to `endpoint`: `$builder` is `SpanExporter` or
/// `LogExporter` of `opentelemetry_otlp` (their builders share no trait); HTTP/protobuf with
/// `client`, or gRPC in a build with the `otlp-grpc` feature. Evaluates to
/// `Result<exporter, Error>`, the error naming `signal` and the URL.
macro_rules! signal_exporter {
    ($builder:ident, $signal:literal, $endpoint:expr, $client:expr) => {{
        use opentelemetry_otlp::{WithExportConfig as _, WithHttpConfig as _};
        let endpoint: &$crate::otlp::Endpoint = $endpoint;
        let fail = |e: &dyn std::fmt::Display| {
            $crate::error::Error::new(
                $crate::error::ErrorKind::InvalidConfig,
                format!("OTLP {} to {}: {e}", $signal, endpoint.url),
            )
        };
        match endpoint.protocol {
            $crate::otlp::Protocol::HttpProtobuf => opentelemetry_otlp::$builder::builder()
                .with_http()
                .with_endpoint(endpoint.url.clone())
                .with_http_client($client)
                .build()
                .map_err(|e| fail(&e)),
            #[cfg(feature = "otlp-grpc")]
            $crate::otlp::Protocol::Grpc => opentelemetry_otlp::$builder::builder()
                .with_tonic()
                .with_endpoint(endpoint.url.clone())
                .build()
                .map_err(|e| fail(&e)),
            #[cfg(not(feature = "otlp-grpc"))]
            $crate::otlp::Protocol::Grpc => Err(fail(&"gRPC needs the otlp-grpc feature")),
        }
    }};
}
pub(crate) use signal_exporter;

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn resolve(settings: &OtlpSettings, vars: &[(&str, &str)]) -> OtlpEndpoints {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        OtlpEndpoints::resolve_with(settings, |name| vars.get(name).cloned()).expect("resolves")
    }

    fn http(url: &str) -> Option<Endpoint> {
        Some(Endpoint {
            url: url.to_owned(),
            protocol: Protocol::HttpProtobuf,
        })
    }

    #[test]
    fn nothing_configured_nothing_exported() {
        assert_eq!(
            resolve(&OtlpSettings::default(), &[]),
            OtlpEndpoints::default()
        );
    }

    #[test]
    fn general_endpoint_gets_signal_paths() {
        let settings = OtlpSettings {
            endpoint: Some("http://collector:4318/".into()),
            protocol: None,
        };
        let e = resolve(&settings, &[]);
        assert_eq!(e.metrics, http("http://collector:4318/v1/metrics"));
        assert_eq!(e.traces, http("http://collector:4318/v1/traces"));
        assert_eq!(e.logs, http("http://collector:4318/v1/logs"));
    }

    #[test]
    fn per_signal_variables_win_aio_first() {
        let settings = OtlpSettings {
            endpoint: Some("http://general:4318".into()),
            protocol: None,
        };
        let e = resolve(
            &settings,
            &[
                ("OTLP_HTTP_METRIC_ENDPOINT", "http://aio:4318"),
                (
                    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                    "http://std:4318/custom",
                ),
                (
                    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                    "http://std:4318/custom",
                ),
            ],
        );
        assert_eq!(e.metrics, http("http://aio:4318/v1/metrics"));
        assert_eq!(e.traces, http("http://std:4318/custom"));
        assert_eq!(e.logs, http("http://general:4318/v1/logs"));
    }

    #[test]
    fn grpc_endpoints() {
        let e = resolve(
            &OtlpSettings::default(),
            &[("OTLP_GRPC_TRACE_ENDPOINT", "grpcs://collector:4317")],
        );
        if cfg!(feature = "otlp-grpc") {
            assert_eq!(
                e.traces,
                Some(Endpoint {
                    url: "https://collector:4317".into(),
                    protocol: Protocol::Grpc
                })
            );
        } else {
            assert_eq!(e.traces, None);
        }
        let e = resolve(
            &OtlpSettings::default(),
            &[
                (
                    "OTEL_EXPORTER_OTLP_ENDPOINT",
                    "ignored: passed by the caller",
                ),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
                ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://c:4317"),
            ],
        );
        assert_eq!(
            e.logs,
            Some(Endpoint {
                url: "http://c:4317".into(),
                protocol: Protocol::Grpc
            })
        );
        assert!(
            OtlpEndpoints::resolve_with(&OtlpSettings::default(), |n| {
                (n == "OTEL_EXPORTER_OTLP_PROTOCOL").then(|| "carrier-pigeon".to_owned())
            })
            .is_err()
        );
    }

    #[test]
    fn disabled_sdk_exports_nothing() {
        let settings = OtlpSettings {
            endpoint: Some("http://general:4318".into()),
            protocol: None,
        };
        assert_eq!(
            resolve(&settings, &[("OTEL_SDK_DISABLED", "true")]),
            OtlpEndpoints::default()
        );
    }

    #[test]
    fn request_has_every_metric_with_labels() {
        let snapshot = crate::metrics::tests::sample().snapshot();
        let request = metrics_request(&snapshot, SystemTime::now());
        let metrics = &request.resource_metrics[0].scope_metrics[0].metrics;
        let names: Vec<&str> = metrics.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names.len(), 9, "{names:?}");
        let forwarded = metrics
            .iter()
            .find(|m| m.name == names::MESSAGES_FORWARDED)
            .expect("forwarded");
        let Some(metric::Data::Sum(sum)) = &forwarded.data else {
            panic!("not a sum")
        };
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
            .find(|m| m.name == names::PROCESSING_LATENCY)
            .expect("latency");
        let Some(metric::Data::Histogram(h)) = &latency.data else {
            panic!("not a histogram")
        };
        assert_eq!(h.data_points[0].count, 2);
        assert_eq!(h.data_points[0].bucket_counts.len(), BOUNDS_MS.len() + 1);
    }
}
