//! `sse-connector asset create|dataset add|event-group add|event add|transform set|transform
//! remove|list|show|delete`: assets, what they read and the transforms their events go
//! through, written as YAML into the registry.
//!
//! A `--dest` value is `topic=T[,qos=Qos0|Qos1,retain=Keep|Never,ttl=SECONDS]` (MQTT),
//! `key=K` (the broker state store, datasets only) or `path=P` (a file under the storage
//! root). A malformed value is a usage error (exit 2); one the model rejects where it is used
//! (a state store key on an event) is refused with `validate`'s message (exit 1).
//!
//! A transform (`--transform GRAPH` of `dataset add` and `event add`, `transform set`) is the
//! `transform` key of the dataset's `datasetConfiguration` or the event's `eventConfiguration`
//! (the other keys are kept). A malformed `--transform-config` or `--on-error` is a usage
//! error; a graph that is missing or invalid, or names a module that is not in `modules/`, is
//! refused with `validate`'s message.

use std::path::Path;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use model::destination::{self, Destination};
use model::edit::{self, TransformTarget};
use model::{Body, Kind, Resource};

use crate::commands::UsageError;
use crate::commands::registry_args::{RegistryArgs, failed, report_written};
use crate::commands::resource::{self, Columns, DeleteArgs, ListArgs, ShowArgs};

const AFTER_LONG_HELP: &str = "\
--dest: topic=T[,qos=Qos0|Qos1,retain=Keep|Never,ttl=SECONDS] (MQTT; defaults Qos1, Never,
no expiry), key=K (state store, datasets only) or path=P (file under the storage root).

--transform GRAPH: a graph definition below the registry directory (graphs/NAME.yaml), its
modules in modules/; --transform-config: parameters per graph operation, as JSON or @FILE;
--on-error: drop (default), deadLetter or passThrough.

Exit status: 0 done, 1 refused (the message says why) or failed, 2 invalid command line.

Examples:
  sse-connector asset create weather --device public-weather --endpoint sse --attribute site=roof
  sse-connector asset dataset add weather --name current --data-source /api/weather \\
      --dest topic=azure-iot-operations/data/weather,qos=Qos1,ttl=3600
  sse-connector asset dataset add weather --name latest --data-source /api/weather \\
      --dest key=weather/latest
  sse-connector asset event-group add weather --name alerts --data-source /events \\
      --dest topic=azure-iot-operations/events/weather
  sse-connector asset event add weather --event-group alerts --name storm --data-source storm
  sse-connector asset transform set weather --dataset current --graph graphs/clean.yaml \\
      --configuration '{\"rewrite\": {\"mode\": \"json\"}}' --on-error deadLetter
  sse-connector asset transform remove weather --dataset current
  sse-connector asset list
  sse-connector asset show weather";

/// Arguments of `asset`.
#[derive(Debug, Args)]
#[command(after_long_help = AFTER_LONG_HELP)]
pub struct AssetArgs {
    #[command(flatten)]
    registry: RegistryArgs,

    #[command(subcommand)]
    command: AssetCommand,
}

#[derive(Debug, Subcommand)]
enum AssetCommand {
    /// Create an asset that reads from a device's inbound endpoint
    Create(CreateArgs),
    /// Add a dataset: a stream whose every event is forwarded
    #[command(subcommand)]
    Dataset(DatasetCommand),
    /// Add an event group: a stream whose events are matched by events
    #[command(subcommand, name = "event-group")]
    EventGroup(EventGroupCommand),
    /// Add an event to an event group
    #[command(subcommand)]
    Event(EventCommand),
    /// Set or remove the transform of a dataset or an event
    #[command(subcommand)]
    Transform(TransformCommand),
    /// List the assets: name, device/endpoint, datasets, events, enabled, status, file
    List(ListArgs),
    /// Print an asset's definition
    Show(ShowArgs),
    /// Delete an asset
    Delete(DeleteArgs),
}

