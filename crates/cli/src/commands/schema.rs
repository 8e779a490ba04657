//! `sse-connector schema list|show`: the message schemas of the schema registry, for people
//! (and scripts).
//!
//! Two sources:
//! - **the state directory** (the default): the files of the embedded registry that `run`
//!   keeps in `STATE_DIR/schemas`, read directly and read-only, also while the connector
//!   runs. `--state-dir`, else `stateDir` of `--config`, else `./state`.
//! - **a broker** (`--broker URL`, or `embedded` for a connector's embedded broker here):
//!   AIO's schema registry protocol, so any registry (AIO's or the embedded one) answers.
//!   The protocol has `get` but no way to list, so only `show` works there, and `--version`
//!   defaults to `1`.
//!
//! Output: `list` prints a table (NAME, VERSION, FORMAT, DISPLAYNAME, DATASCHEMA), or with
//! `--json` one registry `Schema` object per line. `show` prints the schema document
//! (pretty-printed when it is JSON), or with `--json` the registry's `Schema` object (one
//! line). Without `--version`, `show` reads the highest version in the state directory.
//!
//! Exit status: 0 done; 1 failed, including a schema that does not exist; 2 an invalid
//! command line (also `list --broker`).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use schema_registry::{ErrorKind, Schema, SchemaRegistryClient, store};

use crate::commands::UsageError;
use crate::commands::run::settings::{BrokerCredentials, resolve_client_broker, resolve_state_dir};
use crate::output;
use crate::table::Table;
use crate::values;

/// Arguments of `schema`.
#[derive(Debug, Args)]
pub struct SchemaArgs {
    #[command(subcommand)]
    command: SchemaCommand,
}

#[derive(Debug, Subcommand)]
enum SchemaCommand {
    /// List the schema versions of the embedded registry (from the state directory)
    #[command(
        long_about = "List every schema version of the embedded schema registry, read from \
                      its files in STATE_DIR/schemas (read-only; works while the connector \
                      runs). AIO's schema registry protocol cannot list schemas, so a registry \
                      reached with --broker cannot be listed."
    )]
    List(ListArgs),
    /// Print a schema: its document, or with --json the registry's object
    #[command(
        long_about = "Print schema NAME: the schema document (pretty-printed JSON), or with \
                      --json the registry's Schema object (name, namespace, version, format, \
                      hash, tags, schemaContent...). Reads the embedded registry's files in \
                      STATE_DIR/schemas, or asks any registry on --broker (AIO's schema \
                      registry protocol). Exit 1 when there is no such schema."
    )]
    Show(ShowArgs),
}

/// Where the schemas are read.
#[derive(Debug, Args)]
struct Source {
    /// State directory of the connector that runs the embedded registry; its schemas are in
    /// DIR/schemas [default: ./state]
    #[arg(long, value_name = "DIR", env = "SSE_CONNECTOR_STATE_DIR")]
    state_dir: Option<PathBuf>,

    /// YAML settings file of `run`; its `stateDir` and broker settings are used
    #[arg(long, value_name = "FILE", env = "SSE_CONNECTOR_CONFIG")]
    config: Option<PathBuf>,

    /// Ask the schema registry on this broker instead of reading the state directory:
    /// mqtt://HOST[:PORT], mqtts://HOST[:PORT], or `embedded` (a connector's embedded broker
    /// here, mqtt://127.0.0.1:1883)
    #[arg(long, value_name = "URL", help_heading = "Broker")]
    broker: Option<String>,

    #[command(flatten)]
    credentials: BrokerCredentials,

    /// MQTT client id of this command [default: sse-connector-schema-PID]
    #[arg(long, value_name = "ID", help_heading = "Broker")]
    client_id: Option<String>,

    /// How long to wait for the broker and for the registry's reply
    #[arg(long, value_name = "DURATION", value_parser = values::duration, default_value = "10s", help_heading = "Broker")]
    timeout: Duration,
}

