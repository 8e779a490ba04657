//! From what the runtime observes to a [`StatusReport`](crate::StatusReport), as a pure function (times are
//! filled in afterwards by [`crate::stamps`]).
//!
//! Where each failure lands (DESIGN 3.7, AIO's two channels):
//! - **configuration status** (`error`): what only a change of the definition, a secret or a
//!   trust list fixes (`config_errors.rs`); a destination this connector does not have, or
//!   dead letters, on the operation.
//! - **runtime health**: every stream's state, on the endpoint and the operations reading it
//!   (`health.rs`); deliveries being retried make an operation `Unavailable`
//!   (`SseConnectorDeliveryError`), a payload that cannot get a schema `Degraded`
//!   (`SseConnectorSchemaGenerationFailure`). An asset's health is aggregated from its parts.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use model::plan::{Operation, OperationId};
use model::resource::{Body, Kind};
use registry::Snapshot;
use supervisor::{OperationDeliveries, OperationSchemas, StatsSnapshot, StreamState, Unsupported};
use url::Url;

use crate::aio::{ConfigError, HealthStatus, MessageSchemaReference, RuntimeHealth, reason};
use crate::config_errors::{config_status, is_endpoint_wide, stream_error};
use crate::health::{CONNECTING, aggregate, endpoint_health, health, state_health};
use crate::report::{
    AssetConfigStatus, AssetHealth, AssetStatus, DatasetHealth, DeviceConfigStatus, DeviceHealth,
    DeviceStatus, EndpointStatus, EndpointStatuses, EventGroupStatus, EventHealth, OperationStatus,
    ProblemEntry, StreamStatus,
};

/// One stream as the supervisor shows it.
#[derive(Debug, Clone)]
pub struct StreamObservation {
    /// The URL.
    pub url: Url,
    /// The operations reading it.
    pub operations: Vec<OperationId>,
    /// Its state.
    pub state: StreamState,
    /// Its counters.
    pub stats: StatsSnapshot,
    /// The message schema of each of its operations.
    pub schemas: OperationSchemas,
    /// The delivery problems of its operations (retries, dead letters).
    pub deliveries: OperationDeliveries,
}

/// Everything a report is made of.
#[derive(Debug, Clone, Copy)]
pub struct Observed<'a> {
    /// The registry's snapshot in force (plan, problems, accepted resources).
    pub snapshot: &'a Snapshot,
    /// Every running stream.
    pub streams: &'a [StreamObservation],
    /// Operations whose destination is not available here.
    pub unsupported: &'a BTreeMap<OperationId, Unsupported>,
    /// The secrets directory (secret names are shown relative to it).
    pub secrets_dir: &'a Path,
}

/// What [`assemble`] makes: devices, assets, streams and problems, without times.
#[derive(Debug, Clone, Default)]
pub struct Parts {
    /// Devices.
    pub devices: Vec<DeviceStatus>,
    /// Assets.
    pub assets: Vec<AssetStatus>,
    /// Streams.
    pub streams: Vec<StreamStatus>,
    /// Problems.
    pub problems: Vec<ProblemEntry>,
}

/// Builds the status of everything in `observed`. Times are left empty.
pub fn assemble(observed: &Observed<'_>) -> Parts {
    let by_operation: BTreeMap<&OperationId, &StreamObservation> = observed
        .streams
        .iter()
        .flat_map(|s| s.operations.iter().map(move |id| (id, s)))
        .collect();
    let context = Context {
        observed,
        by_operation,
    };
    Parts {
        devices: context.devices(),
        assets: context.assets(),
        streams: observed.streams.iter().map(stream_status).collect(),
        problems: observed
            .snapshot
            .problems
            .iter()
            .map(|p| ProblemEntry {
                file: p.file.display().to_string(),
                resource: p.resource.clone(),
                path: p.path.as_str().to_owned(),
                message: p.message.clone(),
                severity: if p.is_error() { "error" } else { "warning" }.to_owned(),
            })
            .collect(),
    }
}

struct Context<'a> {
    observed: &'a Observed<'a>,
    by_operation: BTreeMap<&'a OperationId, &'a StreamObservation>,
}

