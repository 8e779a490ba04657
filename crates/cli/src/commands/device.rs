//! `sse-connector device create|endpoint add|list|show|delete`: devices and their inbound
//! endpoints, written as YAML into the registry.
//!
//! Every write is validated with the whole registry first and refused, with `validate`'s
//! messages, when it would add an error (an `ftp://` address, a secret that does not exist).
//! The endpoint's authentication names secrets; their values are never read or printed here.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use model::Kind;
use model::device::Method;
use model::edit::{self, EndpointSpec};

use crate::commands::UsageError;
use crate::commands::registry_args::{RegistryArgs, failed, report_written};
use crate::commands::resource::{self, Columns, DeleteArgs, ListArgs, ShowArgs};

const AFTER_LONG_HELP: &str = "\
Exit status: 0 done, 1 refused (the message says why) or failed, 2 invalid command line.

Examples:
  sse-connector device create plant-gateway
  sse-connector device endpoint add plant-gateway --name sse-connector-0 \\
      --address https://gateway.plant.example/base-path \\
      --username-secret sse-creds/username --password-secret sse-creds/password \\
      --trust-list plant-ca
  sse-connector device list
  sse-connector device show plant-gateway --output json
  sse-connector device delete plant-gateway";

/// Arguments of `device`.
#[derive(Debug, Args)]
#[command(after_long_help = AFTER_LONG_HELP)]
pub struct DeviceArgs {
    #[command(flatten)]
    registry: RegistryArgs,

    #[command(subcommand)]
    command: DeviceCommand,
}

#[derive(Debug, Subcommand)]
enum DeviceCommand {
    /// Create a device (add endpoints with `device endpoint add`)
    Create(CreateArgs),
    /// Add an inbound endpoint to a device
    #[command(subcommand)]
    Endpoint(EndpointCommand),
    /// List the devices: name, endpoints, enabled, status, file
    List(ListArgs),
    /// Print a device's definition
    Show(ShowArgs),
    /// Delete a device (refused while assets use it)
    Delete(DeleteArgs),
}

/// Options of `device create`.
#[derive(Debug, Args)]
struct CreateArgs {
    /// The device's name: lowercase letters, digits, '-' and '.'
    name: String,
}

#[derive(Debug, Subcommand)]
enum EndpointCommand {
    /// Add an SSE inbound endpoint (endpointType Microsoft.SSEHttp)
    Add(EndpointAddArgs),
}

/// Options of `device endpoint add`.
#[derive(Debug, Args)]
struct EndpointAddArgs {
    /// The device
    device: String,

    /// The endpoint's name (assets refer to it as deviceRef.endpointName)
    #[arg(long, value_name = "EP")]
    name: String,

    /// Base http(s) URL; data sources of datasets and events are joined to it
    #[arg(long, value_name = "URL")]
    address: String,

    /// anonymous, username-password or certificate [default: the one the secrets given imply]
    #[arg(long, value_name = "METHOD", value_parser = parse_method,
          help_heading = "Authentication")]
    auth: Option<Method>,

    /// Secret holding the HTTP Basic user name, e.g. sse-creds/username
    #[arg(long, value_name = "SECRET", requires = "password_secret",
          conflicts_with_all = ["cert_secret", "key_secret", "intermediate_secret"],
          help_heading = "Authentication")]
    username_secret: Option<String>,

    /// Secret holding the HTTP Basic password, e.g. sse-creds/password
    #[arg(
        long,
        value_name = "SECRET",
        requires = "username_secret",
        help_heading = "Authentication"
    )]
    password_secret: Option<String>,

    /// Secret holding the client certificate (PEM) for mutual TLS
    #[arg(long, value_name = "SECRET", help_heading = "Authentication")]
    cert_secret: Option<String>,

    /// Secret holding the private key of --cert-secret
    #[arg(
        long,
        value_name = "SECRET",
        requires = "cert_secret",
        help_heading = "Authentication"
    )]
    key_secret: Option<String>,

    /// Secret holding intermediate CA certificates sent after --cert-secret
    #[arg(
        long,
        value_name = "SECRET",
        requires = "cert_secret",
        help_heading = "Authentication"
    )]
    intermediate_secret: Option<String>,

    /// Trust list with extra CAs for this endpoint (a directory under the trust directory)
    #[arg(long, value_name = "NAME")]
    trust_list: Option<String>,
}

/// `--auth`: `anonymous`, `username-password`, `certificate` (the model's names too).
fn parse_method(text: &str) -> Result<Method, String> {
    edit::parse_method(text).map_err(|error| match error {
        model::Error::Invalid { why, .. } => why,
        other => other.to_string(),
    })
}

