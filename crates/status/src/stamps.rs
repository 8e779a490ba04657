//! Times of the status: `lastTransitionTime` moves when a configuration error or a health
//! state changes; `lastUpdateTime` when a health state changes or, like AIO's periodic
//! re-reports, when it is older than the refresh interval. A part whose stream is connecting
//! keeps the health it had (a reconnect attempt is not news); at first it is `Unknown`.

use std::collections::HashMap;

use crate::aio::{ConfigStatus, HealthStatus, RuntimeHealth};
use crate::assemble::Parts;
use crate::health::CONNECTING;

/// How often an unchanged health gets a new `lastUpdateTime`.
pub const REFRESH_MILLIS: u64 = 60_000;

/// The times seen so far, by part.
#[derive(Debug, Default)]
pub struct Stamps {
    config: HashMap<String, ConfigStatus>,
    health: HashMap<String, Seen>,
}

/// A part's health as last stamped, kept small: one per dataset and event.
#[derive(Debug)]
struct Seen {
    status: HealthStatus,
    reason_code: Option<String>,
    message: Option<String>,
    version: Option<u64>,
    /// Unix milliseconds of `lastTransitionTime`.
    transition: u64,
    /// Unix milliseconds of `lastUpdateTime`.
    updated: u64,
}

/// The current time, as Unix milliseconds and RFC 3339.
#[derive(Debug, Clone)]
pub struct Now {
    /// Milliseconds since the Unix epoch.
    pub millis: u64,
    /// RFC 3339, seconds.
    pub text: String,
}

impl Now {
    /// The system time.
    pub fn system() -> Self {
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        Self::at(millis)
    }

    /// The time `millis` after the Unix epoch.
    pub fn at(millis: u64) -> Self {
        Self {
            millis,
            text: model::time::rfc3339(millis),
        }
    }
}

impl Stamps {
    /// Fills every time of `parts`, comparing with the previous call; forgets parts that are
    /// gone.
    pub fn stamp(&mut self, parts: &mut Parts, now: &Now) {
        let mut config = HashMap::new();
        let mut health = HashMap::new();
        for device in &mut parts.devices {
            let key = format!("Device/{}", device.name);
            self.config_times(&key, &mut device.status.config, now, &mut config);
            for (endpoint, h) in &mut device.health.endpoints {
                self.health_times(format!("{key}/{endpoint}"), h, now, &mut health);
            }
        }
        for asset in &mut parts.assets {
            let key = format!("Asset/{}", asset.name);
            self.config_times(&key, &mut asset.status.config, now, &mut config);
            for d in &mut asset.health.datasets {
                let part = format!("{key}/datasets/{}", d.dataset_name);
                self.health_times(part, &mut d.runtime_health, now, &mut health);
            }
            for e in &mut asset.health.events {
                let part = format!(
                    "{key}/eventGroups/{}/events/{}",
                    e.event_group_name, e.event_name
                );
                self.health_times(part, &mut e.runtime_health, now, &mut health);
            }
            asset.health.last_update_time = asset
                .health
                .datasets
                .iter()
                .map(|d| &d.runtime_health.last_update_time)
                .chain(
                    asset
                        .health
                        .events
                        .iter()
                        .map(|e| &e.runtime_health.last_update_time),
                )
                .max()
                .cloned()
                .unwrap_or_else(|| now.text.clone());
        }
        self.config = config;
        self.health = health;
    }

    fn config_times(
        &self,
        key: &str,
        status: &mut ConfigStatus,
        now: &Now,
        next: &mut HashMap<String, ConfigStatus>,
    ) {
        status.last_transition_time = match self.config.get(key) {
            Some(before) if before.version == status.version && before.error == status.error => {
                before.last_transition_time.clone()
            }
            _ => now.text.clone(),
        };
        next.insert(key.to_owned(), status.clone());
    }

