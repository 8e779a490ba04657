//! Telemetry of the SSE connector: AIO's metrics (Prometheus text and OTLP), traces of
//! connection attempts and sampled forwarded events (with W3C `traceparent` on the MQTT
//! messages), and logs (human or JSON, optionally to OTLP).
//!
//! Place in the pipeline: beside every stage. The runtime (`supervisor`) keeps plain atomics
//! per stream and per data operation and a [`LatencyHistogram`] per operation, and implements
//! [`MetricsProducer`]; this crate reads them at collection time. It makes spans through a
//! [`Tracer`] the runtime holds (disabled unless traces are exported). The `cli` crate
//! initialises [`logs`] first, then starts a [`Telemetry`] with the settings and attaches the
//! supervisor.
//!
//! ```text
//! supervisor atomics ──► MetricsProducer ──► Metrics::snapshot ──► prometheus::render (GET /metrics)
//!                                                              └──► otlp::metrics_request ──► POST /v1/metrics or gRPC Export
//!                                  (both take names, units, help texts and labels from catalogue)
//! supervisor (sampled) ──► Tracer::forward_span / connect_span ──► SDK batch ──► OTLP traces
//! tracing events ──► logs (stderr human|json) ──► OTLP log bridge (when configured)
//! ```
//!
//! # Layout
//! - [`histogram`]: the lock-free fixed-bucket latency histogram (milliseconds).
//! - [`metrics`]: snapshots of the runtime's counters, the producer trait, the heartbeat.
//! - [`catalogue`]: the one table of metric names, kinds, units, help texts and labels that
//!   both exports read.
//! - [`prometheus`]: the text exposition of a snapshot.
//! - [`otlp`]: the OTLP side, by concern: `endpoint` (precedence of AIO's and OpenTelemetry's
//!   variables), `metrics_request` (the protobuf request of a snapshot), `metrics_export`
//!   (the periodic export, and why it builds OTLP messages itself), `grpc` (the channel of a
//!   gRPC endpoint and its CA directory), the shared HTTP client and the SDK exporters of
//!   traces and logs.
//! - [`traces`]: the tracer provider, [`Tracer`], [`EventSampler`], `traceparent`.
//! - [`logs`]: the `tracing` subscriber: filter, format, OTLP bridge.
//! - [`error`](mod@error): [`Error`].
#![forbid(unsafe_code)]

pub mod catalogue;
pub mod error;
pub mod histogram;
pub mod logs;
pub mod metrics;
pub mod otlp;
pub mod prometheus;
pub mod traces;

use std::sync::Arc;
use std::time::Duration;

use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use error::{Error, ErrorKind};
pub use histogram::{HistogramSnapshot, LatencyHistogram};
pub use metrics::{
    ErrorCategory, Metrics, MetricsProducer, MetricsSnapshot, OperationMetrics, StreamMetrics,
    TransformFailureKind, TransformMetrics,
};
pub use otlp::{CaDir, Endpoint, OtlpEndpoints, OtlpSettings, Protocol};
pub use traces::{EventSampler, EventSpan, ForwardAttributes, Tracer};

/// How long shutdown waits for the last exports.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// What [`Telemetry::start`] needs.
#[derive(Debug, Clone)]
pub struct TelemetryConfig {
    /// The connector id: the `instance` label of every metric and the `service.instance.id`
    /// of every signal's resource (standalone: the MQTT client id; under Akri:
    /// `CONNECTOR_ID`).
    pub instance: String,
    /// Where each signal is exported.
    pub endpoints: OtlpEndpoints,
    /// How often metrics are exported.
    pub metric_interval: Duration,
    /// Share of events that get a `forward` span (0 to 1) when traces are exported.
    pub trace_sample_ratio: f64,
}

impl TelemetryConfig {
    /// No export; the defaults otherwise.
    pub fn new(instance: impl Into<String>) -> Self {
        Self {
            instance: instance.into(),
            endpoints: OtlpEndpoints::default(),
            metric_interval: otlp::DEFAULT_METRIC_INTERVAL,
            trace_sample_ratio: traces::DEFAULT_SAMPLE_RATIO,
        }
    }
}

/// `OTEL_METRIC_EXPORT_INTERVAL` (milliseconds, the OpenTelemetry variable), when set and
/// valid.
pub fn metric_interval_from_env() -> Option<Duration> {
    std::env::var("OTEL_METRIC_EXPORT_INTERVAL")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|&ms| ms > 0)
        .map(Duration::from_millis)
}

/// The running telemetry: metrics registry, heartbeat, exporters. Stop it with
/// [`shutdown`](Self::shutdown) to export what is left.
pub struct Telemetry {
    metrics: Arc<Metrics>,
    tracer: Tracer,
    tracer_provider: Option<SdkTracerProvider>,
    logger_provider: Option<SdkLoggerProvider>,
    stop: CancellationToken,
    tasks: TaskTracker,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry")
            .field("metrics", &self.metrics)
            .field("tracer", &self.tracer)
            .finish_non_exhaustive()
    }
}

