//! MQTT v5 and Azure IoT Operations' protocol patterns over it: the layer the MQTT destination
//! and AIO's service clients (state store, schema registry) share.
//!
//! In the pipeline this crate sits under the **sink** stage: `sinks` publishes on a connection
//! configured here, with the headers built here; `statestore` and `schema-registry` speak AIO's
//! command pattern from here. It knows no destination and delivers nothing itself.
//!
//! # Layout
//! - [`config`]: [`MqttConfig`], [`TlsSettings`], [`Backoff`]: settings validated before
//!   anything connects; `from_url`; the password file.
//! - [`tls`]: the rustls client configuration (ring provider, system roots + CA file).
//! - [`sat`]: Kubernetes service-account-token authentication (`K8S-SAT`) and
//!   [`SatWatch`](sat::SatWatch), which reconnects with a rotated token.
//! - [`connection`]: the rumqttc options every connection shares, the client and event loop of
//!   a request/response connection, its backoff and its goodbye.
//! - [`rpc`]: AIO's command pattern (envelope and status table, invoker, the generic command
//!   client, executor, subscribed session).
//! - [`subscriber`]: [`MqttSubscriber`], a bounded view of a topic filter for people.
//! - [`message`]: [`Message`] and [`Qos`], one MQTT v5 publish with its properties.
//! - [`cloudevents`]: AIO's message headers (CloudEvents 1.0 binary mode, `aiodeviceref`,
//!   `aioassetref`, `__ts`, `__protVer`, `__srcId`), as pure functions.
//! - [`hlc`]: the hybrid logical clock behind `__ts`.
//! - [`error`]: [`MqttError`], a connection that cannot be set up.

pub mod cloudevents;
pub mod config;
pub mod connection;
pub mod error;
pub mod hlc;
pub mod message;
pub mod rpc;
pub mod sat;
pub mod subscriber;
pub mod tls;

pub use config::{Backoff, MqttConfig, TlsSettings};
pub use error::{MqttError, MqttErrorKind, MqttErrorSource};
pub use message::{Message, Qos};
pub use subscriber::{MqttSubscriber, Received};
