//! Pure validation of one device or one asset, with field paths, resolving what is valid into
//! endpoints and data operations (DESIGN 3.1–3.4).
//!
//! Each check reports into a [`Report`]; a resource is accepted when its report holds no
//! error. [`crate::build`] decides what happens to resources that are not accepted.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

use crate::asset::Asset;
use crate::destination::{self, Destination, Use};
use crate::device::{Device, InboundEndpoint, Method};
use crate::endpoint;
use crate::environment::{Environment, FileRef, LookupError, safe_relative_path};
use crate::plan::{
    AssetIdentity, Credentials, DataPointRule, DeviceIdentity, Match, Operation, OperationId,
    StreamSpec,
};
use crate::pointer;
use crate::problem::{FieldPath, Problem};
use crate::resource::Resource;

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
    /// Inbound endpoints by name.
    pub endpoints: BTreeMap<String, ResolvedEndpoint>,
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

/// Validates a device and resolves its endpoints.
pub fn check_device(
    device: &Device,
    at: &FieldPath,
    env: &dyn Environment,
    report: &mut Report<'_>,
) -> ResolvedDevice {
    let mut endpoints = BTreeMap::new();
    let inbound_path = at.key("endpoints").key("inbound");
    let inbound = device.endpoints.as_ref().and_then(|e| e.inbound.as_ref());
    for (name, ep) in inbound.into_iter().flatten() {
        if let Some(resolved) = check_endpoint(ep, &inbound_path.key(name), env, report) {
            endpoints.insert(name.clone(), resolved);
        }
    }
    ResolvedDevice {
        enabled: device.is_enabled(),
        uuid: device.uuid.clone(),
        external_id: device.external_device_id.clone(),
        version: device.version,
        endpoints,
    }
}

fn check_endpoint(
    ep: &InboundEndpoint,
    at: &FieldPath,
    env: &dyn Environment,
    report: &mut Report<'_>,
) -> Option<ResolvedEndpoint> {
    let before = report.problems.len();
    if !endpoint::is_sse(&ep.endpoint_type) {
        report.error(
            at.key("endpointType"),
            format!(
                "{:?} is not an SSE endpoint type; use {}",
                ep.endpoint_type,
                endpoint::SSE_ENDPOINT_TYPE
            ),
        );
    }
    let https = match endpoint::parse_address(&ep.address) {
        Ok(url) => url.scheme() == "https",
        Err(why) => {
            report.error(at.key("address"), why);
            true
        }
    };
    check_json(
        &ep.additional_configuration,
        &at.key("additionalConfiguration"),
        report,
    );

    let auth_path = at.key("authentication");
    let method = ep
        .authentication
        .as_ref()
        .map(|a| a.method)
        .unwrap_or_default();
    let secret = |name: &str, path: FieldPath, report: &mut Report<'_>| {
        let found = safe_relative_path(name)
            .map_err(LookupError::InvalidName)
            .and_then(|_| env.secret(name));
        match found {
            Ok(file) => Some(file),
            Err(e) => {
                report.error(path, format!("secret {name:?}: {e}"));
                None
            }
        }
    };
    let credentials = match (method, ep.authentication.as_ref()) {
        (Method::Anonymous, _) | (_, None) => Some(Credentials::Anonymous),
        (Method::UsernamePassword, Some(auth)) => {
            let p = auth_path.key("usernamePasswordCredentials");
            match &auth.username_password_credentials {
                None => {
                    report.error(p, "required with method UsernamePassword");
                    None
                }
                Some(c) => {
                    if !https {
                        report.warn(
                            at.key("address"),
                            "a password is sent over plain http; use https",
                        );
                    }
                    let username =
                        secret(&c.username_secret_name, p.key("usernameSecretName"), report);
                    let password =
                        secret(&c.password_secret_name, p.key("passwordSecretName"), report);
                    Some(Credentials::UsernamePassword {
                        username: username?,
                        password: password?,
                    })
                }
            }
        }
        (Method::Certificate, Some(auth)) => {
            let p = auth_path.key("x509Credentials");
            if !https {
                report.error(
                    at.key("address"),
                    "a client certificate needs an https address",
                );
            }
            let c = auth.x509_credentials.clone().unwrap_or_default();
            let certificate = match &c.certificate_secret_name {
                None => {
                    report.error(
                        p.key("certificateSecretName"),
                        "required with method Certificate",
                    );
                    None
                }
                Some(name) => secret(name, p.key("certificateSecretName"), report),
            };
            let mut optional = |name: &Option<String>, key: &str| match name {
                None => Ok(None),
                Some(n) => secret(n, p.key(key), report).map(Some).ok_or(()),
            };
            let key = optional(&c.key_secret_name, "keySecretName");
            let intermediates = optional(
                &c.intermediate_certificates_secret_name,
                "intermediateCertificatesSecretName",
            );
            match (certificate, key, intermediates) {
                (Some(certificate), Ok(key), Ok(intermediates)) => Some(Credentials::Certificate {
                    certificate,
                    key,
                    intermediates,
                }),
                _ => None,
            }
        }
    };
    let mut trust = Vec::new();
    if let Some(list) = ep
        .trust_settings
        .as_ref()
        .and_then(|t| t.trust_list.as_ref())
    {
        let p = at.key("trustSettings").key("trustList");
        match safe_relative_path(list).map_err(LookupError::InvalidName) {
            Err(e) => report.error(p, format!("trust list {list:?}: {e}")),
            Ok(_) => match env.trust_list(list) {
                Ok(files) => trust = files,
                Err(e) => report.error(p, format!("trust list {list:?}: {e}")),
            },
        }
    }
    let failed = report.problems[before..].iter().any(Problem::is_error);
    match credentials {
        Some(credentials) if !failed => Some(ResolvedEndpoint {
            address: ep.address.clone(),
            credentials,
            trust,
        }),
        _ => None,
    }
}

