//! Destinations: where the connector delivers what it reads.
//!
//! This crate is the **sink** stage of the pipeline. The supervisor turns each SSE event into a
//! [`Message`](aio_mqtt::Message) (with the headers of [`aio_mqtt::cloudevents`]) and hands it
//! to a [`Publisher`]; a publisher's [`Delivery`] resolves only when the destination has
//! acknowledged the message, which is what lets the connector move a stream's checkpoint
//! safely. The MQTT transport itself (settings, TLS, AIO's protocol patterns) is `aio_mqtt`'s.
//!
//! # Layout
//! - [`publisher`]: the [`Publisher`] trait and [`Delivery`].
//! - [`mqtt`]: the MQTT v5 publisher: one task owns the connection; acknowledgements are
//!   matched to publishes; reconnection with backoff; unacknowledged messages are sent again.
//! - [`key_value`]: the [`KeyValueStore`] trait of `BrokerStateStore` destinations.
//! - [`file`]: the `Storage` destination: [`FileSinks`], JSON lines, rotation, fsync.
//! - [`error`]: [`PublishError`], why a message was not delivered.

pub mod error;
pub mod file;
pub mod key_value;
pub mod mqtt;
pub mod publisher;

pub use error::PublishError;
pub use file::{FileOptions, FileSinks};
pub use key_value::{AnyKeyValueStore, KeyValueStore};
pub use mqtt::{ConnectionStatus, MqttPublisher};
pub use publisher::{Delivery, Publisher};
