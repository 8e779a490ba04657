//! A test service for the public SSE contract tests, over our `sse-client`.
//!
//! The LaunchDarkly SSE contract-test harness
//! (<https://github.com/launchdarkly/sse-contract-tests>) checks an SSE client against the
//! standard: parsing, line endings, BOM, comments, HTTP behaviour and reconnection. It does
//! so through a small REST API that each client wraps, described in the harness'
//! `docs/service_spec.md`; this crate is that wrapper for `sse-client`, the source stage of
//! the connector. The harness is not part of this project; it is run next to this service.
//!
//! The harness asks the service to open a stream to one of its mock SSE endpoints, and the
//! service reports every event, comment and error back to a callback URL of the harness,
//! numbered so that the order is kept:
//!
//! ```text
//! harness ──POST /──────────────► service ──GET stream (sse-client)──► harness mock endpoint
//! harness ◄──POST {callback}/{n}── service ◄── events, comments, errors ──┘
//! ```
//!
//! Declared capabilities (see [`CAPABILITIES`]): `bom`, `comments`, `headers`,
//! `last-event-id`, `read-timeout`, `restart`, `server-directed-shutdown-request`. Not
//! declared: `post` and `report` (the client only sends `GET`) and `event-type-listeners`
//! (every event type is delivered without registration).
//!
//! # Running the harness against it
//! ```text
//! cargo run --release -p sse-test-service -- --port 8000 &
//! # with the harness built or downloaded from its repository:
//! sse-contract-tests --url http://localhost:8000 --stop-service-at-end
//! ```
//! `--skip <pattern>` / `--run <pattern>` select tests, `--debug` shows the callbacks. The
//! harness serves its mock endpoints on port 8111 and tells the service to connect there.
//!
//! # Layout
//! - `main.rs`: the `sse-test-service` binary: command line, logging, listener.
//! - `service.rs`: [`Service`]: the routes and the shared state (client, open streams).
//! - `stream_entity.rs`: one stream's task: reads the `EventStream`, posts numbered callbacks,
//!   applies commands.
//! - [`params`]: the JSON of requests, commands and callbacks, and the pure validation of a
//!   create request into a stream configuration.

pub mod params;
mod service;
mod stream_entity;

pub use params::CAPABILITIES;
pub use service::{Service, StartError};
