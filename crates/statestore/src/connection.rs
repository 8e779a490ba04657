//! The connection of a client or service: a request/response connection from
//! [`aio_mqtt::connection`], with this crate's errors.

use aio_mqtt::MqttConfig;
use aio_mqtt::rpc::CommandError;
use rumqttc::v5::{AsyncClient, EventLoop};

use crate::error::Result;

/// Requests queued in rumqttc's channel before a send waits (the client's too).
pub(crate) const REQUEST_CAPACITY: usize = 1024;

/// Validates `config` and builds the client and its event loop (nothing connects yet).
///
/// # Errors
/// An invalid setting or an unusable TLS or password file.
pub(crate) fn build(config: &MqttConfig) -> Result<(AsyncClient, EventLoop)> {
    aio_mqtt::connection::connection(config, REQUEST_CAPACITY)
        .map_err(|e| CommandError::from(e).into())
}
