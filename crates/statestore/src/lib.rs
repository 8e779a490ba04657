//! AIO's broker **state store** protocol: a key-value store reached by MQTT v5 request and
//! response, with RESP3 payloads.
//!
//! In the pipeline this crate sits beside the MQTT sink: the `BrokerStateStore` destination
//! (`sinks::state_store`) SETs a key to each event's payload with a [`StateStoreClient`], and
//! `sse-connector run` starts a [`StateStoreService`] on the broker when no external state
//! store (for example a real AIO broker) is configured. The protocol's facts are in [`protocol`] and [`resp3`].
//!
//! # Layout
//! - [`resp3`]: the RESP3 codec, pure: requests, responses, notifications.
//! - [`protocol`]: topics, user properties, status codes, HLC text, hex; pure.
//! - [`client`]: [`StateStoreClient`]: SET / GET / DEL / VDEL / KEYNOTIFY with timeouts,
//!   typed errors.
//! - [`stored`]: [`stored_keys`], the keys persisted by an embedded service, read beside it.
//! - [`observation`]: [`KeyObservation`], the notifications of an observed key.
//! - [`service`]: [`StateStoreService`], the embedded state store on any MQTT v5 broker.
//! - `admit`: what the service does with a request's headers and payload; pure.
//! - `store`: the store's rules (conditions, expiry, fencing, versions), without I/O.
//! - `persist`: the append-only log with compaction, and its fsync policy.
//! - `connection`: rumqttc options from [`aio_mqtt::MqttConfig`].
//! - [`error`]: [`Error`], [`ErrorKind`], [`ServiceError`] (the `-ERR` texts).
//! - `fuzz`: entry points for the fuzz targets (hidden).

#![forbid(unsafe_code)]

mod admit;
pub mod client;
mod connection;
pub mod error;
#[doc(hidden)]
pub mod fuzz;
pub mod observation;
mod persist;
pub mod protocol;
pub mod resp3;
pub mod service;
mod store;
pub mod stored;

pub use aio_mqtt::hlc::HlcTimestamp;
pub use client::{QueuedSet, SetOptions, StateStoreClient};
pub use error::{Error, ErrorKind, Result, ServiceError};
pub use observation::{KeyNotification, KeyObservation};
pub use resp3::{Notification, SetCondition};
pub use service::{ServiceOptions, StateStoreService};
pub use stored::{StoredKey, stored_keys};
