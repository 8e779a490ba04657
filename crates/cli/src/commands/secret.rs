//! `sse-connector secret set NAME --from-file F`: store a secret where endpoints find it.
//!
//! The secret `sse-creds/password` becomes the file `SECRETS/sse-creds/password` (readable by
//! its owner only, replaced atomically), holding exactly the bytes of F: nothing is trimmed,
//! as with `kubectl create secret --from-file`. The value is never printed; names that leave
//! the secrets directory (`..`, absolute paths) are refused.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand};

use crate::commands::registry_args::{RegistryArgs, failed, print};

const AFTER_LONG_HELP: &str = "\
The file's bytes are stored as they are (a trailing newline included); use `printf`, not
`echo`, to make one. The value is never printed.

Exit status: 0 done, 1 refused (a name with `..`, an absolute name) or failed, 2 invalid
command line.

Examples:
  sse-connector secret set sse-creds/username --from-file ./username
  printf %s \"$PASSWORD\" | sse-connector secret set sse-creds/password --from-file -";

/// Arguments of `secret`.
#[derive(Debug, Args)]
#[command(after_long_help = AFTER_LONG_HELP)]
pub struct SecretArgs {
    #[command(flatten)]
    registry: RegistryArgs,

    #[command(subcommand)]
    command: SecretCommand,
}

#[derive(Debug, Subcommand)]
enum SecretCommand {
    /// Create or replace a secret
    Set(SetArgs),
}

/// Options of `secret set`.
#[derive(Debug, Args)]
struct SetArgs {
    /// The secret's name, a relative path such as sse-creds/password
    name: String,

    /// File holding the value, or - for standard input
    #[arg(long, value_name = "FILE")]
    from_file: PathBuf,
}

/// Runs `secret`.
///
/// # Errors
/// When the file cannot be read, the name is refused, or the secret cannot be written.
/// No error message contains the value.
pub fn run(args: SecretArgs) -> anyhow::Result<ExitCode> {
    let SecretCommand::Set(set) = args.command;
    let value = if set.from_file.as_os_str() == "-" {
        let mut value = Vec::new();
        std::io::stdin()
            .read_to_end(&mut value)
            .context("cannot read standard input")?;
        value
    } else {
        std::fs::read(&set.from_file)
            .with_context(|| format!("cannot read {}", set.from_file.display()))?
    };
    let path = args
        .registry
        .open_or_create()?
        .set_secret(&set.name, &value)
        .map_err(failed)?;
    print(&format!("set secret {} in {}\n", set.name, path.display()))?;
    Ok(ExitCode::SUCCESS)
}
