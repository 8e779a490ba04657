//! Telemetry through `sse-connector run`: metrics and traces exported to a real OTLP/HTTP
//! receiver run by the test (a hyper server decoding the protobuf requests), `GET /metrics`,
//! the `traceparent` user property matching the exported span, the connector id of
//! `SSE_CONNECTOR_TELEMETRY_INSTANCE` as the metrics' `instance`, AIO's OTLP variables read
//! from the environment, and no secret value (a password, a private key) in the logs at trace
//! level or in the metrics. OTLP over gRPC with AIO's CA mounts is tested in
//! crates/telemetry/tests/grpc.rs.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use common::{
    Broker, Connector, LIMIT, Options, asset_head, dataset, device, http_get, property,
    write_atomic,
};
use http_body_util::{BodyExt as _, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point};
use prost::Message as _;
use test_support::{ClientAuth, Gate, MqttSubscriber, Response, SseServer, TestPki};

/// What the receiver got, decoded.
#[derive(Default)]
struct Received {
    metrics: Vec<ExportMetricsServiceRequest>,
    traces: Vec<ExportTraceServiceRequest>,
    logs: usize,
}

/// An OTLP/HTTP receiver on loopback: `/v1/metrics`, `/v1/traces`, `/v1/logs`.
struct Receiver {
    addr: SocketAddr,
    received: Arc<Mutex<Received>>,
}

impl Receiver {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Received::default()));
        let store = received.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let store = store.clone();
                tokio::spawn(async move {
                    let service =
                        service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                            let store = store.clone();
                            async move {
                                let path = request.uri().path().to_owned();
                                let body = request.into_body().collect().await?.to_bytes();
                                let mut store = store.lock().unwrap();
                                match path.as_str() {
                                    "/v1/metrics" => store
                                        .metrics
                                        .push(ExportMetricsServiceRequest::decode(body).unwrap()),
                                    "/v1/traces" => store
                                        .traces
                                        .push(ExportTraceServiceRequest::decode(body).unwrap()),
                                    "/v1/logs" => store.logs += 1,
                                    other => panic!("unexpected OTLP path {other}"),
                                }
                                Ok::<_, hyper::Error>(
                                    hyper::Response::builder()
                                        .header("content-type", "application/x-protobuf")
                                        .body(Full::new(Bytes::new()))
                                        .unwrap(),
                                )
                            }
                        });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { addr, received }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The data points of metric `name` in the last metrics request, as (attributes, value);
    /// histograms give their count.
    fn last(&self, name: &str) -> Vec<(Vec<(String, String)>, u64)> {
        let received = self.received.lock().unwrap();
        let Some(request) = received.metrics.last() else {
            return Vec::new();
        };
        let mut points = Vec::new();
        for metric in request
            .resource_metrics
            .iter()
            .flat_map(|r| &r.scope_metrics)
            .flat_map(|s| &s.metrics)
            .filter(|m| m.name == name)
        {
            match &metric.data {
                Some(metric::Data::Sum(sum)) => {
                    assert!(sum.is_monotonic, "{name} is a counter");
                    for p in &sum.data_points {
                        let Some(number_data_point::Value::AsInt(v)) = p.value else {
                            panic!("{name}: not an integer");
                        };
                        points.push((attributes(&p.attributes), u64::try_from(v).unwrap()));
                    }
                }
                Some(metric::Data::Histogram(h)) => {
                    for p in &h.data_points {
                        assert_eq!(p.bucket_counts.iter().sum::<u64>(), p.count);
                        points.push((attributes(&p.attributes), p.count));
                    }
                }
                other => panic!("{name}: unexpected data {other:?}"),
            }
        }
        points
    }

    fn metric_names(&self) -> BTreeSet<String> {
        let received = self.received.lock().unwrap();
        received
            .metrics
            .iter()
            .flat_map(|r| &r.resource_metrics)
            .flat_map(|r| &r.scope_metrics)
            .flat_map(|s| &s.metrics)
            .map(|m| m.name.clone())
            .collect()
    }

    /// (name, trace id hex, span id hex) of every span received.
    fn spans(&self) -> Vec<(String, String, String)> {
        let received = self.received.lock().unwrap();
        received
            .traces
            .iter()
            .flat_map(|r| &r.resource_spans)
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| &s.spans)
            .map(|s| (s.name.clone(), hex(&s.trace_id), hex(&s.span_id)))
            .collect()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn attributes(kvs: &[KeyValue]) -> Vec<(String, String)> {
    kvs.iter()
        .map(|kv| {
            let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(any_value::Value::StringValue(s)) => s.clone(),
                other => format!("{other:?}"),
            };
            (kv.key.clone(), value)
        })
        .collect()
}

