//! Where definitions come from: a registry directory of Azure Device Registry `Device` and
//! `Asset` resources (YAML or JSON, Kubernetes or ARM form), a secrets directory and a trust
//! directory, laid out like mounted Kubernetes secrets.
//!
//! Place in the pipeline: **registry** (files → [`Snapshot`]) → `model` (validation, plan) →
//! `supervisor` (runs [`Reload::diff`]). The registry turns files into model types, answers
//! the model's questions about secrets and trust lists, watches the directories, and writes
//! definitions for the CLI and the API.
//!
//! # Layout
//! - [`paths`]: [`RegistryPaths`], the three directories.
//! - [`load`]: finding and parsing definition files (YAML multi-document, JSON, ARM form).
//! - [`locate`]: line and column of a field path in a definition's text.
//! - [`secrets`]: [`FsEnvironment`], secret and trust lookups by path; names leaving their
//!   directory are rejected.
//! - [`registry`](mod@registry): [`Registry`], [`Snapshot`], [`Reload`], [`validate`]; the
//!   last-good rule across reloads.
//! - [`common_trust`]: certificates every endpoint trusts, added to each stream's own.
//! - [`transforms`]: the graph definitions (`graphs/`) and modules (`modules/`) of transforms,
//!   checked and resolved into the plan.
//! - [`watch`]: [`Registry::watch`], debounced reload on any change (incl. `..data` swaps).
//! - [`write`](mod@write): atomic writes of definitions, secrets and trust files for the CLI commands.
//! - [`error`](mod@error): the registry's [`Error`] type.
#![forbid(unsafe_code)]

pub mod common_trust;
pub mod error;
pub mod load;
pub mod locate;
pub mod paths;
pub mod registry;
pub mod secrets;
pub mod transforms;
pub mod watch;
pub mod write;

pub use error::Error;
pub use paths::RegistryPaths;
pub use registry::{Registry, Reload, Snapshot, validate};
pub use secrets::FsEnvironment;
pub use watch::Watch;
