//! `BrokerStateStore` through the real binary: `run` SETs a dataset's key to each payload in
//! its state store (the embedded service, on the embedded broker and on mosquitto), and the
//! `state` commands read, watch and list it:
//! - the key ends with the latest payload, and `state watch` sees every change in order;
//! - after a restart of the connector on the same state directory the value is still there
//!   (the service's persisted log) and the stream resumes after its checkpoint;
//! - `--state-store off` (here through `SSE_CONNECTOR_STATE_STORE`) reports such datasets
//!   unsupported; the `state` commands fail with a clear message and the documented status.
//!
//! A request from an MQTT client written from the protocol description alone is tested in
//! `crates/statestore/tests/independent_client.rs`.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Connector, Kind, LIMIT, asset_head, checkpoints, device, run_command, write_atomic};
use test_support::{Gate, Mosquitto, ResumableSource, SourceConfig};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const KEY: &str = "plant/latest";

/// Variables of the connector that the test's own environment must not leak into `state`.
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
    "SSE_CONNECTOR_CONFIG",
    "SSE_CONNECTOR_BROKER",
    "SSE_CONNECTOR_STATE_DIR",
    "SSE_CONNECTOR_STATE_STORE",
];

/// `sse-connector ARGS`, none of the connector's variables inherited.
fn cli(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sse-connector"));
    command.args(args);
    for name in SCRUBBED {
        command.env_remove(name);
    }
    command.stdin(Stdio::null()).kill_on_drop(true);
    command
}

async fn output(mut command: Command) -> Output {
    tokio::time::timeout(LIMIT, command.output())
        .await
        .expect("the command did not finish")
        .unwrap()
}

/// `sse-connector state ARGS --broker mqtt://ADDR` (generous timeout: a loaded machine).
async fn state(addr: SocketAddr, args: &[&str]) -> Output {
    let mut command = cli(&["state"]);
    command
        .args(args)
        .arg("--broker")
        .arg(format!("mqtt://{addr}"))
        .args(["--timeout", "20s"]);
    output(command).await
}

