//! From what the runtime observes to a [`StatusReport`], as a pure function (times are
//! filled in afterwards by [`crate::stamps`]).
//!
//! Where each failure lands (DESIGN 3.7, AIO's two channels):
//! - **configuration status** (`error`): what only a change of the definition, a secret or a
//!   trust list fixes. A definition's validation errors go on its device or asset; a stream
//!   that failed for good (401, 404, TLS…) on each dataset and event reading it, and also on
//!   the device's endpoint when the cause is the endpoint's (credentials, TLS, trust); a
//!   destination this connector does not have, on the operation.
//! - **runtime health**: every stream's state, on the endpoint and the operations reading it:
//!   connected is `Available`; reconnecting or failed is `Unavailable`
//!   (`SseConnectorStreamError`); closed by a 204 is `Unavailable`
//!   (`SseConnectorStreamClosed`); a payload that cannot get a schema is `Degraded`
//!   (`SseConnectorSchemaGenerationFailure`). An asset's health is aggregated from its parts.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use model::plan::{Credentials, Operation, OperationId};
use model::resource::{Body, Kind};
use registry::Snapshot;
use supervisor::{OperationDeliveries, OperationSchemas, StatsSnapshot, StreamState, Unsupported};
use url::Url;

use crate::aio::{
    ConfigError, ConfigStatus, ErrorDetail, HealthStatus, MessageSchemaReference, RuntimeHealth,
    reason,
};
use crate::report::{
    AssetConfigStatus, AssetHealth, AssetStatus, DatasetHealth, DeviceConfigStatus, DeviceHealth,
    DeviceStatus, EndpointStatus, EndpointStatuses, EventGroupStatus, EventHealth, OperationStatus,
    ProblemEntry, StreamStatus,
};

/// The message of a part whose stream is connecting: health stays what it was (see
/// [`crate::stamps`]), or `Unknown` at first.
pub(crate) const CONNECTING: &str = "connecting";

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

fn config_status(version: Option<u64>, problems: Vec<&model::Problem>) -> ConfigStatus {
    let error = match problems.as_slice() {
        [] => None,
        [only] => Some(ConfigError {
            code: Some("invalid_definition".into()),
            message: Some(format!(
                "{}: {}: {}",
                only.file.display(),
                only.path.as_str(),
                only.message
            )),
            details: vec![detail(only)],
        }),
        [first, ..] => Some(ConfigError {
            code: Some("invalid_definition".into()),
            message: Some(format!(
                "{} problems in {}; the first: {}: {}",
                problems.len(),
                first.file.display(),
                first.path.as_str(),
                first.message
            )),
            details: problems.iter().map(|p| detail(p)).collect(),
        }),
    };
    ConfigStatus {
        version,
        last_transition_time: String::new(),
        error,
    }
}

fn detail(problem: &model::Problem) -> ErrorDetail {
    ErrorDetail {
        code: Some("invalid_definition".into()),
        message: Some(problem.message.clone()),
        info: Some(format!(
            "{}: {}",
            problem.file.display(),
            problem.path.as_str()
        )),
    }
}

/// Failures whose cause is the endpoint's settings (credentials, TLS, trust), not one path.
fn is_endpoint_wide(code: &str) -> bool {
    matches!(
        code,
        "http_unauthorized"
            | "http_forbidden"
            | "tls_server_certificate_rejected"
            | "tls_client_certificate_rejected"
            | "tls_handshake_failed"
            | "trust_list_invalid"
            | "client_certificate_invalid"
            | "secret_unreadable"
    )
}

/// The HTTP status behind a reason code, as AIO's examples show codes (`"400"`).
fn http_code(code: &str) -> Option<&'static str> {
    Some(match code {
        "http_bad_request" => "400",
        "http_unauthorized" => "401",
        "http_forbidden" => "403",
        "http_not_found" => "404",
        "http_method_not_allowed" => "405",
        "http_not_acceptable" => "406",
        "http_gone" => "410",
        _ => return None,
    })
}

/// The configuration error of a stream that failed for good, with the secrets to check when
/// the credentials were refused (their names, never their values).
fn stream_error(code: &str, reason: &str, op: &Operation, secrets_dir: &Path) -> ConfigError {
    let secrets: Vec<String> = match (&op.stream.credentials, code) {
        (
            Credentials::UsernamePassword { username, password },
            "http_unauthorized" | "http_forbidden",
        ) => vec![
            secret_name(&username.path, secrets_dir),
            secret_name(&password.path, secrets_dir),
        ],
        (
            Credentials::Certificate {
                certificate, key, ..
            },
            "tls_client_certificate_rejected" | "client_certificate_invalid",
        ) => std::iter::once(&certificate.path)
            .chain(key.iter().map(|k| &k.path))
            .map(|p| secret_name(p, secrets_dir))
            .collect(),
        _ => Vec::new(),
    };
    let message = if secrets.is_empty() {
        reason.to_owned()
    } else {
        format!("{reason}; check secret {}", secrets.join(" and "))
    };
    ConfigError::new(http_code(code).unwrap_or(code), message)
}

