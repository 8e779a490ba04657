//! Status and health back to the device registry: what the [`StatusBoard`] knows, written
//! with the service's commands and telemetry.
//!
//! - **Configuration status**: each device endpoint's and each asset's status (AIO's shapes,
//!   `config.version` = the definition's version) is written with `updateDeviceStatus` /
//!   `updateAssetStatus` when it changes. The first time, the stored status is read: if it
//!   already says the same (a restart), nothing is written, so `lastTransitionTime` keeps
//!   its meaning.
//! - **Runtime health**: endpoint, dataset and event health as the edge defines it, sent on
//!   every change and again every [`ReportSettings::health_interval`] (AIO ages a resource
//!   that stops reporting to `Unknown`). The edge knows two states: `Available`, and
//!   `Unavailable` with a reason code. What the connector calls `Degraded` (data flows, with
//!   a fault such as a schema that cannot be registered) is sent as `Unavailable` with its
//!   reason code (`SseConnectorSchemaGenerationFailure`), since only that state carries one;
//!   `Unknown` (nothing known yet) is not sent.

use std::collections::BTreeMap;
use std::time::Duration;

use status::report::{AssetConfigStatus, DeviceConfigStatus, EndpointStatuses, StatusReport};
use status::{HealthStatus, RuntimeHealth, StatusBoard};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::adr::AdrClient;
use crate::adr::protocol::{
    DatasetHealthBody, DatasetHealthEvent, DatasetHealthItem, EdgeHealth, EdgeHealthStatus,
    EndpointHealthBody, EndpointHealthEvent, EventHealthBody, EventHealthEvent, EventHealthItem,
    Telemetry,
};
use crate::source::Index;

/// How often and how the reporter works.
#[derive(Debug, Clone, Copy)]
pub struct ReportSettings {
    /// How often the board is looked at.
    pub poll: Duration,
    /// How often an unchanged health is sent again (AIO's documentation: every minute).
    pub health_interval: Duration,
}

impl Default for ReportSettings {
    fn default() -> Self {
        Self {
            poll: Duration::from_secs(1),
            health_interval: Duration::from_secs(60),
        }
    }
}

/// The edge health of a part, or `None` when there is nothing to say (`Unknown`).
pub fn edge_health(health: &RuntimeHealth, last_update_time: &str) -> Option<EdgeHealth> {
    let status = match health.status {
        HealthStatus::Available => EdgeHealthStatus::Available,
        HealthStatus::Unavailable | HealthStatus::Degraded => EdgeHealthStatus::Unavailable,
        HealthStatus::Unknown => return None,
    };
    let available = status == EdgeHealthStatus::Available;
    Some(EdgeHealth {
        status,
        reason_code: health.reason_code.clone().filter(|_| !available),
        message: health.message.clone().filter(|_| !available),
        last_update_time: last_update_time.to_owned(),
        version: health.version.unwrap_or_default(),
    })
}

/// A health as last sent: the state (not the time) and when.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Sent {
    state: HealthState,
    at: Instant,
}

/// What the reporter has written and sent.
#[derive(Debug, Default)]
struct Reported {
    devices: BTreeMap<(String, String), DeviceConfigStatus>,
    assets: BTreeMap<String, AssetConfigStatus>,
    health: BTreeMap<(Telemetry, String, String, String), Sent>,
}

/// Reports what `board` knows of the definitions in `index` to the device registry until
/// `stop`.
pub async fn run(
    adr: AdrClient,
    board: StatusBoard,
    index: watch::Receiver<Index>,
    settings: ReportSettings,
    stop: CancellationToken,
) {
    let mut reported = Reported::default();
    let mut tick = tokio::time::interval(settings.poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let report = board.report();
        let index = index.borrow().clone();
        tokio::select! {
            () = stop.cancelled() => return,
            () = report_once(&adr, &report, &index, &settings, &mut reported) => {}
        }
    }
}