#[derive(Debug, Args)]
struct ListArgs {
    /// One registry Schema object (JSON) per line instead of the table
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    source: Source,
}

#[derive(Debug, Args)]
struct ShowArgs {
    /// The schema's name (as the registry assigned it)
    name: String,
    /// The version [default: the highest in the state directory; 1 with --broker]
    #[arg(long, value_name = "V")]
    version: Option<String>,
    /// Print the registry's Schema object (one JSON line) instead of the document
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    source: Source,
}

/// Runs one `schema` command.
///
/// # Errors
/// When the state directory cannot be read, the broker or registry cannot be reached in
/// time or refuses the request, or the schema does not exist; a [`UsageError`] for `list`
/// with `--broker`.
pub async fn run(args: SchemaArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        SchemaCommand::List(args) => list(&args),
        SchemaCommand::Show(args) => show(args).await,
    }
}

/// `STATE_DIR/schemas`.
fn store_dir(source: &Source) -> anyhow::Result<PathBuf> {
    let state_dir = resolve_state_dir(source.config.as_deref(), source.state_dir.as_deref())?;
    Ok(state_dir.join(schema_registry::DEFAULT_DIR_NAME))
}

fn list(args: &ListArgs) -> anyhow::Result<ExitCode> {
    if args.source.broker.is_some() {
        return Err(UsageError::new(
            "schema list",
            "AIO's schema registry protocol cannot list schemas, so --broker cannot be listed; \
             list the embedded registry's files with --state-dir DIR, or show one schema with \
             `schema show NAME --version V --broker URL`",
        )
        .into());
    }
    let dir = store_dir(&args.source)?;
    let schemas = store::list(&dir).with_context(|| {
        format!(
            "cannot list the schemas of the embedded registry in {} (is --state-dir the state \
             directory of a connector that registered schemas?)",
            dir.display()
        )
    })?;
    let mut text = String::new();
    if args.json {
        for schema in &schemas {
            text.push_str(&serde_json::to_string(schema)?);
            text.push('\n');
        }
    } else {
        let mut table = Table::new(&["NAME", "VERSION", "FORMAT", "DISPLAYNAME", "DATASCHEMA"]);
        for schema in &schemas {
            table.row(vec![
                schema.name.clone(),
                schema.version.clone(),
                schema.format.clone(),
                schema.display_name.clone().unwrap_or_default(),
                schema.reference(),
            ]);
        }
        text = table.render();
    }
    write_out(text.as_bytes())
}

async fn show(args: ShowArgs) -> anyhow::Result<ExitCode> {
    let schema = match &args.source.broker {
        Some(broker) => {
            let version = args.version.as_deref().unwrap_or("1");
            fetch(&args.source, broker, &args.name, version).await?
        }
        None => {
            let dir = store_dir(&args.source)?;
            read_stored(&dir, &args.name, args.version.as_deref())?
        }
    };
    let mut text = if args.json {
        serde_json::to_string(&schema)?
    } else {
        document(&schema.schema_content)
    };
    if !text.ends_with('\n') {
        text.push('\n');
    }
    write_out(text.as_bytes())
}

/// The schema from the state directory.
fn read_stored(dir: &Path, name: &str, version: Option<&str>) -> anyhow::Result<Schema> {
    anyhow::ensure!(
        dir.is_dir(),
        "no schema registry files in {} (is --state-dir the state directory of a connector \
         that registered schemas?)",
        dir.display()
    );
    let found = match version {
        Some(version) => store::get(dir, name, version),
        None => store::latest(dir, name),
    }
    .with_context(|| format!("cannot read schema {name} in {}", dir.display()))?;
    found.ok_or_else(|| match version {
        Some(version) => anyhow::anyhow!(
            "schema {name} version {version} not found in {}",
            dir.display()
        ),
        None => anyhow::anyhow!("schema {name} not found in {}", dir.display()),
    })
}

