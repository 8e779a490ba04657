//! Replicas in Akri mode through the real binary: three connector processes (each with its own
//! mount tree and `CONNECTOR_ID`), one broker with the state store service, one fake device
//! registry serving them all, and six SSE sources sending numbered events at a steady rate.
//! Device endpoints move between replicas by rewriting their allocation files; one replica is
//! killed (SIGKILL) and its endpoints handed to the others; a fourth replica joins.
//!
//! Checked: every event of every stream arrives; an event arrives twice only when it was read
//! after the checkpoint the next owner resumed from (the in-flight window of a handoff); each
//! source serves one connection at a time (its connection log has no overlap). The time a
//! move takes (allocation change → the new owner's connection → its first event) and the
//! duplicates are printed for BENCHMARKS.md (`--nocapture`).

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aio_mqtt::MqttConfig;
use common::akri::{Deployment, asset, dataset, device};
use common::{Connector, property};
use serde_json::json;
use statestore::StateStoreService;
use test_support::fake_adr::FakeAdr;
use test_support::{Mosquitto, MqttSubscriber, ResumableSource, SourceConfig, SourceConnection};
use tokio::time::Instant;

/// Device endpoints (`dev{i}_ep`), one SSE source each.
const ENDPOINTS: usize = 6;
/// Events per source.
const TOTAL: u64 = 1_200;
/// The pause between two events of a source (40 events per second).
const INTERVAL: Duration = Duration::from_millis(25);
/// How long the whole run may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(90);

