//! What the API tests share: a listener over a temporary registry directory, fake runtime
//! sources, and a plain HTTP client.
#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use api::{
    Access, MetricsSource, Readiness, RouteInfo, Sources, StatusSource, TailFeed, TailMessage,
    TailSource, Token, serve_with,
};
use registry::RegistryPaths;
use serde_json::{Value, json};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

pub struct Ready;

impl Readiness for Ready {
    fn not_ready(&self) -> Option<String> {
        None
    }
}

/// A fixed status document, in the shape the runtime reports.
pub struct FixedStatus(pub Value);

impl StatusSource for FixedStatus {
    fn status(&self) -> Value {
        self.0.clone()
    }
}

pub struct FixedMetrics;

impl MetricsSource for FixedMetrics {
    fn prometheus_text(&self) -> String {
        "# TYPE sse_connector_events_total counter\nsse_connector_events_total 3\n".to_owned()
    }
}

/// A tail whose feeds the test writes to, by asset: a `broadcast` channel of 4 messages each,
/// as the runtime's tail (with its 256) is the first and only queue of the feed.
#[derive(Default)]
pub struct Tails {
    channels: Mutex<Vec<(String, broadcast::Sender<TailMessage>)>>,
}

impl Tails {
    pub fn sender(&self, asset: &str) -> broadcast::Sender<TailMessage> {
        let mut channels = self.channels.lock().unwrap();
        if let Some((_, tx)) = channels.iter().find(|(a, _)| a == asset) {
            return tx.clone();
        }
        let (tx, _) = broadcast::channel(4);
        channels.push((asset.to_owned(), tx.clone()));
        tx
    }
}

impl TailSource for Tails {
    fn subscribe(&self, asset: &str) -> TailFeed {
        tail_feed::feed(self.sender(asset).subscribe())
    }
}

pub fn status_document() -> Value {
    json!({
        "connector": {"instance": "sse-connector-1", "version": "0.1.0",
            "startedAt": "2026-11-27T12:00:00Z",
            "broker": {"url": "mqtt://127.0.0.1:1883", "connected": true},
            "registry": {"files": 2, "errors": 0, "warnings": 0}},
        "devices": [{"name": "weather-station", "version": 1,
            "status": {"config": {"version": 1, "lastTransitionTime": "2026-11-27T12:00:00Z"}},
            "health": {"endpoints": {"sse": {"status": "Available",
                "lastUpdateTime": "2026-11-27T12:00:01Z", "version": 1}}}}],
        "assets": [{"name": "weather", "device": "weather-station", "endpoint": "sse", "version": 1,
            "status": {"config": {"version": 1, "lastTransitionTime": "2026-11-27T12:00:00Z"},
                "datasets": [{"name": "weatherdata"}], "eventGroups": []},
            "health": {"status": "Available", "lastUpdateTime": "2026-11-27T12:00:01Z",
                "datasets": [{"datasetName": "weatherdata", "runtimeHealth": {"status": "Available",
                    "lastUpdateTime": "2026-11-27T12:00:01Z", "version": 1}}],
                "events": []}}],
        "problems": []
    })
}

/// A listener with every source, over a registry in a temporary directory.
pub struct Harness {
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    pub tails: Arc<Tails>,
    pub token: Option<&'static str>,
    shutdown: CancellationToken,
    http: reqwest::Client,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub const TOKEN: &str = "test-token-0123456789";

impl Harness {
    pub async fn start() -> Self {
        Self::start_with(None, true).await
    }

    /// `token`: require this token; `full`: every source (else readiness only).
    pub async fn start_with(token: Option<&'static str>, full: bool) -> Self {
        Self::start_on(([127, 0, 0, 1], 0).into(), token, full, Vec::new()).await
    }

    /// On `addr`, with the names of `allowed_hosts` allowed as `Host`.
    pub async fn start_on(
        addr: SocketAddr,
        token: Option<&'static str>,
        full: bool,
        allowed_hosts: Vec<api::AllowedHost>,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("registry")).unwrap();
        let tails = Arc::new(Tails::default());
        let mut sources = Sources::new(Arc::new(Ready));
        if full {
            sources = sources
                .with_registry(RegistryPaths::new(dir.path().join("registry")))
                .with_status(Arc::new(FixedStatus(status_document())))
                .with_metrics(Arc::new(FixedMetrics))
                .with_tail(tails.clone());
        }
        let token_value = token.map(|t| Token::from_file(&token_file(dir.path(), t)).unwrap());
        let shutdown = CancellationToken::new();
        let access = Access {
            token: token_value,
            allowed_hosts,
        };
        let (addr, _task) = serve_with(addr, access, sources, shutdown.clone())
            .await
            .unwrap();
        Self {
            addr,
            dir,
            tails,
            token,
            shutdown,
            http: client(),
        }
    }

