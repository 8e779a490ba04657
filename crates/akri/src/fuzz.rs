//! Entry points for the fuzz targets in the repository's `fuzz/` folder: the payloads the
//! device registry service sends. Not part of the API.

use serde_json::Value;

use crate::adr::client::Notification;
use crate::adr::error::AdrError;
use crate::adr::protocol::Command;

/// The success field of a response to `command`, or the error it carries.
///
/// # Errors
/// What the connector reports for this payload.
pub fn response(command: Command, payload: &[u8]) -> Result<Value, AdrError> {
    crate::adr::client::read_response(command, payload)
}

/// The update event of a PUBLISH on `topic` to `client_id`, if it is one.
///
/// # Errors
/// Why the event is ignored.
pub fn notification(
    client_id: &str,
    topic: &str,
    payload: &[u8],
) -> Result<Option<Notification>, String> {
    crate::adr::client::read_notification(client_id, topic, payload)
}
