//! The commands, one module each. A command takes its parsed arguments and a [`Shutdown`]
//! handle and returns the process exit code, or an error that `main` reports on standard
//! error with exit status 1 ([`UsageError`]: 2).
//!
//! [`Shutdown`]: crate::shutdown::Shutdown

use std::fmt;

pub mod tap;

/// A command line that clap accepted but the command cannot use (e.g. an option that does
/// not apply to the given source). `main` reports it like clap's own errors: exit status 2.
#[derive(Debug)]
pub struct UsageError {
    /// The subcommand whose usage line is shown.
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
