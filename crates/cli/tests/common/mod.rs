//! Helpers of the `run` tests: the connector as a child process (killed on drop, its log kept
//! for failure reports), registry files, HTTP probes and bounded waits.
//!
//! Every wait has a generous limit and fails the test instead of hanging; none is an upper
//! bound on how fast the connector must be.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use test_support::{MqttSubscriber, ReceivedMessage};

pub mod akri;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

/// The longest any single wait may take before the test fails.
pub const LIMIT: Duration = Duration::from_secs(30);

/// Gives the connector time to do what it must not do (a lower bound, never an upper one).
pub const SETTLE: Duration = Duration::from_millis(400);

/// Which broker a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Broker {
    /// The connector's own embedded broker (it adds `x-mqtt-client-id` to messages).
    Embedded,
    /// An external mosquitto at this address.
    External(SocketAddr),
}

/// Which broker a test is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A mosquitto the test starts.
    Mosquitto,
    /// The connector's embedded broker.
    Embedded,
}

/// How to start a connector.
#[derive(Debug, Clone)]
pub struct Options {
    pub registry: PathBuf,
    pub state_dir: PathBuf,
    pub broker: Broker,
    pub client_id: Option<String>,
    /// `--http 127.0.0.1:0` when true, `--http off` otherwise.
    pub http: bool,
    /// Further arguments and environment variables.
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

impl Options {
    pub fn new(registry: &Path, state_dir: &Path, broker: Broker) -> Self {
        Self {
            registry: registry.to_path_buf(),
            state_dir: state_dir.to_path_buf(),
            broker,
            client_id: None,
            http: false,
            args: Vec::new(),
            env: Vec::new(),
        }
    }

    pub fn client_id(mut self, id: &str) -> Self {
        self.client_id = Some(id.to_owned());
        self
    }

    pub fn http(mut self) -> Self {
        self.http = true;
        self
    }

    pub fn arg(mut self, arg: &str) -> Self {
        self.args.push(arg.to_owned());
        self
    }

    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// A running `sse-connector run`; killed (SIGKILL) when dropped. Its standard error is kept
/// and printed when a test fails with it alive.
pub struct Connector {
    child: Option<Child>,
    log: Arc<Mutex<Vec<String>>>,
    /// Where the embedded broker listens, once started.
    pub mqtt: Option<SocketAddr>,
    /// Where the HTTP listener listens, when enabled.
    pub http: Option<SocketAddr>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("mqtt", &self.mqtt)
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

/// Environment variables of the connector that a test's own environment must not leak into
/// the child.
const SCRUBBED: &[&str] = &[
    "RUST_LOG",
    "AIO_BROKER_HOSTNAME",
    "AIO_BROKER_TCP_PORT",
    "AIO_MQTT_USE_TLS",
    "AIO_TLS_CA_FILE",
    "AIO_TLS_CERT_FILE",
    "AIO_TLS_KEY_FILE",
    "AIO_MQTT_USERNAME",
    "AIO_MQTT_PASSWORD_FILE",
    "AIO_MQTT_CLIENT_ID",
    "AIO_MQTT_CLEAN_START",
    "AIO_MQTT_SESSION_EXPIRY",
    "AIO_MQTT_KEEP_ALIVE",
    "SSE_CONNECTOR_CONFIG",
    "SSE_CONNECTOR_BROKER",
    "SSE_CONNECTOR_STATE_DIR",
    "SSE_CONNECTOR_SCHEMA_REGISTRY",
    "SSE_CONNECTOR_SCHEMA_NAMESPACE",
    "SSE_CONNECTOR_STATE_STORE",
    "SSE_CONNECTOR_STORAGE_ROOT",
    "SSE_CONNECTOR_STORAGE_MAX_FILE_BYTES",
    "SSE_CONNECTOR_REGISTRY",
    "SSE_CONNECTOR_SECRETS",
    "SSE_CONNECTOR_TRUST",
    "SSE_CONNECTOR_HTTP",
    "SSE_CONNECTOR_HTTP_TOKEN_FILE",
    "SSE_CONNECTOR_HTTP_TOKEN",
];

/// `sse-connector run`, with none of the connector's variables inherited from the test's
/// environment.
pub fn run_command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sse-connector"));
    command.arg("run");
    for name in SCRUBBED {
        command.env_remove(name);
    }
    command
}

impl Connector {
    /// Starts the connector and waits until its broker connection and, when asked, its HTTP
    /// listener are up (as its log reports them).
    pub async fn start(options: &Options) -> Self {
        let mut command = run_command();
        command
            .arg("--registry")
            .arg(&options.registry)
            .arg("--state-dir")
            .arg(&options.state_dir)
            .arg("--http")
            .arg(if options.http { "127.0.0.1:0" } else { "off" });
        match options.broker {
            Broker::Embedded => {
                command
                    .args(["--broker", "embedded"])
                    .args(["--embedded-broker-addr", "127.0.0.1:0"]);
            }
            Broker::External(addr) => {
                command.arg("--broker").arg(format!("mqtt://{addr}"));
            }
        }
        if let Some(id) = &options.client_id {
            command.arg("--client-id").arg(id);
        }
        command.args(&options.args);
        command.envs(options.env.iter().map(|(k, v)| (k, v)));
        Self::spawn(command, options.broker == Broker::Embedded, options.http).await
    }

