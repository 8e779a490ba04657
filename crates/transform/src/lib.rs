//! Runs Azure IoT Operations' WebAssembly operators on messages: the `map`, `filter` and
//! `branch` operators of AIO's `wasm-graph:processor` WIT (version 1.1.0), in wasmtime, so
//! that a module built for AIO's data flow graphs runs in the connector unchanged.
//!
//! Place in the pipeline: `supervisor` (router) → **transform** → AIO headers → sinks. The
//! supervisor builds a [`Message`] from each event, runs the operation's operators, and
//! publishes what comes out.
//!
//! Safe by default: each instance has its own store with a memory limit and an epoch
//! deadline per call ([`Limits`]); WASI grants nothing (no files, network, environment); a
//! trap, a timeout or an `error` result drops the instance, and the next call makes a new one.
//!
//! # Layout
//! - `wit/processor.wit`: our copy of the interface, written from AIO's published WIT.
//! - `bindings.rs`: the Rust bindings of that WIT.
//! - [`runtime`]: [`Runtime`], the engine, the epoch ticker, the linker; [`Limits`].
//! - [`module`]: [`Module`], a compiled component and the operators it exports.
//! - [`operator`]: [`Operator`], one operator's instance, `init` and `process`.
//! - [`message`]: [`Message`] and its conversion to and from the WIT `data-model`.
//! - `host.rs`: what an instance may import: WASI (nothing granted), logger, metrics, state
//!   store (always an error).
//! - [`error`](mod@error): [`Error`].
#![forbid(unsafe_code)]

mod bindings;
pub mod error;
mod host;
pub mod message;
pub mod module;
pub mod operator;
pub mod runtime;

pub use error::Error;
pub use message::{Clock, Message};
pub use module::{Module, OperatorKind};
pub use operator::{Operator, Output};
pub use runtime::{Limits, Runtime};
