//! Destinations: where the connector delivers what it reads.
//!
//! This crate is the **sink** stage of the pipeline. The supervisor turns each SSE event into a
//! [`Message`] (with the headers of [`cloudevents`]) and hands it to a [`Publisher`]; a
//! publisher's [`Delivery`] resolves only when the destination has acknowledged the message,
//! which is what lets the connector move a stream's checkpoint safely.
//!
//! # Layout
//! - [`message`]: [`Message`], one MQTT v5 publish with its properties.
//! - [`publisher`]: the [`Publisher`] trait and [`Delivery`].
//! - [`cloudevents`]: AIO's user properties (CloudEvents 1.0 binary mode, `aiodeviceref`,
//!   `aioassetref`, `__ts`, `__protVer`, `__srcId`), as pure functions.
//! - [`hlc`]: the hybrid logical clock behind `__ts`.
//! - [`mqtt`]: the MQTT v5 publisher: one task owns the connection; acknowledgements are
//!   matched to publishes; reconnection with backoff; unacknowledged messages are sent again.
//! - [`key_value`]: the [`KeyValueStore`] trait of `BrokerStateStore` destinations.
//! - [`file`]: the `Storage` destination: [`FileSinks`], JSON lines, rotation, fsync.
//! - [`error`]: [`PublishError`], and [`MqttError`] for publisher setup.

pub mod cloudevents;
pub mod error;
pub mod file;
pub mod hlc;
pub mod key_value;
pub mod message;
pub mod mqtt;
pub mod publisher;

pub use error::{MqttError, MqttErrorKind, PublishError};
pub use file::{FileOptions, FileSinks};
pub use key_value::{AnyKeyValueStore, KeyValueStore};
pub use message::{Message, Qos};
pub use mqtt::{ConnectionStatus, MqttConfig, MqttPublisher};
pub use publisher::{Delivery, Publisher};