/// One pass: every configuration status that changed, every health that changed or is due.
async fn report_once(
    adr: &AdrClient,
    report: &StatusReport,
    index: &Index,
    settings: &ReportSettings,
    reported: &mut Reported,
) {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let now = model::time::rfc3339(millis);
    for device in &report.devices {
        // A definition that did not validate has no version in the report: it is the one
        // the service gave.
        let Some(version) = index.devices.get(&device.name) else {
            continue;
        };
        let mut config = device.status.config.clone();
        config.version = config.version.or(*version);
        for (endpoint, status) in &device.status.endpoints.inbound {
            let ours = DeviceConfigStatus {
                config: config.clone(),
                endpoints: EndpointStatuses {
                    inbound: BTreeMap::from([(endpoint.clone(), status.clone())]),
                },
            };
            let key = (device.name.clone(), endpoint.clone());
            if reported.devices.get(&key) != Some(&ours) {
                write_device(
                    adr,
                    &device.name,
                    endpoint,
                    &ours,
                    !reported.devices.contains_key(&key),
                )
                .await
                .then(|| reported.devices.insert(key, ours));
            }
        }
        for (endpoint, health) in &device.health.endpoints {
            let Some(health) = edge_health(health, &now) else {
                continue;
            };
            let key = (
                Telemetry::EndpointHealth,
                device.name.clone(),
                endpoint.clone(),
                String::new(),
            );
            let state = vec![(
                String::new(),
                health.status,
                health.reason_code.clone(),
                health.message.clone(),
                health.version,
            )];
            if due(reported, &key, &state, settings) {
                let event = EndpointHealthEvent {
                    device_endpoint_runtime_health_event: EndpointHealthBody {
                        runtime_health: &health,
                    },
                };
                send(adr, reported, key, state, &event).await;
            }
        }
    }
    for asset in &report.assets {
        let Some((allocated, version)) = index.assets.get(&asset.name) else {
            continue;
        };
        let (device, endpoint) = (&allocated.device, &allocated.endpoint);
        let mut status = asset.status.clone();
        status.config.version = status.config.version.or(*version);
        if reported.assets.get(&asset.name) != Some(&status) {
            write_asset(
                adr,
                device,
                endpoint,
                &asset.name,
                &status,
                !reported.assets.contains_key(&asset.name),
            )
            .await
            .then(|| reported.assets.insert(asset.name.clone(), status));
        }
        let datasets: Vec<(&str, EdgeHealth)> = asset
            .health
            .datasets
            .iter()
            .filter_map(|d| {
                Some((
                    d.dataset_name.as_str(),
                    edge_health(&d.runtime_health, &now)?,
                ))
            })
            .collect();
        if !datasets.is_empty() {
            let key = (
                Telemetry::DatasetHealth,
                device.clone(),
                endpoint.clone(),
                asset.name.clone(),
            );
            let state = datasets
                .iter()
                .map(|(name, h)| {
                    (
                        (*name).to_owned(),
                        h.status,
                        h.reason_code.clone(),
                        h.message.clone(),
                        h.version,
                    )
                })
                .collect();
            if due(reported, &key, &state, settings) {
                let event = DatasetHealthEvent {
                    dataset_runtime_health_event: DatasetHealthBody {
                        asset_name: &asset.name,
                        datasets: datasets
                            .iter()
                            .map(|(name, health)| DatasetHealthItem {
                                dataset_name: name,
                                runtime_health: health,
                            })
                            .collect(),
                    },
                };
                send(adr, reported, key, state, &event).await;
            }
        }
        let events: Vec<(&str, &str, EdgeHealth)> = asset
            .health
            .events
            .iter()
            .filter_map(|e| {
                Some((
                    e.event_group_name.as_str(),
                    e.event_name.as_str(),
                    edge_health(&e.runtime_health, &now)?,
                ))
            })
            .collect();
        if !events.is_empty() {
            let key = (
                Telemetry::EventHealth,
                device.clone(),
                endpoint.clone(),
                asset.name.clone(),
            );
            let state = events
                .iter()
                .map(|(group, name, h)| {
                    (
                        format!("{group}/{name}"),
                        h.status,
                        h.reason_code.clone(),
                        h.message.clone(),
                        h.version,
                    )
                })
                .collect();
            if due(reported, &key, &state, settings) {
                let event = EventHealthEvent {
                    event_runtime_health_event: EventHealthBody {
                        asset_name: &asset.name,
                        events: events
                            .iter()
                            .map(|(group, name, health)| EventHealthItem {
                                event_group_name: group,
                                event_name: name,
                                runtime_health: health,
                            })
                            .collect(),
                    },
                };
                send(adr, reported, key, state, &event).await;
            }
        }
    }
}

type HealthKey = (Telemetry, String, String, String);
type HealthState = Vec<(
    String,
    EdgeHealthStatus,
    Option<String>,
    Option<String>,
    u64,
)>;

/// Whether a health must be sent: it changed, or the interval passed since it was sent.
fn due(
    reported: &Reported,
    key: &HealthKey,
    state: &HealthState,
    settings: &ReportSettings,
) -> bool {
    reported
        .health
        .get(key)
        .is_none_or(|sent| &sent.state != state || sent.at.elapsed() >= settings.health_interval)
}

