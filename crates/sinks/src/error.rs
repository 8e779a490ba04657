//! Why a message was not delivered: [`PublishError`], shared by every destination.

use crate::mqtt::error::reason_code;

/// Why a message was not delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    /// The publisher has shut down; nothing more will be delivered.
    #[error("the publisher has shut down")]
    Closed,
    /// The broker refused the message (a PUBACK reason code of 0x80 or above).
    #[error("the broker refused the message on {topic}: {reason}")]
    Refused {
        /// Topic of the message.
        topic: String,
        /// The PUBACK reason code (MQTT 5, 0x80 and above).
        code: u8,
        /// The PUBACK reason, with the broker's reason string when it sent one.
        reason: String,
    },
    /// The message can never be sent as it is: a topic with wildcards, or a packet larger than
    /// the broker or the publisher accepts. Sending it again unchanged fails the same way.
    #[error("the message on {topic} cannot be sent: {reason}")]
    Invalid {
        /// Topic of the message.
        topic: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A `Storage` path that is not a plain relative path below the storage root (`..`, an
    /// absolute path, a symbolic link leading out of the root). Validation refuses these
    /// already; the file sink refuses them again at runtime.
    #[error("the storage path {path:?} is refused: {reason}")]
    StoragePath {
        /// The path as configured.
        path: String,
        /// Why it is refused.
        reason: String,
    },
    /// A `Storage` file could not be opened, written, rotated or flushed to disk. Its line is
    /// not counted as delivered (it may or may not be in the file: at least once).
    #[error("cannot write the storage file {path:?}: {reason}")]
    Storage {
        /// The path as configured.
        path: String,
        /// The I/O failure.
        reason: String,
    },
    /// A key-value store (AIO's state store) did not confirm a SET: an error reply, a timeout,
    /// a lost request.
    #[error("the state store did not set {key:?}: {reason}")]
    KeyValue {
        /// The key.
        key: String,
        /// The store's reply or the failure.
        reason: String,
    },
}

impl PublishError {
    /// Whether sending the same message again may succeed. This decides what the runtime does
    /// with a failed delivery:
    ///
    /// | variant | retryable | why |
    /// |---|---|---|
    /// | `Closed` | no | the destination shut down (the process is stopping); the event is read again at the next start |
    /// | `Refused` 0x87 not authorized, 0x97 quota exceeded | yes, [slowly](Self::retry_slowly) | a change on the broker's side lets it pass |
    /// | `Refused` 0x90 topic invalid, 0x95 packet too large, 0x99 payload format invalid | no | the same message fails the same way: dead letter |
    /// | `Refused` any other code (0x80, 0x83, 0x91, …) | yes | a transient refusal |
    /// | `Invalid` | no | wildcards in the topic, larger than the broker accepts: dead letter |
    /// | `StoragePath` | no | the path leaves the storage root: dead letter |
    /// | `Storage` | yes | a disk full, a permission or an I/O error can be fixed |
    /// | `KeyValue` | yes | a timeout, a lost request or an error reply of the state store |
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Closed | Self::Invalid { .. } | Self::StoragePath { .. } => false,
            Self::Refused { code, .. } => !matches!(
                *code,
                reason_code::TOPIC_NAME_INVALID
                    | reason_code::PACKET_TOO_LARGE
                    | reason_code::PAYLOAD_FORMAT_INVALID
            ),
            Self::Storage { .. } | Self::KeyValue { .. } => true,
        }
    }

    /// Whether a retry should wait long (e.g. 30 s) rather than follow the usual backoff: the
    /// broker refuses for a reason only its operator changes (not authorized, quota exceeded).
    pub fn retry_slowly(&self) -> bool {
        matches!(
            self,
            Self::Refused {
                code: reason_code::NOT_AUTHORIZED | reason_code::QUOTA_EXCEEDED,
                ..
            }
        )
    }

    /// Whether the message can never be delivered as it is and goes to the dead-letter file:
    /// not retryable, and not because the destination shut down.
    pub fn is_dead_letter(&self) -> bool {
        !self.is_retryable() && !matches!(self, Self::Closed)
    }

    /// A stable, low-cardinality code for status and metric labels.
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::Closed => "publisher_closed",
            Self::Refused { .. } => "broker_refused",
            Self::Invalid { .. } => "invalid_message",
            Self::StoragePath { .. } => "storage_path_refused",
            Self::Storage { .. } => "storage_io",
            Self::KeyValue { .. } => "state_store_failed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(code: u8) -> PublishError {
        PublishError::Refused {
            topic: "t".into(),
            code,
            reason: format!("{code:#x}"),
        }
    }

    /// (error, retryable, slowly, dead letter) for every variant and every PUBACK failure code.
    #[test]
    fn every_variant_says_whether_a_retry_can_help() {
        let text = || "x".to_owned();
        let cases = [
            (PublishError::Closed, false, false, false),
            (refused(0x80), true, false, false),
            (refused(0x83), true, false, false),
            (refused(0x87), true, true, false),
            (refused(0x90), false, false, true),
            (refused(0x91), true, false, false),
            (refused(0x95), false, false, true),
            (refused(0x97), true, true, false),
            (refused(0x99), false, false, true),
            (
                PublishError::Invalid {
                    topic: text(),
                    reason: text(),
                },
                false,
                false,
                true,
            ),
            (
                PublishError::StoragePath {
                    path: text(),
                    reason: text(),
                },
                false,
                false,
                true,
            ),
            (
                PublishError::Storage {
                    path: text(),
                    reason: text(),
                },
                true,
                false,
                false,
            ),
            (
                PublishError::KeyValue {
                    key: text(),
                    reason: text(),
                },
                true,
                false,
                false,
            ),
        ];
        for (error, retryable, slowly, dead_letter) in cases {
            assert_eq!(error.is_retryable(), retryable, "{error}");
            assert_eq!(error.retry_slowly(), slowly, "{error}");
            assert_eq!(error.is_dead_letter(), dead_letter, "{error}");
        }
    }
}
