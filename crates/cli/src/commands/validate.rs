//! `sse-connector validate`: read the whole registry from scratch and report every problem.
//!
//! Output (standard output), in this order:
//!
//! ```text
//! FILE: RESOURCE: field.path: what is wrong            one line per error
//! warning: FILE: RESOURCE: field.path: what is wrong   one line per warning
//! valid: 2 devices, 3 assets, … in 6 files             the summary (`invalid (N errors): …`)
//! ```
//!
//! The error lines are exactly `model::Problem`'s rendering, so editors and scripts can
//! parse them. Warnings never change the exit status.

use std::process::ExitCode;

use clap::Args;

use crate::commands::registry_args::{RegistryArgs, failed, print};

const AFTER_LONG_HELP: &str = "\
Output: each error as `FILE: RESOURCE: field.path: what is wrong` (RESOURCE is Kind/name,
`document N` when the name cannot be read, `-` for the file itself; a syntax error has
`line L, column C` as its path), then each warning prefixed with `warning: `, then a
one-line summary.

Exit status:
  0  valid (warnings alone never fail)
  1  at least one error, or the registry directory cannot be read
  2  invalid command line

Examples:
  sse-connector validate --registry examples/registry
  SSE_CONNECTOR_REGISTRY=/etc/sse-connector sse-connector validate --quiet";

/// Arguments of `validate`.
#[derive(Debug, Args)]
#[command(after_long_help = AFTER_LONG_HELP)]
pub struct ValidateArgs {
    #[command(flatten)]
    registry: RegistryArgs,

    /// Print only the errors: no warnings, no summary
    #[arg(short, long)]
    quiet: bool,
}

/// Runs `validate`.
///
/// # Errors
/// When the registry directory does not exist or cannot be read (exit status 1, as for
/// an invalid registry).
pub fn run(args: ValidateArgs) -> anyhow::Result<ExitCode> {
    let snapshot = registry::validate(args.registry.paths()).map_err(failed)?;
    let mut out = String::new();
    for error in snapshot.errors() {
        out.push_str(&format!("{error}\n"));
    }
    if !args.quiet {
        for warning in snapshot.warnings() {
            out.push_str(&format!("warning: {warning}\n"));
        }
        out.push_str(&snapshot.summary());
        out.push('\n');
    }
    print(&out)?;
    Ok(if snapshot.is_valid() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
