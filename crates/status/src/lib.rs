//! Status and health: say precisely what works and what does not.
//!
//! AIO's model has two channels, and so does this crate's [`StatusReport`]:
//! - **configuration status** per device, inbound endpoint, asset, dataset and event
//!   (`config.version`, `lastTransitionTime`, `error {code, message, details}`, and
//!   `messageSchemaReference` per dataset and event): failures only a change of definition,
//!   secret or trust list fixes;
//! - **runtime health** per inbound endpoint, dataset and event (`Available`, `Degraded`,
//!   `Unavailable`, `Unknown` with AIO's reason codes and `lastUpdateTime`), and per asset,
//!   aggregated from its parts.
//!
//! Place in the pipeline: beside it. The runtime tells a [`StatusBoard`] each applied plan
//! and its streams; the board makes a report on demand (`GET /api/v1/status`), and
//! [`files::spawn_writer`] keeps status files under the state directory for
//! `sse-connector status`.
//!
//! # Layout
//! - [`aio`]: AIO's shapes (`ConfigStatus`, `ConfigError`, `RuntimeHealth`...).
//! - [`report`]: [`StatusReport`] and its parts.
//! - [`assemble`]: observations → report, a pure function: which part each failure lands on.
//! - `config_errors.rs`: configuration errors (validation, streams failed for good, the
//!   secrets to check).
//! - `health.rs`: runtime health of a stream's parts, an endpoint and an asset.
//! - [`stamps`]: `lastTransitionTime` and `lastUpdateTime` across reports.
//! - [`board`]: [`StatusBoard`], the runtime's side.
//! - [`files`]: the status files, written atomically, and their reader.
#![forbid(unsafe_code)]

pub mod aio;
pub mod assemble;
pub mod board;
mod config_errors;
pub mod files;
mod health;
pub mod report;
pub mod stamps;

pub use aio::{ConfigError, ConfigStatus, HealthStatus, MessageSchemaReference, RuntimeHealth};
pub use board::{BrokerProbe, ConnectorInfo, StatusBoard};
pub use report::StatusReport;
