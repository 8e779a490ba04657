//! The connector's HTTP listener, for people and tools.
//!
//! It sits beside the pipeline, not in it: probes read the runtime's state through
//! [`Readiness`], the schema routes through [`SchemaCatalog`] (both in [`Sources`]), and
//! nothing here can slow the flow of events.
//!
//! # Layout
//! - [`listen`]: the listen address (`--http ADDR` or `off`) and the rule that an address
//!   beyond loopback needs a token.
//! - [`server`]: the router, [`serve`] and [`serve_with`]: `GET /healthz` (the process is alive) and
//!   `GET /readyz` (the broker is connected and the registry is loaded), with bearer-token
//!   authentication on everything but the probes when a token is set.
//! - [`schemas`]: `GET /api/v1/schemas` and `GET /api/v1/schemas/{name}/{version}`, over the
//!   runtime's [`SchemaCatalog`].
//! - [`error`]: the [`ApiError`] type.

pub mod error;
pub mod listen;
pub mod schemas;
pub mod server;
pub mod sources;

pub use error::ApiError;
pub use listen::{HttpListen, Token};
pub use schemas::{CatalogError, SchemaCatalog, SchemaRecord};
pub use server::{serve, serve_with};
pub use sources::{MetricsSource, Readiness, Sources, StatusSource, TailMessage, TailSource};
