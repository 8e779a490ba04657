//! The Azure Device Registry model of `sse-connector`, and the pure functions that validate
//! definitions and resolve them into a plan of data operations.
//!
//! Place in the pipeline: `registry` (files) → **model** (types, validation, plan, diff) →
//! `supervisor` (runs the plan). This crate does no I/O and needs no runtime: what it must know
//! about secrets and trust lists it asks an [`Environment`].
//!
//! # Layout
//! - [`device`], [`asset`], [`destination`]: serde types of every field of the 2026-11-01
//!   model; unknown fields are kept in `extra` maps ([`extra`]) and reported as warnings.
//! - [`resource`]: the Kubernetes (`apiVersion`/`kind`/`metadata`/`spec`) and ARM
//!   (`properties`) envelopes; decoding with field paths.
//! - [`endpoint`]: SSE endpoint types and the one function that joins address and data source.
//! - [`environment`]: the questions validation asks about secrets and trust lists.
//! - [`pointer`](mod@pointer): JSON Pointer (RFC 6901) checks for data points.
//! - [`validate`]: checks of one device or asset, with field paths.
//! - [`build`](mod@build): all definitions → [`Plan`], with duplicates and the last-good rule.
//! - [`plan`], [`diff`](mod@diff): the resolved operations and what changed between two plans.
//! - [`repair`]: finding every type error of a document, not only the first.
//! - [`problem`]: [`Problem`], rendered `FILE: RESOURCE: field.path: what is wrong`.
//! - [`edit`]: pure edits behind the CLI's write commands.
//! - [`time`]: timestamps as AIO writes them (RFC 3339, UTC, seconds).
//! - [`transform`]: the `transform` of a dataset or event, and graph definitions checked into
//!   a [`transform::Flow`].
//! - [`error`]: errors of edits and CLI values.
#![forbid(unsafe_code)]

pub mod asset;
pub mod build;
pub mod destination;
pub mod device;
pub mod diff;
pub mod edit;
pub mod endpoint;
pub mod environment;
pub mod error;
pub mod extra;
pub mod plan;
pub mod pointer;
pub mod problem;
pub mod repair;
pub mod resource;
pub mod time;
pub mod transform;
pub mod validate;

pub use build::{Accepted, Build, Partial, Unreadable, build};
pub use diff::{PlanDiff, diff};
pub use environment::{Environment, FileRef, FileVersion, LookupError};
pub use error::Error;
pub use plan::{Credentials, Match, Operation, OperationId, Plan, StreamSpec};
pub use problem::{FieldPath, Problem, Severity};
pub use resource::{Body, Decoded, Kind, Located, Resource};
