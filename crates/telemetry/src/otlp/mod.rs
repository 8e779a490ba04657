//! OTLP: where each signal goes, the HTTP client the exporters share, the exporters of
//! traces and logs (the SDK's), and the metrics exporter (our own).
//!
//! # Layout
//! - [`endpoint`]: [`OtlpEndpoints::resolve`] from AIO's `OTLP_*` and OpenTelemetry's
//!   `OTEL_EXPORTER_OTLP_*` variables and our settings (the precedence is documented there).
//! - [`metrics_request`](mod@metrics_request): the protobuf request of a metrics snapshot.
//! - [`metrics_export`]: the periodic metrics export over HTTP or gRPC.
//! - `grpc`: the tonic channel of a gRPC endpoint and its trust (system roots and AIO's CA
//!   directory).
//! - here: [`http_client`] and `signal_exporter!`, the SDK exporter of traces or logs.
//!
//! # Why metrics do not go through the OpenTelemetry SDK
//! The SDK has observable counters but no observable histogram, and the runtime keeps its
//! latency histogram as fixed atomic buckets (recording an SDK histogram per delivery would
//! put a lock and an attribute lookup on the event path). Replaying the buckets into an SDK
//! histogram from periodic deltas would lose the exact sum and re-bucket the values. So the
//! exporter builds the `ExportMetricsServiceRequest` itself from the same
//! [`MetricsSnapshot`](crate::metrics::MetricsSnapshot) that `/metrics` renders: cumulative
//! monotonic sums for the counters and a cumulative explicit-bucket histogram with our exact
//! bounds, counts and sum, POSTed as protobuf with the ring-based `reqwest` client or sent
//! with tonic. One source of truth, no double aggregation, and nothing of
//! the SDK's metrics pipeline on the event path. Traces and logs do use the SDK and
//! `opentelemetry-otlp`.

pub mod endpoint;
mod grpc;
pub mod metrics_export;
pub mod metrics_request;

use std::sync::Arc;
use std::time::Duration;

pub use endpoint::{CaDir, Endpoint, OtlpEndpoints, OtlpSettings, Protocol, Signal};
pub use metrics_export::DEFAULT_METRIC_INTERVAL;
pub(crate) use metrics_export::{MetricsExporter, export_metrics};
pub use metrics_request::metrics_request;

use crate::error::{Error, ErrorKind};

pub(crate) use grpc::channel as grpc_channel;

/// How long one export may take.
pub(crate) const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// The HTTP client of the exporters: rustls with the ring provider and the system roots (never
/// reqwest's `rustls` feature, which brings aws-lc).
///
/// # Errors
/// When the TLS configuration cannot be built.
pub fn http_client() -> Result<reqwest::Client, Error> {
    let mut roots = rustls::RootCertStore::empty();
    let _ = roots.add_parsable_certificates(tls_files::system_roots().iter().cloned());
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

/// The OTLP exporter of one signal to `endpoint`: `$builder` is `SpanExporter` or
/// `LogExporter` of `opentelemetry_otlp` (their builders share no trait); HTTP/protobuf with
/// `client`, or gRPC over our own channel (its trust: `grpc`). Evaluates to
/// `Result<exporter, Error>`, the error naming `signal` and the URL.
macro_rules! signal_exporter {
    ($builder:ident, $signal:literal, $endpoint:expr, $client:expr) => {{
        use opentelemetry_otlp::{
            WithExportConfig as _, WithHttpConfig as _, WithTonicConfig as _,
        };
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
            // The exporter's timeout must be the channel's.
            $crate::otlp::Protocol::Grpc => {
                $crate::otlp::grpc_channel(endpoint).and_then(|channel| {
                    opentelemetry_otlp::$builder::builder()
                        .with_tonic()
                        .with_channel(channel)
                        .with_timeout($crate::otlp::EXPORT_TIMEOUT)
                        .build()
                        .map_err(|e| fail(&e))
                })
            }
        }
    }};
}
pub(crate) use signal_exporter;
