//! `list`, `show` and `delete`, the same for `device` and `asset`.
//!
//! `list` reads every definition on disk, valid or not, and says in its STATUS column which
//! ones `validate` rejects; `show` prints one definition as it would be written back (the
//! fields the connector does not act on included, secret *names* only, never their values).

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use model::{Body, Kind, Located, Resource};
use registry::Snapshot;

use crate::commands::registry_args::{RegistryArgs, failed, print, report_written};
use crate::table::Table;

/// `--output` of `list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    /// A table: NAME, …, ENABLED, STATUS, FILE
    Table,
    /// A JSON array of the definitions (itself a valid registry file)
    Json,
    /// The definitions as YAML documents separated by `---` (itself a valid registry file)
    Yaml,
}

/// `--output` of `show`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ShowFormat {
    /// YAML, as the registry writes it
    Yaml,
    /// Pretty-printed JSON
    Json,
}

/// Options of `list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Output format
    #[arg(short, long, value_enum, default_value_t = ListFormat::Table)]
    pub output: ListFormat,
}

/// Options of `show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Its name
    pub name: String,

    /// Output format
    #[arg(short, long, value_enum, default_value_t = ShowFormat::Yaml)]
    pub output: ShowFormat,
}

/// Options of `delete`.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// Its name
    pub name: String,
}

/// The columns a kind adds between NAME and ENABLED, and how to fill them.
pub struct Columns {
    /// Their headers.
    pub header: &'static [&'static str],
    /// Their cells for one resource.
    pub cells: fn(&Resource) -> Vec<String>,
}

/// `device list`, `asset list`.
///
/// # Errors
/// When the registry cannot be read or the output cannot be written.
pub fn list(
    registry: &RegistryArgs,
    kind: Kind,
    format: ListFormat,
    columns: &Columns,
) -> anyhow::Result<()> {
    let reg = registry.open()?;
    let mut found: Vec<Located> = reg
        .definitions()
        .map_err(failed)?
        .into_iter()
        .filter(|l| l.resource.kind() == kind)
        .collect();
    found.sort_by(|a, b| (&a.resource.name, &a.file).cmp(&(&b.resource.name, &b.file)));
    let snapshot = reg.snapshot();
    match format {
        ListFormat::Table if found.is_empty() => {
            eprintln!(
                "no {} in {}",
                plural(kind),
                reg.paths().definitions.display()
            );
        }
        ListFormat::Table => {
            let header: Vec<&str> = std::iter::once("NAME")
                .chain(columns.header.iter().copied())
                .chain(["ENABLED", "STATUS", "FILE"])
                .collect();
            let mut table = Table::new(&header);
            for located in &found {
                let mut row = vec![located.resource.name.clone()];
                row.extend((columns.cells)(&located.resource));
                row.push(enabled(&located.resource).to_string());
                row.push(status(&snapshot, located));
                row.push(located.file.display().to_string());
                table.row(row);
            }
            print(&table.render())?;
        }
        ListFormat::Json => {
            let resources: Vec<&Resource> = found.iter().map(|l| &l.resource).collect();
            print(&(serde_json::to_string_pretty(&resources)? + "\n"))?;
        }
        ListFormat::Yaml => {
            let mut out = String::new();
            for located in &found {
                out.push_str("---\n");
                out.push_str(yaml(&located.resource)?.trim_start_matches("---\n"));
            }
            print(&out)?;
        }
    }
    let errors = snapshot.errors().count();
    if errors > 0 {
        eprintln!(
            "note: the registry has {errors} error{}; run `sse-connector validate` for the list",
            if errors == 1 { "" } else { "s" }
        );
    }
    Ok(())
}

/// `device show NAME`, `asset show NAME`.
///
/// # Errors
/// When there is no such resource, or the registry cannot be read.
pub fn show(registry: &RegistryArgs, kind: Kind, args: &ShowArgs) -> anyhow::Result<()> {
    let reg = registry.open()?;
    let located = reg
        .find(kind, &args.name)
        .map_err(failed)?
        .ok_or_else(|| not_found(kind, &args.name))?;
    let text = match args.output {
        ShowFormat::Yaml => yaml(&located.resource)?,
        ShowFormat::Json => serde_json::to_string_pretty(&located.resource)? + "\n",
    };
    print(&text)
}

/// `device delete NAME`, `asset delete NAME`: removes the resource's file. Refused while
/// other resources refer to it (a device with assets) or when its file holds others too.
///
/// # Errors
/// When there is no such resource, the deletion is refused, or the file cannot be removed.
pub fn delete(registry: &RegistryArgs, kind: Kind, args: &DeleteArgs) -> anyhow::Result<()> {
    let mut reg = registry.open()?;
    let written = reg.delete(kind, &args.name).map_err(failed)?;
    report_written("deleted", &written)
}

/// The error for a resource that is not in the registry.
pub fn not_found(kind: Kind, name: &str) -> anyhow::Error {
    model::Error::NotFound {
        owner: "registry".into(),
        what: word(kind),
        name: name.to_owned(),
    }
    .into()
}

/// A resource as YAML, the way the registry writes it.
fn yaml(resource: &Resource) -> anyhow::Result<String> {
    let located = Located {
        file: PathBuf::from("resource.yaml"),
        document: 1,
        resource: resource.clone(),
    };
    registry::write::render(&located).map_err(failed)
}

/// `enabled`, which defaults to true.
fn enabled(resource: &Resource) -> bool {
    match &resource.body {
        Body::Device(d) => d.enabled,
        Body::Asset(a) => a.enabled,
    }
    .unwrap_or(true)
}

/// `valid`, or how many errors `validate` reports on this resource in this file.
fn status(snapshot: &Snapshot, located: &Located) -> String {
    let label = located.resource.label();
    let errors = snapshot
        .errors()
        .filter(|p| p.resource == label && p.file == located.file)
        .count();
    match errors {
        0 => "valid".to_owned(),
        1 => "1 error".to_owned(),
        n => format!("{n} errors"),
    }
}

fn word(kind: Kind) -> &'static str {
    match kind {
        Kind::Device => "device",
        Kind::Asset => "asset",
    }
}

fn plural(kind: Kind) -> &'static str {
    match kind {
        Kind::Device => "devices",
        Kind::Asset => "assets",
    }
}
