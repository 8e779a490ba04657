//! The MQTT publisher against real brokers: mosquitto (a process on a free loopback port) and
//! the embedded broker. Each scenario runs on both.
//!
//! Broker restarts race with the subscriber's own reconnect: a restarted broker without
//! sessions drops what arrives before the subscriber has subscribed again. Where that matters
//! the publisher connects through [`Gate`], a TCP relay the test holds closed until the
//! subscriber is back; the relay only delays the publisher, it does not stand in for anything.

#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aio_mqtt::{Backoff, Message, MqttConfig, Qos};
use broker::{BrokerConfig, EmbeddedBroker};
use bytes::Bytes;
use sinks::{ConnectionStatus, Delivery, MqttPublisher, PublishError, Publisher};
use test_support::{Mosquitto, MqttSubscriber, ReceivedMessage};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

const PATIENCE: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Mosquitto,
    Embedded,
}

/// A real broker that can be stopped and started again on the same port.
struct Broker {
    addr: SocketAddr,
    mosquitto: Option<Mosquitto>,
    embedded: Option<EmbeddedBroker>,
}

impl Broker {
    async fn start(kind: Kind) -> Self {
        match kind {
            Kind::Mosquitto => Self::mosquitto(Mosquitto::start()),
            Kind::Embedded => {
                let bind = SocketAddr::from(([127, 0, 0, 1], 0));
                let embedded = EmbeddedBroker::start(BrokerConfig {
                    bind,
                    ..BrokerConfig::default()
                })
                .await
                .unwrap();
                Self {
                    addr: embedded.local_addr(),
                    mosquitto: None,
                    embedded: Some(embedded),
                }
            }
        }
    }

    fn mosquitto(mosquitto: Mosquitto) -> Self {
        Self {
            addr: mosquitto.addr(),
            mosquitto: Some(mosquitto),
            embedded: None,
        }
    }

    /// Graceful stop (a persistent mosquitto saves its sessions).
    async fn stop(&mut self) {
        if let Some(m) = &mut self.mosquitto {
            m.stop();
        }
        if let Some(e) = self.embedded.take() {
            e.shutdown().await;
        }
    }

    async fn start_again(&mut self) {
        if let Some(m) = &mut self.mosquitto {
            m.restart();
            return;
        }
        let config = BrokerConfig {
            bind: self.addr,
            ..BrokerConfig::default()
        };
        for _ in 0..100 {
            match EmbeddedBroker::start(config.clone()).await {
                Ok(e) => {
                    self.embedded = Some(e);
                    return;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        panic!("the embedded broker did not restart on {}", self.addr);
    }
}

/// A TCP relay in front of a broker: closed, it refuses connections; `cut` drops the
/// connections it carries (the broker sees a client vanish and keeps its session).
struct Gate {
    addr: SocketAddr,
    open: watch::Sender<bool>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Gate {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (open, is_open) = watch::channel(true);
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let accept_links = Arc::clone(&links);
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !*is_open.borrow() {
                    continue;
                }
                let link = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                accept_links.lock().unwrap().push(link);
            }
        });
        Self {
            addr,
            open,
            links,
            accept,
        }
    }

