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
//! - [`fake_adr`]: a fake Azure Device Registry service (the ADR DTDL's commands and telemetry
//!   over MQTT) that records requests, statuses and health events.
//! - [`gate`]: holds a scripted server back until the test opens it.
//! - [`k8s_mount`]: a directory in kubelet's AtomicWriter layout (`..data` swaps).
//! - [`mosquitto`]: a real mosquitto broker on a free loopback port, restartable on that port.
//! - [`any_broker`]: mosquitto or the embedded broker, for scenarios that run on both.
//! - [`mqtt_subscriber`]: an MQTT v5 subscriber that records messages with their properties.
//! - [`resumable_source`]: an SSE server with a numbered sequence of events that resumes after
//!   the `Last-Event-ID` of each request and can drop every connection after a few events.

pub mod any_broker;
pub mod certs;
pub mod fake_adr;
pub mod gate;
pub mod k8s_mount;
pub mod mosquitto;
pub mod mqtt_subscriber;
pub mod resumable_source;
pub mod sse_server;

pub use any_broker::AnyBroker;
pub use certs::{ClientAuth, PemFiles, TestPki};
pub use fake_adr::FakeAdr;
pub use gate::Gate;
pub use mosquitto::Mosquitto;
pub use mqtt_subscriber::{MqttSubscriber, ReceivedMessage};
pub use resumable_source::{ResumableSource, SourceConfig, SourceConnection};
pub use sse_server::{RecordedRequest, Response, SseServer};