/// The two runs measure one after the other.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_move_between_replicas_without_loss_on_mosquitto() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mosquitto = tokio::task::block_in_place(Mosquitto::start);
    scenario("mosquitto", mosquitto.addr()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_move_between_replicas_without_loss_on_the_embedded_broker() {
    let _one = ONE_AT_A_TIME.lock().await;
    let config = broker::BrokerConfig {
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..broker::BrokerConfig::default()
    };
    let broker = broker::EmbeddedBroker::start(config).await.unwrap();
    scenario("embedded broker", broker.local_addr()).await;
}

/// A message received, with who sent it.
struct Received {
    at: Instant,
    endpoint: usize,
    n: u64,
    source_id: String,
}

/// An allocation change, and when it was written.
struct Move {
    phase: &'static str,
    endpoint: usize,
    to: String,
    at: Instant,
}

/// The replicas, their allocations and what was received.
struct Cluster {
    broker: SocketAddr,
    replicas: Vec<Option<(Deployment, Connector)>>,
    owners: [usize; ENDPOINTS],
    received: Arc<Mutex<Vec<Received>>>,
    moves: Vec<Move>,
}

impl Cluster {
    /// The allocation of replica `replica` under `owners`.
    fn allocation(owners: &[usize; ENDPOINTS], replica: usize) -> Vec<(String, Vec<String>)> {
        (0..ENDPOINTS)
            .filter(|e| owners[*e] == replica)
            .map(|e| (format!("dev{e}_ep"), vec![format!("a{e}")]))
            .collect()
    }

    /// Starts replica `replica` with its share of `self.owners`.
    async fn start(&mut self, replica: usize) {
        let files = Self::allocation(&self.owners, replica);
        let files = borrowed(&files);
        let deployment = Deployment::new(
            &format!("sse-connector-{replica}"),
            self.broker,
            &slices(&files),
            None,
        );
        let connector = deployment.start().await;
        if self.replicas.len() <= replica {
            self.replicas.resize_with(replica + 1, || None);
        }
        self.replicas[replica] = Some((deployment, connector));
    }

    fn session_id(&self, replica: usize) -> String {
        format!("sse-connector-{replica}0")
    }

    /// Gives the endpoints to `owners`, rewriting the allocation of every live replica whose
    /// share changed; records the moves of `phase`.
    fn assign(&mut self, phase: &'static str, owners: [usize; ENDPOINTS]) {
        let at = Instant::now();
        for (replica, slot) in self.replicas.iter_mut().enumerate() {
            let Some((deployment, _)) = slot else {
                continue;
            };
            let before = Self::allocation(&self.owners, replica);
            let after = Self::allocation(&owners, replica);
            if before != after {
                deployment.allocate(&slices(&borrowed(&after)));
            }
        }
        for (endpoint, (&new, &old)) in owners.iter().zip(&self.owners).enumerate() {
            if new != old {
                self.moves.push(Move {
                    phase,
                    endpoint,
                    to: self.session_id(new),
                    at,
                });
            }
        }
        self.owners = owners;
    }

    /// Waits until every endpoint delivered an event from its owner after the last moves.
    async fn settled(&self) {
        let since = self.moves.last().map(|m| m.at);
        let deadline = Instant::now() + common::LIMIT;
        loop {
            let done = (0..ENDPOINTS).all(|e| {
                let owner = self.session_id(self.owners[e]);
                self.received.lock().unwrap().iter().any(|r| {
                    r.endpoint == e && r.source_id == owner && since.is_none_or(|s| r.at >= s)
                })
            });
            if done {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "not every endpoint delivers from its new owner: {:?}",
                self.owners
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn borrowed(files: &[(String, Vec<String>)]) -> Vec<(&str, Vec<&str>)> {
    files
        .iter()
        .map(|(name, assets)| (name.as_str(), assets.iter().map(String::as_str).collect()))
        .collect()
}

fn slices<'a>(files: &'a [(&'a str, Vec<&'a str>)]) -> Vec<(&'a str, &'a [&'a str])> {
    files
        .iter()
        .map(|(name, assets)| (*name, assets.as_slice()))
        .collect()
}

async fn scenario(broker_name: &str, broker: SocketAddr) {
    let started = Instant::now();
    let services = tempfile::tempdir().unwrap();
    let mut config = MqttConfig::new("127.0.0.1", broker.port());
    config.client_id = format!("aio-state-store-{}", std::process::id());
    let state_store = StateStoreService::start(config, services.path().join("statestore")).unwrap();
    tokio::time::timeout(common::LIMIT, state_store.ready())
        .await
        .unwrap();
    let adr = FakeAdr::start_any("127.0.0.1", broker.port()).await;
    let mut sources = Vec::new();
    for e in 0..ENDPOINTS {
        let source = ResumableSource::start(SourceConfig::new(TOTAL).interval(INTERVAL)).await;
        adr.put_device(&format!("dev{e}"), device(&source.base_url()));
        adr.put_asset(
            &format!("a{e}"),
            asset(
                &format!("dev{e}"),
                json!([dataset("d", "/events", &format!("replicas/dev{e}"))]),
            ),
        );
        sources.push(source);
    }
    let received = Arc::new(Mutex::new(Vec::new()));
    let mut subscriber = MqttSubscriber::connect(broker, "replicas/#").await;
    let collector = {
        let received = received.clone();
        tokio::spawn(async move {
            while let Some(message) = subscriber.next(Duration::from_secs(3600)).await {
                let endpoint = message
                    .topic
                    .trim_start_matches("replicas/dev")
                    .parse()
                    .unwrap();
                let source_id = property(&message, "__srcId").unwrap().to_owned();
                received.lock().unwrap().push(Received {
                    at: Instant::now(),
                    endpoint,
                    n: common::event_number(&message),
                    source_id,
                });
            }
        })
    };

    // Three replicas, two endpoints each.
    let mut cluster = Cluster {
        broker,
        replicas: Vec::new(),
        owners: [0, 0, 1, 1, 2, 2],
        received: received.clone(),
        moves: Vec::new(),
    };
    for replica in 0..3 {
        cluster.start(replica).await;
    }
    cluster.settled().await;

    // Moves: dev0 from replica 0 to 1, dev2 from 1 to 2.
    cluster.assign("move", [1, 0, 2, 1, 2, 2]);
    cluster.settled().await;

    // Replica 2 is killed; its endpoints go to the others.
    let (_, killed) = cluster.replicas[2].take().unwrap();
    killed.kill().await;
    cluster.assign("SIGKILL", [1, 0, 1, 1, 0, 1]);
    cluster.settled().await;

    // A fourth replica joins (nothing allocated yet) and takes dev1 and dev5.
    cluster.start(3).await;
    cluster.assign("scale-out", [1, 3, 1, 1, 0, 3]);
    cluster.settled().await;

    // Every event of every stream arrives.
    let deadline = started + DEADLINE;
    loop {
        let missing: Vec<(usize, usize)> = {
            let received = received.lock().unwrap();
            (0..ENDPOINTS)
                .map(|e| {
                    let mut seen = vec![false; usize::try_from(TOTAL).unwrap() + 1];
                    for r in received.iter().filter(|r| r.endpoint == e) {
                        seen[usize::try_from(r.n).unwrap()] = true;
                    }
                    (e, seen.iter().skip(1).filter(|s| !**s).count())
                })
                .filter(|(_, missing)| *missing > 0)
                .collect()
        };
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "events missing (endpoint, count): {missing:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for (_, connector) in cluster.replicas.drain(..).flatten() {
        assert!(connector.terminate().await.success());
    }
    collector.abort();
    let received = std::mem::take(&mut *received.lock().unwrap());

    // One connection at a time per source, and duplicates only inside handoff windows.
    let mut report = Vec::new();
    for (e, source) in sources.iter().enumerate() {
        let connections = source.connections();
        for pair in connections.windows(2) {
            let closed = pair[0]
                .closed
                .expect("every connection but the last is closed");
            assert!(
                closed <= pair[1].opened,
                "dev{e}: a connection opened before the previous one closed: {connections:?}"
            );
        }
        let mut counts: BTreeMap<u64, usize> = BTreeMap::new();
        for r in received.iter().filter(|r| r.endpoint == e) {
            *counts.entry(r.n).or_default() += 1;
        }
        for (n, count) in counts.iter().filter(|(_, count)| **count > 1) {
            let windows = reread_windows(&connections)
                .filter(|(after, last)| after < n && n <= last)
                .count();
            assert!(
                *count <= windows + 1,
                "dev{e}: event {n} arrived {count} times, outside the handoff windows: {connections:?}"
            );
        }
        report.push((e, connections, counts));
    }
    // A replica that lets go saves the checkpoint of everything it sent: nothing twice.
    for m in cluster.moves.iter().filter(|m| m.phase != "SIGKILL") {
        let (_, connections, counts) = &report[m.endpoint];
        if let Some(index) = connections.iter().position(|c| c.opened >= m.at) {
            assert_eq!(
                handoff_duplicates(connections, counts, index),
                0,
                "{} of dev{}: events repeated: {connections:?}",
                m.phase,
                m.endpoint
            );
        }
    }
    print_figures(broker_name, &cluster.moves, &received, &report);
    state_store.shutdown().await;
    println!("{broker_name}: the run took {:?}", started.elapsed());
}

/// The events a handoff may read twice: those after the checkpoint the next connection
/// resumed from, up to the last one the previous connection was sent.
fn reread_windows(connections: &[SourceConnection]) -> impl Iterator<Item = (u64, u64)> + '_ {
    connections
        .windows(2)
        .map(|pair| (pair[1].after, pair[0].last_sent))
        .filter(|(after, last)| after < last)
}

/// The duplicates of the handoff to connection `index`: events read again in its window and
/// in no later one (a replica killed right after taking over re-reads the same events).
fn handoff_duplicates(
    connections: &[SourceConnection],
    counts: &BTreeMap<u64, usize>,
    index: usize,
) -> usize {
    let window = |i: usize| (connections[i].after, connections[i - 1].last_sent);
    if index == 0 {
        return 0;
    }
    let (after, last) = window(index);
    if after >= last {
        return 0;
    }
    counts
        .range(after + 1..=last)
        .filter(|(n, _)| {
            (index + 1..connections.len()).all(|later| {
                let (a, l) = window(later);
                !(a < **n && **n <= l)
            })
        })
        .map(|(_, count)| count - 1)
        .sum()
}

/// Prints, per move, the time to the new owner's connection and first event, and the
/// duplicates of that handoff.
fn print_figures(
    broker_name: &str,
    moves: &[Move],
    received: &[Received],
    report: &[(usize, Vec<SourceConnection>, BTreeMap<u64, usize>)],
) {
    println!("{broker_name}: move → new connection, → first event from the new owner; duplicates");
    for m in moves {
        let (_, connections, counts) = &report[m.endpoint];
        let connection = connections.iter().find(|c| c.opened >= m.at);
        let first = received
            .iter()
            .filter(|r| r.endpoint == m.endpoint && r.source_id == m.to && r.at >= m.at)
            .map(|r| r.at)
            .min();
        let duplicates = connection
            .and_then(|c| connections.iter().position(|x| x == c))
            .map_or(0, |index| handoff_duplicates(connections, counts, index));
        println!(
            "  {:<9} dev{} → {}: connection after {:?}, first event after {:?}, {} duplicates",
            m.phase,
            m.endpoint,
            m.to,
            connection.map(|c| c.opened - m.at),
            first.map(|f| f - m.at),
            duplicates
        );
    }
}
