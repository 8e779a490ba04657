//! Checks of an asset: device reference, datasets, event groups and events, destinations,
//! configuration strings; resolution into data operations.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::{
    ConfigKeys, DATASET_KEYS, EVENT_KEYS, NO_KEYS, Report, ResolvedDevice, ResolvedEndpoint,
    check_json,
};
use crate::asset::Asset;
use crate::destination::{self, Destination, Use};
use crate::endpoint;
use crate::plan::{
    AssetIdentity, DataPointRule, DeviceIdentity, Match, Operation, OperationId, StreamSpec,
};
use crate::pointer;
use crate::problem::FieldPath;

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
///
/// An asset on an endpoint of another type than SSE belongs to another connector: it is
/// skipped with a warning, without checking the rest (its data sources mean something else
/// there), and yields no operation.
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
            if let Some(endpoint_type) = d.other_endpoints.get(&asset.device_ref.endpoint_name) {
                report.warn(
                    refp.key("endpointName"),
                    format!(
                        "endpoint {:?} of device {:?} has type {endpoint_type:?}, which this \
                         connector does not serve (it serves {}); the asset is skipped",
                        asset.device_ref.endpoint_name,
                        asset.device_ref.device_name,
                        endpoint::SSE_ENDPOINT_TYPE
                    ),
                );
                return Vec::new();
            }
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
    for (value, key, keys) in [
        (
            &asset.default_datasets_configuration,
            "defaultDatasetsConfiguration",
            DATASET_KEYS,
        ),
        (
            &asset.default_events_configuration,
            "defaultEventsConfiguration",
            NO_KEYS,
        ),
        (
            &asset.default_streams_configuration,
            "defaultStreamsConfiguration",
            ConfigKeys::Kept,
        ),
        (
            &asset.default_management_groups_configuration,
            "defaultManagementGroupsConfiguration",
            ConfigKeys::Kept,
        ),
    ] {
        check_json(value, &at.key(key), keys, report);
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
            DATASET_KEYS,
            report,
        );
        let config =
            config.or_else(|| default_dataset_config.and_then(|s| serde_json::from_str(s).ok()));
        let matching = event_types(config.as_ref(), &p.key("datasetConfiguration"), report);
        let transform = transform(config.as_ref(), &p.key("datasetConfiguration"), report);
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
                NO_KEYS,
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
        if let Some(mut op) = ctx.operation(
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
            op.data_source = source.trim().to_owned();
            op.type_ref = non_empty(ds.type_ref.as_deref());
            op.transform = transform;
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
            NO_KEYS,
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
            let config = check_json(
                &ev.event_configuration,
                &p.key("eventConfiguration"),
                EVENT_KEYS,
                report,
            );
            let transform = transform(config.as_ref(), &p.key("eventConfiguration"), report);
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
            if let Some(mut op) = ctx.operation(
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
                op.data_source = ds.to_owned();
                op.type_ref = non_empty(ev.type_ref.as_deref());
                op.transform = transform;
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
            ConfigKeys::Kept,
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
            ConfigKeys::Kept,
            report,
        );
        for (j, a) in g.actions.iter().flatten().enumerate() {
            check_json(
                &a.action_configuration,
                &p.key("actions").index(j).key("actionConfiguration"),
                ConfigKeys::Kept,
                report,
            );
        }
    }
}

/// A `typeRef` that says something: trimmed, `None` when absent or blank.
fn non_empty(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// `{"transform": {...}}` runs the operation's events through a graph of WebAssembly
/// operators ([`crate::transform`]); the graph file itself is checked where it can be read.
fn transform(
    config: Option<&Value>,
    path: &FieldPath,
    report: &mut Report<'_>,
) -> Option<crate::transform::TransformSpec> {
    let value = config.and_then(|c| c.get("transform"))?;
    match crate::transform::parse_spec(value) {
        Ok(spec) => Some(spec),
        Err(why) => {
            report.error(path.clone(), why);
            None
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
            data_source: String::new(),
            type_ref: None,
            transform: None,
        })
    }
}
