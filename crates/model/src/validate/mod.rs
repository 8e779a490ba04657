//! Pure validation of one device or one asset, with field paths, resolving what is valid into
//! endpoints and data operations (DESIGN 3.1–3.4).
//!
//! Each check reports into a [`Report`]; a resource is accepted when its report holds no
//! error. [`crate::build()`] decides what happens to resources that are not accepted.
//! Devices are checked in `device.rs`, assets in `asset.rs`.

mod asset;
mod device;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::environment::FileRef;
use crate::plan::Credentials;
use crate::problem::{FieldPath, Problem};
use crate::resource::Resource;

pub use asset::check_asset;
pub use device::check_device;

/// Problems of one resource.
#[derive(Debug)]
pub struct Report<'a> {
    file: &'a Path,
    resource: String,
    /// Everything found, errors and warnings.
    pub problems: Vec<Problem>,
}

impl<'a> Report<'a> {
    /// An empty report for `resource` (its `Kind/name`) in `file`.
    pub fn new(file: &'a Path, resource: String) -> Self {
        Self {
            file,
            resource,
            problems: Vec::new(),
        }
    }

    /// Records an error.
    pub fn error(&mut self, path: FieldPath, message: impl Into<String>) {
        let p = Problem::error(self.file, self.resource.clone(), path, message);
        if !self.problems.contains(&p) {
            self.problems.push(p);
        }
    }

    /// Records a warning.
    pub fn warn(&mut self, path: FieldPath, message: impl Into<String>) {
        let p = Problem::warning(self.file, self.resource.clone(), path, message);
        self.problems.push(p);
    }

    /// Whether an error was recorded.
    pub fn has_errors(&self) -> bool {
        self.problems.iter().any(Problem::is_error)
    }
}

/// A validated inbound endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedEndpoint {
    /// The address as written (data sources are joined to it).
    pub address: String,
    /// Credentials by file.
    pub credentials: Credentials,
    /// Trust list files.
    pub trust: Vec<FileRef>,
}

/// A validated device: what assets need from it.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedDevice {
    /// Whether it is enabled.
    pub enabled: bool,
    /// `uuid`.
    pub uuid: Option<String>,
    /// `externalDeviceId`.
    pub external_id: Option<String>,
    /// `version`.
    pub version: Option<u64>,
    /// Inbound SSE endpoints by name.
    pub endpoints: BTreeMap<String, ResolvedEndpoint>,
    /// Inbound endpoints of other types (another connector's), by name: their
    /// `endpointType`. Kept so that an asset using one is told why it does not run here.
    pub other_endpoints: BTreeMap<String, String>,
}

/// Checks the name and unknown fields of any resource.
pub fn check_common(resource: &Resource, report: &mut Report<'_>) {
    if let Err(why) = check_name(&resource.name) {
        report.error(name_path(resource), why);
    }
    for path in resource.unknown_fields() {
        report.warn(path, "unknown field, kept as it is");
    }
}

fn name_path(resource: &Resource) -> FieldPath {
    match resource.envelope {
        crate::resource::Envelope::Kubernetes { .. } => {
            FieldPath::root().key("metadata").key("name")
        }
        crate::resource::Envelope::Arm { .. } => FieldPath::root().key("name"),
    }
}

/// A resource name: a Kubernetes object name (RFC 1123 subdomain: lowercase letters, digits,
/// `-` and `.`, starting and ending alphanumeric, at most 253 characters). Names also become
/// file names of written definitions, so this keeps them safe there too.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a valid name: lowercase letters, digits, '-' and '.', \
             starting and ending with a letter or digit, at most 253 characters"
        ))
    }
}

/// What the connector reads from a `*Configuration` JSON string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigKeys {
    /// The connector acts on these keys; any other key is kept and reported as a warning.
    Acted(&'static [&'static str]),
    /// The part is kept, not acted on (streams, management groups): its keys are not checked.
    Kept,
}

/// Keys of `datasetConfiguration` and `defaultDatasetsConfiguration` (DESIGN 3.2).
pub const DATASET_KEYS: ConfigKeys = ConfigKeys::Acted(&["eventTypes", "transform"]);
/// Keys of `eventConfiguration`.
pub const EVENT_KEYS: ConfigKeys = ConfigKeys::Acted(&["transform"]);
/// Configuration strings of parts the connector acts on but reads no key of (yet):
/// `additionalConfiguration`, `dataPointConfiguration`, `eventGroupConfiguration`,
/// `defaultEventsConfiguration`.
pub const NO_KEYS: ConfigKeys = ConfigKeys::Acted(&[]);

/// Checks a `*Configuration` string: absent or blank is fine; otherwise a JSON object. Keys
/// the connector does not read are warned about (kept as written).
pub fn check_json(
    value: &Option<String>,
    path: &FieldPath,
    keys: ConfigKeys,
    report: &mut Report<'_>,
) -> Option<Value> {
    let text = value.as_deref().filter(|s| !s.trim().is_empty())?;
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => {
            if let ConfigKeys::Acted(known) = keys {
                let reads = if known.is_empty() {
                    "no key here".to_owned()
                } else {
                    known.join(", ")
                };
                for key in map.keys().filter(|k| !known.contains(&k.as_str())) {
                    report.warn(
                        path.clone(),
                        format!("unknown key {key:?}, kept but not acted on (this connector reads {reads})"),
                    );
                }
            }
            Some(Value::Object(map))
        }
        Ok(_) => {
            report.error(path.clone(), "must be a JSON object, e.g. {}");
            None
        }
        Err(e) => {
            report.error(path.clone(), format!("invalid JSON: {e}"));
            None
        }
    }
}
