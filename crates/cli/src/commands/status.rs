//! `sse-connector status`: what works and what does not, from the status files a running
//! connector keeps under its state directory (`STATE_DIR/status/status.json`, see
//! `status::files`).
//!
//! Output: a summary of the connector (broker, registry, where the state store and the schema
//! registry run), then one row per device endpoint,
//! asset, dataset and event with its health, since when, and what is wrong (configuration
//! errors first, then the health's reason), then the streams and the problems in the
//! definitions. `--json` prints the whole report as `GET /api/v1/status` returns it.
//!
//! Exit status: 0 when the status was read; 1 when there is no status file (the connector
//! never ran with this state directory) or it cannot be read.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use clap::Args;
use status::report::{AssetStatus, DeviceStatus, ServiceStatus};
use status::{ConfigError, RuntimeHealth, StatusReport};

use crate::commands::state_dir::StateDirArgs;
use crate::output;
use crate::table::Table;

/// A status file older than this is from a connector that is probably not running (a
/// running one rewrites it at least every `status::files::REWRITE_INTERVAL`).
const STALE_AFTER: Duration = Duration::from_secs(90);

/// Arguments of `status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    state_dir: StateDirArgs,

    /// Print the whole report as JSON (the document of `GET /api/v1/status`)
    #[arg(long)]
    json: bool,
}

/// Prints the status.
///
/// # Errors
/// When the status file is missing or unreadable, or standard output is closed.
pub fn run(args: &StatusArgs) -> anyhow::Result<ExitCode> {
    let state_dir = args.state_dir.resolve()?;
    let report = status::files::read(&state_dir).with_context(|| {
        format!(
            "no status in {}: is a connector running with this state directory (--state-dir)?",
            state_dir.display()
        )
    })?;
    let age = std::fs::metadata(status::files::report_path(&state_dir))
        .and_then(|m| m.modified())
        .ok()
        .and_then(|at| SystemTime::now().duration_since(at).ok());
    let text = if args.json {
        let mut text = serde_json::to_string_pretty(&report)?;
        text.push('\n');
        text
    } else {
        render(&report, age)
    };
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(error) if !output::is_broken_pipe(&error) => Err(error.into()),
        _ => Ok(ExitCode::SUCCESS),
    }
}

/// The report for people.
fn render(report: &StatusReport, age: Option<Duration>) -> String {
    let c = &report.connector;
    let mut out = format!(
        "connector {} {} (started {}), status of {}\n",
        c.instance, c.version, c.started_at, c.generated_at
    );
    if let Some(age) = age.filter(|a| *a > STALE_AFTER) {
        out.push_str(&format!(
            "warning: the status was last written {} s ago: the connector is probably not running\n",
            age.as_secs()
        ));
    }
    out.push_str(&format!(
        "broker   {} ({})\nregistry {}: {} files, {} errors, {} warnings\n",
        c.broker.url,
        if c.broker.connected {
            "connected"
        } else {
            "not connected"
        },
        c.registry.directory,
        c.registry.files,
        c.registry.errors,
        c.registry.warnings,
    ));
    if let Some(services) = &c.services {
        let service = |s: &ServiceStatus| format!("{} ({})", s.mode, s.reason);
        out.push_str(&format!(
            "services state store {}, schema registry {}\n",
            service(&services.state_store),
            service(&services.schema_registry),
        ));
    }
    out.push('\n');
    let mut table = Table::new(&["RESOURCE", "HEALTH", "SINCE", "DETAIL"]);
    for device in &report.devices {
        device_rows(&mut table, device);
    }
    for asset in &report.assets {
        asset_rows(&mut table, asset);
    }
    out.push_str(&table.render());
    if !report.streams.is_empty() {
        let mut streams = Table::new(&[
            "STREAM",
            "STATE",
            "EVENTS",
            "DELIVERED",
            "FAILED",
            "RECONNECTS",
            "DETAIL",
        ]);
        for s in &report.streams {
            streams.row(vec![
                s.url.clone(),
                s.state.clone(),
                s.events.to_string(),
                s.delivered.to_string(),
                s.delivery_failures.to_string(),
                s.reconnects.to_string(),
                s.message.clone().unwrap_or_default(),
            ]);
        }
        out.push('\n');
        out.push_str(&streams.render());
    }
    if !report.problems.is_empty() {
        out.push_str("\nproblems in the definitions:\n");
        for p in &report.problems {
            out.push_str(&format!(
                "  {}: {}: {}: {}: {}\n",
                p.severity, p.file, p.resource, p.path, p.message
            ));
        }
    }
    out
}

fn device_rows(table: &mut Table, device: &DeviceStatus) {
    let name = format!("device/{}", device.name);
    table.row(vec![
        name.clone(),
        "-".to_owned(),
        device.status.config.last_transition_time.clone(),
        error_text(device.status.config.error.as_ref()),
    ]);
    for (endpoint, health) in &device.health.endpoints {
        let error = device
            .status
            .endpoints
            .inbound
            .get(endpoint)
            .and_then(|e| e.error.as_ref());
        table.row(health_row(
            format!("{name}/endpoints/{endpoint}"),
            health,
            error,
            None,
        ));
    }
}

fn asset_rows(table: &mut Table, asset: &AssetStatus) {
    let name = format!("asset/{}", asset.name);
    table.row(vec![
        name.clone(),
        asset.health.status.as_str().to_owned(),
        asset.status.config.last_transition_time.clone(),
        error_text(asset.status.config.error.as_ref()),
    ]);
    for d in &asset.health.datasets {
        let status = asset.dataset(&d.dataset_name);
        table.row(health_row(
            format!("{name}/datasets/{}", d.dataset_name),
            &d.runtime_health,
            status.and_then(|s| s.error.as_ref()),
            status.and_then(|s| s.message_schema_reference.as_ref()),
        ));
    }
    for e in &asset.health.events {
        let status = asset.event(&e.event_group_name, &e.event_name);
        table.row(health_row(
            format!(
                "{name}/eventGroups/{}/events/{}",
                e.event_group_name, e.event_name
            ),
            &e.runtime_health,
            status.and_then(|s| s.error.as_ref()),
            status.and_then(|s| s.message_schema_reference.as_ref()),
        ));
    }
}

fn health_row(
    name: String,
    health: &RuntimeHealth,
    error: Option<&ConfigError>,
    schema: Option<&status::MessageSchemaReference>,
) -> Vec<String> {
    let detail = if error.is_some() {
        error_text(error)
    } else if let Some(message) = &health.message {
        match &health.reason_code {
            Some(code) => format!("{code}: {message}"),
            None => message.clone(),
        }
    } else if let Some(schema) = schema {
        format!(
            "schema aio-sr://{}/{}:{}",
            schema.schema_registry_namespace, schema.schema_name, schema.schema_version
        )
    } else {
        String::new()
    };
    vec![
        name,
        health.status.as_str().to_owned(),
        health.last_transition_time.clone(),
        detail,
    ]
}

fn error_text(error: Option<&ConfigError>) -> String {
    error.map_or_else(String::new, |e| {
        format!(
            "error {}: {}",
            e.code.as_deref().unwrap_or("-"),
            e.message.as_deref().unwrap_or("")
        )
    })
}
