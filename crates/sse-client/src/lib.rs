//! A resilient Server-Sent Events client: TLS, authentication, reconnection, retry policy and
//! failure classification.
//!
//! This crate is the **source** stage of the connector's pipeline: it turns one HTTP(S)
//! `text/event-stream` URL into a never-ending sequence of events, handing the bytes to the
//! sans-I/O `sse-parser` crate:
//!
//! ```text
//! HTTP(S) response body ──► sse_parser::Decoder ──► StreamItem::Event ──► router / sinks
//!        ▲                                                 │
//!        └── reconnect with Last-Event-ID, backoff ◄── failures (classify.rs)
//! ```
//!
//! Build an [`SseClient`] from a [`ClientConfig`] (credentials, trust list), then open
//! streams with [`SseClient::stream`] and a [`StreamConfig`] (URL, headers, timeouts, resume
//! point). Each [`EventStream`] reports [`StreamItem`]s; failures are [`Error`]s whose
//! [`ErrorKind`] says whether the stream retries, with a stable reason code for metrics.
//!
//! # Layout
//! - `config.rs`: [`ClientConfig`] and [`StreamConfig`], validated at construction.
//! - `auth.rs`: [`Auth`] (anonymous, Basic, client certificate) and [`Secret`].
//! - `tls.rs`: the rustls configuration (ring; system roots + trust list; client identity).
//! - `client.rs`: [`SseClient`], the shared HTTP clients.
//! - `connect.rs`: one connection attempt: request headers, manual redirects, response checks.
//! - `redirect.rs`: same-origin check and `Location` resolution (pure).
//! - `stream.rs`: [`EventStream`], the reconnecting state machine; [`StreamItem`].
//! - [`retry`]: [`RetryPolicy`] (backoff, jitter, reset) and [`parse_retry_after`] (pure).
//! - `classify.rs`: the one table of status / content type / transport error → kind, retry,
//!   reason code.
//! - `error.rs`: [`Error`], [`ErrorKind`], [`HealthCode`].
//! - `fuzz.rs`: entry points for the fuzz targets (hidden).
//!
//! # Security
//! TLS verification cannot be turned off (there is no API for it). Basic credentials, custom
//! headers and the client certificate are sent only to the origin of the configured URL.
//! Error texts name URLs without user information and never contain secrets.

mod auth;
mod classify;
mod client;
mod config;
mod connect;
mod error;
#[doc(hidden)]
pub mod fuzz;
mod redirect;
pub mod retry;
mod stream;
mod tls;

pub use auth::{Auth, Secret};
pub use client::SseClient;
pub use config::{ClientConfig, DEFAULT_CONNECT_TIMEOUT, DEFAULT_IDLE_TIMEOUT, StreamConfig};
pub use error::{Error, ErrorKind, HealthCode};
pub use redirect::MAX_REDIRECTS;
pub use retry::{RetryPolicy, parse_retry_after};
pub use sse_parser::{ByteString, DecodeError, Event, SmolStr};
pub use stream::{EventStream, StreamItem};