/// `sse-creds/password` for `<secrets>/sse-creds/password`.
fn secret_name(path: &Path, secrets_dir: &Path) -> String {
    path.strip_prefix(secrets_dir)
        .map(PathBuf::from)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

fn health(
    status: HealthStatus,
    reason_code: Option<&str>,
    message: Option<String>,
    version: Option<u64>,
) -> RuntimeHealth {
    RuntimeHealth {
        status,
        reason_code: reason_code.map(str::to_owned),
        message,
        last_transition_time: String::new(),
        last_update_time: String::new(),
        version,
    }
}

/// The health a stream's state gives the parts reading it.
fn state_health(state: &StreamState, version: Option<u64>) -> RuntimeHealth {
    match state {
        StreamState::Connecting => health(
            HealthStatus::Unknown,
            None,
            Some(CONNECTING.into()),
            version,
        ),
        StreamState::Connected => health(HealthStatus::Available, None, None, version),
        StreamState::Backoff { reason, .. } | StreamState::Failed { reason, .. } => health(
            HealthStatus::Unavailable,
            Some(reason::STREAM_ERROR),
            Some(format!("SSE stream error: {reason}")),
            version,
        ),
        StreamState::Closed { reason } => health(
            HealthStatus::Unavailable,
            Some(reason::STREAM_CLOSED),
            Some(format!("SSE stream closed: {reason}")),
            version,
        ),
    }
}

/// An endpoint's health: the worst of its streams'; `Unknown` when no asset reads it.
fn endpoint_health(
    streams: &[(&Operation, &StreamObservation)],
    version: Option<u64>,
) -> RuntimeHealth {
    let mut seen = BTreeSet::new();
    let mut worst: Option<RuntimeHealth> = None;
    for (_, stream) in streams {
        if !seen.insert(&stream.url) {
            continue;
        }
        let h = state_health(&stream.state, version);
        let rank = |s: HealthStatus| match s {
            HealthStatus::Available => 0,
            HealthStatus::Unknown => 1,
            HealthStatus::Degraded => 2,
            HealthStatus::Unavailable => 3,
        };
        if worst
            .as_ref()
            .is_none_or(|w| rank(h.status) > rank(w.status))
        {
            worst = Some(h);
        }
    }
    worst.unwrap_or_else(|| {
        health(
            HealthStatus::Unknown,
            None,
            Some("no asset reads this endpoint".into()),
            version,
        )
    })
}

/// An asset's health from its parts' (see [`AssetHealth::status`]).
fn aggregate(parts: impl Iterator<Item = HealthStatus>) -> HealthStatus {
    let parts: Vec<HealthStatus> = parts.collect();
    let count = |s: HealthStatus| parts.iter().filter(|p| **p == s).count();
    let known = parts.len() - count(HealthStatus::Unknown);
    if known == 0 {
        HealthStatus::Unknown
    } else if count(HealthStatus::Unavailable) == parts.len() {
        HealthStatus::Unavailable
    } else if count(HealthStatus::Unavailable) + count(HealthStatus::Degraded) > 0 {
        HealthStatus::Degraded
    } else {
        HealthStatus::Available
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asset_health_aggregates_its_parts() {
        use HealthStatus::*;
        assert_eq!(aggregate([].into_iter()), Unknown);
        assert_eq!(aggregate([Unknown, Unknown].into_iter()), Unknown);
        assert_eq!(aggregate([Available, Unknown].into_iter()), Available);
        assert_eq!(aggregate([Available, Available].into_iter()), Available);
        assert_eq!(aggregate([Available, Degraded].into_iter()), Degraded);
        assert_eq!(aggregate([Available, Unavailable].into_iter()), Degraded);
        assert_eq!(
            aggregate([Unavailable, Unavailable].into_iter()),
            Unavailable
        );
    }

    #[test]
    fn failures_of_the_endpoint_are_told_apart_from_those_of_a_path() {
        assert!(is_endpoint_wide("http_unauthorized"));
        assert!(is_endpoint_wide("tls_server_certificate_rejected"));
        assert!(!is_endpoint_wide("http_not_found"));
        assert_eq!(http_code("http_not_found"), Some("404"));
        assert_eq!(http_code("wrong_content_type"), None);
    }

    #[test]
    fn secret_names_are_relative_to_the_secrets_directory() {
        assert_eq!(
            secret_name(
                Path::new("/r/secrets/sse-creds/password"),
                Path::new("/r/secrets")
            ),
            "sse-creds/password"
        );
    }
}
