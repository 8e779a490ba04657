//! The connector's HTTP listener, for people and tools.
//!
//! It sits beside the pipeline, not in it: probes read the runtime's state through
//! [`Readiness`], and nothing here can slow the flow of events.
//!
//! # Layout
//! - [`listen`]: the listen address (`--http ADDR` or `off`) and the rule that an address
//!   beyond loopback needs a token.
//! - [`server`]: the router and [`serve`]: `GET /healthz` (the process is alive) and
//!   `GET /readyz` (the broker is connected and the registry is loaded), with bearer-token
//!   authentication on everything but the probes when a token is set.
//! - [`error`]: the [`ApiError`] type.

pub mod error;
pub mod listen;
pub mod server;

pub use error::ApiError;
pub use listen::{HttpListen, Token};
pub use server::{Readiness, serve};