    fn cut(&self) {
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    fn close(&self) {
        self.open.send_replace(false);
        self.cut();
    }

    fn open(&self) {
        self.open.send_replace(true);
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

fn config(addr: SocketAddr, client_id: &str) -> MqttConfig {
    let mut config = MqttConfig::new(addr.ip().to_string(), addr.port());
    config.client_id = format!("{client_id}-{}", std::process::id());
    config.reconnect = Backoff {
        min: Duration::from_millis(20),
        max: Duration::from_millis(200),
    };
    config.close_timeout = Duration::from_secs(10);
    config
}

async fn connected(publisher: &MqttPublisher) {
    let mut status = publisher.status();
    tokio::time::timeout(
        PATIENCE,
        status.wait_for(|s| *s == ConnectionStatus::Connected),
    )
    .await
    .expect("publisher connects")
    .unwrap();
}

async fn disconnected(publisher: &MqttPublisher) {
    let mut status = publisher.status();
    tokio::time::timeout(
        PATIENCE,
        status.wait_for(|s| *s == ConnectionStatus::Disconnected),
    )
    .await
    .expect("publisher notices the broker is gone")
    .unwrap();
}

fn message(topic: &str, payload: impl Into<Bytes>) -> Message {
    Message {
        topic: topic.into(),
        qos: Qos::AtLeastOnce,
        retain: false,
        expiry_secs: None,
        content_type: None,
        correlation_data: None,
        user_properties: Vec::new(),
        payload: payload.into(),
    }
}

/// User properties without the ones a broker adds (the embedded broker adds the client id).
fn ours(received: &ReceivedMessage) -> Vec<(String, String)> {
    received
        .user_properties
        .iter()
        .filter(|(k, _)| k != "x-mqtt-client-id")
        .cloned()
        .collect()
}

async fn delivered(delivery: Delivery) {
    tokio::time::timeout(PATIENCE, delivery)
        .await
        .expect("delivery resolves")
        .expect("delivery succeeds");
}

macro_rules! on_both_brokers {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mosquitto() {
                super::$scenario(super::Kind::Mosquitto).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn embedded() {
                super::$scenario(super::Kind::Embedded).await;
            }
        }
    )*};
}

on_both_brokers!(
    every_property_arrives,
    delivery_resolves_only_after_the_broker_acknowledged,
    publish_waits_when_the_in_flight_window_is_full,
    ten_thousand_messages_survive_a_dropped_connection,
    close_flushes_then_refuses,
);

async fn every_property_arrives(kind: Kind) {
    let broker = Broker::start(kind).await;
    let mut subscriber = MqttSubscriber::connect(broker.addr, "props/#").await;
    let publisher = MqttPublisher::start(config(broker.addr, "props")).unwrap();
    let full = Message {
        topic: "props/full".into(),
        qos: Qos::AtLeastOnce,
        retain: false,
        expiry_secs: Some(600),
        content_type: Some("application/json".into()),
        correlation_data: Some(Bytes::from_static(b"\x00corr\xff")),
        user_properties: vec![
            ("aiodeviceref".into(), "dev/ep".into()),
            ("id".into(), "42".into()),
            (
                "aiodeviceref".into(),
                "repeated keys keep their order".into(),
            ),
            ("sse-event".into(), "ünïcode ✓".into()),
        ],
        payload: Bytes::from_static(br#"{"temperature":21.5}"#),
    };
    let retained = Message {
        topic: "props/retained".into(),
        retain: true,
        ..message("", "r")
    };
    let at_most_once = Message {
        topic: "props/qos0".into(),
        qos: Qos::AtMostOnce,
        ..message("", "q0")
    };
    for m in [full.clone(), retained, at_most_once] {
        delivered(publisher.publish(m).await.unwrap()).await;
    }
    let received = subscriber.wait_for(3, PATIENCE).await;
    let first = &received[0];
    assert_eq!(first.topic, "props/full");
    assert_eq!(first.qos, 1);
    assert!(!first.retain);
    assert_eq!(first.payload, full.payload);
    assert_eq!(first.content_type, full.content_type);
    assert_eq!(first.correlation_data, full.correlation_data);
    assert!(
        matches!(first.message_expiry, Some(s) if (590..=600).contains(&s)),
        "{first:?}"
    );
    assert_eq!(ours(first), full.user_properties);
    assert_eq!(
        (received[1].topic.as_str(), received[1].retain),
        ("props/retained", true)
    );
    assert_eq!(received[1].message_expiry, None);
    assert_eq!(
        (received[2].topic.as_str(), received[2].qos),
        ("props/qos0", 0)
    );
    assert_eq!(publisher.close().await, 0);
}

async fn delivery_resolves_only_after_the_broker_acknowledged(kind: Kind) {
    let mut broker = Broker::start(kind).await;
    let gate = Gate::start(broker.addr).await;
    let mut subscriber = MqttSubscriber::connect(broker.addr, "pending/#").await;
    let publisher = MqttPublisher::start(config(gate.addr, "pending")).unwrap();
    connected(&publisher).await;
    broker.stop().await;
    gate.close();
    disconnected(&publisher).await;

    let mut delivery = publisher
        .publish(message("pending/one", "while away"))
        .await
        .unwrap();
    let early = tokio::time::timeout(Duration::from_millis(300), &mut delivery).await;
    assert!(early.is_err(), "resolved without a broker: {early:?}");
    assert_eq!(publisher.unacknowledged(), 1);

    broker.start_again().await;
    subscriber.wait_subscribed(2, PATIENCE).await;
    gate.open();
    delivered(delivery).await;
    let received = subscriber
        .next(PATIENCE)
        .await
        .expect("the message arrives");
    assert_eq!(
        (received.topic.as_str(), &received.payload[..]),
        ("pending/one", &b"while away"[..])
    );
    assert_eq!(publisher.close().await, 0);
}

async fn publish_waits_when_the_in_flight_window_is_full(kind: Kind) {
    let mut broker = Broker::start(kind).await;
    let gate = Gate::start(broker.addr).await;
    let mut subscriber = MqttSubscriber::connect(broker.addr, "window/#").await;
    let mut settings = config(gate.addr, "window");
    settings.max_in_flight = 8;
    let publisher = MqttPublisher::start(settings).unwrap();
    connected(&publisher).await;
    broker.stop().await;
    gate.close();
    disconnected(&publisher).await;

    let mut deliveries = Vec::new();
    for i in 0..8 {
        deliveries.push(
            publisher
                .publish(message("window/m", format!("{i}")))
                .await
                .unwrap(),
        );
    }
    let ninth = tokio::time::timeout(
        Duration::from_millis(300),
        publisher.publish(message("window/m", "8")),
    )
    .await;
    assert!(ninth.is_err(), "publish returned with a full window");
    assert_eq!(
        publisher.unacknowledged(),
        8,
        "the abandoned publish queued nothing"
    );

    broker.start_again().await;
    subscriber.wait_subscribed(2, PATIENCE).await;
    gate.open();
    deliveries.push(publisher.publish(message("window/m", "8")).await.unwrap());
    for delivery in deliveries {
        delivered(delivery).await;
    }
    let payloads: Vec<Bytes> = subscriber
        .wait_for(9, PATIENCE)
        .await
        .into_iter()
        .map(|m| m.payload)
        .collect();
    let expected: Vec<Bytes> = (0..9).map(|i| Bytes::from(format!("{i}"))).collect();
    assert_eq!(payloads, expected, "replayed in order, nothing twice");
    assert_eq!(publisher.close().await, 0);
}

/// How a run of 10,000 messages is disturbed half-way.
#[derive(Debug, Clone, Copy)]
enum Disruption {
    /// The connection drops; the broker keeps the publisher's session (session present).
    CutConnection,
    /// mosquitto with persistence restarts gracefully; the publisher's session survives
    /// (`keep_session`) or expired at the disconnect (session not present).
    RestartPersistent { keep_session: bool },
}

async fn ten_thousand_messages_survive_a_dropped_connection(kind: Kind) {
    ten_thousand(kind, Disruption::CutConnection).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_messages_survive_a_mosquitto_restart_with_the_session() {
    ten_thousand(
        Kind::Mosquitto,
        Disruption::RestartPersistent { keep_session: true },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_messages_survive_a_mosquitto_restart_without_the_session() {
    ten_thousand(
        Kind::Mosquitto,
        Disruption::RestartPersistent {
            keep_session: false,
        },
    )
    .await;
}

async fn ten_thousand(kind: Kind, disruption: Disruption) {
    const N: usize = 10_000;
    let mut broker = match disruption {
        Disruption::CutConnection => Broker::start(kind).await,
        Disruption::RestartPersistent { .. } => Broker::mosquitto(Mosquitto::start_persistent()),
    };
    let gate = Gate::start(broker.addr).await;
    let mut subscriber = MqttSubscriber::connect_persistent(broker.addr, "bulk/#").await;
    let mut settings = config(gate.addr, "bulk");
    if let Disruption::RestartPersistent {
        keep_session: false,
    } = disruption
    {
        settings.session_expiry = Duration::ZERO;
    }
    let publisher = MqttPublisher::start(settings).unwrap();
    connected(&publisher).await;

    let (half_tx, half_rx) = tokio::sync::oneshot::channel();
    let sender = publisher.clone();
    let started = std::time::Instant::now();
    let producer = tokio::spawn(async move {
        let mut half = Some(half_tx);
        let mut deliveries = Vec::with_capacity(N);
        for i in 0..N {
            let m = message(&format!("bulk/{}", i % 7), format!("{i}"));
            deliveries.push(sender.publish(m).await.unwrap());
            if i == N / 2 {
                let _ = half.take().map(|tx| tx.send(()));
            }
        }
        deliveries
    });
    half_rx.await.unwrap();
    match disruption {
        Disruption::CutConnection => gate.cut(),
        Disruption::RestartPersistent { .. } => {
            broker.stop().await;
            broker.start_again().await;
        }
    }
    let deliveries = producer.await.unwrap();
    for delivery in deliveries {
        delivered(delivery).await;
    }
    let mut seen = HashSet::new();
    let mut received = 0usize;
    while seen.len() < N {
        let Some(m) = subscriber.next(PATIENCE).await else {
            panic!(
                "{} of {N} distinct messages arrived ({disruption:?})",
                seen.len()
            );
        };
        received += 1;
        seen.insert(m.payload);
    }
    eprintln!(
        "{kind:?} {disruption:?}: {N} messages acknowledged and received in {:?}, {} duplicates",
        started.elapsed(),
        received - N
    );
    assert_eq!(publisher.close().await, 0);
}

async fn close_flushes_then_refuses(kind: Kind) {
    let broker = Broker::start(kind).await;
    let mut subscriber = MqttSubscriber::connect(broker.addr, "close/#").await;
    let publisher = MqttPublisher::start(config(broker.addr, "close")).unwrap();
    let mut deliveries = Vec::new();
    for i in 0..200 {
        deliveries.push(
            publisher
                .publish(message("close/m", format!("{i}")))
                .await
                .unwrap(),
        );
    }
    assert_eq!(
        publisher.close().await,
        0,
        "every message acknowledged before DISCONNECT"
    );
    for delivery in deliveries {
        assert_eq!(delivery.await, Ok(()));
    }
    assert_eq!(*publisher.status().borrow(), ConnectionStatus::Closed);
    assert_eq!(
        publisher.publish(message("close/m", "late")).await.err(),
        Some(PublishError::Closed)
    );
    assert_eq!(subscriber.wait_for(200, PATIENCE).await.len(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_messages_are_refused_before_queueing() {
    let broker = Broker::start(Kind::Embedded).await;
    let mut settings = config(broker.addr, "invalid");
    settings.max_packet_size = 4096;
    let publisher = MqttPublisher::start(settings).unwrap();
    for (m, code) in [
        (message("a/+/b", "x"), "invalid_message"),
        (message("", "x"), "invalid_message"),
        (message("big", vec![0u8; 5000]), "invalid_message"),
    ] {
        let error = publisher.publish(m).await.unwrap_err();
        assert_eq!(error.reason_code(), code, "{error}");
    }
    assert_eq!(publisher.unacknowledged(), 0);
}
