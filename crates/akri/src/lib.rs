//! Akri mode: running inside Azure IoT Operations as an Akri connector.
//!
//! Place in the pipeline: a **registry** source beside the directory. Where the directory
//! reads YAML files, this crate reads what AIO's Akri operator hands a connector pod (its
//! variables and mounts), asks the Azure Device Registry (ADR) service for the definitions of
//! the device endpoints and assets allocated to this replica, and reports their status and
//! health back to it.
//!
//! # Layout
//! - [`deployment`]: the contract's variables and the connector configuration mount.
//! - [`mount`]: reading directories the way Kubernetes mounts them (`..data` swaps).
//! - [`allocation`]: which device endpoints and assets this replica runs, and its watcher.
//! - [`error`]: what can go wrong reading the deployment and the allocation.
//! - `fuzz`: entry points for the fuzz targets (hidden).
//! - [`adr`]: the device registry service: its protocol and [`adr::AdrClient`].
//! - [`definitions`]: what the service gave → a validated [`registry::Snapshot`].
//! - [`source`]: [`source::AkriSource`], allocation + service → reloads of the plan.
//! - [`report`]: status and health back to the service.
#![forbid(unsafe_code)]

pub mod adr;
pub mod allocation;
pub mod definitions;
pub mod deployment;
pub mod error;
#[doc(hidden)]
pub mod fuzz;
pub mod mount;
pub mod report;
pub mod source;
