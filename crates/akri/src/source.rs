//! [`AkriSource`]: the registry of Akri mode. The allocation mount says which device
//! endpoints and assets this replica runs; the device registry service gives their
//! definitions and tells of their updates; every change becomes a [`Reload`] with the plan
//! difference, so the supervisor restarts only what changed.
//!
//! A definition the service cannot give now (no answer) is asked again at the next
//! change or retry tick; one it refuses is a problem on that resource. A removed endpoint or
//! asset is forgotten, and its update events are turned off.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use registry::{FsEnvironment, Reload, Snapshot};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::adr::protocol::NotificationPreference;
use crate::adr::{AdrClient, AdrError, Notification};
use crate::allocation::{Allocation, EndpointRef};
use crate::definitions::{Fetched, Held, MissingCredentialsMount};

/// How often definitions the service did not give are asked for again.
pub const RETRY_INTERVAL: Duration = Duration::from_secs(5);

/// What the source needs besides the service.
#[derive(Debug, Clone)]
pub struct SourceSettings {
    /// `DEVICE_ENDPOINT_CREDENTIALS_MOUNT_PATH`, when mounted.
    pub credentials: Option<PathBuf>,
    /// `DEVICE_ENDPOINT_TLS_TRUST_BUNDLE_CA_CERT_MOUNT_PATH`, when mounted.
    pub endpoint_trust: Option<PathBuf>,
    /// `CONNECTOR_TRUST_SETTINGS_MOUNT_PATH`, when mounted: trusted by every endpoint.
    pub connector_trust: Option<PathBuf>,
}

/// What the status reporter needs to know of the definitions held, beyond the status board:
/// the device endpoint each asset is read through and each definition's `version` (an
/// invalid definition's too, which the plan does not keep).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Index {
    /// Device name → the version of its definition.
    pub devices: std::collections::BTreeMap<String, Option<u64>>,
    /// Asset name → its device endpoint and the version of its definition.
    pub assets: std::collections::BTreeMap<String, (EndpointRef, Option<u64>)>,
}

/// The definitions of this replica, from the allocation and the device registry.
#[derive(Debug)]
pub struct AkriSource {
    adr: AdrClient,
    env: FsEnvironment,
    settings: SourceSettings,
    allocation: Allocation,
    held: Held,
    current: Arc<Snapshot>,
    index: watch::Sender<Index>,
}

impl AkriSource {
    /// A source with nothing allocated yet.
    pub fn new(adr: AdrClient, settings: SourceSettings) -> Self {
        // Without a mount, names resolve below a directory that does not exist: a secret or
        // trust list is then reported missing, naming the path.
        let missing = || PathBuf::from("/nonexistent");
        let env = FsEnvironment::new(
            settings.credentials.clone().unwrap_or_else(missing),
            settings.endpoint_trust.clone().unwrap_or_else(missing),
        );
        Self {
            adr,
            env,
            settings,
            allocation: Allocation::default(),
            held: Held::default(),
            current: Arc::new(Snapshot::default()),
            index: watch::Sender::new(Index::default()),
        }
    }

    /// The index of the definitions held, kept current.
    pub fn index(&self) -> watch::Receiver<Index> {
        self.index.subscribe()
    }

