//! The metrics exporter: a [`MetricsSnapshot`](crate::metrics::MetricsSnapshot) as an OTLP
//! request every interval, POSTed as protobuf (or sent with tonic under `otlp-grpc`), failures
//! logged once until an export works again.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use prost::Message as _;
use tokio_util::sync::CancellationToken;

use super::{Endpoint, Protocol, metrics_request};
use crate::error::{Error, ErrorKind};
use crate::metrics::Metrics;

/// Default metric export interval (`OTEL_METRIC_EXPORT_INTERVAL`, milliseconds).
pub const DEFAULT_METRIC_INTERVAL: Duration = Duration::from_secs(60);

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
            .timeout(super::EXPORT_TIMEOUT);
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
