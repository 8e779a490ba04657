//! The connector's HTTP listener, for people and tools: probes, the REST API under
//! `/api/v1` (devices, assets, secrets, trust lists, status, schemas, a live tail of each
//! asset's messages), Prometheus metrics, and the web UI.
//!
//! It sits beside the pipeline, not in it: it reads the runtime's state through the traits
//! of [`Sources`] (readiness, schemas, status, metrics, tail) and writes definitions through
//! the `registry` crate into the registry directory, which the running connector watches.
//! Nothing here can slow the flow of events.
//!
//! # Layout
//! - [`listen`]: the listen address (`--http ADDR` or `off`), the rule that an address
//!   beyond loopback needs a token, and [`Access`] (the token and the allowed host names).
//! - [`server`]: the router (its route table is in that module's docs), [`serve`] and
//!   [`serve_with`], the probes and bearer-token authentication.
//! - [`guard`]: what keeps other sites' pages out: the `Host` check against DNS rebinding
//!   (with [`AllowedHost`], `--http-allowed-host`) and the `Origin` check of requests that
//!   change something.
//! - [`body`]: the content types each route's body may have (415 otherwise).
//! - [`runtime`]: the runtime adapters: what the routes read from the runtime, as traits it
//!   implements, gathered in [`Sources`].
//! - [`store`]: the registry directory behind the CRUD routes; the same write API and rules
//!   as the CLI.
//! - [`resources`]: devices and assets (`/api/v1/devices`, `/api/v1/assets`).
//! - [`secrets`]: write-only secrets (`/api/v1/secrets`).
//! - [`trust`]: trust lists of PEM certificates (`/api/v1/trust`).
//! - [`transforms`]: the graph definitions and WebAssembly modules a transform can use
//!   (`GET /api/v1/transforms`).
//! - [`status`]: `GET /api/v1/status`.
//! - [`overview`]: `GET /api/v1/overview`, the whole connector at a glance (counts by
//!   health, broker, rates, what needs attention), for the UI's landing page.
//! - [`rates`]: message rates over the last 15 minutes, a ring sampled from the runtime's
//!   per-operation counters ([`CounterSource`]) while someone reads it; `GET /api/v1/rates`.
//! - [`metrics`]: `GET /metrics` (Prometheus text format).
//! - [`tail`]: `GET /api/v1/assets/{name}/tail`, the live feed as Server-Sent Events.
//! - [`schemas`]: `GET /api/v1/schemas` and `GET /api/v1/schemas/{name}/{version}`, over the
//!   runtime's [`SchemaCatalog`].
//! - [`openapi`]: `GET /api/v1/openapi.json`, the embedded OpenAPI document.
//! - [`ui`]: the web UI's embedded files, with a strict Content-Security-Policy.
//! - [`reply`]: the JSON error body.
//! - [`error`]: the [`ApiError`] type.
//! - `fuzz`: entry points for the fuzz targets (hidden).
#![forbid(unsafe_code)]

pub mod body;
pub mod error;
#[doc(hidden)]
pub mod fuzz;
pub mod guard;
pub mod listen;
pub mod metrics;
pub mod openapi;
pub mod overview;
pub mod rates;
pub mod reply;
pub mod resources;
pub mod runtime;
pub mod schemas;
pub mod secrets;
pub mod server;
pub mod status;
pub mod store;
pub mod tail;
pub mod transforms;
pub mod trust;
pub mod ui;

pub use error::ApiError;
pub use guard::AllowedHost;
pub use listen::{Access, HttpListen, Token};
pub use runtime::{
    CounterSource, MetricsSource, OperationCount, Readiness, Sources, StatusSource, TailSource,
};
pub use schemas::{CatalogError, SchemaCatalog};
pub use server::{RouteInfo, route_table, serve, serve_with};
/// The live tail's types, which [`TailSource`] implementations produce.
pub use tail_feed::{TailFeed, TailItem, TailMessage};