/// Polls `probe` until it gives a value; fails after [`LIMIT`].
async fn until<T>(what: &str, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

fn has(attrs: &[(String, String)], key: &str, value: &str) -> bool {
    attrs.iter().any(|(k, v)| k == key && v == value)
}

const EVENTS: usize = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_traces_reach_an_otlp_receiver_and_metrics_page() {
    let receiver = Receiver::start().await;
    let gate = Gate::new();
    let mut response = Response::sse().wait_for(&gate);
    let mut bytes_in = 0;
    for n in 1..=EVENTS {
        let data = format!("{{\"n\":{n}}}");
        bytes_in += data.len() as u64;
        response = response.chunk(format!("id: {n}\nevent: reading\ndata: {data}\n\n"));
    }
    let server = SseServer::http([response.hang()]).await;
    let registry = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let r = registry.path();
    write_atomic(
        &r.join("devices/meter.yaml"),
        &device("meter", "ep", &server.url(""), &[]),
    );
    write_atomic(
        &r.join("assets/plant.yaml"),
        &(asset_head("plant", "meter", "ep", &[])
            + "  datasets:\n"
            + &dataset("power", "/events", "it/power", &["qos: Qos1"])),
    );

    let connector = Connector::start(
        &Options::new(r, state.path(), Broker::Embedded)
            .client_id("it-telemetry")
            .http()
            .arg("--trace-sample-ratio")
            .arg("1")
            // The connector id of the metrics, apart from the MQTT client id.
            .env("SSE_CONNECTOR_TELEMETRY_INSTANCE", "it-connector-id")
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver.url())
            .env("OTEL_METRIC_EXPORT_INTERVAL", "200")
            .env("OTEL_BSP_SCHEDULE_DELAY", "100"),
    )
    .await;
    let mut subscriber = MqttSubscriber::connect(connector.mqtt_addr(), "it/#").await;
    subscriber.wait_subscribed(1, LIMIT).await;
    gate.open();
    let messages = subscriber.wait_for(EVENTS, LIMIT).await;

    // Metrics: every AIO name, the service and instance labels, the values.
    let forwarded = until("the forwarded count over OTLP", async || {
        let points = receiver.last("aio_sse_connector_messages_forwarded");
        points
            .iter()
            .any(|(_, v)| *v == EVENTS as u64)
            .then_some(points)
    })
    .await;
    let (attrs, _) = &forwarded[0];
    assert!(has(attrs, "service", "aio_sse_connector"), "{attrs:?}");
    assert!(has(attrs, "instance", "it-connector-id"), "{attrs:?}");
    assert!(has(attrs, "asset", "plant"), "{attrs:?}");
    assert!(has(attrs, "operation", "plant/datasets/power"), "{attrs:?}");
    let names = receiver.metric_names();
    for name in [
        "aio_sse_connector_messages_received",
        "aio_sse_connector_messages_dropped",
        "aio_sse_connector_messages_forwarded",
        "aio_sse_connector_messages_failed",
        "aio_sse_connector_processing_latency",
        "aio_sse_connector_errors",
        "aio_sse_connector_bytes_in",
        "aio_sse_connector_bytes_out",
        "aio_sse_connector_heartbeat",
    ] {
        assert!(names.contains(name), "{name} not exported: {names:?}");
    }
    let value = |name: &str| -> u64 { receiver.last(name).iter().map(|(_, v)| v).sum() };
    assert_eq!(value("aio_sse_connector_messages_received"), EVENTS as u64);
    assert_eq!(value("aio_sse_connector_messages_dropped"), 0);
    assert_eq!(value("aio_sse_connector_messages_failed"), 0);
    assert_eq!(value("aio_sse_connector_bytes_in"), bytes_in);
    assert_eq!(value("aio_sse_connector_bytes_out"), bytes_in);
    assert_eq!(value("aio_sse_connector_processing_latency"), EVENTS as u64);
    assert!(value("aio_sse_connector_heartbeat") >= 1);
    let received = receiver.last("aio_sse_connector_messages_received");
    assert!(has(&received[0].0, "device", "meter"), "{received:?}");
    assert!(has(&received[0].0, "endpoint", "ep"), "{received:?}");

    // Traces: a `forward` span per message, whose trace the message's traceparent names.
    let traceparents: Vec<String> = messages
        .iter()
        .map(|m| {
            property(m, "traceparent")
                .unwrap_or_else(|| panic!("no traceparent in {m:?}"))
                .to_owned()
        })
        .collect();
    let spans = until("a forward span per message", async || {
        let spans = receiver.spans();
        (spans
            .iter()
            .filter(|(name, _, _)| name == "forward")
            .count()
            >= EVENTS)
            .then_some(spans)
    })
    .await;
    for traceparent in &traceparents {
        let parts: Vec<&str> = traceparent.split('-').collect();
        assert_eq!(parts.len(), 4, "{traceparent}");
        assert_eq!((parts[0], parts[3]), ("00", "01"), "{traceparent}");
        assert!(
            spans.iter().any(|(name, trace, span)| name == "forward"
                && trace == parts[1]
                && span == parts[2]),
            "no forward span for {traceparent} in {spans:?}"
        );
    }
    assert!(
        spans.iter().any(|(name, _, _)| name == "connect"),
        "a span per connection attempt: {spans:?}"
    );

    // The same counters at GET /metrics, in the Prometheus text format.
    let (status, text) = http_get(connector.http.unwrap(), "/metrics").await;
    assert_eq!(status, 200, "{text}");
    let line = format!(
        "aio_sse_connector_messages_forwarded{{service=\"aio_sse_connector\",instance=\"it-connector-id\",asset=\"plant\",operation=\"plant/datasets/power\"}} {EVENTS}"
    );
    assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
    assert!(
        text.contains("aio_sse_connector_processing_latency_bucket{"),
        "{text}"
    );

    assert!(connector.terminate().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_in_trace_logs_metrics_status_or_error_texts() {
    const PASSWORD: &str = "hunter2-telemetry-never-shown";
    const KEY_MATERIAL: &str = "U2VjcmV0S2V5TWF0ZXJpYWxOZXZlclNob3du";
    let pki = TestPki::generate();
    let key_pem = std::fs::read_to_string(&pki.client.key).unwrap();
    let basic = SseServer::http([Response::sse().chunk("id: 1\ndata: {\"b\":1}\n\n").hang()]).await;
    basic.require_basic_auth("operator", PASSWORD);
    // Refuses the password: its error texts (status, logs) are made from the credentials' use.
    let denied = SseServer::http([]).await;
    denied.require_basic_auth("operator", "another-password");
    // Serves mTLS, but the client key configured for it is not a usable key.
    let broken_key = SseServer::https(pki.server_config(ClientAuth::Required), []).await;
    let mtls = SseServer::https(
        pki.server_config(ClientAuth::Required),
        [Response::sse().chunk("id: 1\ndata: {\"m\":1}\n\n").hang()],
    )
    .await;

    let registry = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let r = registry.path();
    std::fs::create_dir_all(r.join("secrets/creds")).unwrap();
    std::fs::write(r.join("secrets/creds/username"), "operator").unwrap();
    std::fs::write(r.join("secrets/creds/password"), PASSWORD).unwrap();
    std::fs::create_dir_all(r.join("secrets/tls")).unwrap();
    std::fs::copy(&pki.client.cert, r.join("secrets/tls/cert")).unwrap();
    std::fs::write(r.join("secrets/tls/key"), &key_pem).unwrap();
    std::fs::write(
        r.join("secrets/tls/badkey"),
        format!("-----BEGIN PRIVATE KEY-----\n{KEY_MATERIAL}\n-----END PRIVATE KEY-----\n"),
    )
    .unwrap();
    std::fs::create_dir_all(r.join("trust/ca")).unwrap();
    std::fs::copy(&pki.ca_pem, r.join("trust/ca/ca.pem")).unwrap();

    let mut basic_device = device("basic", "ep", &basic.url(""), &[]);
    basic_device.push_str(
        "        authentication:\n          method: UsernamePassword\n          \
         usernamePasswordCredentials:\n            usernameSecretName: creds/username\n            \
         passwordSecretName: creds/password\n",
    );
    write_atomic(&r.join("devices/basic.yaml"), &basic_device);
    let denied_device = device("denied", "ep", &denied.url(""), &[])
        + &basic_device[basic_device.find("        authentication:").unwrap()..];
    write_atomic(&r.join("devices/denied.yaml"), &denied_device);
    let mut mtls_device = device("mtls", "ep", &mtls.url(""), &[]);
    mtls_device.push_str(
        "        authentication:\n          method: Certificate\n          \
         x509Credentials:\n            certificateSecretName: tls/cert\n            \
         keySecretName: tls/key\n        trustSettings:\n          trustList: ca\n",
    );
    write_atomic(&r.join("devices/mtls.yaml"), &mtls_device);
    let broken_device = device("broken", "ep", &broken_key.url(""), &[])
        + &mtls_device[mtls_device.find("        authentication:").unwrap()..]
            .replace("keySecretName: tls/key", "keySecretName: tls/badkey");
    write_atomic(&r.join("devices/broken.yaml"), &broken_device);
    for name in ["basic", "mtls", "denied", "broken"] {
        write_atomic(
            &r.join(format!("assets/{name}.yaml")),
            &(asset_head(name, name, "ep", &[])
                + "  datasets:\n"
                + &dataset("d", "/events", &format!("it/{name}"), &[])),
        );
    }

    let connector = Connector::start(
        &Options::new(r, state.path(), Broker::Embedded)
            .client_id("it-secrets")
            .http()
            .env("RUST_LOG", "trace"),
    )
    .await;
    let http = connector.http.unwrap();
    // Both streams delivered their event: every secret was read and used.
    let metrics = until("both streams forwarded", async || {
        let text = http_get(http, "/metrics").await.1;
        (text.contains(
            "aio_sse_connector_messages_forwarded{service=\"aio_sse_connector\",instance=\"it-secrets\",asset=\"basic\",operation=\"basic/datasets/d\"} 1",
        ) && text.contains(
            "aio_sse_connector_messages_forwarded{service=\"aio_sse_connector\",instance=\"it-secrets\",asset=\"mtls\",operation=\"mtls/datasets/d\"} 1",
        ))
        .then_some(text)
    })
    .await;
    assert!(
        connector_log_has_trace(&connector),
        "RUST_LOG=trace is in effect"
    );
    // The two failures are reported, with error texts made from the credentials' use.
    let report = common::status_until(http, "both failures in the status", |report| {
        let text = report.to_string();
        text.contains("401 Unauthorized") && text.contains("client_certificate_invalid")
    })
    .await
    .to_string();
    let log = connector.log().join("\n");
    assert!(connector.terminate().await.success());
    let status_file = std::fs::read_to_string(state.path().join("status/status.json")).unwrap();

    let basic_header = test_support::sse_server::base64(format!("operator:{PASSWORD}").as_bytes());
    let key_body: Vec<&str> = key_pem
        .lines()
        .filter(|l| !l.starts_with("-----") && l.len() > 16)
        .collect();
    assert!(!key_body.is_empty());
    for (what, text) in [
        ("log", &log),
        ("metrics", &metrics),
        ("status", &report),
        ("status file", &status_file),
    ] {
        assert!(
            !text.contains(KEY_MATERIAL),
            "the unusable key's content is in the {what}"
        );
        assert!(!text.contains(PASSWORD), "the password is in the {what}");
        assert!(
            !text.contains(&basic_header),
            "the Basic credentials are in the {what}"
        );
        for line in &key_body {
            assert!(!text.contains(line), "the private key is in the {what}");
        }
        assert!(
            !text.contains("PRIVATE KEY"),
            "a private key is in the {what}"
        );
    }
}

fn connector_log_has_trace(connector: &Connector) -> bool {
    connector.log().iter().any(|l| l.contains("TRACE"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_from_the_config_file_or_the_option() {
    let registry = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(registry.path().join("devices")).unwrap();
    let config = state.path().join("config.yaml");
    std::fs::write(&config, "logFormat: json\nlogLevel: debug\n").unwrap();
    for args in [
        vec!["--config".to_owned(), config.display().to_string()],
        vec!["--log-format".to_owned(), "json".to_owned()],
    ] {
        let mut command = common::run_command();
        command
            .arg("--registry")
            .arg(registry.path())
            .arg("--state-dir")
            .arg(state.path())
            .args(["--http", "off", "--broker", "embedded"])
            .args(["--embedded-broker-addr", "127.0.0.1:0"])
            .args(&args);
        let mut connector = Connector::spawn(command, false, false).await;
        let line = connector.wait_for_log("publishing").await;
        let object: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: not JSON: {line}"));
        assert_eq!(object["level"], "INFO", "{line}");
        assert_eq!(object["message"], "publishing", "{line}");
        assert!(object["timestamp"].is_string(), "{line}");
        assert!(connector.terminate().await.success());
    }
}

/// AIO's OTLP variables are read from the process environment by the default build: a
/// `grpcs://` metrics endpoint whose CA directory does not exist stops the start, naming the
/// variable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_otlp_ca_directory_stops_the_start_naming_its_variable() {
    let registry = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(registry.path().join("devices")).unwrap();
    let missing = state.path().join("no-such-ca");
    let mut command = common::run_command();
    command
        .arg("--registry")
        .arg(registry.path())
        .arg("--state-dir")
        .arg(state.path())
        .args(["--http", "off", "--broker", "embedded"])
        .args(["--embedded-broker-addr", "127.0.0.1:0"])
        .env("OTLP_GRPC_METRIC_ENDPOINT", "grpcs://127.0.0.1:4317")
        .env("FIRST_PARTY_OTLP_GRPC_METRICS_COLLECTOR_CA_PATH", &missing);
    let output = tokio::time::timeout(LIMIT, command.output())
        .await
        .expect("the connector stops")
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let expected = format!(
        "FIRST_PARTY_OTLP_GRPC_METRICS_COLLECTOR_CA_PATH={}: cannot read the CA directory",
        missing.display()
    );
    assert!(stderr.contains(&expected), "{stderr}");
}
