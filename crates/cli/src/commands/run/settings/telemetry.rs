//! The telemetry settings of `run` (see docs/telemetry.md): the connector id of the metrics,
//! trace sampling, the general OTLP endpoint and protocol, the metric export interval, and the
//! config file's log level and format.
//!
//! What these become is the `telemetry` crate's: it reads the per-signal OTLP variables
//! (AIO's `OTLP_{GRPC,HTTP}_*_ENDPOINT` and `FIRST_PARTY_OTLP_GRPC_*_CA_PATH`,
//! `OTEL_EXPORTER_OTLP_*_ENDPOINT`) from the process environment over the endpoint resolved
//! here, parses the protocol and log format, and builds the log filter. This module only
//! applies the precedence to the options, the environment and the config file.

use std::time::Duration;

use clap::Args;

use super::config_file::ConfigFile;
use super::precedence::Setting;
use crate::values;

/// Telemetry options of `run` (see docs/telemetry.md). `--log-format` and `--log-level` are
/// global options of the binary (main.rs); the config file's `logFormat` and `logLevel`
/// apply when neither they nor `RUST_LOG` are given.
#[derive(Debug, Clone, Default, Args)]
pub(super) struct TelemetryArgs {
    /// Connector id of the telemetry: the `instance` label of every metric and the
    /// `service.instance.id` of OTLP resources [default: the MQTT client id]
    #[arg(
        long,
        value_name = "ID",
        env = "SSE_CONNECTOR_TELEMETRY_INSTANCE",
        help_heading = "Telemetry"
    )]
    telemetry_instance: Option<String>,

    /// Share of events traced with a span and a `traceparent` user property, 0 to 1, when
    /// traces are exported [default: 0.01]
    #[arg(
        long,
        value_name = "RATIO",
        env = "SSE_CONNECTOR_TRACE_SAMPLE_RATIO",
        help_heading = "Telemetry"
    )]
    trace_sample_ratio: Option<f64>,

    /// OTLP endpoint of every signal (metrics, traces, logs); AIO's `OTLP_*_ENDPOINT` and the
    /// per-signal `OTEL_EXPORTER_OTLP_*_ENDPOINT` variables override it per signal
    #[arg(
        long,
        value_name = "URL",
        env = "OTEL_EXPORTER_OTLP_ENDPOINT",
        help_heading = "Telemetry"
    )]
    otlp_endpoint: Option<String>,

    /// OTLP protocol of --otlp-endpoint: `http/protobuf` or `grpc` [default: http/protobuf]
    #[arg(
        long,
        value_name = "PROTOCOL",
        env = "OTEL_EXPORTER_OTLP_PROTOCOL",
        help_heading = "Telemetry"
    )]
    otlp_protocol: Option<String>,

    /// How often metrics are exported over OTLP (`OTEL_METRIC_EXPORT_INTERVAL` gives it in
    /// milliseconds) [default: 60s]
    #[arg(long, value_name = "DURATION", value_parser = values::duration, help_heading = "Telemetry")]
    metric_export_interval: Option<Duration>,
}

/// Telemetry settings, resolved.
#[derive(Debug, Clone)]
pub struct TelemetrySettings {
    /// The connector id: the `instance` label of the metrics and the `service.instance.id` of
    /// the OTLP resources (`--telemetry-instance`; Akri mode sets `CONNECTOR_ID`). Empty: the
    /// MQTT client id ([`instance_or`](Self::instance_or)).
    pub instance: String,
    /// The config file's log level (applied unless `RUST_LOG` or `--log-level` was given).
    pub log_level: Option<String>,
    /// The config file's log format (applied unless `--log-format` was given).
    pub log_format: Option<telemetry::logs::LogFormat>,
    /// Share of events traced.
    pub trace_sample_ratio: f64,
    /// The general OTLP endpoint and protocol.
    pub otlp: telemetry::OtlpSettings,
    /// Metric export interval.
    pub metric_interval: Duration,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        Self {
            instance: String::new(),
            log_level: None,
            log_format: None,
            trace_sample_ratio: telemetry::traces::DEFAULT_SAMPLE_RATIO,
            otlp: telemetry::OtlpSettings::default(),
            metric_interval: telemetry::otlp::DEFAULT_METRIC_INTERVAL,
        }
    }
}

impl TelemetrySettings {
    /// The connector id of the telemetry: [`instance`](Self::instance), or `client_id` when
    /// it is empty.
    pub fn instance_or<'a>(&'a self, client_id: &'a str) -> &'a str {
        match self.instance.trim() {
            "" => client_id,
            instance => instance,
        }
    }
}