/// Options of `asset create`.
#[derive(Debug, Args)]
struct CreateArgs {
    /// The asset's name: lowercase letters, digits, '-' and '.'
    name: String,

    /// The device to read from (deviceRef.deviceName)
    #[arg(long, value_name = "DEVICE")]
    device: String,

    /// The device's inbound endpoint (deviceRef.endpointName)
    #[arg(long, value_name = "EP")]
    endpoint: String,

    /// An attribute, KEY=VALUE (repeatable)
    #[arg(long = "attribute", value_name = "KEY=VALUE", value_parser = parse_attribute)]
    attributes: Vec<(String, String)>,
}

#[derive(Debug, Subcommand)]
enum DatasetCommand {
    /// Add a dataset to an asset
    Add(DatasetAddArgs),
}

/// Options of `asset dataset add`.
#[derive(Debug, Args)]
struct DatasetAddArgs {
    /// The asset
    asset: String,

    /// The dataset's name, unique in the asset
    #[arg(long, value_name = "NAME")]
    name: String,

    /// Path of the stream, joined to the endpoint address ("" is the address itself)
    #[arg(long, value_name = "PATH")]
    data_source: String,

    /// topic=T[,qos=Qos1,retain=Never,ttl=S], key=K or path=P [default: the asset's
    /// defaultDatasetsDestinations]
    #[arg(long, value_name = "DEST", value_parser = parse_destination)]
    dest: Option<Destination>,

    #[command(flatten)]
    transform: TransformOptions,
}

/// `--transform`, `--transform-config`, `--on-error` of `dataset add` and `event add`.
#[derive(Debug, Args)]
struct TransformOptions {
    /// Run its events through this graph definition (relative to the registry directory,
    /// e.g. graphs/clean.yaml)
    #[arg(long, value_name = "GRAPH")]
    transform: Option<String>,

    /// Parameters per graph operation name, as JSON or @FILE
    #[arg(long, value_name = "JSON", requires = "transform", value_parser = parse_json)]
    transform_config: Option<serde_json::Value>,

    /// What happens to an event whose transform fails [default: drop]
    #[arg(long, value_name = "X", requires = "transform", value_parser = ON_ERROR)]
    on_error: Option<String>,
}

impl TransformOptions {
    /// The `transform` object, if any; a value the model refuses is a usage error of
    /// `command`.
    fn value(self, command: &'static str) -> anyhow::Result<Option<serde_json::Value>> {
        let Some(graph) = self.transform else {
            return Ok(None);
        };
        transform_value(command, &graph, self.transform_config, self.on_error).map(Some)
    }
}

/// The values of `--on-error`.
const ON_ERROR: [&str; 3] = ["drop", "deadLetter", "passThrough"];

#[derive(Debug, Subcommand)]
enum EventGroupCommand {
    /// Add an event group to an asset
    Add(EventGroupAddArgs),
}

/// Options of `asset event-group add`.
#[derive(Debug, Args)]
struct EventGroupAddArgs {
    /// The asset
    asset: String,

    /// The event group's name, unique in the asset
    #[arg(long, value_name = "NAME")]
    name: String,

    /// Path of the group's stream, joined to the endpoint address [default: the address]
    #[arg(long, value_name = "PATH")]
    data_source: Option<String>,

    /// Default destination of its events (defaultDestinations): topic=T[,…], path=P
    #[arg(long, value_name = "DEST", value_parser = parse_destination)]
    dest: Option<Destination>,
}

#[derive(Debug, Subcommand)]
enum EventCommand {
    /// Add an event to an event group of an asset
    Add(EventAddArgs),
}

/// Options of `asset event add`.
#[derive(Debug, Args)]
struct EventAddArgs {
    /// The asset
    asset: String,

    /// The event group
    #[arg(long, value_name = "GROUP")]
    event_group: String,

    /// The event's name, unique in the group
    #[arg(long, value_name = "NAME")]
    name: String,

