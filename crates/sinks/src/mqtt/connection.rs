//! The task that owns rumqttc's event loop: it polls without pause, turns the loop's events
//! into completions, replays what a disconnect left unacknowledged, and reconnects with backoff.
//!
//! A rotated service account token reconnects at once, like a lost connection (see
//! [`aio_mqtt::sat`]): the network is dropped and everything unacknowledged is replayed.
//!
//! Nothing here ever waits on rumqttc's request channel (that is how rumqttc deadlocks when the
//! polling task publishes); replays go into the event loop's own `pending` queue, which this
//! task alone touches, between two polls.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rumqttc::Outgoing;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{Packet, Publish, PublishProperties};
use rumqttc::v5::{ConnectionError, Event, EventLoop, Request};
use tokio::sync::{Notify, OwnedSemaphorePermit, oneshot, watch};
use tokio_util::sync::CancellationToken;

use aio_mqtt::config::{Backoff, read_password};
use aio_mqtt::sat::SatWatch;
use aio_mqtt::{Message, Qos};

use super::ConnectionStatus;
use super::accepts::encoded_len;
use super::error::refusal;
use super::inflight::{Inflight, Report};
use crate::error::PublishError;

/// Completes one message's [`Delivery`](crate::Delivery) and, by dropping the permit, frees
/// its place in the in-flight window.
#[derive(Debug)]
pub(crate) struct Waiter {
    pub(crate) done: oneshot::Sender<Result<(), PublishError>>,
    pub(crate) _permit: OwnedSemaphorePermit,
}

/// State shared by the publisher handles and the connection task.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) inflight: Mutex<Inflight<Waiter>>,
    pub(crate) status: watch::Sender<ConnectionStatus>,
    /// Maximum packet size of the current broker (from CONNACK), `u32::MAX` when it set none.
    pub(crate) broker_max_packet: AtomicU32,
    /// Notified whenever the last unacknowledged message completes.
    pub(crate) idle: Notify,
    /// Set by `close()`: no new messages, and the task ends once DISCONNECT is written.
    pub(crate) closing: AtomicBool,
}

impl Shared {
    pub(crate) fn inflight(&self) -> MutexGuard<'_, Inflight<Waiter>> {
        self.inflight.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set_status(&self, status: ConnectionStatus) {
        self.status.send_if_modified(|current| {
            let changed = *current != status;
            *current = status;
            changed
        });
    }
}

/// Credentials and pacing the task applies at each connect.
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) broker: String,
    pub(crate) username: Option<String>,
    pub(crate) password_file: Option<std::path::PathBuf>,
    /// The service account token: read at each connect, watched for rotations.
    pub(crate) sat: SatWatch,
    pub(crate) backoff: Backoff,
    pub(crate) max_packet_size: u32,
}

/// rumqttc's request for one message.
pub(crate) fn to_publish(message: &Message, pkid: u16, dup: bool) -> Publish {
    let qos = match message.qos {
        Qos::AtMostOnce => QoS::AtMostOnce,
        Qos::AtLeastOnce => QoS::AtLeastOnce,
    };
    let mut publish = Publish::new(
        message.topic.as_str(),
        qos,
        message.payload.clone(),
        Some(properties(message)),
    );
    publish.retain = message.retain;
    publish.pkid = pkid;
    publish.dup = dup;
    publish
}

/// The MQTT v5 properties of a message.
pub(crate) fn properties(message: &Message) -> PublishProperties {
    PublishProperties {
        message_expiry_interval: message.expiry_secs,
        content_type: message.content_type.clone(),
        correlation_data: message.correlation_data.clone(),
        user_properties: message.user_properties.clone(),
        ..PublishProperties::default()
    }
}

fn report_of(event: &Event) -> Option<Report> {
    match event {
        Event::Outgoing(Outgoing::Publish(pkid)) => Some(Report::Written { pkid: *pkid }),
        Event::Outgoing(Outgoing::AwaitAck(pkid)) => Some(Report::Parked { pkid: *pkid }),
        Event::Incoming(Packet::PubAck(ack)) => Some(Report::Acked {
            pkid: ack.pkid,
            refused: refusal(ack),
        }),
        _ => None,
    }
}

type Completions = Vec<(Waiter, Result<(), PublishError>)>;

fn complete(completions: Completions) {
    for (waiter, result) in completions {
        // The caller may have dropped its Delivery; the message was delivered all the same.
        let _ = waiter.done.send(result);
    }
}

/// Owns the event loop until the publisher closes or every handle is dropped.
pub(crate) struct Connection {
    pub(crate) eventloop: EventLoop,
    pub(crate) shared: Arc<Shared>,
    pub(crate) settings: Settings,
    pub(crate) cancel: CancellationToken,
}

