//! AIO's **schema registry** (`dtmi:ms:adr:SchemaRegistry;2`): register a message schema
//! and read it back, by MQTT v5 request and response with JSON payloads.
//!
//! In the pipeline this crate sits beside the sinks: once the connector has inferred the
//! schema of a dataset or event (crate `schema`), it registers it with a
//! [`SchemaRegistryClient`] and puts `aio-sr://{namespace}/{name}:{version}` in the
//! `dataschema` of every message that follows. `sse-connector run` starts a
//! [`SchemaRegistryService`] on the broker (persisted in `STATE_DIR/schemas`) unless an
//! external registry (AIO's) is configured; the same client code speaks to both. People read
//! the schemas with `sse-connector schema list|show` and the HTTP listener (through a
//! [`Catalog`]).
//!
//! # Layout
//! - [`protocol`]: topics, payload types, the command envelope; pure.
//! - [`naming`]: canonical content, content hash, the assigned name, accepted versions; pure.
//! - [`store`]: [`SchemaStore`], one JSON file per version, atomic writes; [`Catalog`];
//!   the read-only [`store::list`], [`store::get`] and [`store::latest`] of a directory.
//! - [`client`]: [`SchemaRegistryClient`]: `put` and `get` with timeouts and typed errors.
//! - [`service`]: [`SchemaRegistryService`], the embedded registry on any MQTT v5 broker.
//! - `registrar`: [`schema::SchemaRegistrar`] for [`SchemaRegistryClient`], how the runtime
//!   registers inferred schemas.
//! - `admit`: what the service does with a request's headers and payload; pure.
//! - `connection`: rumqttc options from [`aio_mqtt::MqttConfig`].
//! - [`error`]: [`Error`], [`ErrorKind`].

#![forbid(unsafe_code)]

mod admit;
pub mod client;
mod connection;
pub mod error;
pub mod naming;
pub mod protocol;
mod registrar;
pub mod service;
pub mod store;

pub use client::SchemaRegistryClient;
pub use error::{Error, ErrorKind, Result};
pub use protocol::{PutRequest, RegistryError, Schema, SchemaType};
pub use service::SchemaRegistryService;
pub use store::{Catalog, DEFAULT_DIR_NAME, DEFAULT_NAMESPACE, SchemaStore};