    /// Runs `command` (a [`run_command`] completed by the caller) and waits for the log
    /// lines of the embedded broker and the HTTP listener when expected.
    pub async fn spawn(mut command: Command, embedded: bool, http: bool) -> Self {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let lines = log.clone();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                lines.lock().unwrap().push(line);
            }
        });
        let mut connector = Self {
            child: Some(child),
            log,
            mqtt: None,
            http: None,
        };
        if embedded {
            connector.mqtt = Some(connector.logged_addr("embedded MQTT broker ready").await);
        }
        if http {
            connector.http = Some(connector.logged_addr("HTTP listener ready").await);
        }
        connector
    }

    /// The `addr=` of the first log line containing `message`.
    async fn logged_addr(&mut self, message: &str) -> SocketAddr {
        let line = self.wait_for_log(message).await;
        let addr = line
            .split_whitespace()
            .find_map(|word| word.strip_prefix("addr="))
            .unwrap_or_else(|| panic!("no addr= in {line:?}"));
        addr.parse()
            .unwrap_or_else(|e| panic!("{e}: {addr:?} in {line:?}"))
    }

    /// Waits for a log line containing `text`; fails if the connector exits first.
    pub async fn wait_for_log(&mut self, text: &str) -> String {
        let deadline = tokio::time::Instant::now() + LIMIT;
        loop {
            if let Some(line) = self.log().into_iter().find(|l| l.contains(text)) {
                return line;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                // Let the reader catch the last lines.
                tokio::time::sleep(Duration::from_millis(100)).await;
                panic!(
                    "the connector exited ({status}) before logging {text:?}:\n{}",
                    self.log().join("\n")
                );
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no log line with {text:?} within {LIMIT:?}:\n{}",
                self.log().join("\n")
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The standard error lines so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// The embedded broker's address.
    pub fn mqtt_addr(&self) -> SocketAddr {
        self.mqtt.expect("the connector runs the embedded broker")
    }

    fn pid(&self) -> u32 {
        self.child
            .as_ref()
            .and_then(Child::id)
            .expect("the connector is running")
    }

    /// Sends SIGTERM and waits for the exit status.
    pub async fn terminate(mut self) -> ExitStatus {
        signal(self.pid(), "TERM");
        self.wait().await
    }

    /// Kills the connector with SIGKILL, like a crash, and waits until it is gone.
    pub async fn kill(mut self) {
        let mut child = self.child.take().unwrap();
        child.start_kill().unwrap();
        tokio::time::timeout(LIMIT, child.wait())
            .await
            .expect("a killed connector did not exit")
            .unwrap();
    }

    /// Waits for the connector to exit by itself.
    pub async fn exited(mut self) -> ExitStatus {
        self.wait().await
    }

    async fn wait(&mut self) -> ExitStatus {
        let child = self.child.as_mut().unwrap();
        let status = tokio::time::timeout(LIMIT, child.wait()).await;
        match status {
            Ok(status) => {
                self.child = None;
                status.unwrap()
            }
            Err(_) => panic!(
                "the connector did not exit within {LIMIT:?}:\n{}",
                self.log().join("\n")
            ),
        }
    }
}

impl Drop for Connector {
    fn drop(&mut self) {
        if std::thread::panicking() && self.child.is_some() {
            eprintln!(
                "---- connector log ----\n{}\n-----------------------",
                self.log().join("\n")
            );
        }
        if let Some(child) = &mut self.child {
            let _ = child.start_kill();
        }
    }
}

fn signal(pid: u32, name: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name} {pid} failed");
}

/// A plain HTTP/1.1 GET on loopback: the status code and the body.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut response = String::new();
        stream.read_to_string(&mut response).await?;
        Ok::<_, std::io::Error>(response)
    };
    let response = tokio::time::timeout(LIMIT, exchange)
        .await
        .expect("HTTP request timed out")
        .unwrap();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Polls `path` until it answers `status`.