impl TelemetryArgs {
    /// The options (and their variables), then `OTEL_METRIC_EXPORT_INTERVAL`, then the config
    /// file.
    pub(super) fn resolve(&self, file: &ConfigFile) -> anyhow::Result<TelemetrySettings> {
        let trace_sample_ratio =
            Setting::parse_option("--trace-sample-ratio", self.trace_sample_ratio, ratio)?
                .parse_file(
                    file.value("traceSampleRatio", file.trace_sample_ratio),
                    ratio,
                )?
                .or(telemetry::traces::DEFAULT_SAMPLE_RATIO);
        let protocol = Setting::parse_option(
            "--otlp-protocol",
            self.otlp_protocol.as_deref(),
            str::parse::<telemetry::Protocol>,
        )?
        .parse_file(
            file.value("otlpProtocol", file.otlp_protocol.as_deref()),
            str::parse,
        )?
        .found();
        let metric_interval = Setting::option(self.metric_export_interval)
            .env(|| Ok(telemetry::metric_interval_from_env()))?
            .parse_file(
                file.value(
                    "metricExportInterval",
                    file.metric_export_interval.as_deref(),
                ),
                values::duration,
            )?
            .or(telemetry::otlp::DEFAULT_METRIC_INTERVAL);
        let log_format = file
            .value("logFormat", file.log_format.as_deref())
            .parse(str::parse::<telemetry::logs::LogFormat>)?;
        let log_level = file
            .value("logLevel", file.log_level.as_deref())
            .parse(|level| telemetry::logs::filter(level).map(|_| level.to_owned()))?;
        Ok(TelemetrySettings {
            instance: self.telemetry_instance.clone().unwrap_or_default(),
            log_level,
            log_format,
            trace_sample_ratio,
            otlp: telemetry::OtlpSettings {
                endpoint: Setting::option(self.otlp_endpoint.clone())
                    .file(file.value("otlpEndpoint", file.otlp_endpoint.clone()))
                    .found(),
                protocol,
            },
            metric_interval,
        })
    }
}

/// A share from 0 to 1.
fn ratio(value: f64) -> Result<f64, String> {
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!("{value}: give a number from 0 to 1"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::super::tests::{config, resolve};
    use super::*;

    #[test]
    fn telemetry_from_options_or_file() {
        let defaults = resolve(&[]).unwrap().telemetry;
        assert!((defaults.trace_sample_ratio - 0.01).abs() < f64::EPSILON);
        assert_eq!(defaults.log_format, None);
        let option = resolve(&[
            "--trace-sample-ratio",
            "1",
            "--otlp-endpoint",
            "http://c:4318",
        ])
        .unwrap()
        .telemetry;
        assert!((option.trace_sample_ratio - 1.0).abs() < f64::EPSILON);
        assert_eq!(option.otlp.endpoint.as_deref(), Some("http://c:4318"));
        assert!(resolve(&["--trace-sample-ratio", "1.5"]).is_err());
        let file = config(
            "logLevel: debug\nlogFormat: json\ntraceSampleRatio: 0\notlpEndpoint: http://f:4318\n\
             otlpProtocol: http/protobuf\nmetricExportInterval: 5s\n",
        );
        let from_file = resolve(&["--config", file.path().to_str().unwrap()])
            .unwrap()
            .telemetry;
        assert_eq!(from_file.log_level.as_deref(), Some("debug"));
        assert_eq!(from_file.log_format, Some(telemetry::logs::LogFormat::Json));
        assert!(from_file.trace_sample_ratio.abs() < f64::EPSILON);
        assert_eq!(from_file.metric_interval, Duration::from_secs(5));
        assert_eq!(
            from_file.otlp.protocol,
            Some(telemetry::Protocol::HttpProtobuf)
        );
        let bad = config("logFormat: xml\n");
        assert!(resolve(&["--config", bad.path().to_str().unwrap()]).is_err());
    }

    #[test]
    fn instance_is_the_option_else_the_client_id() {
        let default = resolve(&["--client-id", "mqtt-client"]).unwrap();
        assert_eq!(
            default.telemetry.instance_or(&default.client_id),
            "mqtt-client"
        );
        let given = resolve(&[
            "--client-id",
            "mqtt-client",
            "--telemetry-instance",
            "connector-7",
        ])
        .unwrap();
        assert_eq!(given.telemetry.instance, "connector-7");
        assert_eq!(given.telemetry.instance_or(&given.client_id), "connector-7");
    }
}
