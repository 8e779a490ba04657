//! The measuring subscriber: rumqttc v5 on its own task, taking each message's receipt time
//! as soon as the event loop hands it over.
//!
//! The first `warmup` messages are skipped; the clock starts at the last of them. The next
//! `count` messages give the rate (count / time from the warm-up's end to the last one) and the
//! latencies (receipt time minus the `ts` the message carries).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context as _, bail};
use bytes::Bytes;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{Filter, Packet};
use rumqttc::v5::{AsyncClient, Event, MqttOptions};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::clock::now_ns;
use crate::payload;

/// Which messages count.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// Messages skipped first (at least 1: the last one starts the clock).
    pub warmup: u64,
    /// Messages measured.
    pub count: u64,
}

/// The MQTT properties of a received message, to publish look-alikes for the ceiling.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Content type.
    pub content_type: Option<String>,
    /// Correlation data.
    pub correlation_data: Option<Bytes>,
    /// User properties, in order.
    pub user_properties: Vec<(String, String)>,
    /// Topic.
    pub topic: String,
}

/// What the subscriber saw.
#[derive(Debug, Clone)]
pub struct Measured {
    /// Messages measured (equals the window's count unless the deadline came first).
    pub received: u64,
    /// From the end of the warm-up to the last measured message.
    pub elapsed: Duration,
    /// Latencies of the measured messages in nanoseconds, sorted.
    pub latencies: Vec<u64>,
    /// Sequence numbers missing between the lowest and highest measured one.
    pub missing: u64,
    /// Messages whose sequence number was not above the previous one (duplicates, reorders).
    pub out_of_order: u64,
    /// The properties of the first message.
    pub sample: Option<Sample>,
}

impl Measured {
    /// Messages per second.
    pub fn rate(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.received as f64 / secs
        } else {
            0.0
        }
    }
}

/// A subscriber measuring one window.
#[derive(Debug)]
pub struct Subscriber {
    task: JoinHandle<Measured>,
}

impl Subscriber {
    /// Connects to `broker`, subscribes to `topic` at `qos`, and waits for the SUBACK (10 s);
    /// then measures `window` until it is complete or `within` has passed.
    ///
    /// # Errors
    /// When the subscription is not acknowledged in time.
    pub async fn start(
        broker: SocketAddr,
        topic: &str,
        qos: QoS,
        window: Window,
        within: Duration,
    ) -> anyhow::Result<Self> {
        let mut options = MqttOptions::new(
            format!("sse-loadgen-sub-{}", std::process::id()),
            broker.ip().to_string(),
            broker.port(),
        );
        options
            .set_keep_alive(Duration::from_secs(30))
            .set_clean_start(true)
            .set_max_packet_size(Some(1024 * 1024));
        let (client, eventloop) = AsyncClient::new(options, 16);
        let (subscribed, acked) = oneshot::channel();
        let task = tokio::spawn(measure(
            client,
            eventloop,
            topic.to_owned(),
            qos,
            window,
            Instant::now() + within,
            subscribed,
        ));
        match tokio::time::timeout(Duration::from_secs(10), acked).await {
            Ok(Ok(())) => Ok(Self { task }),
            _ => {
                task.abort();
                bail!("the subscription to {topic} was not acknowledged within 10 s")
            }
        }
    }

    /// Waits for the measurement to end.
    ///
    /// # Errors
    /// When the measuring task panicked.
    pub async fn finish(self) -> anyhow::Result<Measured> {
        self.task.await.context("the subscriber task failed")
    }
}

async fn measure(
    client: AsyncClient,
    mut eventloop: rumqttc::v5::EventLoop,
    topic: String,
    qos: QoS,
    window: Window,
    deadline: Instant,
    subscribed: oneshot::Sender<()>,
) -> Measured {
    let warmup = window.warmup.max(1);
    let mut subscribed = Some(subscribed);
    let mut measured = Measured {
        received: 0,
        elapsed: Duration::ZERO,
        latencies: Vec::with_capacity(usize::try_from(window.count).unwrap_or(0)),
        missing: 0,
        out_of_order: 0,
        sample: None,
    };
    let mut seen = 0u64;
    let mut started = 0u64;
    let (mut lowest, mut highest, mut last) = (u64::MAX, 0u64, None::<u64>);
    while measured.received < window.count {
        let polled = tokio::select! {
            () = tokio::time::sleep_until(deadline) => break,
            polled = eventloop.poll() => polled,
        };
        let publish = match polled {
            Ok(Event::Incoming(Packet::Publish(publish))) => publish,
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                // Never wait on the request channel from the polling task.
                let _ = client.try_subscribe_many([Filter::new(topic.clone(), qos)]);
                continue;
            }
            Ok(Event::Incoming(Packet::SubAck(_))) => {
                if let Some(tx) = subscribed.take() {
                    let _ = tx.send(());
                }
                continue;
            }
            Ok(_) => continue,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let received_at = now_ns();
        let Some(stamp) = payload::read(&publish.payload) else {
            continue;
        };
        if measured.sample.is_none() {
            let props = publish.properties.clone().unwrap_or_default();
            measured.sample = Some(Sample {
                content_type: props.content_type,
                correlation_data: props.correlation_data,
                user_properties: props.user_properties,
                topic: String::from_utf8_lossy(&publish.topic).into_owned(),
            });
        }
        seen += 1;
        if seen <= warmup {
            if seen == warmup {
                started = received_at;
            }
            continue;
        }
        measured.received += 1;
        measured.elapsed = Duration::from_nanos(received_at.saturating_sub(started));
        measured
            .latencies
            .push(received_at.saturating_sub(stamp.ts));
        if last.is_some_and(|l| stamp.seq <= l) {
            measured.out_of_order += 1;
        }
        last = Some(stamp.seq);
        lowest = lowest.min(stamp.seq);
        highest = highest.max(stamp.seq);
    }
    if measured.received > 0 {
        let span = highest - lowest + 1;
        let distinct = measured.received - measured.out_of_order;
        measured.missing = span.saturating_sub(distinct);
    }
    measured.latencies.sort_unstable();
    let _ = client.try_disconnect();
    // Let the DISCONNECT go out; bounded.
    let _ = tokio::time::timeout(Duration::from_millis(200), eventloop.poll()).await;
    measured
}
