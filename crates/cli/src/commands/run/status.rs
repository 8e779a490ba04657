//! The status of a running connector: its [`StatusBoard`], kept current after every plan
//! applied, served at `GET /api/v1/status` and written to `STATE_DIR/status/`.

use std::sync::Arc;

use registry::{RegistryPaths, Snapshot};
use sinks::MqttPublisher;
use status::{ConnectorInfo, StatusBoard};
use supervisor::{Applied, Supervisor};

/// A board for this connector: its id, the broker it publishes to and the registry it reads.
pub fn board(
    client_id: &str,
    broker_url: &str,
    paths: &RegistryPaths,
    publisher: MqttPublisher,
) -> StatusBoard {
    StatusBoard::new(
        ConnectorInfo {
            instance: client_id.to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            broker_url: broker_url.to_owned(),
            registry_dir: paths.definitions.clone(),
            secrets_dir: paths.secrets.clone(),
        },
        Arc::new(move || publisher.is_connected()),
    )
}

/// Tells `board` what applying `snapshot` did and which streams run now.
pub fn record<P: sinks::Publisher>(
    board: &StatusBoard,
    snapshot: Arc<Snapshot>,
    applied: &Applied,
    supervisor: &Supervisor<P>,
) {
    board.applied(snapshot, applied, supervisor.streams());
}

/// `GET /api/v1/status` over the board.
pub struct BoardStatus(pub StatusBoard);

impl api::StatusSource for BoardStatus {
    fn status(&self) -> serde_json::Value {
        serde_json::to_value(self.0.report()).unwrap_or_default()
    }
}