    /// The SSE event type to match (`message` for events without `event:`), or a path
    /// starting with / for a stream of its own
    #[arg(long, value_name = "ID")]
    data_source: String,

    /// topic=T[,qos=Qos1,retain=Never,ttl=S] or path=P [default: the group's
    /// defaultDestinations, else the asset's defaultEventsDestinations]
    #[arg(long, value_name = "DEST", value_parser = parse_destination)]
    dest: Option<Destination>,

    #[command(flatten)]
    transform: TransformOptions,
}

#[derive(Debug, Subcommand)]
enum TransformCommand {
    /// Set the transform of a dataset or an event (replacing the one it has)
    Set(TransformSetArgs),
    /// Remove the transform of a dataset or an event
    Remove(TransformRemoveArgs),
}

/// `--dataset NAME` or `--event GROUP/NAME`.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
struct TargetArgs {
    /// The dataset
    #[arg(long, value_name = "NAME")]
    dataset: Option<String>,

    /// The event, as its event group and its name
    #[arg(long, value_name = "GROUP/NAME", value_parser = parse_event_target)]
    event: Option<TransformTarget>,
}

impl TargetArgs {
    fn target(self) -> TransformTarget {
        match (self.dataset, self.event) {
            (Some(name), _) => TransformTarget::Dataset(name),
            (None, Some(event)) => event,
            // clap requires exactly one of them.
            (None, None) => TransformTarget::Dataset(String::new()),
        }
    }
}

/// Options of `asset transform set`.
#[derive(Debug, Args)]
struct TransformSetArgs {
    /// The asset
    asset: String,

    #[command(flatten)]
    target: TargetArgs,

    /// The graph definition, relative to the registry directory (graphs/NAME.yaml)
    #[arg(long, value_name = "GRAPH")]
    graph: String,

    /// Parameters per graph operation name, as JSON or @FILE
    #[arg(long, value_name = "JSON", value_parser = parse_json)]
    configuration: Option<serde_json::Value>,

    /// What happens to an event whose transform fails [default: drop]
    #[arg(long, value_name = "X", value_parser = ON_ERROR)]
    on_error: Option<String>,
}

/// Options of `asset transform remove`.
#[derive(Debug, Args)]
struct TransformRemoveArgs {
    /// The asset
    asset: String,

    #[command(flatten)]
    target: TargetArgs,
}

/// `--attribute KEY=VALUE`.
fn parse_attribute(text: &str) -> Result<(String, String), String> {
    edit::parse_attribute(text).map_err(|error| match error {
        model::Error::Invalid { why, .. } => why,
        other => other.to_string(),
    })
}

/// `--event GROUP/NAME`.
fn parse_event_target(text: &str) -> Result<TransformTarget, String> {
    edit::parse_event_target(text).map_err(|error| match error {
        model::Error::Invalid { why, .. } => why,
        other => other.to_string(),
    })
}

/// A JSON value, or `@FILE` for the JSON in a file.
fn parse_json(text: &str) -> Result<serde_json::Value, String> {
    let (json, from) = match text.strip_prefix('@') {
        Some(file) => (
            std::fs::read_to_string(Path::new(file))
                .map_err(|e| format!("cannot read {file}: {e}"))?,
            format!(" in {file}"),
        ),
        None => (text.to_owned(), String::new()),
    };
    serde_json::from_str(&json).map_err(|e| format!("not JSON{from}: {e}"))
}

/// The `transform` object, checked as the model checks it; what it refuses is a usage
/// error of `command`.
fn transform_value(
    command: &'static str,
    graph: &str,
    configuration: Option<serde_json::Value>,
    on_error: Option<String>,
) -> anyhow::Result<serde_json::Value> {
    edit::transform_value(graph, configuration, on_error.as_deref()).map_err(|error| {
        let message = match error {
            model::Error::Invalid { why, .. } => why,
            other => other.to_string(),
        };
        UsageError::new(command, message).into()
    })
}

