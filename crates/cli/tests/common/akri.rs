//! An Akri deployment of the connector, laid out as Kubernetes mounts it (AtomicWriter
//! layout): the configuration, the allocation and the device credentials mounts, a persistent
//! volume, and the variables Akri sets.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde_json::{Value, json};
use test_support::k8s_mount::K8sMount;

use super::{Connector, run_command};

/// A deployment's mounts, laid out as Kubernetes mounts them.
pub struct Deployment {
    /// The directory holding every mount and the persistent volume.
    pub root: tempfile::TempDir,
    /// The pod name Akri gives the connector (`CONNECTOR_ID`).
    pub connector_id: String,
    allocation: K8sMount,
    credentials: Option<K8sMount>,
}

impl Deployment {
    /// A deployment of connector `connector_id` whose broker is `broker` (plain MQTT),
    /// allocating `allocation` (`device_endpoint` → asset names), with device credentials
    /// `credentials` when given.
    pub fn new(
        connector_id: &str,
        broker: SocketAddr,
        allocation: &[(&str, &[&str])],
        credentials: Option<&[(&str, &str)]>,
    ) -> Self {
        let root = tempfile::tempdir().unwrap();
        let connection = json!({
            "host": format!("127.0.0.1:{}", broker.port()),
            "keepAliveSeconds": 10,
            "maxInflightMessages": 100,
            "protocol": "mqtt",
            "authentication": {"method": "sat", "serviceAccountTokenSettings": {"audience": "aio-internal"}},
            "sessionExpirySeconds": 60,
            "tls": {"mode": "Disabled"}
        })
        .to_string();
        let volume = root.path().join("pv");
        std::fs::create_dir_all(&volume).unwrap();
        K8sMount::create(
            root.path().join("config"),
            &[
                ("MQTT_CONNECTION_CONFIGURATION", connection.as_str()),
                ("DIAGNOSTICS", r#"{"logs":{"level":"info"}}"#),
                ("PERSISTENT_VOLUME_MOUNT_PATH", volume.to_str().unwrap()),
            ],
        );
        let allocation = K8sMount::create(
            root.path().join("adr-resources"),
            &allocation_files(allocation),
        );
        let credentials =
            credentials.map(|files| K8sMount::create(root.path().join("credentials"), files));
        Self {
            root,
            connector_id: connector_id.to_owned(),
            allocation,
            credentials,
        }
    }

    /// The client id the device registry sees, also the messages' `__srcId`: the connector
    /// id and the SDK's suffix.
    pub fn session_id(&self) -> String {
        format!("{}0", self.connector_id)
    }

    /// The state directory the connector uses: its persistent volume, below its id.
    pub fn state_dir(&self) -> PathBuf {
        self.root.path().join("pv").join(&self.connector_id)
    }

    /// The variables Akri sets.
    pub fn env(&self) -> Vec<(String, String)> {
        let path = |name: &str| self.root.path().join(name).display().to_string();
        let mut env = vec![
            ("CONNECTOR_ID".to_owned(), self.connector_id.clone()),
            (
                "CONNECTOR_NAMESPACE".to_owned(),
                "azure-iot-operations".to_owned(),
            ),
            (
                "CONNECTOR_CONFIGURATION_MOUNT_PATH".to_owned(),
                path("config"),
            ),
            (
                "ADR_RESOURCES_NAME_MOUNT_PATH".to_owned(),
                path("adr-resources"),
            ),
        ];
        if self.credentials.is_some() {
            env.push((
                "DEVICE_ENDPOINT_CREDENTIALS_MOUNT_PATH".to_owned(),
                path("credentials"),
            ));
        }
        env
    }

    /// Replaces the allocation, as the operator does.
    pub fn allocate(&mut self, allocation: &[(&str, &[&str])]) {
        self.allocation.replace(&allocation_files(allocation));
    }

    /// Starts the connector with no flag but the HTTP listener (for the local status).
    pub async fn start(&self) -> Connector {
        let mut command = run_command();
        command.args(["--http", "127.0.0.1:0"]).envs(self.env());
        Connector::spawn(command, false, true).await
    }
}

/// The allocation mount's files: one per device endpoint, one asset name per line.
pub fn allocation_files<'a>(allocation: &[(&'a str, &[&str])]) -> Vec<(&'a str, String)> {
    allocation
        .iter()
        .map(|(endpoint, assets)| (*endpoint, assets.join("\n") + "\n"))
        .collect()
}

/// An anonymous device with one SSE endpoint `ep` at `address`.
pub fn device(address: &str) -> Value {
    json!({
        "uuid": "0c1d2e3f-device",
        "version": 1,
        "enabled": true,
        "endpoints": {"inbound": {"ep": {"endpointType": "Microsoft.SSEHttp", "address": address}}}
    })
}

/// An asset of `device`/`ep` with `datasets`.
pub fn asset(device: &str, datasets: Value) -> Value {
    json!({
        "uuid": "9a8b7c6d-asset",
        "version": 1,
        "enabled": true,
        "deviceRef": {"deviceName": device, "endpointName": "ep"},
        "datasets": datasets
    })
}

/// A dataset reading `path` into MQTT `topic`.
pub fn dataset(name: &str, path: &str, topic: &str) -> Value {
    json!({"name": name, "dataSource": path,
           "destinations": [{"target": "Mqtt", "configuration": {"topic": topic, "qos": "Qos1"}}]})
}