pub async fn wait_for_status(addr: SocketAddr, path: &str, status: u16) -> String {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let (got, body) = http_get(addr, path).await;
        if got == status {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{path} still answers {got} ({body:?}), expected {status}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls `GET /api/v1/status` every 50 ms until `condition` holds; returns that report.
pub async fn status_until(
    addr: SocketAddr,
    what: &str,
    condition: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let (code, body) = http_get(addr, "/api/v1/status").await;
        assert_eq!(code, 200, "{body}");
        let report: serde_json::Value = serde_json::from_str(&body).unwrap();
        if condition(&report) {
            return report;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}; the status is:\n{report:#}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls `condition` every 10 ms; fails after [`LIMIT`].
pub async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + LIMIT;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A user property of a message (the first with that name).
pub fn property<'a>(message: &'a ReceivedMessage, name: &str) -> Option<&'a str> {
    message
        .user_properties
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The SSE id of a message of a [`test_support::ResumableSource`] stream, from its payload
/// `{"n":N}`.
pub fn event_number(message: &ReceivedMessage) -> u64 {
    let text = std::str::from_utf8(&message.payload).unwrap();
    text.strip_prefix("{\"n\":")
        .and_then(|rest| rest.strip_suffix('}'))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a numbered event: {text:?} on {}", message.topic))
}

/// Receives messages into `received` until every event number `1..=total` has been seen on
/// `topic` (counting what `received` already holds; messages of other topics are kept too).
pub async fn collect_all(
    subscriber: &mut MqttSubscriber,
    received: &mut Vec<ReceivedMessage>,
    topic: &str,
    total: u64,
) {
    let deadline = tokio::time::Instant::now() + LIMIT;
    let mut seen: BTreeSet<u64> = received
        .iter()
        .filter(|m| m.topic == topic)
        .map(event_number)
        .collect();
    while seen.len() < usize::try_from(total).unwrap() {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let Some(message) = subscriber.next(left).await else {
            let missing: Vec<u64> = (1..=total).filter(|n| !seen.contains(n)).collect();
            panic!(
                "{} of {total} events seen on {topic} within {LIMIT:?}; missing {missing:?}",
                seen.len()
            );
        };
        if message.topic == topic {
            seen.insert(event_number(&message));
        }
        received.push(message);
    }
    assert!(
        seen.iter().all(|n| (1..=total).contains(n)),
        "events outside 1..={total}: {seen:?}"
    );
}

/// Receives messages until `condition` holds for the messages received so far.
pub async fn receive_until(
    subscriber: &mut MqttSubscriber,
    received: &mut Vec<ReceivedMessage>,
    what: &str,
    mut condition: impl FnMut(&[ReceivedMessage]) -> bool,
) {
    let deadline = tokio::time::Instant::now() + LIMIT;
    while !condition(received) {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match subscriber.next(left).await {
            Some(message) => received.push(message),
            None => panic!(
                "timed out waiting for {what}; received {} messages",
                received.len()
            ),
        }
    }
}

/// Writes `text` to `path` atomically (a hidden temporary file renamed over it), so the
/// registry watcher never reads half a file.
pub fn write_atomic(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let tmp = path.parent().unwrap().join(format!(
        ".{}.tmp",
        path.file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// A device with one `Microsoft.SSEHttp` endpoint, anonymous, as a Kubernetes document.
/// `identity` holds extra `spec` lines (`uuid: ...`, `externalDeviceId: ...`).
pub fn device(name: &str, endpoint: &str, address: &str, identity: &[&str]) -> String {
    let mut text = format!(
        "apiVersion: namespaces.deviceregistry.microsoft.com/v1\nkind: Device\nmetadata:\n  \
         name: {name}\nspec:\n"
    );
    for line in identity {
        text.push_str(&format!("  {line}\n"));
    }
    text.push_str(&format!(
        "  endpoints:\n    inbound:\n      {endpoint}:\n        endpointType: \
         Microsoft.SSEHttp\n        address: {address}\n"
    ));
    text
}

/// The head of an asset document up to `spec.deviceRef`; the caller appends the rest of
/// `spec` (indented by two spaces). `identity` holds extra `spec` lines.
pub fn asset_head(name: &str, device: &str, endpoint: &str, identity: &[&str]) -> String {
    let mut text = format!(
        "apiVersion: namespaces.deviceregistry.microsoft.com/v1\nkind: Asset\nmetadata:\n  \
         name: {name}\nspec:\n"
    );
    for line in identity {
        text.push_str(&format!("  {line}\n"));
    }
    text.push_str(&format!(
        "  deviceRef:\n    deviceName: {device}\n    endpointName: {endpoint}\n"
    ));
    text
}

/// An MQTT destination list, as YAML lines indented by `indent` spaces.
pub fn mqtt_destination(indent: usize, topic: &str, extra: &[&str]) -> String {
    let pad = " ".repeat(indent);
    let mut text = format!("{pad}- target: Mqtt\n{pad}  configuration:\n{pad}    topic: {topic}\n");
    for line in extra {
        text.push_str(&format!("{pad}    {line}\n"));
    }
    text
}

/// A dataset entry (`- name: ...`) of `spec.datasets`, with its destination.
pub fn dataset(name: &str, data_source: &str, topic: &str, extra: &[&str]) -> String {
    format!(
        "    - name: {name}\n      dataSource: {data_source}\n      destinations:\n{}",
        mqtt_destination(8, topic, extra)
    )
}

/// The `(url, lastEventId)` of every checkpoint file under `STATE_DIR/checkpoints/`, sorted.
pub fn checkpoints(state_dir: &Path) -> Vec<(String, String)> {
    let Ok(entries) = std::fs::read_dir(state_dir.join("checkpoints")) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path).unwrap();
            let value: serde_json::Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{e}: {text:?} in {}", path.display()));
            found.push((
                value["url"].as_str().unwrap().to_owned(),
                value["lastEventId"].as_str().unwrap().to_owned(),
            ));
        }
    }
    found.sort();
    found
}
