//! Test fixtures for the sse-connector crates: certificates made at test time and real,
//! scripted HTTP(S) servers that speak Server-Sent Events.
//!
//! Nothing here is production code; the crate is `publish = false`. Helpers panic on setup
//! failures because a broken fixture is a broken test, not an input to handle.
//!
//! # Layout
//! - [`certs`]: a throw-away PKI (root CA, intermediate CA, server and client certificates, a
//!   second "rogue" CA) written as PEM files into a temporary directory, plus the rustls server
//!   configurations built from it.
//! - [`sse_server`]: an HTTP / HTTPS server on `127.0.0.1:0` that records every request and
//!   answers each with the next scripted [`sse_server::Response`].

pub mod certs;
pub mod sse_server;

pub use certs::{ClientAuth, PemFiles, TestPki};
pub use sse_server::{RecordedRequest, Response, SseServer};