/// Checks a `*Configuration` string: absent or blank is fine; otherwise a JSON object.
pub fn check_json(
    value: &Option<String>,
    path: &FieldPath,
    report: &mut Report<'_>,
) -> Option<Value> {
    let text = value.as_deref().filter(|s| !s.trim().is_empty())?;
    match serde_json::from_str::<Value>(text) {
        Ok(v @ Value::Object(_)) => Some(v),
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

/// Reports names that are empty or repeated in a list.
fn check_names<'n>(
    names: impl Iterator<Item = &'n str>,
    list: &FieldPath,
    what: &str,
    report: &mut Report<'_>,
) {
    let mut seen = BTreeSet::new();
    for (i, name) in names.enumerate() {
        if name.is_empty() {
            report.error(list.index(i).key("name"), "required");
        } else if !seen.insert(name) {
            report.error(
                list.index(i).key("name"),
                format!("duplicate {what} name {name:?}"),
            );
        }
    }
}

/// Validates every destination of a list (all are checked, the first is used).
fn check_destinations(
    list: &Option<Vec<Destination>>,
    path: &FieldPath,
    usage: Use,
    report: &mut Report<'_>,
) {
    for (i, d) in list.iter().flatten().enumerate() {
        if let Err(problems) = destination::resolve(d, usage, &path.index(i)) {
            for (p, m) in problems {
                report.error(p, m);
            }
        }
    }
}

/// Validates an asset against the accepted devices and resolves its data operations.
pub fn check_asset(
    name: &str,
    asset: &Asset,
    at: &FieldPath,
    devices: &BTreeMap<String, ResolvedDevice>,
    report: &mut Report<'_>,
) -> Vec<Operation> {
    let refp = at.key("deviceRef");
    let device = devices.get(&asset.device_ref.device_name);
    let ep = match device {
        None => {
            report.error(
                refp.key("deviceName"),
                format!(
                    "unknown device {:?} (or the device is not valid)",
                    asset.device_ref.device_name
                ),
            );
            None
        }
        Some(d) => {
            let ep = d.endpoints.get(&asset.device_ref.endpoint_name);
            if ep.is_none() {
                let known: Vec<_> = d.endpoints.keys().map(String::as_str).collect();
                report.error(
                    refp.key("endpointName"),
                    format!(
                        "device {:?} has no valid inbound endpoint {:?} (valid: {})",
                        asset.device_ref.device_name,
                        asset.device_ref.endpoint_name,
                        if known.is_empty() {
                            "none".to_owned()
                        } else {
                            known.join(", ")
                        }
                    ),
                );
            }
            ep
        }
    };
    for (value, key) in [
        (
            &asset.default_datasets_configuration,
            "defaultDatasetsConfiguration",
        ),
        (
            &asset.default_events_configuration,
            "defaultEventsConfiguration",
        ),
        (
            &asset.default_streams_configuration,
            "defaultStreamsConfiguration",
        ),
        (
            &asset.default_management_groups_configuration,
            "defaultManagementGroupsConfiguration",
        ),
    ] {
        check_json(value, &at.key(key), report);
    }
    check_destinations(
        &asset.default_datasets_destinations,
        &at.key("defaultDatasetsDestinations"),
        Use::Dataset,
        report,
    );
    check_destinations(
        &asset.default_events_destinations,
        &at.key("defaultEventsDestinations"),
        Use::Event,
        report,
    );
    check_destinations(
        &asset.default_streams_destinations,
        &at.key("defaultStreamsDestinations"),
        Use::Event,
        report,
    );
    check_kept_parts(asset, at, report);

    let default_dataset_config = asset
        .default_datasets_configuration
        .as_ref()
        .filter(|s| !s.trim().is_empty());
    let ctx = Context {
        asset_name: name,
        asset,
        ep,
        device: device.map(|d| DeviceIdentity {
            name: asset.device_ref.device_name.clone(),
            endpoint: asset.device_ref.endpoint_name.clone(),
            uuid: d.uuid.clone(),
            external_id: d.external_id.clone(),
            version: d.version,
        }),
    };
    let mut ops = Vec::new();
    let datasets = asset.datasets.as_deref().unwrap_or_default();
    check_names(
        datasets.iter().map(|d| d.name.as_str()),
        &at.key("datasets"),
        "dataset",
        report,
    );
    for (i, ds) in datasets.iter().enumerate() {
        let p = at.key("datasets").index(i);
        let config = check_json(
            &ds.dataset_configuration,
            &p.key("datasetConfiguration"),
            report,
        );
        let config =
            config.or_else(|| default_dataset_config.and_then(|s| serde_json::from_str(s).ok()));
        let matching = event_types(config.as_ref(), &p.key("datasetConfiguration"), report);
        let points = ds.data_points.as_deref().unwrap_or_default();
        check_names(
            points.iter().map(|d| d.name.as_str()),
            &p.key("dataPoints"),
            "data point",
            report,
        );
        let mut rules = Vec::new();
        for (j, dp) in points.iter().enumerate() {
            let dpp = p.key("dataPoints").index(j);
            if let Err(why) = pointer::check(&dp.data_source) {
                report.error(dpp.key("dataSource"), why);
            }
            check_json(
                &dp.data_point_configuration,
                &dpp.key("dataPointConfiguration"),
                report,
            );
            rules.push(DataPointRule {
                name: dp.name.clone(),
                pointer: dp.data_source.clone(),
            });
        }
        check_destinations(
            &ds.destinations,
            &p.key("destinations"),
            Use::Dataset,
            report,
        );
        let dest = destination::first([
            (ds.destinations.as_ref(), p.key("destinations")),
            (
                asset.default_datasets_destinations.as_ref(),
                at.key("defaultDatasetsDestinations"),
            ),
        ]);
        let id = OperationId::Dataset {
            asset: name.to_owned(),
            dataset: ds.name.clone(),
        };
        let source = ds.data_source.as_deref().unwrap_or_default();
        if let Some(op) = ctx.operation(
            id,
            source,
            &p.key("dataSource"),
            matching,
            rules,
            dest,
            Use::Dataset,
            &p,
            report,
        ) {
            ops.push(op);
        }
    }

    let groups = asset.event_groups.as_deref().unwrap_or_default();
    check_names(
        groups.iter().map(|g| g.name.as_str()),
        &at.key("eventGroups"),
        "event group",
        report,
    );
    for (i, g) in groups.iter().enumerate() {
        let gp = at.key("eventGroups").index(i);
        check_json(
            &g.event_group_configuration,
            &gp.key("eventGroupConfiguration"),
            report,
        );
        check_destinations(
            &g.default_destinations,
            &gp.key("defaultDestinations"),
            Use::Event,
            report,
        );
        let group_source = g.data_source.as_deref().unwrap_or_default();
        if let Some(ep) = ep
            && let Err(why) = endpoint::stream_url(&ep.address, group_source)
        {
            report.error(gp.key("dataSource"), why);
        }
        let events = g.events.as_deref().unwrap_or_default();
        check_names(
            events.iter().map(|e| e.name.as_str()),
            &gp.key("events"),
            "event",
            report,
        );
        for (j, ev) in events.iter().enumerate() {
            let p = gp.key("events").index(j);
            check_json(
                &ev.event_configuration,
                &p.key("eventConfiguration"),
                report,
            );
            check_destinations(&ev.destinations, &p.key("destinations"), Use::Event, report);
            let ds = ev.data_source.as_deref().map(str::trim).unwrap_or_default();
            let (source, matching) = if ds.is_empty() {
                report.error(
                    p.key("dataSource"),
                    "required: the SSE event type to match (e.g. `message`), or a path starting with `/`",
                );
                continue;
            } else if ds.starts_with('/') || ds.contains("://") {
                (ds, Match::All)
            } else {
                (
                    group_source,
                    Match::EventTypes(BTreeSet::from([ds.to_owned()])),
                )
            };
            let source_path = if matching == Match::All {
                p.key("dataSource")
            } else {
                gp.key("dataSource")
            };
            let dest = destination::first([
                (ev.destinations.as_ref(), p.key("destinations")),
                (
                    g.default_destinations.as_ref(),
                    gp.key("defaultDestinations"),
                ),
                (
                    asset.default_events_destinations.as_ref(),
                    at.key("defaultEventsDestinations"),
                ),
            ]);
            let id = OperationId::Event {
                asset: name.to_owned(),
                group: g.name.clone(),
                event: ev.name.clone(),
            };
            if let Some(op) = ctx.operation(
                id,
                source,
                &source_path,
                matching,
                Vec::new(),
                dest,
                Use::Event,
                &p,
                report,
            ) {
                ops.push(op);
            }
        }
    }
    if report.has_errors() || !asset.is_enabled() || !device.is_some_and(|d| d.enabled) {
        Vec::new()
    } else {
        ops
    }
}

/// Streams and management groups are not acted on; their names and JSON are still checked.
fn check_kept_parts(asset: &Asset, at: &FieldPath, report: &mut Report<'_>) {
    let streams = asset.streams.as_deref().unwrap_or_default();
    check_names(
        streams.iter().map(|s| s.name.as_str()),
        &at.key("streams"),
        "stream",
        report,
    );
    for (i, s) in streams.iter().enumerate() {
        let p = at.key("streams").index(i);
        check_json(
            &s.stream_configuration,
            &p.key("streamConfiguration"),
            report,
        );
        check_destinations(&s.destinations, &p.key("destinations"), Use::Event, report);
    }
    let groups = asset.management_groups.as_deref().unwrap_or_default();
    check_names(
        groups.iter().map(|g| g.name.as_str()),
        &at.key("managementGroups"),
        "management group",
        report,
    );
    for (i, g) in groups.iter().enumerate() {
        let p = at.key("managementGroups").index(i);
        check_json(
            &g.management_group_configuration,
            &p.key("managementGroupConfiguration"),
            report,
        );
        for (j, a) in g.actions.iter().flatten().enumerate() {
            check_json(
                &a.action_configuration,
                &p.key("actions").index(j).key("actionConfiguration"),
                report,
            );
        }
    }
}

/// `{"eventTypes": ["a", "b"]}` narrows a dataset to those SSE event types.
fn event_types(config: Option<&Value>, path: &FieldPath, report: &mut Report<'_>) -> Match {
    let Some(types) = config.and_then(|c| c.get("eventTypes")) else {
        return Match::All;
    };
    match types
        .as_array()
        .map(|a| a.iter().map(Value::as_str).collect::<Option<BTreeSet<_>>>())
    {
        Some(Some(set)) if !set.is_empty() && !set.contains("") => {
            Match::EventTypes(set.into_iter().map(str::to_owned).collect())
        }
        _ => {
            report.error(
                path.clone(),
                "eventTypes must be a non-empty list of event type names",
            );
            Match::All
        }
    }
}

struct Context<'a> {
    asset_name: &'a str,
    asset: &'a Asset,
    ep: Option<&'a ResolvedEndpoint>,
    device: Option<DeviceIdentity>,
}