impl Connection {
    /// Polls until cancelled or until DISCONNECT is written after `close()`; then completes
    /// every message still waiting with [`PublishError::Closed`].
    pub(crate) async fn run(mut self) {
        let mut connected = false;
        let mut failures: u32 = 0;
        loop {
            if !connected && !self.apply_credentials().await {
                failures += 1;
                if !self.pause(failures).await {
                    break;
                }
                continue;
            }
            let polled = tokio::select! {
                biased;
                () = self.cancel.cancelled() => break,
                () = self.settings.sat.changed() => {
                    tracing::info!(broker = %self.settings.broker,
                        unacknowledged = self.shared.inflight().len(),
                        "the service account token was rotated; reconnecting with the new one");
                    // What a failed poll does: rumqttc takes back its state, then we do.
                    self.eventloop.clean();
                    self.on_connection_lost();
                    connected = false;
                    continue;
                }
                polled = self.eventloop.poll() => polled,
            };
            match polled {
                Ok(Event::Outgoing(Outgoing::Disconnect))
                    if self.shared.closing.load(Ordering::Acquire) =>
                {
                    tracing::info!(broker = %self.settings.broker, "disconnected from the MQTT broker");
                    break;
                }
                Ok(event) => {
                    if let Event::Incoming(Packet::ConnAck(ack)) = &event {
                        connected = true;
                        failures = 0;
                        self.on_connack(ack);
                    }
                    self.on_event(&event);
                }
                Err(error) => {
                    self.on_connection_lost();
                    let unacknowledged = self.shared.inflight().len();
                    if connected {
                        tracing::warn!(broker = %self.settings.broker, %error, unacknowledged,
                            "lost the MQTT broker connection; reconnecting");
                    } else if failures == 0 {
                        tracing::warn!(broker = %self.settings.broker, error = %describe(&error),
                            unacknowledged, "cannot connect to the MQTT broker; retrying with backoff");
                    } else {
                        tracing::debug!(broker = %self.settings.broker, error = %describe(&error),
                            "MQTT connect attempt failed");
                    }
                    connected = false;
                    self.shared.set_status(ConnectionStatus::Disconnected);
                    failures = failures.saturating_add(1);
                    if !self.pause(failures).await {
                        break;
                    }
                }
            }
        }
        let remaining: Completions = self
            .shared
            .inflight()
            .drain()
            .map(|(_, waiter)| (waiter, Err(PublishError::Closed)))
            .collect();
        complete(remaining);
        self.shared.set_status(ConnectionStatus::Closed);
        self.shared.idle.notify_waiters();
    }

    /// Reads the password and token files (if any) into the CONNECT packet. `false` after
    /// logging when one cannot be read.
    async fn apply_credentials(&mut self) -> bool {
        if let Err(error) = self.settings.sat.apply(&mut self.eventloop.options) {
            tracing::warn!(%error, "cannot connect to the MQTT broker");
            return false;
        }
        let Some(username) = self.settings.username.clone() else {
            return true;
        };
        let password = match &self.settings.password_file {
            None => String::new(),
            Some(path) => match read_password(path) {
                Ok(password) => password,
                Err(error) => {
                    tracing::warn!(%error, "cannot connect to the MQTT broker");
                    return false;
                }
            },
        };
        self.eventloop.options.set_credentials(username, password);
        true
    }

    /// Sleeps the backoff delay; `false` when cancelled meanwhile.
    fn pause(&self, failures: u32) -> impl Future<Output = bool> + Send + 'static {
        // Owned values only: the event loop is not `Sync`, so no borrow of `self` may live
        // across an await.
        let delay = self.settings.backoff.delay(failures, rand::random::<f64>());
        let cancel = self.cancel.clone();
        async move {
            tokio::select! {
                () = cancel.cancelled() => false,
                () = tokio::time::sleep(delay) => true,
            }
        }
    }

    fn on_connack(&mut self, ack: &rumqttc::v5::mqttbytes::v5::ConnAck) {
        let props = ack.properties.as_ref();
        let receive_maximum = props.and_then(|p| p.receive_max);
        let max_packet = props.and_then(|p| p.max_packet_size).unwrap_or(u32::MAX);
        self.shared
            .broker_max_packet
            .store(max_packet, Ordering::Release);
        let backlog = {
            let mut inflight = self.shared.inflight();
            inflight.connected(receive_maximum);
            inflight.len()
        };
        tracing::info!(broker = %self.settings.broker, session_present = ack.session_present,
            resending = backlog, "connected to the MQTT broker");
        self.shared.set_status(ConnectionStatus::Connected);
    }

    /// Applies one event, then hands replays to the event loop while the window has room.
    fn on_event(&mut self, event: &Event) {
        let limit = self
            .settings
            .max_packet_size
            .min(self.shared.broker_max_packet.load(Ordering::Acquire));
        let mut done = Completions::new();
        let idle = {
            let mut inflight = self.shared.inflight();
            if let Some(report) = report_of(event) {
                done.extend(inflight.on_report(report));
            }
            while let Some(replay) = inflight.next_replay() {
                let size = encoded_len(replay.message);
                if size > limit as usize {
                    let reason = format!("the packet of {size} bytes exceeds the limit of {limit}");
                    if let Some((waiter, error)) = inflight.refuse_handed(&reason) {
                        done.push((waiter, Err(error)));
                    }
                    continue;
                }
                let publish = to_publish(replay.message, replay.pkid, replay.dup);
                self.eventloop.pending.push_back(Request::Publish(publish));
            }
            inflight.is_empty()
        };
        complete(done);
        if idle {
            self.shared.idle.notify_waiters();
        }
    }

    /// After a failed poll: takes back what rumqttc kept for its own replay (see `inflight`).
    fn on_connection_lost(&mut self) {
        let stale: Vec<Event> = self.eventloop.state.events.drain(..).collect();
        self.eventloop.state.collision = None;
        let taken = std::mem::take(&mut self.eventloop.pending);
        let new_requests = taken
            .iter()
            .filter(|r| matches!(r, Request::Publish(p) if p.pkid == 0))
            .count();
        let mut done = Completions::new();
        let idle = {
            let mut inflight = self.shared.inflight();
            for report in stale.iter().filter_map(report_of) {
                done.extend(inflight.on_report(report));
            }
            inflight.connection_lost(new_requests);
            inflight.is_empty()
        };
        complete(done);
        if idle {
            self.shared.idle.notify_waiters();
        }
    }
}

/// A connect error for logs (rumqttc's texts for refusals are terse).
fn describe(error: &ConnectionError) -> String {
    match error {
        ConnectionError::ConnectionRefused(code) => {
            format!("the broker refused the connection: {code:?}")
        }
        other => other.to_string(),
    }
}