    /// The snapshot in force.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        Arc::clone(&self.current)
    }

    /// The allocation in force.
    pub fn allocation(&self) -> &Allocation {
        &self.allocation
    }

    /// Takes a new allocation: forgets what left it, asks the service for what joined it
    /// (and for anything it did not give before), and rebuilds.
    ///
    /// # Errors
    /// [`MissingCredentialsMount`]: fatal by the contract.
    pub async fn allocate(
        &mut self,
        allocation: Allocation,
    ) -> Result<Reload, MissingCredentialsMount> {
        for (endpoint, assets) in self.allocation.iter() {
            match allocation.get(endpoint) {
                None => {
                    self.held.devices.remove(endpoint);
                    self.held.assets.remove(endpoint);
                    self.notifications_off(endpoint, None);
                }
                Some(kept) => {
                    for asset in assets.difference(kept) {
                        if let Some(held) = self.held.assets.get_mut(endpoint) {
                            held.remove(asset);
                        }
                        self.notifications_off(endpoint, Some(asset.clone()));
                    }
                }
            }
        }
        self.allocation = allocation;
        self.fetch_missing().await;
        self.rebuild()
    }

    /// Asks again for what the service did not give; `None` when nothing changed.
    ///
    /// # Errors
    /// As [`allocate`](Self::allocate).
    pub async fn retry(&mut self) -> Result<Option<Reload>, MissingCredentialsMount> {
        if !self.is_missing_any() {
            return Ok(None);
        }
        self.fetch_missing().await;
        self.rebuild().map(Some)
    }

    /// Takes an update event; `None` when it is about nothing this replica runs.
    ///
    /// # Errors
    /// As [`allocate`](Self::allocate).
    pub fn update(
        &mut self,
        notification: Notification,
    ) -> Result<Option<Reload>, MissingCredentialsMount> {
        match notification {
            Notification::Device {
                device,
                endpoint,
                definition,
            } => {
                let endpoint = EndpointRef { device, endpoint };
                if self.allocation.get(&endpoint).is_none() {
                    return Ok(None);
                }
                tracing::info!(%endpoint, "device updated in the device registry");
                self.held
                    .devices
                    .insert(endpoint, Fetched::Found(definition));
            }
            Notification::Asset {
                device,
                endpoint,
                asset,
                definition,
            } => {
                let endpoint = EndpointRef { device, endpoint };
                if !self
                    .allocation
                    .get(&endpoint)
                    .is_some_and(|a| a.contains(&asset))
                {
                    return Ok(None);
                }
                tracing::info!(%endpoint, %asset, "asset updated in the device registry");
                self.held
                    .assets
                    .entry(endpoint)
                    .or_default()
                    .insert(asset, Fetched::Found(definition));
            }
        }
        self.rebuild().map(Some)
    }

    /// Whether an allocated definition is not held.
    fn is_missing_any(&self) -> bool {
        self.allocation.iter().any(|(endpoint, assets)| {
            !self.held.devices.contains_key(endpoint)
                || assets.iter().any(|asset| {
                    !self
                        .held
                        .assets
                        .get(endpoint)
                        .is_some_and(|held| held.contains_key(asset))
                })
        })
    }

    /// Asks the service for every allocated definition not held, turning its update events
    /// on first (so no update between the answer and the subscription is missed).
    async fn fetch_missing(&mut self) {
        let wanted: Vec<(EndpointRef, Vec<String>)> = self
            .allocation
            .iter()
            .map(|(e, assets)| (e.clone(), assets.iter().cloned().collect()))
            .collect();
        for (endpoint, assets) in wanted {
            let (device, name) = (&endpoint.device, &endpoint.endpoint);
            if !self.held.devices.contains_key(&endpoint) {
                let fetched = async {
                    self.adr
                        .set_device_notifications(device, name, NotificationPreference::On)
                        .await?;
                    self.adr.get_device(device, name).await
                }
                .await;
                match settle(fetched) {
                    Some(fetched) => {
                        self.held.devices.insert(endpoint.clone(), fetched);
                    }
                    None => continue,
                }
            }
            for asset in assets {
                if self
                    .held
                    .assets
                    .get(&endpoint)
                    .is_some_and(|held| held.contains_key(&asset))
                {
                    continue;
                }
                let fetched = async {
                    self.adr
                        .set_asset_notifications(device, name, &asset, NotificationPreference::On)
                        .await?;
                    self.adr.get_asset(device, name, &asset).await
                }
                .await;
                if let Some(fetched) = settle(fetched) {
                    self.held
                        .assets
                        .entry(endpoint.clone())
                        .or_default()
                        .insert(asset, fetched);
                }
            }
        }
    }

    /// Rebuilds the snapshot from what is held.
    fn rebuild(&mut self) -> Result<Reload, MissingCredentialsMount> {
        self.held
            .check_credentials(self.settings.credentials.is_some())?;
        let next = Arc::new(self.held.snapshot(
            &self.env,
            self.settings.connector_trust.as_deref(),
            &self.current.resources,
        ));
        let diff = model::diff(&self.current.plan, &next.plan);
        self.current = Arc::clone(&next);
        self.index.send_if_modified(|index| {
            let next = self.held.index();
            let changed = *index != next;
            *index = next;
            changed
        });
        Ok(Reload {
            snapshot: next,
            diff,
        })
    }

    /// Turns off the update events of a device endpoint (`asset: None`) or an asset, in
    /// the background: failing only costs events that are ignored anyway.
    fn notifications_off(&self, endpoint: &EndpointRef, asset: Option<String>) {
        let adr = self.adr.clone();
        let endpoint = endpoint.clone();
        tokio::spawn(async move {
            let (device, name) = (&endpoint.device, &endpoint.endpoint);
            let result = match &asset {
                None => {
                    adr.set_device_notifications(device, name, NotificationPreference::Off)
                        .await
                }
                Some(asset) => {
                    adr.set_asset_notifications(device, name, asset, NotificationPreference::Off)
                        .await
                }
            };
            if let Err(error) = result {
                tracing::debug!(%endpoint, ?asset, %error, "could not turn update events off");
            }
        });
    }
}

/// What the service's answer means for the definition: held (found or refused for good), or
/// `None` to ask again later.
fn settle(answer: Result<serde_json::Value, AdrError>) -> Option<Fetched> {
    match answer {
        Ok(value) => Some(Fetched::Found(value)),
        Err(error) if error.is_transient() || error.is_closed() => {
            tracing::warn!(%error, "the device registry did not answer; asking again later");
            None
        }
        Err(error) => Some(Fetched::Refused(error.to_string())),
    }
}

/// What [`run`] hands the runtime.
pub type Outcome = Result<Reload, MissingCredentialsMount>;

/// Runs `source`: each allocation from `allocations`, each update event from
/// `notifications`, and a retry tick become reloads on `reloads`, until `stop` or until the
/// runtime stops listening. A fatal error is sent, then the task ends.
pub async fn run(
    mut source: AkriSource,
    mut allocations: mpsc::UnboundedReceiver<Allocation>,
    mut notifications: mpsc::UnboundedReceiver<Notification>,
    reloads: mpsc::UnboundedSender<Outcome>,
    stop: CancellationToken,
) {
    let mut retry = tokio::time::interval(RETRY_INTERVAL);
    retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let outcome = tokio::select! {
            () = stop.cancelled() => return,
            Some(allocation) = allocations.recv() => Some(source.allocate(allocation).await),
            Some(notification) = notifications.recv() => source.update(notification).transpose(),
            _ = retry.tick() => source.retry().await.transpose(),
        };
        if let Some(outcome) = outcome {
            let fatal = outcome.is_err();
            if reloads.send(outcome).is_err() || fatal {
                return;
            }
        }
    }
}