/// Sends a health event and remembers it; a failure is retried at the next pass.
async fn send(
    adr: &AdrClient,
    reported: &mut Reported,
    key: HealthKey,
    state: HealthState,
    event: &impl serde::Serialize,
) {
    let (telemetry, device, endpoint, _) = &key;
    match adr.send_health(*telemetry, device, endpoint, event).await {
        Ok(()) => {
            reported.health.insert(
                key,
                Sent {
                    state,
                    at: Instant::now(),
                },
            );
        }
        Err(error) => {
            tracing::warn!(%error, "could not send a health event to the device registry")
        }
    }
}

/// Writes a device endpoint's status; the first time, only when the stored one differs.
/// Whether the service has it now.
async fn write_device(
    adr: &AdrClient,
    device: &str,
    endpoint: &str,
    status: &DeviceConfigStatus,
    first: bool,
) -> bool {
    if first
        && let Ok(stored) = adr.get_device_status(device, endpoint).await
        && same_status(&stored, status)
    {
        return true;
    }
    match adr.update_device_status(device, endpoint, status).await {
        Ok(_) => true,
        Err(error) => {
            tracing::warn!(%error, device, endpoint, "could not write the device status");
            false
        }
    }
}

/// Writes an asset's status; the first time, only when the stored one differs. Whether the
/// service has it now.
async fn write_asset(
    adr: &AdrClient,
    device: &str,
    endpoint: &str,
    asset: &str,
    status: &AssetConfigStatus,
    first: bool,
) -> bool {
    if first
        && let Ok(stored) = adr.get_asset_status(device, endpoint, asset).await
        && same_status(&stored, status)
    {
        return true;
    }
    match adr
        .update_asset_status(device, endpoint, asset, status)
        .await
    {
        Ok(_) => true,
        Err(error) => {
            tracing::warn!(%error, asset, "could not write the asset status");
            false
        }
    }
}

/// Whether a stored status says what `ours` says, times aside.
fn same_status(stored: &serde_json::Value, ours: &impl serde::Serialize) -> bool {
    let Ok(mut ours) = serde_json::to_value(ours) else {
        return false;
    };
    let mut stored = stored.clone();
    for value in [&mut stored, &mut ours] {
        if let Some(config) = value
            .get_mut("config")
            .and_then(serde_json::Value::as_object_mut)
        {
            config.remove("lastTransitionTime");
        }
    }
    stored == ours
}

#[cfg(test)]
mod tests {
    use super::*;

    fn health(status: HealthStatus) -> RuntimeHealth {
        RuntimeHealth {
            status,
            reason_code: Some("SseConnectorStreamError".into()),
            message: Some("connection refused".into()),
            last_transition_time: "2026-12-04T10:00:00Z".into(),
            last_update_time: "2026-12-04T10:00:00Z".into(),
            version: Some(3),
        }
    }

    #[test]
    fn edge_health_has_two_states_and_a_version() {
        let now = "2026-12-04T10:00:05Z";
        let available = edge_health(&health(HealthStatus::Available), now).expect("sent");
        assert_eq!(
            serde_json::to_value(&available).expect("json"),
            serde_json::json!({"status": "Available", "lastUpdateTime": now, "version": 3})
        );
        let degraded = edge_health(&health(HealthStatus::Degraded), now).expect("sent");
        assert_eq!(degraded.status, EdgeHealthStatus::Unavailable);
        assert_eq!(
            degraded.reason_code.as_deref(),
            Some("SseConnectorStreamError")
        );
        assert!(edge_health(&health(HealthStatus::Unknown), now).is_none());
    }

    #[test]
    fn a_stored_status_is_the_same_whatever_its_transition_time() {
        let stored = serde_json::json!({"config": {"version": 2, "lastTransitionTime": "2026-01-01T00:00:00Z"}, "endpoints": {"inbound": {"ep": {}}}});
        let ours = serde_json::json!({"config": {"version": 2, "lastTransitionTime": "2026-12-04T00:00:00Z"}, "endpoints": {"inbound": {"ep": {}}}});
        assert!(same_status(&stored, &ours));
        let newer = serde_json::json!({"config": {"version": 3, "lastTransitionTime": "2026-12-04T00:00:00Z"}, "endpoints": {"inbound": {"ep": {}}}});
        assert!(!same_status(&stored, &newer));
    }
}