/// The schema from the registry on `broker`.
async fn fetch(source: &Source, broker: &str, name: &str, version: &str) -> anyhow::Result<Schema> {
    let resolved = resolve_client_broker(
        source.config.as_deref(),
        Some(&broker.to_owned()),
        &source.credentials,
    )?;
    let mut mqtt = resolved.mqtt;
    mqtt.client_id = source
        .client_id
        .clone()
        .unwrap_or_else(|| format!("sse-connector-schema-{}", std::process::id()));
    // A short-lived client: nothing for the broker to keep after it.
    mqtt.clean_start = true;
    mqtt.session_expiry = Duration::ZERO;
    let client = SchemaRegistryClient::start(mqtt)
        .context("cannot start the schema registry client")?
        .with_timeout(source.timeout);
    let result = client.get(name, version).await;
    client.close();
    let url = resolved.url;
    match result {
        Ok(Some(schema)) => Ok(schema),
        Ok(None) => anyhow::bail!("schema {name} version {version} not found on {url}"),
        Err(error) => {
            let hint = match error.kind() {
                ErrorKind::Timeout if error.to_string().contains("no response") => {
                    "; is a schema registry serving this broker? (`sse-connector run` starts \
                     one with its embedded broker)"
                }
                ErrorKind::Timeout => "; is the broker running?",
                _ => "",
            };
            Err(anyhow::anyhow!("schema registry on {url}: {error}{hint}"))
        }
    }
}

/// The document for people: pretty JSON, or the text as it is.
fn document(content: &str) -> String {
    serde_json::from_str::<serde_json::Value>(content)
        .ok()
        .and_then(|value| serde_json::to_string_pretty(&value).ok())
        .unwrap_or_else(|| content.to_owned())
}

/// Writes to standard output; a reader that went away is not a failure.
fn write_out(bytes: &[u8]) -> anyhow::Result<ExitCode> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(error) if output::is_broken_pipe(&error) => Ok(ExitCode::SUCCESS),
        Err(error) => Err(anyhow::Error::new(error).context("cannot write the output")),
    }
}

/// The embedded registry's schemas for the HTTP listener (`GET /api/v1/schemas...`): `run`
/// passes `Arc::new(RegistryCatalog::new(service.catalog()))` to `api::serve_with`.
#[derive(Debug, Clone)]
pub struct RegistryCatalog(schema_registry::Catalog);

impl RegistryCatalog {
    /// Serves `catalog`.
    pub fn new(catalog: schema_registry::Catalog) -> Self {
        Self(catalog)
    }
}

impl api::SchemaCatalog for RegistryCatalog {
    fn list(&self) -> Result<Vec<Schema>, api::CatalogError> {
        Ok(self.0.list())
    }

    fn get(&self, name: &str, version: &str) -> Result<Option<Schema>, api::CatalogError> {
        Ok(self.0.get(name, version))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use api::SchemaCatalog as _;
    use schema_registry::{PutRequest, SchemaStore};

    #[test]
    fn the_catalog_serves_the_registrys_json() {
        let dir = tempfile::tempdir().expect("dir");
        let store = SchemaStore::open(dir.path(), "ns").expect("open");
        let schema = store
            .put(PutRequest::json_schema(r#"{"type":"object"}"#, "1"))
            .expect("put");
        let catalog = RegistryCatalog::new(store.catalog());
        let listed = catalog.list().expect("list");
        assert_eq!(listed.len(), 1);
        let shown = catalog.get(&schema.name, "1").expect("get").expect("found");
        assert_eq!(
            serde_json::to_string(&shown).expect("json"),
            serde_json::to_string(&schema).expect("json"),
            "the API shows the registry's object unchanged"
        );
        assert_eq!(catalog.get(&schema.name, "2").expect("get"), None);
    }

    #[test]
    fn documents_are_pretty_when_json() {
        assert_eq!(document(r#"{"a":1}"#), "{\n  \"a\": 1\n}");
        assert_eq!(document("message Foo {}"), "message Foo {}");
    }
}