impl Context<'_> {
    #[allow(clippy::too_many_arguments)]
    fn operation(
        &self,
        id: OperationId,
        source: &str,
        source_path: &FieldPath,
        matching: Match,
        data_points: Vec<DataPointRule>,
        dest: Option<(&Destination, FieldPath)>,
        usage: Use,
        op_path: &FieldPath,
        report: &mut Report<'_>,
    ) -> Option<Operation> {
        let sink = match dest {
            None => {
                let defaults = match usage {
                    Use::Dataset => "destinations, nor defaultDatasetsDestinations on the asset",
                    Use::Event => {
                        "destinations, nor defaultDestinations on its group, nor defaultEventsDestinations on the asset"
                    }
                };
                report.error(
                    op_path.key("destinations"),
                    format!("no destination: set {defaults}"),
                );
                None
            }
            // Problems of the chosen destination were reported with its list.
            Some((d, p)) => destination::resolve(d, usage, &p).ok(),
        };
        let ep = self.ep?;
        let url = match endpoint::stream_url(&ep.address, source) {
            Ok(url) => url,
            Err(why) => {
                report.error(source_path.clone(), why);
                return None;
            }
        };
        Some(Operation {
            id,
            device: self.device.clone()?,
            asset: AssetIdentity {
                name: self.asset_name.to_owned(),
                uuid: self.asset.uuid.clone(),
                external_id: self.asset.external_asset_id.clone(),
                version: self.asset.version,
            },
            stream: StreamSpec {
                url,
                credentials: ep.credentials.clone(),
                trust: ep.trust.clone(),
            },
            matching,
            data_points,
            sink: sink?,
        })
    }
}
