//! A fake Azure Device Registry (ADR) service for tests, written from Microsoft's DTDL
//! (`eng/dtdl/adr-base-service.json` in Azure/iot-operations-sdks), on rumqttc directly so that
//! it shares no code with the connector's own ADR client.
//!
//! [`FakeAdr`] connects to a broker (mosquitto or the embedded broker) and:
//! - answers every command of the DTDL on
//!   `akri/connector/resources/{connectorClientId}/{deviceName}/{inboundEndpointName}/{command}`
//!   with an AIO command response on the request's response topic: same correlation data,
//!   content type `application/json`, payload format indicator 1, user properties `__stat`
//!   (200), `__protVer` (`1.0`), `__srcId`, `__ts`; payloads named as in the DTDL
//!   (`{"device": …}`, or `{"getDeviceError": AkriServiceError}` when the device is unknown).
//!   Requests that break the envelope get the executor's protocol errors (400 without 16 bytes
//!   of correlation data or without a message expiry, 505 for a `__protVer` other than 1.x,
//!   415 for a content type other than JSON, 400 for a payload that is not the DTDL's);
//! - records every request (command, topic, payload, properties, the reply it sent), the
//!   statuses set by `updateDeviceStatus` / `updateAssetStatus` (served back by
//!   `getDeviceStatus` / `getAssetStatus` as stored, whatever their `config.version`: the
//!   connector decides whether a status is stale), the notification preferences, and every
//!   runtime health event published on
//!   `akri/connector/resources/telemetry/{connectorClientId}/{deviceName}/{inboundEndpointName}/{…RuntimeHealthEvent}`;
//! - publishes `deviceUpdateEvent` / `assetUpdateEvent` telemetry when a test asks, to the
//!   connectors that turned that notification preference `On` (as the real service: the SDK's
//!   tests expect no notification after `Off`).
//!
//! Definitions are Device / Asset CRs in YAML ([`FakeAdr::put_yaml`], see [`model`]) or edge
//! JSON ([`FakeAdr::put_device`], [`FakeAdr::put_asset`]).
//!
//! Microsoft's client agrees: the optional crate `crates/adr-oracle` drives this fake with
//! `azure_iot_operations_services` and records every exchange into
//! `crates/test-support/fixtures/adr/*.json`, which `tests/adr_fixtures.rs` replays against
//! the fake in every test run.
//!
//! Choices where the DTDL says nothing: an unknown device or asset, or an asset whose
//! `deviceRef` is not the topic's device and endpoint, is a `KubeError`; `getDevice` and
//! `getDeviceStatus` narrow `endpoints.inbound` to the topic's endpoint; `updateDeviceStatus`
//! replaces the device-level fields and that one endpoint's entry; a definition put without
//! `version` gets the previous version + 1 (1 for a new one); removing a definition removes its
//! status. `setNotificationPreference…` answers `{"responsePayload": "Success"}`;
//! `createOrUpdateDiscoveredAsset` answers `{"discoveryId": "discovered-<name>", "version": n}`.

mod clock;
pub mod model;
mod service;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{Filter, Packet, Publish, PublishProperties, SubscribeReasonCode};
use rumqttc::v5::{AsyncClient, Event, MqttOptions};
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

pub use model::{Kind, Resource};
pub use service::{
    Command, ERROR_CODES, Failure, HEALTH_EVENTS, HealthEvent, NotificationPreference,
    RecordedRequest, Reply, TOPIC_ROOT,
};

use service::{Incoming, Outgoing, State};

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// A running fake ADR service; dropping it disconnects it.
pub struct FakeAdr {
    shared: Arc<Shared>,
    client: AsyncClient,
    client_id: String,
    connector: Option<String>,
    poll_task: JoinHandle<()>,
    send_task: JoinHandle<()>,
}

impl std::fmt::Debug for FakeAdr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeAdr")
            .field("client_id", &self.client_id)
            .field("connector", &self.connector)
            .finish_non_exhaustive()
    }
}

