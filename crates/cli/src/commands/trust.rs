//! `sse-connector trust add LIST CERT.pem`: add CA certificates to a trust list.
//!
//! The file is copied to `TRUST/LIST/<its file name>` (replaced atomically when a file of
//! that name is already there). It must hold at least one PEM certificate. An endpoint uses
//! the list with `--trust-list LIST`; a trust list adds CAs to the system roots and never
//! turns verification off.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand};

use crate::commands::UsageError;
use crate::commands::registry_args::{RegistryArgs, failed, print};

const AFTER_LONG_HELP: &str = "\
Exit status: 0 done, 1 refused (not a PEM certificate, a name with `..`) or failed,
2 invalid command line.

Examples:
  sse-connector trust add plant-ca ./plant-root-ca.pem
  sse-connector device endpoint add gw --name ep --address https://gw.local --trust-list plant-ca";

/// Arguments of `trust`.
#[derive(Debug, Args)]
#[command(after_long_help = AFTER_LONG_HELP)]
pub struct TrustArgs {
    #[command(flatten)]
    registry: RegistryArgs,

    #[command(subcommand)]
    command: TrustCommand,
}

#[derive(Debug, Subcommand)]
enum TrustCommand {
    /// Add a PEM file of CA certificates to a trust list (created if new)
    Add(AddArgs),
}

/// Options of `trust add`.
#[derive(Debug, Args)]
struct AddArgs {
    /// The trust list's name, e.g. plant-ca
    list: String,

    /// A PEM file with one or more CA certificates
    #[arg(value_name = "CERT.pem")]
    cert: PathBuf,
}

/// Runs `trust`.
///
/// # Errors
/// [`UsageError`] when CERT has no file name; otherwise (unreadable, not PEM, bad name,
/// cannot write) exit status 1.
pub fn run(args: TrustArgs) -> anyhow::Result<ExitCode> {
    let TrustCommand::Add(add) = args.command;
    let file_name = add
        .cert
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| UsageError::new("trust", "CERT.pem must name a file (UTF-8 name)"))?;
    let pem =
        std::fs::read(&add.cert).with_context(|| format!("cannot read {}", add.cert.display()))?;
    let path = args
        .registry
        .open_or_create()?
        .add_trust(&add.list, file_name, &pem)
        .map_err(failed)?;
    print(&format!(
        "added {} to trust list {}\n",
        path.display(),
        add.list
    ))?;
    Ok(ExitCode::SUCCESS)
}
