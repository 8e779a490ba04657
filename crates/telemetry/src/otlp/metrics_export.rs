//! The metrics exporter: a [`MetricsSnapshot`](crate::metrics::MetricsSnapshot) as an OTLP
//! request every interval, POSTed as protobuf or sent over gRPC, failures logged once until an
//! export works again.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use prost::Message as _;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

use super::{Endpoint, Protocol, metrics_request};
use crate::error::{Error, ErrorKind};
use crate::metrics::Metrics;

/// Default metric export interval (`OTEL_METRIC_EXPORT_INTERVAL`, milliseconds).
pub const DEFAULT_METRIC_INTERVAL: Duration = Duration::from_secs(60);

/// Sends metrics snapshots to one endpoint.
#[derive(Debug, Clone)]
pub(crate) struct MetricsExporter {
    url: String,
    transport: Transport,
}

#[derive(Debug, Clone)]
enum Transport {
    Http(reqwest::Client),
    Grpc(MetricsServiceClient<Channel>),
}

impl MetricsExporter {
    /// The exporter to `endpoint`: over `client` for HTTP, over its own channel for gRPC.
    ///
    /// # Errors
    /// When the gRPC channel cannot be set up (URL, CA directory).
    pub(crate) fn new(endpoint: &Endpoint, client: reqwest::Client) -> Result<Self, Error> {
        let transport = match endpoint.protocol {
            Protocol::HttpProtobuf => Transport::Http(client),
            Protocol::Grpc => {
                Transport::Grpc(MetricsServiceClient::new(super::grpc_channel(endpoint)?))
            }
        };
        Ok(Self {
            url: endpoint.url.clone(),
            transport,
        })
    }

    /// Exports one snapshot.
    ///
    /// # Errors
    /// When the collector cannot be reached or refuses the request.
    pub(crate) async fn export(
        &mut self,
        request: ExportMetricsServiceRequest,
    ) -> Result<(), Error> {
        let fail = |e: &dyn std::fmt::Display| {
            Error::new(
                ErrorKind::Export,
                format!("OTLP metrics to {}: {e}", self.url),
            )
        };
        match &mut self.transport {
            Transport::Http(client) => {
                let response = client
                    .post(&self.url)
                    .header(http::header::CONTENT_TYPE, "application/x-protobuf")
                    .body(request.encode_to_vec())
                    .send()
                    .await
                    .map_err(|e| fail(&e))?;
                if !response.status().is_success() {
                    return Err(fail(&format_args!("HTTP {}", response.status())));
                }
            }
            Transport::Grpc(client) => {
                client.export(request).await.map_err(|e| fail(&e))?;
            }
        }
        Ok(())
    }
}

/// Exports `metrics` every `interval` until `stop`, then once more (the last values).
pub(crate) async fn export_metrics(
    mut exporter: MetricsExporter,
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
