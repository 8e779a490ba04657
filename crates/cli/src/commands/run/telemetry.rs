//! Telemetry of `run`: starts [`Telemetry`] from the resolved settings (the connector id,
//! OTLP endpoints with AIO's variables read from the process environment, sample ratio,
//! export interval, the config file's log level and format), gives it the
//! supervisor's counters, and adapts it and the supervisor's tail to what the HTTP API reads
//! ([`api::MetricsSource`] for `GET /metrics`, [`api::TailSource`] for the live tail,
//! [`api::CounterSource`] for the message rates of the overview).
//!
//! Order: [`apply_log_settings`] right after the settings are resolved (in `run`), then in
//! `serve` [`start`] before the supervisor (the supervisor takes
//! [`Telemetry::tracer`]), [`attach`] once it exists, [`http`] for the HTTP listener's sources
//! ([`HttpTelemetry::add_to`]), and `Telemetry::shutdown` last, after the supervisor drained (its final
//! export then has the final counts).

use std::sync::Arc;

use anyhow::Context as _;
use sinks::Publisher;
use supervisor::{RuntimeMetrics, Supervisor, Tail};
use telemetry::{Metrics, MetricsProducer as _, OtlpEndpoints, Telemetry, TelemetryConfig};

use super::settings::RuntimeSettings;

/// Applies the config file's `logLevel` and `logFormat` (unless `RUST_LOG` or the options
/// gave them): call it as soon as the settings are resolved, so that every line after is in
/// the configured format. Calling it again changes nothing.
///
/// # Errors
/// An invalid log level.
pub fn apply_log_settings(settings: &RuntimeSettings) -> anyhow::Result<()> {
    let config = &settings.telemetry;
    if let Some(level) = &config.log_level {
        let directives = telemetry::logs::level_directives(level, &crate::LOG_TARGETS);
        telemetry::logs::set_level(&directives).context("config file: logLevel")?;
    }
    if let Some(format) = config.log_format {
        telemetry::logs::set_format(format);
    }
    Ok(())
}

/// Applies the log settings ([`apply_log_settings`]) and starts the telemetry of `settings`.
///
/// # Errors
/// An invalid log level, OTLP protocol, or an exporter that cannot be built (a CA directory
/// of `FIRST_PARTY_OTLP_GRPC_*_CA_PATH` that cannot be read, named in the message).
///
/// # Panics
/// Outside a Tokio runtime.
pub fn start(settings: &RuntimeSettings) -> anyhow::Result<Telemetry> {
    apply_log_settings(settings)?;
    let config = &settings.telemetry;
    let endpoints = OtlpEndpoints::resolve(&config.otlp).context("OTLP settings")?;
    Telemetry::start(TelemetryConfig {
        instance: config.instance_or(&settings.client_id).to_owned(),
        endpoints,
        metric_interval: config.metric_interval,
        trace_sample_ratio: config.trace_sample_ratio,
    })
    .context("cannot start telemetry")
}

/// Makes `supervisor`'s counters the source of the metrics.
pub fn attach<P: Publisher>(telemetry: &Telemetry, supervisor: &Supervisor<P>) {
    telemetry
        .metrics()
        .set_producer(Arc::new(supervisor.metrics()));
}

/// What the HTTP listener reads of telemetry: the metrics, the supervisor's counters and
/// its tail.
#[derive(Debug, Clone)]
pub struct HttpTelemetry {
    metrics: Arc<Metrics>,
    counters: RuntimeMetrics,
    tail: Tail,
}

/// The metrics of `telemetry` and the tail of `supervisor`, for the HTTP listener.
pub fn http<P: Publisher>(telemetry: &Telemetry, supervisor: &Supervisor<P>) -> HttpTelemetry {
    HttpTelemetry {
        metrics: telemetry.metrics().clone(),
        counters: supervisor.metrics(),
        tail: supervisor.tail(),
    }
}

impl HttpTelemetry {
    /// `sources` with `GET /metrics`, the live tail and the counters of the rates.
    pub fn add_to(self, sources: api::Sources) -> api::Sources {
        sources
            .with_metrics(Arc::new(PrometheusText(self.metrics)))
            .with_tail(Arc::new(LiveTail(self.tail)))
            .with_counters(Arc::new(RuntimeCounters(self.counters)))
    }
}

/// `GET /metrics`: the Prometheus text of the metrics.
#[derive(Debug)]
pub struct PrometheusText(pub Arc<Metrics>);

impl api::MetricsSource for PrometheusText {
    fn prometheus_text(&self) -> String {
        telemetry::prometheus::render(&self.0.snapshot())
    }
}

/// The live tail over the supervisor's [`Tail`]: its feed as it is, no copy and no queue.
#[derive(Debug, Clone)]
pub struct LiveTail(pub Tail);

impl api::TailSource for LiveTail {
    /// A feed of `asset`'s forwarded messages, read straight from the supervisor's feed as
    /// the client takes them: a lag of that feed reaches the client as `event: lagged` with
    /// its count. Dropped with the client's request, which is how the tail learns that
    /// nobody listens.
    fn subscribe(&self, asset: &str) -> api::TailFeed {
        self.0.feed(asset)
    }
}

/// The supervisor's counters, as the rate ring samples them: the same totals `/metrics`
/// exports.
#[derive(Debug, Clone)]
pub struct RuntimeCounters(pub RuntimeMetrics);

impl api::CounterSource for RuntimeCounters {
    fn received(&self) -> u64 {
        self.0.streams().iter().map(|s| s.received).sum()
    }

    fn operations(&self) -> Vec<api::OperationCount> {
        self.0
            .operations()
            .into_iter()
            .map(|op| api::OperationCount {
                operation: op.operation,
                asset: op.asset,
                forwarded: op.forwarded,
                failed: op.failed,
            })
            .collect()
    }
}
