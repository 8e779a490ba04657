//! The dead-letter files: where an event goes when its destination refuses it for a reason
//! no retry of the same message can fix (an invalid topic, a packet too large, a payload
//! format the broker rejects, a storage path outside the root).
//!
//! One file per asset, `STATE_DIR/dead-letter/{asset}.jsonl`, written by the same file
//! writer as the `Storage` destination, with the same rules: one JSON object a line, flushed
//! to disk (`fdatasync`) before the event counts as done, rotated by size, a torn last line
//! repaired at the next start. A line:
//!
//! ```text
//! {"time":"2026-12-04T15:02:11.120Z","operation":"asset/dataset","destination":{"kind":"Mqtt","topic":"a/+/b"},
//!  "reasonCode":"invalid_message","reason":"the message on a/+/b cannot be sent: …",
//!  "event":{"type":"reading","id":"42","data":{"t":21.5}}}
//! ```
//!
//! `event.data` is the event's data as JSON when it is one JSON value, else a string.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use serde::Serialize;
use sinks::file::Line;
use sinks::{Delivery, FileOptions, FileSinks, PublishError};
use sse_client::Event;

use crate::forward::Destination;
use crate::router::Target;

/// The folder under the state directory.
pub const DEAD_LETTER_DIR: &str = "dead-letter";

/// The dead-letter files of one state directory; cloneable, shared by every stream.
#[derive(Debug, Clone)]
pub(crate) struct DeadLetters {
    files: FileSinks,
}

impl DeadLetters {
    /// The files under `STATE_DIR/dead-letter/` (created at the first line).
    pub fn new(state_dir: &Path) -> Self {
        Self {
            files: FileSinks::new(state_dir.join(DEAD_LETTER_DIR), FileOptions::default()),
        }
    }

    /// The file of `target`'s asset, relative to the state directory (for status texts).
    pub fn file_of(target: &Target) -> PathBuf {
        Path::new(DEAD_LETTER_DIR).join(file_name(target))
    }

    /// Queues the record of `event`, refused by `target`'s destination with `error`; the
    /// delivery resolves once the line is on disk.
    ///
    /// # Errors
    /// The file writer's [`PublishError`] (closed at shutdown; a refused path cannot happen:
    /// asset names are plain names).
    pub async fn append(
        &self,
        target: &Target,
        event: &Event,
        error: &PublishError,
    ) -> Result<Delivery, PublishError> {
        self.append_reason(target, event, error.reason_code(), &error.to_string())
            .await
    }

    /// Queues the record of `event`, not delivered by `target` for `reason` (`code`: its
    /// stable reason code), e.g. a failed transform.
    ///
    /// # Errors
    /// As [`append`](Self::append).
    pub async fn append_reason(
        &self,
        target: &Target,
        event: &Event,
        code: &'static str,
        reason: &str,
    ) -> Result<Delivery, PublishError> {
        let line = record(target, event, code, reason).map_err(|e| PublishError::Storage {
            path: file_name(target),
            reason: format!("cannot encode the dead-letter record: {e}"),
        })?;
        self.files.append(&file_name(target), line).await
    }

    /// Flushes and closes every file.
    pub async fn close(&self) {
        self.files.close().await;
    }
}

fn file_name(target: &Target) -> String {
    format!("{}.jsonl", target.id.asset())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Record<'a> {
    time: String,
    operation: String,
    destination: DestinationRecord<'a>,
    reason_code: &'static str,
    reason: String,
    event: EventRecord<'a>,
}

#[derive(Serialize)]
#[serde(tag = "kind")]
enum DestinationRecord<'a> {
    Mqtt { topic: &'a str },
    BrokerStateStore { key: &'a str },
    Storage { path: &'a str },
}

#[derive(Serialize)]
struct EventRecord<'a> {
    #[serde(rename = "type")]
    event_type: &'a str,
    id: &'a str,
    data: serde_json::Value,
}

/// The line of one dead letter.
fn record(
    target: &Target,
    event: &Event,
    reason_code: &'static str,
    reason: &str,
) -> Result<Line, serde_json::Error> {
    let destination = match &target.destination {
        Destination::Mqtt(settings) => DestinationRecord::Mqtt {
            topic: &settings.topic,
        },
        Destination::KeyValue { key } => DestinationRecord::BrokerStateStore { key },
        Destination::File { path, .. } => DestinationRecord::Storage { path },
    };
    let data: Bytes = event.data.clone().into_bytes();
    let data = serde_json::from_slice(&data)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&data).into()));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    Line::json(&Record {
        time: aio_mqtt::cloudevents::time(now),
        operation: target.id.to_string(),
        destination,
        reason_code,
        reason: reason.to_owned(),
        event: EventRecord {
            event_type: &event.event_type,
            id: &event.last_event_id,
            data,
        },
    })
}
