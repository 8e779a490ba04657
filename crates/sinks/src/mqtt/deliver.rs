//! [`MqttPublisher`]: how the MQTT destination delivers. See the [module docs](super) for its
//! guarantees.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aio_mqtt::sat::SatWatch;
use aio_mqtt::{Message, MqttConfig, MqttError, MqttErrorKind, MqttErrorSource, Qos};
use rumqttc::v5::AsyncClient;
use rumqttc::v5::mqttbytes::QoS;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, DropGuard};

use super::accepts;
use super::connection::{Connection, Settings, Shared, Waiter};
use super::inflight::Inflight;
use super::window::Window;
use crate::contract::{Delivery, Publisher};
use crate::error::PublishError;

/// Whether the publisher has a working broker connection (for readiness checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectionStatus {
    /// Not connected yet since the start.
    Connecting,
    /// Connected: the broker accepted CONNECT.
    Connected,
    /// The connection was lost or refused; reconnecting with backoff.
    Disconnected,
    /// Closed by [`MqttPublisher::close`] or because every handle was dropped.
    Closed,
}

/// Publishes [`Message`]s to an MQTT v5 broker; cheap to clone (all clones share one
/// connection). Dropping the last clone stops the connection without waiting for
/// acknowledgements; call [`close`](Self::close) to flush first.
#[derive(Debug, Clone)]
pub struct MqttPublisher {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    shared: Arc<Shared>,
    client: AsyncClient,
    window: Window,
    max_packet_size: u32,
    close_timeout: Duration,
    task: Mutex<Option<JoinHandle<()>>>,
    cancel: CancellationToken,
    _stop_on_drop: DropGuard,
}