impl Context<'_> {
    /// Names of the resources of `kind`: accepted ones, and those only problems name.
    fn names(&self, kind: Kind) -> BTreeSet<String> {
        let prefix = format!("{}/", kind.as_str());
        let accepted = self.observed.snapshot.resources.keys();
        accepted
            .filter(|(k, _)| *k == kind)
            .map(|(_, name)| name.clone())
            .chain(
                self.observed
                    .snapshot
                    .problems
                    .iter()
                    .filter_map(|p| p.resource.strip_prefix(&prefix).map(str::to_owned)),
            )
            .collect()
    }

    /// The accepted definition of `kind` `name`.
    fn body(&self, kind: Kind, name: &str) -> Option<&Body> {
        self.observed
            .snapshot
            .resources
            .get(&(kind, name.to_owned()))
            .map(|l| &l.resource.body)
    }

    fn operations(&self) -> impl Iterator<Item = &Operation> {
        self.observed.snapshot.plan.operations.values()
    }

    fn devices(&self) -> Vec<DeviceStatus> {
        self.names(Kind::Device)
            .into_iter()
            .map(|name| self.device(name))
            .collect()
    }

    fn device(&self, name: String) -> DeviceStatus {
        let device = match self.body(Kind::Device, &name) {
            Some(Body::Device(device)) => Some(device.as_ref()),
            _ => None,
        };
        let version = device.and_then(|d| d.version);
        let endpoint_names: Vec<String> = device
            .and_then(|d| d.endpoints.as_ref())
            .and_then(|e| e.inbound.as_ref())
            .map(|inbound| inbound.keys().cloned().collect())
            .unwrap_or_default();
        let mut inbound = BTreeMap::new();
        let mut health = BTreeMap::new();
        for endpoint in endpoint_names {
            let streams: Vec<(&Operation, &StreamObservation)> = self
                .operations()
                .filter(|op| op.device.name == name && op.device.endpoint == endpoint)
                .filter_map(|op| self.by_operation.get(&op.id).map(|s| (op, *s)))
                .collect();
            let error = streams.iter().find_map(|(op, stream)| match &stream.state {
                StreamState::Failed { reason, code } if is_endpoint_wide(code) => {
                    Some(stream_error(code, reason, op, self.observed.secrets_dir))
                }
                _ => None,
            });
            inbound.insert(endpoint.clone(), EndpointStatus { error });
            health.insert(endpoint, endpoint_health(&streams, version));
        }
        DeviceStatus {
            status: DeviceConfigStatus {
                config: config_status(version, self.problems_of(Kind::Device, &name)),
                endpoints: EndpointStatuses { inbound },
            },
            health: DeviceHealth { endpoints: health },
            version,
            name,
        }
    }

    fn assets(&self) -> Vec<AssetStatus> {
        self.names(Kind::Asset)
            .into_iter()
            .map(|name| self.asset(name))
            .collect()
    }

    fn asset(&self, name: String) -> AssetStatus {
        let asset = match self.body(Kind::Asset, &name) {
            Some(Body::Asset(asset)) => Some(asset.as_ref()),
            _ => None,
        };
        let version = asset.and_then(|a| a.version);
        let mut datasets = Vec::new();
        let mut dataset_health = Vec::new();
        for dataset in asset
            .and_then(|a| a.datasets.as_deref())
            .unwrap_or_default()
        {
            let id = OperationId::Dataset {
                asset: name.clone(),
                dataset: dataset.name.clone(),
            };
            let (status, health) = self.operation(&id, version);
            datasets.push(status);
            dataset_health.push(DatasetHealth {
                dataset_name: dataset.name.clone(),
                runtime_health: health,
            });
        }
        let mut event_groups = Vec::new();
        let mut event_health = Vec::new();
        for group in asset
            .and_then(|a| a.event_groups.as_deref())
            .unwrap_or_default()
        {
            let mut events = Vec::new();
            for event in group.events.as_deref().unwrap_or_default() {
                let id = OperationId::Event {
                    asset: name.clone(),
                    group: group.name.clone(),
                    event: event.name.clone(),
                };
                let (status, health) = self.operation(&id, version);
                events.push(status);
                event_health.push(EventHealth {
                    event_group_name: group.name.clone(),
                    event_name: event.name.clone(),
                    runtime_health: health,
                });
            }
            event_groups.push(EventGroupStatus {
                name: group.name.clone(),
                events,
            });
        }
        let parts = dataset_health
            .iter()
            .map(|d| d.runtime_health.status)
            .chain(event_health.iter().map(|e| e.runtime_health.status));
        AssetStatus {
            device: asset.map(|a| a.device_ref.device_name.clone()),
            endpoint: asset.map(|a| a.device_ref.endpoint_name.clone()),
            version,
            status: AssetConfigStatus {
                config: config_status(version, self.problems_of(Kind::Asset, &name)),
                datasets,
                event_groups,
            },
            health: AssetHealth {
                status: aggregate(parts),
                last_update_time: String::new(),
                datasets: dataset_health,
                events: event_health,
            },
            name,
        }
    }

    /// The status and health of one dataset or event.
    fn operation(
        &self,
        id: &OperationId,
        version: Option<u64>,
    ) -> (OperationStatus, RuntimeHealth) {
        let name = match id {
            OperationId::Dataset { dataset, .. } => dataset.clone(),
            OperationId::Event { event, .. } => event.clone(),
        };
        let operation = self.observed.snapshot.plan.operations.get(id);
        let stream = self.by_operation.get(id);
        let schema = stream.and_then(|s| s.schemas.get(id));
        let delivery = stream.and_then(|s| s.deliveries.get(id));
        let unsupported = self.observed.unsupported.get(id);
        let error = match (operation, stream, unsupported) {
            (_, _, Some(u)) => Some(ConfigError::new(
                "destination_unavailable",
                format!("the {} destination is not available: {}", u.sink, u.reason),
            )),
            (Some(op), Some(stream), None) => match &stream.state {
                StreamState::Failed { reason, code } => {
                    Some(stream_error(code, reason, op, self.observed.secrets_dir))
                }
                _ => delivery.and_then(|d| d.dead_letters.as_ref()).map(|dead| {
                    ConfigError::new(
                        "destination_refused",
                        format!(
                            "{} can never take {} event(s) (last: {}); they are in {} under the state directory",
                            dead.destination,
                            dead.count,
                            dead.reason,
                            dead.file.display()
                        ),
                    )
                })
                .or_else(|| {
                    delivery
                        .and_then(|d| d.transform_load.as_ref())
                        .map(|load| ConfigError::new(load.code, transform_not_loaded(load)))
                }),
            },
            _ => None,
        };
        let health = match (operation, stream, unsupported) {
            (None, _, _) => health(
                HealthStatus::Unknown,
                None,
                Some("not running: the asset is disabled or its definition is not in force".into()),
                version,
            ),
            (_, _, Some(u)) => health(
                HealthStatus::Unavailable,
                None,
                Some(format!(
                    "the {} destination is not available: {}",
                    u.sink, u.reason
                )),
                version,
            ),
            (Some(_), None, None) => health(
                HealthStatus::Unknown,
                None,
                Some(CONNECTING.into()),
                version,
            ),
            (Some(_), Some(stream), None) => {
                let mut h = state_health(&stream.state, version);
                if let Some(retrying) = delivery.and_then(|d| d.retrying.as_ref())
                    && !stream.state.is_terminal()
                {
                    h = health(
                        HealthStatus::Unavailable,
                        Some(reason::DELIVERY_ERROR),
                        Some(format!(
                            "delivery attempt {} failed, retrying after {} s; the stream waits until it succeeds: {}",
                            retrying.attempt,
                            retrying.delay.as_secs(),
                            retrying.reason
                        )),
                        version,
                    );
                } else if h.status == HealthStatus::Available
                    && let Some(failure) = delivery.and_then(|d| d.transform.as_ref())
                {
                    h = health(
                        HealthStatus::Degraded,
                        Some(reason::TRANSFORM_ERROR),
                        Some(format!(
                            "the transform failed for {} event(s) ({}); last: {}",
                            failure.count, failure.code, failure.reason
                        )),
                        version,
                    );
                } else if h.status == HealthStatus::Available
                    && let Some(load) = delivery.and_then(|d| d.transform_load.as_ref())
                {
                    h = health(
                        HealthStatus::Degraded,
                        Some(reason::TRANSFORM_ERROR),
                        Some(transform_not_loaded(load)),
                        version,
                    );
                } else if h.status == HealthStatus::Available
                    && let Some(failure) =
                        schema.and_then(|s| s.failure.as_ref().or(s.registration_error.as_ref()))
                {
                    h = health(
                        HealthStatus::Degraded,
                        Some(reason::SCHEMA_GENERATION_FAILURE),
                        Some(format!(
                            "failed to create the message schema: {}",
                            failure.reason
                        )),
                        version,
                    );
                }
                h
            }
        };
        let status = OperationStatus {
            name,
            message_schema_reference: schema.and_then(|s| s.reference.as_ref()).map(|r| {
                MessageSchemaReference {
                    schema_registry_namespace: r.namespace.clone(),
                    schema_name: r.name.clone(),
                    schema_version: r.version.clone(),
                }
            }),
            error,
        };
        (status, health)
    }

    fn problems_of(&self, kind: Kind, name: &str) -> Vec<&model::Problem> {
        let resource = format!("{}/{name}", kind.as_str());
        self.observed
            .snapshot
            .problems
            .iter()
            .filter(|p| p.is_error() && p.resource == resource)
            .collect()
    }
}