    fn health_times(
        &self,
        key: String,
        health: &mut RuntimeHealth,
        now: &Now,
        next: &mut HashMap<String, Seen>,
    ) {
        let before = self.health.get(&key);
        if let Some(before) = before
            && health.status == HealthStatus::Unknown
            && health.message.as_deref() == Some(CONNECTING)
        {
            health.status = before.status;
            health.reason_code.clone_from(&before.reason_code);
            health.message.clone_from(&before.message);
        }
        let (transition, updated) = match before {
            Some(b)
                if b.status == health.status
                    && b.reason_code == health.reason_code
                    && b.message == health.message
                    && b.version == health.version =>
            {
                let refresh = now.millis.saturating_sub(b.updated) >= REFRESH_MILLIS;
                (b.transition, if refresh { now.millis } else { b.updated })
            }
            _ => (now.millis, now.millis),
        };
        health.last_transition_time = model::time::rfc3339(transition);
        health.last_update_time = model::time::rfc3339(updated);
        next.insert(
            key,
            Seen {
                status: health.status,
                reason_code: health.reason_code.clone(),
                message: health.message.clone(),
                version: health.version,
                transition,
                updated,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{AssetConfigStatus, AssetHealth, AssetStatus, DatasetHealth};

    fn part(status: HealthStatus, message: Option<&str>) -> Parts {
        Parts {
            assets: vec![AssetStatus {
                name: "a".into(),
                device: None,
                endpoint: None,
                version: Some(1),
                status: AssetConfigStatus {
                    config: ConfigStatus {
                        version: Some(1),
                        last_transition_time: String::new(),
                        error: None,
                    },
                    datasets: vec![],
                    event_groups: vec![],
                },
                health: AssetHealth {
                    status,
                    last_update_time: String::new(),
                    datasets: vec![DatasetHealth {
                        dataset_name: "d".into(),
                        runtime_health: RuntimeHealth {
                            status,
                            reason_code: None,
                            message: message.map(str::to_owned),
                            last_transition_time: String::new(),
                            last_update_time: String::new(),
                            version: Some(1),
                        },
                    }],
                    events: vec![],
                },
            }],
            ..Parts::default()
        }
    }

    fn dataset(parts: &Parts) -> &RuntimeHealth {
        &parts.assets[0].health.datasets[0].runtime_health
    }

    #[test]
    fn transitions_and_updates_move_only_when_they_should() {
        let mut stamps = Stamps::default();
        let mut first = part(HealthStatus::Available, None);
        stamps.stamp(&mut first, &Now::at(1_000));
        assert_eq!(dataset(&first).last_transition_time, "1970-01-01T00:00:01Z");

        let mut same = part(HealthStatus::Available, None);
        stamps.stamp(&mut same, &Now::at(5_000));
        assert_eq!(dataset(&same).last_transition_time, "1970-01-01T00:00:01Z");
        assert_eq!(dataset(&same).last_update_time, "1970-01-01T00:00:01Z");
        assert_eq!(
            same.assets[0].status.config.last_transition_time,
            "1970-01-01T00:00:01Z"
        );

        let mut refreshed = part(HealthStatus::Available, None);
        stamps.stamp(&mut refreshed, &Now::at(1_000 + REFRESH_MILLIS));
        assert_eq!(
            dataset(&refreshed).last_transition_time,
            "1970-01-01T00:00:01Z"
        );
        assert_eq!(dataset(&refreshed).last_update_time, "1970-01-01T00:01:01Z");

        let mut down = part(HealthStatus::Unavailable, Some("SSE stream error: x"));
        stamps.stamp(&mut down, &Now::at(70_000));
        assert_eq!(dataset(&down).last_transition_time, "1970-01-01T00:01:10Z");
    }

    #[test]
    fn connecting_keeps_the_health_it_had() {
        let mut stamps = Stamps::default();
        let mut first = part(HealthStatus::Unknown, Some(CONNECTING));
        stamps.stamp(&mut first, &Now::at(0));
        assert_eq!(dataset(&first).status, HealthStatus::Unknown);

        let mut down = part(HealthStatus::Unavailable, Some("SSE stream error: x"));
        stamps.stamp(&mut down, &Now::at(1_000));
        let mut again = part(HealthStatus::Unknown, Some(CONNECTING));
        stamps.stamp(&mut again, &Now::at(2_000));
        assert_eq!(dataset(&again).status, HealthStatus::Unavailable);
        assert_eq!(
            dataset(&again).message.as_deref(),
            Some("SSE stream error: x")
        );
        assert_eq!(dataset(&again).last_transition_time, "1970-01-01T00:00:01Z");
    }
}
