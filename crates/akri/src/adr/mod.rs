//! The Azure Device Registry (ADR) service, the connector's side: [`protocol`] (topics and
//! payloads of its DTDL), [`client`] ([`AdrClient`]: commands, update events, health events),
//! [`error`] ([`AdrError`]).

pub mod client;
pub mod error;
pub mod protocol;

pub use client::{AdrClient, Notification};
pub use error::AdrError;
