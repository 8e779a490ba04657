//! The commands, one module each. A command takes its parsed arguments (and, when it runs
//! until stopped, a [`Shutdown`] handle) and returns the process exit code, or an error that
//! `main` reports on standard error with exit status 1 ([`UsageError`]: 2).
//!
//! The registry commands (`validate`, `device`, `asset`, `secret`, `trust`) share their
//! `--registry/--secrets/--trust` options ([`registry_args`]) and, for devices and assets,
//! `list`/`show`/`delete` ([`resource`]).
//!
//! [`Shutdown`]: crate::shutdown::Shutdown

use std::fmt;

pub mod asset;
pub mod demo;
pub mod device;
pub mod probe;
pub mod registry_args;
pub mod resource;
pub mod run;
pub mod schema;
pub mod secret;
pub mod state;
pub mod state_dir;
pub mod status;
pub mod tap;
pub mod trust;
pub mod validate;

/// A command line that clap accepted but the command cannot use (e.g. an option that does
/// not apply to the given source). `main` reports it like clap's own errors: exit status 2.
#[derive(Debug)]
pub struct UsageError {
    /// The subcommand whose usage line is shown: `tap`, or a path such as
    /// `device endpoint add`.
    pub command: &'static str,
    /// What is wrong, for people. Never the value of a secret.
    pub message: String,
}

impl UsageError {
    /// An error in the usage of `command`.
    pub fn new(command: &'static str, message: impl Into<String>) -> Self {
        Self {
            command,
            message: message.into(),
        }
    }
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for UsageError {}