/// `state get KEY`: the value's bytes; fails the test on another status.
async fn get(addr: SocketAddr, key: &str) -> String {
    let out = state(addr, &["get", key]).await;
    assert!(
        out.status.success(),
        "state get {key}: {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A registry command in `dir` (its `registry` directory), expected to succeed.
async fn registry_step(dir: &Path, line: &str) {
    let args: Vec<&str> = line.split_whitespace().collect();
    let mut command = cli(&args);
    command.current_dir(dir);
    let out = output(command).await;
    assert!(
        out.status.success(),
        "{line}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A running `state watch KEY`; its standard output lines as they arrive. Killed on drop.
struct Watch {
    _child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Watch {
    /// Starts the watch and waits until it observes the key.
    async fn start(addr: SocketAddr, key: &str) -> Self {
        let mut command = cli(&["state", "watch", key, "--timeout", "20s"]);
        command
            .arg("--broker")
            .arg(format!("mqtt://{addr}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let sink = lines.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = stdout.next_line().await {
                sink.lock().unwrap().push(line);
            }
        });
        let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
        let first = tokio::time::timeout(LIMIT, stderr.next_line())
            .await
            .expect("state watch did not start")
            .unwrap()
            .unwrap_or_default();
        assert!(first.starts_with("watching"), "{first:?}");
        Self {
            _child: child,
            lines,
        }
    }

    /// Waits until a line equals `last`; returns every line so far.
    async fn until(&self, last: &str) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + LIMIT;
        loop {
            let lines = self.lines.lock().unwrap().clone();
            if lines.iter().any(|l| l == last) {
                return lines;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "state watch never printed {last:?}; got {lines:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// The event numbers of `SET {"n":N}` lines; fails on any other line.
fn set_numbers(lines: &[String]) -> Vec<u64> {
    lines
        .iter()
        .map(|line| {
            line.strip_prefix("SET {\"n\":")
                .and_then(|rest| rest.strip_suffix('}'))
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("unexpected watch line {line:?}"))
        })
        .collect()
}

/// Every change in order: non-decreasing (at least once allows a repeat), covering
/// `first..=last`.
fn assert_each_change(numbers: &[u64], first: u64, last: u64) {
    assert!(
        numbers.windows(2).all(|w| w[0] <= w[1]),
        "out of order: {numbers:?}"
    );
    let mut distinct = numbers.to_vec();
    distinct.dedup();
    assert_eq!(
        distinct,
        (first..=last).collect::<Vec<_>>(),
        "every change from {first} to {last}"
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `run` on the embedded broker at a fixed port (so a restart keeps it), or on mosquitto with
/// `--state-store embedded`.
fn connector_command(registry: &Path, state: &Path, broker: &Broker) -> Command {
    let mut command = run_command();
    command
        .arg("--registry")
        .arg(registry)
        .arg("--state-dir")
        .arg(state)
        .args(["--http", "off"]);
    match broker {
        Broker::Embedded(addr) => {
            command
                .args(["--broker", "embedded", "--embedded-broker-addr"])
                .arg(addr.to_string());
        }
        Broker::Mosquitto(mosquitto) => {
            command
                .arg("--broker")
                .arg(mosquitto.url())
                .args(["--state-store", "embedded"]);
        }
    }
    command
}

enum Broker {
    Embedded(SocketAddr),
    Mosquitto(Mosquitto),
}

impl Broker {
    fn addr(&self) -> SocketAddr {
        match self {
            Self::Embedded(addr) => *addr,
            Self::Mosquitto(mosquitto) => mosquitto.addr(),
        }
    }
}

async fn start_connector(registry: &Path, state: &Path, broker: &Broker) -> Connector {
    let command = connector_command(registry, state, broker);
    let mut connector =
        Connector::spawn(command, matches!(broker, Broker::Embedded(_)), false).await;
    connector.wait_for_log("embedded state store ready").await;
    connector
}

async fn latest_payload_survives_a_restart(kind: Kind) {
    const FIRST: u64 = 30;
    const TOTAL: u64 = 60;
    let rest = Gate::new();
    let source = ResumableSource::start(
        SourceConfig::new(TOTAL)
            .interval(Duration::from_millis(2))
            .hold_after(FIRST, &rest),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("registry");
    std::fs::create_dir_all(&registry).unwrap();
    let state_dir = dir.path().join("state");
    let broker = match kind {
        Kind::Embedded => Broker::Embedded(SocketAddr::from(([127, 0, 0, 1], free_port()))),
        Kind::Mosquitto => Broker::Mosquitto(Mosquitto::start()),
    };
    let addr = broker.addr();

    let first = start_connector(&registry, &state_dir, &broker).await;
    let watch = Watch::start(addr, KEY).await;
    // The dataset arrives through the registry commands, picked up live.
    registry_step(dir.path(), "device create dev").await;
    registry_step(
        dir.path(),
        &format!(
            "device endpoint add dev --name ep --address {}",
            source.base_url()
        ),
    )
    .await;
    registry_step(dir.path(), "asset create plant --device dev --endpoint ep").await;
    registry_step(
        dir.path(),
        &format!("asset dataset add plant --name latest --data-source /stream --dest key={KEY}"),
    )
    .await;

    let lines = watch.until(&format!("SET {{\"n\":{FIRST}}}")).await;
    assert_each_change(&set_numbers(&lines), 1, FIRST);
    assert_eq!(get(addr, KEY).await, format!("{{\"n\":{FIRST}}}"));
    let missing = state(addr, &["get", "no/such/key"]).await;
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("not found"));
    // Listed from the service's files while it runs.
    let keys = output(cli(&[
        "state",
        "keys",
        "--state-dir",
        state_dir.to_str().unwrap(),
    ]))
    .await;
    assert!(keys.status.success(), "{keys:?}");
    assert_eq!(String::from_utf8(keys.stdout).unwrap(), format!("{KEY}\n"));
    common::eventually("the checkpoint at the last event read", || {
        checkpoints(&state_dir)
            .first()
            .is_some_and(|(_, id)| id == &FIRST.to_string())
    })
    .await;
    let status = first.terminate().await;
    assert!(status.success(), "{status}");
    drop(watch);

    // Same state directory: the value was persisted; the stream resumes after event 30.
    let second = start_connector(&registry, &state_dir, &broker).await;
    assert_eq!(get(addr, KEY).await, format!("{{\"n\":{FIRST}}}"));
    let watch = Watch::start(addr, KEY).await;
    rest.open();
    let lines = watch.until(&format!("SET {{\"n\":{TOTAL}}}")).await;
    assert_each_change(&set_numbers(&lines), FIRST + 1, TOTAL);
    assert_eq!(get(addr, KEY).await, format!("{{\"n\":{TOTAL}}}"));
    let requests = source.wait_for_requests(2, LIMIT).await;
    assert_eq!(
        requests[1].header("last-event-id"),
        Some(FIRST.to_string().as_str())
    );
    let status = second.terminate().await;
    assert!(status.success(), "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latest_payload_survives_a_restart_embedded() {
    latest_payload_survives_a_restart(Kind::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latest_payload_survives_a_restart_mosquitto() {
    latest_payload_survives_a_restart(Kind::Mosquitto).await;
}

/// `SSE_CONNECTOR_STATE_STORE=off`: the dataset is reported unsupported. Without a state
/// store on the broker, `state get` fails with a hint; usage errors exit 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_store_off_and_errors() {
    let mosquitto = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("registry");
    write_atomic(
        &registry.join("devices/dev.yaml"),
        &device("dev", "ep", "http://127.0.0.1:9/", &[]),
    );
    write_atomic(
        &registry.join("assets/plant.yaml"),
        &(asset_head("plant", "dev", "ep", &[])
            + "  datasets:\n    - name: latest\n      dataSource: /stream\n      destinations:\n\
               \x20       - target: BrokerStateStore\n          configuration:\n            \
               key: k\n"),
    );
    let mut command = run_command();
    command
        .arg("--registry")
        .arg(&registry)
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .args(["--http", "off", "--broker"])
        .arg(mosquitto.url())
        .env("SSE_CONNECTOR_STATE_STORE", "off");
    let mut connector = Connector::spawn(command, false, false).await;
    connector.wait_for_log("no state store is configured").await;

    let mut command = cli(&["state", "get", "k", "--timeout", "1s"]);
    command.arg("--broker").arg(mosquitto.url());
    let out = output(command).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is a state store serving"), "{stderr}");

    let usage = output(cli(&["state", "set", "k"])).await;
    assert_eq!(usage.status.code(), Some(2));
    let keys = output(cli(&[
        "state",
        "keys",
        "--state-dir",
        dir.path().join("state").to_str().unwrap(),
    ]))
    .await;
    assert_eq!(keys.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&keys.stderr).contains("cannot list its keys"),
        "{keys:?}"
    );
    let status = connector.terminate().await;
    assert!(status.success(), "{status}");
}