fn stream_status(stream: &StreamObservation) -> StreamStatus {
    let (state, reason_code, message) = match &stream.state {
        StreamState::Connecting => ("connecting", None, None),
        StreamState::Connected => ("connected", None, None),
        StreamState::Backoff { reason, code, .. } => ("backoff", Some(*code), Some(reason.clone())),
        StreamState::Failed { reason, code } => ("failed", Some(*code), Some(reason.clone())),
        StreamState::Closed { reason } => {
            ("closed", Some("closed_by_server"), Some(reason.clone()))
        }
    };
    let s = &stream.stats;
    StreamStatus {
        url: stream.url.to_string(),
        state: state.to_owned(),
        reason_code: reason_code.map(str::to_owned),
        message,
        operations: stream.operations.iter().map(ToString::to_string).collect(),
        events: s.events,
        delivered: s.delivered,
        delivery_failures: s.delivery_failures,
        reconnects: s.reconnects,
        dropped: s.unmatched + s.unsupported + s.too_large,
    }
}

/// The message of a transform that cannot be loaded.
fn transform_not_loaded(load: &supervisor::TransformLoadFailure) -> String {
    let meanwhile = if load.last_good_runs {
        "the last good transform keeps running"
    } else {
        "its events follow onError"
    };
    format!(
        "the transform cannot be loaded ({}): {}; {meanwhile} until a file or the definition changes",
        load.code, load.reason
    )
}