struct Shared {
    state: Mutex<State>,
    /// Bumped on every change, for the waits.
    changed: watch::Sender<u64>,
}

impl Shared {
    fn update<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let result = f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner));
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
        result
    }

    fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.state.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Subscriptions {
    acknowledged: u64,
    refused: bool,
}

impl FakeAdr {
    /// Connects to the broker at `host:port` as the ADR service of the connector whose MQTT
    /// client id is `connector_client_id`, and waits until its subscriptions are acknowledged.
    ///
    /// # Panics
    /// When the client id holds `+`, `#` or is empty, or the broker does not acknowledge the
    /// subscriptions within ten seconds.
    pub async fn start(host: &str, port: u16, connector_client_id: &str) -> Self {
        assert!(
            !connector_client_id.is_empty() && !connector_client_id.contains(['+', '#']),
            "connector client id {connector_client_id:?} cannot be a topic level"
        );
        Self::start_with(host, port, Some(connector_client_id.to_owned())).await
    }

    /// Like [`start`](Self::start), serving every connector client id (one level, e.g. several
    /// replicas): preferences and notifications are per client id.
    ///
    /// # Panics
    /// When the broker does not acknowledge the subscriptions within ten seconds.
    pub async fn start_any(host: &str, port: u16) -> Self {
        Self::start_with(host, port, None).await
    }

    /// [`start`](Self::start) on a socket address.
    pub async fn start_at(addr: SocketAddr, connector_client_id: &str) -> Self {
        Self::start(&addr.ip().to_string(), addr.port(), connector_client_id).await
    }

    async fn start_with(host: &str, port: u16, connector: Option<String>) -> Self {
        let client_id = format!(
            "fake-adr-{}-{}",
            std::process::id(),
            NEXT_ID.fetch_add(1, Ordering::Relaxed)
        );
        let mut options = MqttOptions::new(client_id.clone(), host, port);
        options
            .set_keep_alive(Duration::from_secs(30))
            .set_clean_start(true)
            .set_max_packet_size(Some(16 * 1024 * 1024));
        let (client, mut eventloop) = AsyncClient::new(options, 256);
        let level = connector.clone().unwrap_or_else(|| "+".to_owned());
        let filters: Vec<Filter> = Command::ALL
            .iter()
            .map(|c| format!("{TOPIC_ROOT}/{level}/+/+/{}", c.name()))
            .chain(
                HEALTH_EVENTS
                    .iter()
                    .map(|name| format!("{TOPIC_ROOT}/telemetry/{level}/+/+/{name}")),
            )
            .map(|topic| Filter::new(topic, QoS::AtLeastOnce))
            .collect();
        let (changed, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            changed,
        });
        let (subscribed_tx, mut subscribed) = watch::channel(Subscriptions::default());
        let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Outgoing>();

        let poll_task = tokio::spawn({
            let shared = shared.clone();
            let subscriber = client.clone();
            let connector = connector.clone();
            let source_id = client_id.clone();
            async move {
                loop {
                    match eventloop.poll().await {
                        Ok(Event::Incoming(Packet::ConnAck(_))) => {
                            // Never await the request channel from the polling task.
                            let _ = subscriber.try_subscribe_many(filters.clone());
                        }
                        Ok(Event::Incoming(Packet::SubAck(ack))) => {
                            let granted = ack
                                .return_codes
                                .iter()
                                .all(|c| matches!(c, SubscribeReasonCode::Success(_)));
                            subscribed_tx.send_modify(|s| {
                                s.acknowledged += 1;
                                s.refused |= !granted;
                            });
                        }
                        Ok(Event::Incoming(Packet::Publish(publish))) => {
                            let incoming = incoming(publish);
                            let connector = connector.as_deref();
                            let response = shared.update(|state| {
                                if incoming
                                    .topic
                                    .starts_with(&format!("{TOPIC_ROOT}/telemetry/"))
                                {
                                    state.record_telemetry(incoming, connector);
                                    None
                                } else {
                                    state.handle_request(incoming, connector, &source_id)
                                }
                            });
                            if let Some(response) = response
                                && out_tx.send(response).is_err()
                            {
                                return;
                            }
                        }
                        Ok(_) => {}
                        Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                    }
                }
            }
        });
        let send_task = tokio::spawn({
            let client = client.clone();
            async move {
                while let Some(out) = out_rx.recv().await {
                    let properties = PublishProperties {
                        payload_format_indicator: out.content_type.is_some().then_some(1),
                        message_expiry_interval: out.message_expiry,
                        correlation_data: out.correlation_data,
                        user_properties: out.user_properties,
                        content_type: out.content_type,
                        ..PublishProperties::default()
                    };
                    let _ = client
                        .publish_with_properties(
                            out.topic,
                            QoS::AtLeastOnce,
                            false,
                            out.payload,
                            properties,
                        )
                        .await;
                }
            }
        });

