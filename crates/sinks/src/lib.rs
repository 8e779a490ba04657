//! Destinations: where the connector delivers what it reads.
//!
//! This crate is the **sink** stage of the pipeline. The supervisor turns each SSE event into
//! what a destination accepts and hands it over; every destination returns a [`Delivery`] that
//! resolves only when the destination has taken responsibility for it (a PUBACK, a state store
//! `+OK`, a line written and flushed), which is what lets the connector move a stream's
//! checkpoint safely. A failure is a [`PublishError`] whose
//! [`is_retryable`](PublishError::is_retryable) decides between a retry and a dead letter.
//!
//! Every destination is a folder of the same shape: `mod.rs` says what the destination is,
//! `accepts.rs` what it accepts, `deliver.rs` how it delivers, `error.rs` how it fails (any
//! further file is a part of its delivery). A new destination copies a folder.
//!
//! # Layout
//! - [`contract`]: the [`Publisher`] trait and [`Delivery`], shared by every destination.
//! - [`error`]: [`PublishError`], shared by every destination.
//! - [`mqtt`]: MQTT v5 ([`MqttPublisher`]): accepts an [`aio_mqtt::Message`]; one task owns
//!   the connection; acknowledgements are matched to publishes; unacknowledged messages are
//!   sent again after a reconnect.
//! - [`state_store`]: `BrokerStateStore`: accepts `SET key value` ([`KeyValueStore`]);
//!   delivers through `statestore`'s client.
//! - [`file`](mod@file): `Storage` ([`FileSinks`]): accepts a JSON [`Line`](file::Line); appends,
//!   rotates, flushes.
//!
//! The MQTT transport and AIO's protocol patterns (settings, TLS, commands, headers) are
//! `aio_mqtt`'s; the state store protocol is `statestore`'s.

pub mod contract;
pub mod error;
pub mod file;
pub mod mqtt;
pub mod state_store;

pub use contract::{Delivery, Publisher};
pub use error::PublishError;
pub use file::{FileOptions, FileSinks};
pub use mqtt::{ConnectionStatus, MqttPublisher};
pub use state_store::{AnyKeyValueStore, KeyValueStore};