impl MqttPublisher {
    /// Validates `config`, builds the TLS configuration, and spawns the connection task on the
    /// current tokio runtime. Returns at once: the first connect happens in the background
    /// (watch [`status`](Self::status)); messages published meanwhile wait for it.
    ///
    /// # Errors
    /// [`MqttError`] for an invalid setting, an unusable CA, certificate, key, password or
    /// token file, or when called outside a tokio runtime.
    pub fn start(config: MqttConfig) -> Result<Self, MqttError> {
        let mut options = aio_mqtt::connection::options(&config)?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            MqttError::new(
                MqttErrorKind::NoRuntime,
                "the MQTT publisher needs a tokio runtime",
            )
        })?;
        if let Some(path) = &config.password_file {
            // Fail early on a missing file; it is read again at every connect.
            std::fs::metadata(path).map_err(|e| {
                MqttError::new(
                    MqttErrorKind::PasswordFile,
                    format!("cannot read MQTT password file {}: {e}", path.display()),
                )
                .with_source(MqttErrorSource::Io(e))
            })?;
        }
        options.set_outgoing_inflight_upper_limit(config.max_in_flight);
        // The channel holds only messages that also hold a window permit (plus DISCONNECT), so
        // it never fills and `try_publish` never waits: the window is the backpressure.
        let capacity = usize::from(config.max_in_flight) + 2;
        let (client, eventloop) = AsyncClient::new(options, capacity);
        let (status, _) = watch::channel(ConnectionStatus::Connecting);
        let shared = Arc::new(Shared {
            inflight: Mutex::new(Inflight::new(config.max_in_flight)),
            status,
            broker_max_packet: AtomicU32::new(u32::MAX),
            idle: Notify::new(),
            closing: AtomicBool::new(false),
        });
        let cancel = CancellationToken::new();
        let connection = Connection {
            eventloop,
            shared: Arc::clone(&shared),
            settings: Settings {
                broker: format!("{}:{}", config.host, config.port),
                username: config.username.clone(),
                password_file: config.password_file.clone(),
                sat: SatWatch::new(config.sat_file.as_deref()),
                backoff: config.reconnect,
                max_packet_size: config.max_packet_size,
            },
            cancel: cancel.clone(),
        };
        let task = runtime.spawn(connection.run());
        Ok(Self {
            inner: Arc::new(Inner {
                shared,
                client,
                window: Window::new(usize::from(config.max_in_flight)),
                max_packet_size: config.max_packet_size,
                close_timeout: config.close_timeout,
                task: Mutex::new(Some(task)),
                cancel: cancel.clone(),
                _stop_on_drop: cancel.drop_guard(),
            }),
        })
    }

    /// The connection status, updated on every transition.
    pub fn status(&self) -> watch::Receiver<ConnectionStatus> {
        self.inner.shared.status.subscribe()
    }

    /// Whether the broker connection is up right now.
    pub fn is_connected(&self) -> bool {
        *self.inner.shared.status.borrow() == ConnectionStatus::Connected
    }

    /// Messages accepted and not yet completed.
    pub fn unacknowledged(&self) -> usize {
        self.inner.shared.inflight().len()
    }

    /// Stops accepting messages, waits up to the configured close timeout for every accepted
    /// message to complete, sends DISCONNECT, and ends the connection. Messages still
    /// unacknowledged then resolve with [`PublishError::Closed`]; returns how many.
    ///
    /// Cancel safety: dropping the future stops the waiting; the publisher stays closed to new
    /// messages, and the connection ends when the last handle is dropped.
    pub async fn close(&self) -> usize {
        let inner = &self.inner;
        inner.shared.closing.store(true, Ordering::Release);
        inner.window.close();
        let drained = tokio::time::timeout(inner.close_timeout, self.wait_idle())
            .await
            .is_ok();
        let undelivered = if drained { 0 } else { self.unacknowledged() };
        if undelivered > 0 {
            tracing::warn!(
                undelivered,
                "closing the MQTT publisher with unacknowledged messages"
            );
        }
        if !(self.is_connected() && inner.client.try_disconnect().is_ok()) {
            inner.cancel.cancel();
        }
        let task = inner
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(mut task) = task
            && tokio::time::timeout(Duration::from_secs(2), &mut task)
                .await
                .is_err()
        {
            inner.cancel.cancel();
            let _ = task.await;
        }
        undelivered
    }

    async fn wait_idle(&self) {
        let shared = &self.inner.shared;
        loop {
            let notified = shared.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if shared.inflight().is_empty() {
                return;
            }
            notified.await;
        }
    }

    /// Checks what would make the broker or rumqttc drop the connection, before queueing.
    fn check(&self, message: &Message) -> Result<(), PublishError> {
        let limit = self
            .inner
            .max_packet_size
            .min(self.inner.shared.broker_max_packet.load(Ordering::Acquire));
        accepts::check(message, limit)
    }
}

impl Publisher for MqttPublisher {
    /// Waits for room in the in-flight window, then queues the message.
    ///
    /// # Errors
    /// [`PublishError::Closed`] after [`close`](MqttPublisher::close);
    /// [`PublishError::Invalid`] for a topic with wildcards or a packet over the size limit.
    ///
    /// Cancel safety: dropping the future before it returns queues nothing.
    async fn publish(&self, message: Message) -> Result<Delivery, PublishError> {
        self.check(&message)?;
        let inner = &self.inner;
        let permit = inner.window.permit().await.ok_or(PublishError::Closed)?;
        let qos = match message.qos {
            Qos::AtMostOnce => QoS::AtMostOnce,
            Qos::AtLeastOnce => QoS::AtLeastOnce,
        };
        let properties = super::connection::properties(&message);
        let (topic, retain, payload) = (
            message.topic.clone(),
            message.retain,
            message.payload.clone(),
        );
        let (done, delivery) = Delivery::channel();
        // Submitting and queueing under one lock keeps the tracker's order equal to the
        // channel's, which is what matching `Outgoing::Publish` reports relies on.
        let mut inflight = inner.shared.inflight();
        if inner.shared.closing.load(Ordering::Acquire) {
            return Err(PublishError::Closed);
        }
        let seq = inflight.submit(
            message,
            Waiter {
                done,
                _permit: permit,
            },
        );
        if inner
            .client
            .try_publish_with_properties(topic, qos, retain, payload, properties)
            .is_err()
        {
            inflight.withdraw(seq);
            return Err(PublishError::Closed);
        }
        Ok(delivery)
    }
}