        let waited = tokio::time::timeout(
            Duration::from_secs(10),
            subscribed.wait_for(|s| s.acknowledged > 0),
        )
        .await
        .is_ok_and(|r| r.is_ok());
        let state = *subscribed.borrow();
        assert!(
            waited && !state.refused,
            "fake ADR at {host}:{port}: subscriptions not granted within 10 s ({state:?})"
        );
        Self {
            shared,
            client,
            client_id,
            connector,
            poll_task,
            send_task,
        }
    }

    /// The fake's own MQTT client id (the `__srcId` of its responses).
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The connector client id it serves (`None`: every one, see [`start_any`](Self::start_any)).
    pub fn connector_client_id(&self) -> Option<&str> {
        self.connector.as_deref()
    }

    // ----- Definitions -----

    /// Stores every Device and Asset CR of `text` (YAML, `---`-separated), as
    /// [`put_device`](Self::put_device) / [`put_asset`](Self::put_asset) do, and returns them
    /// as stored. Nothing is stored when any document is invalid.
    ///
    /// # Errors
    /// A message naming the document that is not a Device or Asset CR, or invalid YAML.
    pub fn put_yaml(&self, text: &str) -> Result<Vec<Resource>, String> {
        let resources = model::resources_from_yaml(text)?;
        Ok(self.shared.update(|state| {
            resources
                .into_iter()
                .map(|resource| {
                    let map = match resource.kind {
                        Kind::Device => &mut state.devices,
                        Kind::Asset => &mut state.assets,
                    };
                    let spec = versioned(map.get(&resource.name), resource.spec);
                    map.insert(resource.name.clone(), spec.clone());
                    Resource { spec, ..resource }
                })
                .collect()
        }))
    }

    /// Stores (or replaces) device `name` with `spec` (edge model or CR spec, converted by
    /// [`model::edge_spec`]); a spec without `version` gets the previous one + 1. Returns it as
    /// stored. Sends no notification (see [`send_device_update`](Self::send_device_update)).
    pub fn put_device(&self, name: &str, spec: Value) -> Value {
        self.shared.update(|state| {
            let spec = versioned(state.devices.get(name), model::edge_spec(spec));
            state.devices.insert(name.to_owned(), spec.clone());
            spec
        })
    }

    /// Stores (or replaces) asset `name`, as [`put_device`](Self::put_device).
    pub fn put_asset(&self, name: &str, spec: Value) -> Value {
        self.shared.update(|state| {
            let spec = versioned(state.assets.get(name), model::edge_spec(spec));
            state.assets.insert(name.to_owned(), spec.clone());
            spec
        })
    }

    /// Removes device `name` and its status; whether it existed.
    pub fn remove_device(&self, name: &str) -> bool {
        self.shared.update(|state| {
            state.device_status.remove(name);
            state.devices.remove(name).is_some()
        })
    }

    /// Removes asset `name` and its status; whether it existed.
    pub fn remove_asset(&self, name: &str) -> bool {
        self.shared.update(|state| {
            state.asset_status.remove(name);
            state.assets.remove(name).is_some()
        })
    }

    /// The stored spec of device `name`.
    pub fn device(&self, name: &str) -> Option<Value> {
        self.shared.read(|state| state.devices.get(name).cloned())
    }

    /// The stored spec of asset `name`.
    pub fn asset(&self, name: &str) -> Option<Value> {
        self.shared.read(|state| state.assets.get(name).cloned())
    }

    // ----- Statuses -----

    /// The status of device `name` as stored (all endpoints), `None` if never set.
    pub fn device_status(&self, name: &str) -> Option<Value> {
        self.shared
            .read(|state| state.device_status.get(name).cloned())
    }

    /// The status of asset `name` as last set by `updateAssetStatus`, `None` if never set.
    pub fn asset_status(&self, name: &str) -> Option<Value> {
        self.shared
            .read(|state| state.asset_status.get(name).cloned())
    }

    /// Presets the stored status of device `name` (e.g. one of an older `config.version`).
    pub fn set_device_status(&self, name: &str, status: Value) {
        self.shared.update(|state| {
            state.device_status.insert(name.to_owned(), status);
        });
    }

    /// Presets the stored status of asset `name`.
    pub fn set_asset_status(&self, name: &str, status: Value) {
        self.shared.update(|state| {
            state.asset_status.insert(name.to_owned(), status);
        });
    }

    /// Waits until device `name` has a status for which `predicate` holds; that status, or
    /// `None` after `timeout`.
    pub async fn wait_for_device_status(
        &self,
        name: &str,
        mut predicate: impl FnMut(&Value) -> bool,
        timeout: Duration,
    ) -> Option<Value> {
        self.wait_until(timeout, |state| {
            state
                .device_status
                .get(name)
                .filter(|s| predicate(s))
                .cloned()
        })
        .await
    }

    /// Waits until asset `name` has a status for which `predicate` holds; that status, or
    /// `None` after `timeout`.
    pub async fn wait_for_asset_status(
        &self,
        name: &str,
        mut predicate: impl FnMut(&Value) -> bool,
        timeout: Duration,
    ) -> Option<Value> {
        self.wait_until(timeout, |state| {
            state
                .asset_status
                .get(name)
                .filter(|s| predicate(s))
                .cloned()
        })
        .await
    }

    // ----- Notifications -----

    /// The device update preference for (device, endpoint): `On` if any connector set it `On`,
    /// else `Off` if one set it, else `None`.
    pub fn device_notification_preference(
        &self,
        device: &str,
        endpoint: &str,
    ) -> Option<NotificationPreference> {
        self.shared
            .read(|state| device_preference(state, device, endpoint))
    }

    /// The asset update preference for (device, endpoint, asset), as
    /// [`device_notification_preference`](Self::device_notification_preference).
    pub fn asset_notification_preference(
        &self,
        device: &str,
        endpoint: &str,
        asset: &str,
    ) -> Option<NotificationPreference> {
        self.shared
            .read(|state| asset_preference(state, device, endpoint, asset))
    }

    /// Waits until the device update preference for (device, endpoint) is `preference`.
    pub async fn wait_for_device_notification_preference(
        &self,
        device: &str,
        endpoint: &str,
        preference: NotificationPreference,
        timeout: Duration,
    ) -> bool {
        self.wait_until(timeout, |state| {
            (device_preference(state, device, endpoint) == Some(preference)).then_some(())
        })
        .await
        .is_some()
    }

    /// Waits until the asset update preference for (device, endpoint, asset) is `preference`.
    pub async fn wait_for_asset_notification_preference(
        &self,
        device: &str,
        endpoint: &str,
        asset: &str,
        preference: NotificationPreference,
        timeout: Duration,
    ) -> bool {
        self.wait_until(timeout, |state| {
            (asset_preference(state, device, endpoint, asset) == Some(preference)).then_some(())
        })
        .await
        .is_some()
    }

    /// Publishes a `deviceUpdateEvent` with the stored device (narrowed to `endpoint`) to every
    /// connector that set the device update preference of (device, endpoint) `On`; how many
    /// were sent (0 when none is subscribed or the device is unknown).
    pub async fn send_device_update(&self, device: &str, endpoint: &str) -> usize {
        let (spec, targets) = self.shared.read(|state| {
            let targets: Vec<String> = state
                .device_preferences
                .iter()
                .filter(|((_, d, e), p)| {
                    d == device && e == endpoint && **p == NotificationPreference::On
                })
                .map(|((cid, _, _), _)| cid.clone())
                .collect();
            (state.devices.get(device).cloned(), targets)
        });
        let Some(spec) = spec else { return 0 };
        let payload = json!({"deviceUpdateEvent": {
            "deviceName": device,
            "device": model::device_for_endpoint(&spec, endpoint),
        }});
        self.send_telemetry(&targets, device, endpoint, "deviceUpdateEvent", &payload)
            .await
    }

    /// Publishes an `assetUpdateEvent` with the stored asset to every connector that set the
    /// asset update preference of (device, endpoint, asset) `On`; how many were sent.
    pub async fn send_asset_update(&self, device: &str, endpoint: &str, asset: &str) -> usize {
        let (spec, targets) = self.shared.read(|state| {
            let targets: Vec<String> = state
                .asset_preferences
                .iter()
                .filter(|((_, d, e, a), p)| {
                    d == device && e == endpoint && a == asset && **p == NotificationPreference::On
                })
                .map(|((cid, _, _, _), _)| cid.clone())
                .collect();
            (state.assets.get(asset).cloned(), targets)
        });
        let Some(spec) = spec else { return 0 };
        let payload = json!({"assetUpdateEvent": {"assetName": asset, "asset": spec}});
        self.send_telemetry(&targets, device, endpoint, "assetUpdateEvent", &payload)
            .await
    }

    async fn send_telemetry(
        &self,
        connectors: &[String],
        device: &str,
        endpoint: &str,
        name: &str,
        payload: &Value,
    ) -> usize {
        let mut sent = 0;
        for cid in connectors {
            let properties = PublishProperties {
                payload_format_indicator: Some(1),
                content_type: Some("application/json".to_owned()),
                user_properties: vec![
                    ("__ts".to_owned(), clock::hlc_now(&self.client_id)),
                    ("__protVer".to_owned(), "1.0".to_owned()),
                    ("__srcId".to_owned(), self.client_id.clone()),
                ],
                ..PublishProperties::default()
            };
            let topic = format!("{TOPIC_ROOT}/telemetry/{cid}/{device}/{endpoint}/{name}");
            if self
                .client
                .publish_with_properties(
                    topic,
                    QoS::AtLeastOnce,
                    false,
                    Bytes::from(payload.to_string()),
                    properties,
                )
                .await
                .is_ok()
            {
                sent += 1;
            }
        }
        sent
    }

    // ----- Records -----

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.read(|state| state.requests.clone())
    }

    /// The requests of one command, in order.
    pub fn requests_for(&self, command: Command) -> Vec<RecordedRequest> {
        self.shared.read(|state| {
            state
                .requests
                .iter()
                .filter(|r| r.command == Some(command))
                .cloned()
                .collect()
        })
    }

    /// Waits for a request (already received or not) for which `predicate` holds.
    pub async fn wait_for_request(
        &self,
        mut predicate: impl FnMut(&RecordedRequest) -> bool,
        timeout: Duration,
    ) -> Option<RecordedRequest> {
        self.wait_until(timeout, |state| {
            state.requests.iter().find(|r| predicate(r)).cloned()
        })
        .await
    }

    /// Every runtime health event received so far, in order.
    pub fn health_events(&self) -> Vec<HealthEvent> {
        self.shared.read(|state| state.health_events.clone())
    }

    /// Waits for a health event (already received or not) for which `predicate` holds.
    pub async fn wait_for_health_event(
        &self,
        mut predicate: impl FnMut(&HealthEvent) -> bool,
        timeout: Duration,
    ) -> Option<HealthEvent> {
        self.wait_until(timeout, |state| {
            state.health_events.iter().find(|e| predicate(e)).cloned()
        })
        .await
    }

    /// The discovered assets created through `createOrUpdateDiscoveredAsset`: name →
    /// (`discoveredAsset` as sent, version).
    pub fn discovered_assets(&self) -> Vec<(String, Value, u64)> {
        self.shared.read(|state| {
            state
                .discovered_assets
                .iter()
                .map(|(name, (asset, version))| (name.clone(), asset.clone(), *version))
                .collect()
        })
    }

    /// Forgets the recorded requests and health events (definitions and statuses stay).
    pub fn clear_records(&self) {
        self.shared.update(|state| {
            state.requests.clear();
            state.health_events.clear();
        });
    }

    // ----- Failures -----

    /// Makes every later `command` fail with `failure` until [`clear_failures`](Self::clear_failures).
    pub fn fail(&self, command: Command, failure: Failure) {
        self.shared.update(|state| {
            state.failures.insert(command, (failure, None));
        });
    }

    /// Makes the next `times` `command` requests fail with `failure`.
    pub fn fail_times(&self, command: Command, failure: Failure, times: usize) {
        self.shared.update(|state| {
            if times == 0 {
                state.failures.remove(&command);
            } else {
                state.failures.insert(command, (failure, Some(times)));
            }
        });
    }

    /// Every command answers normally again.
    pub fn clear_failures(&self) {
        self.shared.update(|state| state.failures.clear());
    }

    // ----- Lifecycle -----

    /// Disconnects from the broker.
    pub async fn stop(self) {
        let _ = self.client.try_disconnect();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    async fn wait_until<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&State) -> Option<T>,
    ) -> Option<T> {
        let mut changes = self.shared.changed.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            changes.borrow_and_update();
            if let Some(found) = self.shared.read(&mut check) {
                return Some(found);
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                _ => return None,
            }
        }
    }
}