impl EndpointAddArgs {
    /// The authentication method: `--auth`, or the one the secrets given imply.
    fn method(&self) -> Result<Method, UsageError> {
        let password = self.username_secret.is_some();
        let certificate = self.cert_secret.is_some();
        let method = match self.auth {
            Some(method) => method,
            None if password => Method::UsernamePassword,
            None if certificate => Method::Certificate,
            None => Method::Anonymous,
        };
        let problem = match method {
            Method::Anonymous if password || certificate => {
                Some("--auth anonymous takes no --*-secret option")
            }
            Method::UsernamePassword if !password => {
                Some("--auth username-password needs --username-secret and --password-secret")
            }
            Method::Certificate if !certificate => Some("--auth certificate needs --cert-secret"),
            _ => None,
        };
        match problem {
            Some(message) => Err(UsageError::new("device endpoint add", message)),
            None => Ok(method),
        }
    }

    fn spec(&self) -> Result<EndpointSpec, UsageError> {
        Ok(EndpointSpec {
            name: self.name.clone(),
            address: self.address.clone(),
            method: self.method()?,
            username_secret: self.username_secret.clone(),
            password_secret: self.password_secret.clone(),
            cert_secret: self.cert_secret.clone(),
            key_secret: self.key_secret.clone(),
            intermediate_secret: self.intermediate_secret.clone(),
            trust_list: self.trust_list.clone(),
        })
    }
}

/// The columns `device list` adds: the inbound endpoints' names.
const COLUMNS: Columns = Columns {
    header: &["ENDPOINTS"],
    cells: |resource| {
        let names: Vec<&str> = match &resource.body {
            model::Body::Device(device) => device
                .endpoints
                .iter()
                .flat_map(|e| e.inbound.iter().flatten())
                .map(|(name, _)| name.as_str())
                .collect(),
            model::Body::Asset(_) => Vec::new(),
        };
        vec![if names.is_empty() {
            "-".to_owned()
        } else {
            names.join(",")
        }]
    },
};

/// Runs `device`.
///
/// # Errors
/// [`UsageError`] for authentication options that do not fit together; any other error
/// (refused, not found, I/O) means exit status 1.
pub fn run(args: DeviceArgs) -> anyhow::Result<ExitCode> {
    let registry = &args.registry;
    match args.command {
        DeviceCommand::Create(create) => {
            let device = edit::new_device(&create.name)?;
            let written = registry.open_or_create()?.create(device).map_err(failed)?;
            report_written("created", &written)?;
        }
        DeviceCommand::Endpoint(EndpointCommand::Add(add)) => {
            let spec = add.spec()?;
            let written = registry
                .open()?
                .update(Kind::Device, &add.device, |r| edit::add_endpoint(r, spec))
                .map_err(failed)?;
            report_written("updated", &written)?;
        }
        DeviceCommand::List(list) => {
            resource::list(registry, Kind::Device, list.output, &COLUMNS)?;
        }
        DeviceCommand::Show(show) => resource::show(registry, Kind::Device, &show)?,
        DeviceCommand::Delete(delete) => resource::delete(registry, Kind::Device, &delete)?,
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(auth: Option<Method>, secrets: &[&str]) -> EndpointAddArgs {
        let given = |name: &str| secrets.contains(&name).then(|| format!("{name}-secret"));
        EndpointAddArgs {
            device: "d".into(),
            name: "ep".into(),
            address: "https://h".into(),
            auth,
            username_secret: given("username"),
            password_secret: given("password"),
            cert_secret: given("cert"),
            key_secret: given("key"),
            intermediate_secret: given("intermediate"),
            trust_list: None,
        }
    }

    #[test]
    fn the_method_is_implied_by_the_secrets_given() {
        let method = |auth, secrets: &[&str]| add(auth, secrets).method().ok();
        assert_eq!(method(None, &[]), Some(Method::Anonymous));
        assert_eq!(
            method(None, &["username", "password"]),
            Some(Method::UsernamePassword)
        );
        assert_eq!(
            method(None, &["cert", "key", "intermediate"]),
            Some(Method::Certificate)
        );
        assert_eq!(
            method(Some(Method::Certificate), &["cert"]),
            Some(Method::Certificate)
        );
    }

    #[test]
    fn an_explicit_method_must_fit_the_secrets() {
        let method = |auth, secrets: &[&str]| add(Some(auth), secrets).method().is_err();
        assert!(method(Method::Anonymous, &["cert"]));
        assert!(method(Method::Anonymous, &["username", "password"]));
        assert!(method(Method::UsernamePassword, &[]));
        assert!(method(Method::UsernamePassword, &["cert"]));
        assert!(method(Method::Certificate, &["username", "password"]));
        assert!(method(Method::Certificate, &[]));
    }

    #[test]
    fn auth_names_are_the_cli_and_the_model_ones() {
        assert_eq!(
            parse_method("username-password"),
            Ok(Method::UsernamePassword)
        );
        assert_eq!(parse_method("Certificate"), Ok(Method::Certificate));
        assert!(parse_method("kerberos").is_err_and(|e| e.contains("use anonymous")));
    }
}
