//! OTLP over gRPC as AIO's Akri operator passes it: `OTLP_GRPC_*_ENDPOINT=grpcs://...` and
//! the collector's CA in `FIRST_PARTY_OTLP_GRPC_*_COLLECTOR_CA_PATH`, a directory laid out
//! like a Kubernetes volume mount. The collector is a tonic server with the OTLP metrics and
//! trace services behind rustls, its certificate made at test time.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::metric;
use telemetry::{OtlpEndpoints, OtlpSettings, Telemetry, TelemetryConfig};
use test_support::certs::{ClientAuth, TestPki};
use tokio::net::TcpListener;
use tonic::{Request, Response, Status};

const CONNECTOR_ID: &str = "sse-connector-7f3a";
const METRICS_CA: &str = "FIRST_PARTY_OTLP_GRPC_METRICS_COLLECTOR_CA_PATH";
const LOG_CA: &str = "FIRST_PARTY_OTLP_GRPC_LOG_COLLECTOR_CA_PATH";

/// What the collector received.
#[derive(Debug, Clone, Default)]
struct Received {
    metrics: Arc<Mutex<Vec<ExportMetricsServiceRequest>>>,
    traces: Arc<Mutex<Vec<ExportTraceServiceRequest>>>,
}

#[tonic::async_trait]
impl MetricsService for Received {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        self.metrics.lock().unwrap().push(request.into_inner());
        Ok(Response::new(ExportMetricsServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl TraceService for Received {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        self.traces.lock().unwrap().push(request.into_inner());
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

/// An OTLP/gRPC collector on loopback, TLS with the test PKI's server certificate.
async fn collector(pki: &TestPki) -> (SocketAddr, Received) {
    let mut tls = (*pki.server_config(ClientAuth::None)).clone();
    tls.alpn_protocols = vec![b"h2".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Connections whose handshake fails (an untrusted server, for the client) are dropped.
    let incoming =
        futures_util::stream::unfold((listener, acceptor), |(listener, acceptor)| async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                if let Ok(stream) = acceptor.accept(tcp).await {
                    return Some((Ok::<_, std::io::Error>(stream), (listener, acceptor)));
                }
            }
        });
    let received = Received::default();
    let server = tonic::transport::Server::builder()
        .add_service(MetricsServiceServer::new(received.clone()))
        .add_service(TraceServiceServer::new(received.clone()))
        .serve_with_incoming(incoming);
    tokio::spawn(server);
    (addr, received)
}

/// A directory laid out like a mounted ConfigMap: the files in a timestamped directory,
/// `..data` linking to it, the visible names linking through `..data`.
fn kubernetes_mount(files: &[(&str, &Path)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("..2026_12_04_17_00_00.000000001");
    std::fs::create_dir(&data).unwrap();
    for (name, source) in files {
        std::fs::copy(source, data.join(name)).unwrap();
        std::os::unix::fs::symlink(Path::new("..data").join(name), dir.path().join(name)).unwrap();
    }
    std::os::unix::fs::symlink(data.file_name().unwrap(), dir.path().join("..data")).unwrap();
    dir
}

/// The endpoints of AIO's variables `vars`, as `resolve` reads them from the environment.
fn endpoints(vars: &[(&str, String)]) -> OtlpEndpoints {
    let vars: HashMap<&str, String> = vars.iter().cloned().collect();
    OtlpEndpoints::resolve_with(&OtlpSettings::default(), |name| vars.get(name).cloned()).unwrap()
}

fn config(endpoints: OtlpEndpoints) -> TelemetryConfig {
    TelemetryConfig {
        metric_interval: Duration::from_millis(100),
        trace_sample_ratio: 1.0,
        endpoints,
        ..TelemetryConfig::new(CONNECTOR_ID)
    }
}

fn string(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            any_value::Value::StringValue(s) => Some(s.clone()),
            _ => None,
        }
    })
}

async fn until<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    for _ in 0..200 {
        if let Some(value) = probe() {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn metrics_and_traces_reach_a_grpcs_collector_trusted_through_the_ca_mounts() {
    let pki = TestPki::generate();
    let (addr, received) = collector(&pki).await;
    let metrics_ca = kubernetes_mount(&[("ca.crt", &pki.ca_pem)]);
    let log_ca = kubernetes_mount(&[("ca.crt", &pki.ca_pem)]);
    let url = format!("grpcs://127.0.0.1:{}", addr.port());
    let telemetry = Telemetry::start(config(endpoints(&[
        ("OTLP_GRPC_METRIC_ENDPOINT", url.clone()),
        ("OTLP_GRPC_TRACE_ENDPOINT", url),
        (METRICS_CA, metrics_ca.path().display().to_string()),
        // Traces trust the log collector's CA (AIO passes no trace CA).
        (LOG_CA, log_ca.path().display().to_string()),
    ])))
    .unwrap();

    let request = until("metrics over gRPC", || {
        received.metrics.lock().unwrap().first().cloned()
    })
    .await;
    let resource = request.resource_metrics[0].resource.as_ref().unwrap();
    assert_eq!(
        string(&resource.attributes, "service.instance.id").as_deref(),
        Some(CONNECTOR_ID)
    );
    let heartbeat = request.resource_metrics[0].scope_metrics[0]
        .metrics
        .iter()
        .find(|m| m.name == "aio_sse_connector_heartbeat")
        .unwrap();
    let Some(metric::Data::Sum(sum)) = &heartbeat.data else {
        panic!("the heartbeat is not a sum")
    };
    let point = &sum.data_points[0];
    assert_eq!(
        string(&point.attributes, "instance").as_deref(),
        Some(CONNECTOR_ID)
    );
    assert_eq!(
        string(&point.attributes, "service").as_deref(),
        Some("aio_sse_connector")
    );

    let span = telemetry
        .tracer()
        .connect_span(&"https://device.example/events".parse().unwrap(), 1)
        .unwrap();
    span.end(None);
    telemetry.shutdown().await;
    let traces = received.traces.lock().unwrap().clone();
    let spans = &traces.first().expect("traces over gRPC").resource_spans[0];
    assert_eq!(
        string(
            &spans.resource.as_ref().unwrap().attributes,
            "service.instance.id"
        )
        .as_deref(),
        Some(CONNECTOR_ID)
    );
    assert_eq!(spans.scope_spans[0].spans[0].name, "connect");
}

#[tokio::test]
async fn a_collector_whose_ca_is_not_mounted_gets_nothing() {
    let pki = TestPki::generate();
    let (addr, received) = collector(&pki).await;
    let other_ca = kubernetes_mount(&[("ca.crt", &pki.rogue_ca_pem)]);
    let telemetry = Telemetry::start(config(endpoints(&[
        (
            "OTLP_GRPC_METRIC_ENDPOINT",
            format!("grpcs://127.0.0.1:{}", addr.port()),
        ),
        (METRICS_CA, other_ca.path().display().to_string()),
    ])))
    .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    telemetry.shutdown().await;
    assert!(received.metrics.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_missing_ca_directory_stops_the_start_naming_its_variable() {
    let error = Telemetry::start(config(endpoints(&[
        (
            "OTLP_GRPC_METRIC_ENDPOINT",
            "grpcs://collector.invalid:4317".to_owned(),
        ),
        (METRICS_CA, "/nonexistent/metrics-ca".to_owned()),
    ])))
    .unwrap_err()
    .to_string();
    assert!(
        error.starts_with(
            "FIRST_PARTY_OTLP_GRPC_METRICS_COLLECTOR_CA_PATH=/nonexistent/metrics-ca: cannot read the CA directory"
        ),
        "{error}"
    );
}