/// `--dest`.
fn parse_destination(text: &str) -> Result<Destination, String> {
    destination::parse_cli(text).map_err(|error| match error {
        model::Error::DestinationSpec { why, .. } => why,
        other => other.to_string(),
    })
}

/// The columns `asset list` adds: device/endpoint, number of datasets and of events.
const COLUMNS: Columns = Columns {
    header: &["DEVICE", "DATASETS", "EVENTS"],
    cells: |resource| match &resource.body {
        Body::Asset(asset) => {
            let events: usize = asset
                .event_groups
                .iter()
                .flatten()
                .map(|g| g.events.as_ref().map_or(0, Vec::len))
                .sum();
            vec![
                format!(
                    "{}/{}",
                    asset.device_ref.device_name, asset.device_ref.endpoint_name
                ),
                asset.datasets.as_ref().map_or(0, Vec::len).to_string(),
                events.to_string(),
            ]
        }
        Body::Device(_) => Vec::new(),
    },
};

/// Runs `asset`.
///
/// # Errors
/// Any error (refused, not found, I/O) means exit status 1.
pub fn run(args: AssetArgs) -> anyhow::Result<ExitCode> {
    let registry = &args.registry;
    match args.command {
        AssetCommand::Create(create) => {
            let asset = edit::new_asset(
                &create.name,
                &create.device,
                &create.endpoint,
                &create.attributes,
            )?;
            let written = registry.open_or_create()?.create(asset).map_err(failed)?;
            report_written("created", &written)?;
        }
        AssetCommand::Dataset(DatasetCommand::Add(add)) => {
            let transform = add.transform.value("asset dataset add")?;
            update(registry, &add.asset, |r| {
                edit::add_dataset(r, &add.name, &add.data_source, add.dest)?;
                match transform {
                    Some(t) => edit::set_transform(r, &TransformTarget::Dataset(add.name), Some(t)),
                    None => Ok(()),
                }
            })?;
        }
        AssetCommand::EventGroup(EventGroupCommand::Add(add)) => {
            update(registry, &add.asset, |r| {
                edit::add_event_group(r, &add.name, add.data_source.as_deref(), add.dest)
            })?;
        }
        AssetCommand::Event(EventCommand::Add(add)) => {
            let transform = add.transform.value("asset event add")?;
            update(registry, &add.asset, |r| {
                edit::add_event(r, &add.event_group, &add.name, &add.data_source, add.dest)?;
                let target = TransformTarget::Event {
                    group: add.event_group,
                    name: add.name,
                };
                match transform {
                    Some(t) => edit::set_transform(r, &target, Some(t)),
                    None => Ok(()),
                }
            })?;
        }
        AssetCommand::Transform(TransformCommand::Set(set)) => {
            let transform = transform_value(
                "asset transform set",
                &set.graph,
                set.configuration,
                set.on_error,
            )?;
            let target = set.target.target();
            update(registry, &set.asset, |r| {
                edit::set_transform(r, &target, Some(transform))
            })?;
        }
        AssetCommand::Transform(TransformCommand::Remove(remove)) => {
            let target = remove.target.target();
            update(registry, &remove.asset, |r| {
                edit::set_transform(r, &target, None)
            })?;
        }
        AssetCommand::List(list) => {
            resource::list(registry, Kind::Asset, list.output, &COLUMNS)?;
        }
        AssetCommand::Show(show) => resource::show(registry, Kind::Asset, &show)?,
        AssetCommand::Delete(delete) => resource::delete(registry, Kind::Asset, &delete)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Changes an asset with `edit` and reports the rewritten file.
fn update(
    registry: &RegistryArgs,
    asset: &str,
    edit: impl FnOnce(&mut Resource) -> Result<(), model::Error>,
) -> anyhow::Result<()> {
    let written = registry
        .open()?
        .update(Kind::Asset, asset, edit)
        .map_err(failed)?;
    report_written("updated", &written)
}
