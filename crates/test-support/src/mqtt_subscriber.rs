//! A small MQTT v5 subscriber (rumqttc) that records every message it receives, with its
//! properties, for tests to inspect.
//!
//! It subscribes at QoS 1 with "retain as published", so the retain flag arrives as the
//! publisher set it, and subscribes again after every reconnect (a restarted broker without
//! persistence has forgotten the subscription).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{Filter, Packet};
use rumqttc::v5::{AsyncClient, Event, MqttOptions};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// One received PUBLISH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    /// Topic name.
    pub topic: String,
    /// QoS of the delivery (0 or 1).
    pub qos: u8,
    /// Retain flag.
    pub retain: bool,
    /// DUP flag.
    pub dup: bool,
    /// Payload.
    pub payload: Bytes,
    /// Content type property.
    pub content_type: Option<String>,
    /// Message expiry interval property (the broker sends the remaining time).
    pub message_expiry: Option<u32>,
    /// Correlation data property.
    pub correlation_data: Option<Bytes>,
    /// User properties, in order (brokers may add their own).
    pub user_properties: Vec<(String, String)>,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// A connected subscriber; dropping it stops its task.
#[derive(Debug)]
pub struct MqttSubscriber {
    messages: mpsc::UnboundedReceiver<ReceivedMessage>,
    subscribed: watch::Receiver<u64>,
    client: AsyncClient,
    task: JoinHandle<()>,
}

impl MqttSubscriber {
    /// Connects to `addr`, subscribes to `topic_filter`, and waits for the SUBACK.
    ///
    /// # Panics
    /// When the subscription is not acknowledged within ten seconds.
    pub async fn connect(addr: SocketAddr, topic_filter: &str) -> Self {
        Self::connect_with(addr, topic_filter, false).await
    }

    /// Like [`connect`](Self::connect), with a persistent session (clean start off, one hour
    /// session expiry): a broker that keeps sessions queues messages for it while it is
    /// disconnected.
    ///
    /// # Panics
    /// When the subscription is not acknowledged within ten seconds.
    pub async fn connect_persistent(addr: SocketAddr, topic_filter: &str) -> Self {
        Self::connect_with(addr, topic_filter, true).await
    }

    async fn connect_with(addr: SocketAddr, topic_filter: &str, persistent: bool) -> Self {
        let id = format!(
            "test-sub-{}-{}",
            std::process::id(),
            NEXT_ID.fetch_add(1, Ordering::Relaxed)
        );
        let mut options = MqttOptions::new(id, addr.ip().to_string(), addr.port());
        options
            .set_keep_alive(Duration::from_secs(30))
            .set_clean_start(!persistent)
            .set_session_expiry_interval(persistent.then_some(3600))
            .set_max_packet_size(Some(64 * 1024 * 1024));
        let (client, mut eventloop) = AsyncClient::new(options, 64);
        let (tx, messages) = mpsc::unbounded_channel();
        let (subscribed_tx, subscribed) = watch::channel(0u64);
        let filter = topic_filter.to_owned();
        let subscriber = client.clone();
        let task = tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        let mut f = Filter::new(filter.clone(), QoS::AtLeastOnce);
                        f.preserve_retain = true;
                        // Never await the request channel from the polling task.
                        let _ = subscriber.try_subscribe_many([f]);
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        subscribed_tx.send_modify(|n| *n += 1);
                    }
                    Ok(Event::Incoming(Packet::Publish(publish))) => {
                        let props = publish.properties.clone().unwrap_or_default();
                        let message = ReceivedMessage {
                            topic: String::from_utf8_lossy(&publish.topic).into_owned(),
                            qos: publish.qos as u8,
                            retain: publish.retain,
                            dup: publish.dup,
                            payload: publish.payload.clone(),
                            content_type: props.content_type,
                            message_expiry: props.message_expiry_interval,
                            correlation_data: props.correlation_data,
                            user_properties: props.user_properties,
                        };
                        if tx.send(message).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        });
        let mut this = Self {
            messages,
            subscribed,
            client,
            task,
        };
        this.wait_subscribed(1, Duration::from_secs(10)).await;
        this
    }

    /// Waits until the subscription has been acknowledged `count` times in total (once per
    /// connection: after a broker restart, wait for one more).
    ///
    /// # Panics
    /// On timeout.
    pub async fn wait_subscribed(&mut self, count: u64, timeout: Duration) {
        let waited = tokio::time::timeout(timeout, self.subscribed.wait_for(|n| *n >= count)).await;
        assert!(
            matches!(waited, Ok(Ok(_))),
            "subscription not acknowledged {count} time(s) within {timeout:?}"
        );
    }

    /// How many times the subscription has been acknowledged.
    pub fn subscriptions(&self) -> u64 {
        *self.subscribed.borrow()
    }

    /// The next message, or `None` after `timeout`.
    pub async fn next(&mut self, timeout: Duration) -> Option<ReceivedMessage> {
        tokio::time::timeout(timeout, self.messages.recv())
            .await
            .ok()
            .flatten()
    }

    /// The next `n` messages.
    ///
    /// # Panics
    /// When fewer than `n` arrive within `timeout` (overall).
    pub async fn wait_for(&mut self, n: usize, timeout: Duration) -> Vec<ReceivedMessage> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut received = Vec::with_capacity(n);
        while received.len() < n {
            match tokio::time::timeout_at(deadline, self.messages.recv()).await {
                Ok(Some(message)) => received.push(message),
                _ => panic!(
                    "received {} of {n} messages within {timeout:?}",
                    received.len()
                ),
            }
        }
        received
    }

    /// Messages received so far and not yet taken, without waiting.
    pub fn drain(&mut self) -> Vec<ReceivedMessage> {
        let mut received = Vec::new();
        while let Ok(message) = self.messages.try_recv() {
            received.push(message);
        }
        received
    }

    /// Disconnects and stops the task.
    pub async fn close(self) {
        let _ = self.client.try_disconnect();
        tokio::time::sleep(Duration::from_millis(20)).await;
        self.task.abort();
    }
}

impl Drop for MqttSubscriber {
    fn drop(&mut self) {
        self.task.abort();
    }
}