impl Telemetry {
    /// Starts the heartbeat and the exporters of the configured endpoints, and attaches the
    /// OTLP log bridge when logs are exported.
    ///
    /// # Errors
    /// When an exporter cannot be built: TLS setup, an invalid gRPC URL, a CA directory that
    /// cannot be read (the message names its variable).
    ///
    /// # Panics
    /// Outside a Tokio runtime.
    pub fn start(config: TelemetryConfig) -> Result<Self, Error> {
        let metrics = Arc::new(Metrics::new(config.instance.clone()));
        let endpoints = &config.endpoints;
        let client = if endpoints.metrics.is_some()
            || endpoints.traces.is_some()
            || endpoints.logs.is_some()
        {
            Some(otlp::http_client()?)
        } else {
            None
        };
        // The exporters are built before any task starts: a setting that fails (a CA
        // directory) leaves nothing running.
        let metrics_exporter = match (&endpoints.metrics, &client) {
            (Some(endpoint), Some(client)) => {
                Some(otlp::MetricsExporter::new(endpoint, client.clone())?)
            }
            _ => None,
        };
        let mut tracer_provider = None;
        let mut tracer = Tracer::disabled();
        if let (Some(endpoint), Some(client)) = (&endpoints.traces, &client) {
            let provider = traces::provider(endpoint, &config.instance, client.clone())?;
            tracing::info!(endpoint = %endpoint.url, ratio = config.trace_sample_ratio, "exporting traces over OTLP");
            tracer = Tracer::new(&provider, config.trace_sample_ratio);
            tracer_provider = Some(provider);
        }
        let mut logger_provider = None;
        if let (Some(endpoint), Some(client)) = (&endpoints.logs, &client) {
            let provider = log_provider(endpoint, &config.instance, client.clone())?;
            tracing::info!(endpoint = %endpoint.url, "exporting logs over OTLP");
            logs::attach_otlp(&provider);
            logger_provider = Some(provider);
        }
        let stop = CancellationToken::new();
        let tasks = TaskTracker::new();
        tasks.spawn(metrics::heartbeat(metrics.clone(), stop.clone()));
        if let (Some(exporter), Some(endpoint)) = (metrics_exporter, &endpoints.metrics) {
            tracing::info!(endpoint = %endpoint.url, interval = ?config.metric_interval, "exporting metrics over OTLP");
            tasks.spawn(otlp::export_metrics(
                exporter,
                metrics.clone(),
                config.metric_interval,
                stop.clone(),
            ));
        }
        tasks.close();
        Ok(Self {
            metrics,
            tracer,
            tracer_provider,
            logger_provider,
            stop,
            tasks,
        })
    }

    /// The metrics registry: give it the runtime's producer with
    /// [`Metrics::set_producer`]; read it with [`Metrics::snapshot`].
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The tracer for the runtime (disabled when traces are not exported).
    pub fn tracer(&self) -> Tracer {
        self.tracer.clone()
    }

    /// Every metric in the Prometheus text format.
    pub fn prometheus_text(&self) -> String {
        prometheus::render(&self.metrics.snapshot())
    }

    /// Stops the heartbeat, exports the last metrics, flushes and stops the trace and log
    /// exporters (each within a few seconds).
    ///
    /// # Cancel safety
    /// Dropping the future leaves the exporters stopping in the background.
    pub async fn shutdown(self) {
        self.stop.cancel();
        let _ = tokio::time::timeout(SHUTDOWN_TIMEOUT, self.tasks.wait()).await;
        // The SDK's shutdown blocks until its batch task (on this runtime) answers: run it on a
        // blocking thread so that the runtime's workers stay free to answer.
        let tracer_provider = self.tracer_provider;
        let logger_provider = self.logger_provider;
        let flushed = tokio::task::spawn_blocking(move || {
            if let Some(provider) = tracer_provider
                && let Err(error) = provider.shutdown()
            {
                tracing::debug!(target: "telemetry", %error, "trace exporter shutdown");
            }
            if let Some(provider) = logger_provider
                && let Err(error) = provider.shutdown()
            {
                tracing::debug!(target: "telemetry", %error, "log exporter shutdown");
            }
        });
        let _ = tokio::time::timeout(SHUTDOWN_TIMEOUT, flushed).await;
    }
}

fn log_provider(
    endpoint: &Endpoint,
    instance: &str,
    client: reqwest::Client,
) -> Result<SdkLoggerProvider, Error> {
    let exporter = otlp::signal_exporter!(LogExporter, "logs", endpoint, client)?;
    let processor =
        opentelemetry_sdk::logs::log_processor_with_async_runtime::BatchLogProcessor::builder(
            exporter,
            opentelemetry_sdk::runtime::Tokio,
        )
        .build();
    Ok(SdkLoggerProvider::builder()
        .with_log_processor(processor)
        .with_resource(traces::resource(instance))
        .build())
}