impl Drop for FakeAdr {
    fn drop(&mut self) {
        self.poll_task.abort();
        self.send_task.abort();
    }
}

fn device_preference(
    state: &State,
    device: &str,
    endpoint: &str,
) -> Option<NotificationPreference> {
    combine(
        state
            .device_preferences
            .iter()
            .filter(|((_, d, e), _)| d == device && e == endpoint)
            .map(|(_, p)| *p),
    )
}

fn asset_preference(
    state: &State,
    device: &str,
    endpoint: &str,
    asset: &str,
) -> Option<NotificationPreference> {
    combine(
        state
            .asset_preferences
            .iter()
            .filter(|((_, d, e, a), _)| d == device && e == endpoint && a == asset)
            .map(|(_, p)| *p),
    )
}

/// `On` if any is `On`, else `Off` if any, else `None`.
fn combine(
    preferences: impl Iterator<Item = NotificationPreference>,
) -> Option<NotificationPreference> {
    preferences.fold(None, |acc, p| match (acc, p) {
        (Some(NotificationPreference::On), _) | (_, NotificationPreference::On) => {
            Some(NotificationPreference::On)
        }
        _ => Some(NotificationPreference::Off),
    })
}

/// `spec` with a `version`: its own, else the previous one + 1, else 1.
fn versioned(previous: Option<&Value>, mut spec: Value) -> Value {
    if let Value::Object(map) = &mut spec
        && !map.contains_key("version")
    {
        let next = previous
            .and_then(|p| p.get("version"))
            .and_then(Value::as_u64)
            .map_or(1, |v| v + 1);
        map.insert("version".to_owned(), json!(next));
    }
    spec
}

fn incoming(publish: Publish) -> Incoming {
    let properties = publish.properties.unwrap_or_default();
    Incoming {
        topic: String::from_utf8_lossy(&publish.topic).into_owned(),
        payload: publish.payload,
        content_type: properties.content_type,
        payload_format_indicator: properties.payload_format_indicator,
        message_expiry: properties.message_expiry_interval,
        response_topic: properties.response_topic,
        correlation_data: properties.correlation_data,
        user_properties: properties.user_properties,
    }
}