    /// Stops the listener.
    pub fn stop(&self) {
        self.shutdown.cancel();
    }

    pub fn registry(&self) -> PathBuf {
        self.dir.path().join("registry")
    }

    /// The URL of `path` (on loopback when the listener is on every address).
    pub fn url(&self, path: &str) -> String {
        if self.addr.ip().is_unspecified() {
            format!("http://127.0.0.1:{}{path}", self.addr.port())
        } else {
            format!("http://{}{path}", self.addr)
        }
    }

    /// A request with the token, when there is one.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.http.request(method, self.url(path));
        match self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// A request without a body.
    pub async fn call(&self, method: reqwest::Method, path: &str) -> (u16, Value) {
        answer(self.request(method, path).send().await.unwrap()).await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path).await
    }

    pub async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &Value,
    ) -> (u16, Value) {
        answer(
            self.request(method, path)
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// `POST` of a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send_json(reqwest::Method::POST, path, body).await
    }

    /// `PUT` of a JSON body.
    pub async fn put(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send_json(reqwest::Method::PUT, path, body).await
    }

    pub async fn send_raw(&self, method: reqwest::Method, path: &str, body: &str) -> (u16, Value) {
        answer(
            self.request(method, path)
                .body(body.to_owned())
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// A request with these extra headers (`host` among them replaces reqwest's) and body.
    pub async fn send_with(
        &self,
        method: reqwest::Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, Value) {
        let mut request = self.request(method, path).body(body.to_owned());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        answer(request.send().await.unwrap()).await
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::DELETE, path).await
    }
}

/// Writes `contents` to the file `token` in `dir`, for `Token::from_file`.
pub fn token_file(dir: &Path, contents: &str) -> PathBuf {
    let file = dir.join("token");
    std::fs::write(&file, contents).unwrap();
    file
}

/// The route's path with each parameter filled in, for a request to it.
pub fn concrete_path(route: &RouteInfo) -> String {
    route
        .path
        .replace("{name}", "x")
        .replace("{version}", "1")
        .replace("{list}", "x")
}

/// The route's method, for reqwest.
pub fn method(route: &RouteInfo) -> reqwest::Method {
    reqwest::Method::from_bytes(route.method.as_bytes()).unwrap()
}

/// The message of an error answer.
pub fn message(body: &Value) -> &str {
    body["error"]["message"].as_str().unwrap()
}

/// Status and JSON body (`Null` when empty, a string when not JSON).
pub async fn answer(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, body)
}

pub fn client() -> reqwest::Client {
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(rustls::RootCertStore::empty())
    .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .build()
        .unwrap()
}

pub fn device(name: &str, address: &str) -> Value {
    json!({
        "apiVersion": "namespaces.deviceregistry.microsoft.com/v1",
        "kind": "Device",
        "metadata": {"name": name},
        "spec": {"endpoints": {"inbound": {"sse": {
            "endpointType": "Microsoft.SSEHttp", "address": address}}}}
    })
}

pub fn asset(name: &str, device: &str) -> Value {
    json!({
        "apiVersion": "namespaces.deviceregistry.microsoft.com/v1",
        "kind": "Asset",
        "metadata": {"name": name},
        "spec": {
            "deviceRef": {"deviceName": device, "endpointName": "sse"},
            "datasets": [{"name": "weatherdata", "dataSource": "/api/weather",
                "destinations": [{"target": "Mqtt", "configuration": {"topic": "plant/weather"}}]}],
            "eventGroups": [{"name": "alerts", "dataSource": "/events",
                "events": [{"name": "threshold", "dataSource": "threshold",
                    "destinations": [{"target": "Mqtt", "configuration": {"topic": "plant/alerts"}}]}]}]
        }
    })
}

/// The problems of an error answer.
pub fn problems(body: &Value) -> Vec<(String, String)> {
    body["error"]["problems"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|p| {
                    (
                        p["path"].as_str().unwrap_or_default().to_owned(),
                        p["message"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Every file below `dir`, as text, for "nothing was written" checks.
pub fn files_below(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_below(&path));
        } else {
            out.push((
                path.clone(),
                std::fs::read_to_string(&path).unwrap_or_default(),
            ));
        }
    }
    out.sort();
    out
}
