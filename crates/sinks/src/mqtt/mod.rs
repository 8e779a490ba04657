//! The MQTT v5 destination: [`MqttPublisher`], on rumqttc, over `aio_mqtt`'s settings and TLS.
//!
//! # Guarantees
//! - **Delivered means acknowledged.** [`Publisher::publish`](crate::Publisher::publish)
//!   returns a [`Delivery`](crate::Delivery) that resolves when the broker sent PUBACK (QoS 1)
//!   or the publish was written (QoS 0). A PUBACK with a failure reason resolves it with
//!   [`PublishError::Refused`](crate::PublishError::Refused).
//! - **Backpressure.** At most
//!   [`MqttConfig::max_in_flight`](aio_mqtt::MqttConfig::max_in_flight) messages are accepted
//!   and not yet completed; `publish` waits for room beyond that, so the supervisor stops
//!   reading its SSE socket while the broker is slow or away.
//! - **Nothing lost across broker restarts.** Every unacknowledged QoS 1 message is kept (its
//!   payload is a cheap `Bytes` clone) and sent again, in order, after each reconnect: with its
//!   packet id when the broker kept the session, with a fresh one when it did not. QoS 0
//!   messages not yet written when the connection dropped are sent again too; once written
//!   they count as delivered (at most once).
//! - Reconnects back off exponentially with jitter (see [`Backoff`](aio_mqtt::Backoff)); each
//!   connect and disconnect is logged once; credentials are never logged.
//!
//! # Layout
//! - [`accepts`]: what it accepts: an [`aio_mqtt::Message`] without wildcards in its topic,
//!   whose packet fits the limits.
//! - [`deliver`]: [`MqttPublisher`], the handle that queues messages and resolves deliveries.
//! - [`error`]: the PUBACK reason codes and the refusal they make.
//! - `connection`: the task that owns rumqttc's event loop.
//! - `inflight`: the I/O-free state machine that matches acknowledgements to messages and
//!   plans replays; its module docs explain why rumqttc's own replay is not used.
//! - `window`: the in-flight window, refilled in batches once it ran full.
//!
//! The settings ([`MqttConfig`](aio_mqtt::MqttConfig)) and the TLS configuration are
//! `aio_mqtt`'s.

pub mod accepts;
mod connection;
pub mod deliver;
pub mod error;
mod inflight;
mod window;

pub use deliver::{ConnectionStatus, MqttPublisher};
