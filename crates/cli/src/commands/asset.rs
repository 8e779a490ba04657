//! `sse-connector asset create|dataset add|event-group add|event add|list|show|delete`:
//! assets and what they read, written as YAML into the registry.
//!
//! A `--dest` value is `topic=T[,qos=Qos0|Qos1,retain=Keep|Never,ttl=SECONDS]` (MQTT),
//! `key=K` (the broker state store, datasets only) or `path=P` (a file under the storage
//! root). A malformed value is a usage error (exit 2); one the model rejects where it is used
//! (a state store key on an event) is refused with `validate`'s message (exit 1).

use std::process::ExitCode;

use clap::{Args, Subcommand};
use model::destination::{self, Destination};
use model::edit;
use model::{Body, Kind, Resource};

use crate::commands::registry_args::{RegistryArgs, failed, report_written};
use crate::commands::resource::{self, Columns, DeleteArgs, ListArgs, ShowArgs};

const AFTER_LONG_HELP: &str = "\
--dest: topic=T[,qos=Qos0|Qos1,retain=Keep|Never,ttl=SECONDS] (MQTT; defaults Qos1, Never,
no expiry), key=K (state store, datasets only) or path=P (file under the storage root).

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
}

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
}

/// `--attribute KEY=VALUE`.
fn parse_attribute(text: &str) -> Result<(String, String), String> {
    edit::parse_attribute(text).map_err(|error| match error {
        model::Error::Invalid { why, .. } => why,
        other => other.to_string(),
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
        AssetCommand::Dataset(DatasetCommand::Add(add)) => update(registry, &add.asset, |r| {
            edit::add_dataset(r, &add.name, &add.data_source, add.dest)
        })?,
        AssetCommand::EventGroup(EventGroupCommand::Add(add)) => {
            update(registry, &add.asset, |r| {
                edit::add_event_group(r, &add.name, add.data_source.as_deref(), add.dest)
            })?;
        }
        AssetCommand::Event(EventCommand::Add(add)) => update(registry, &add.asset, |r| {
            edit::add_event(r, &add.event_group, &add.name, &add.data_source, add.dest)
        })?,
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
