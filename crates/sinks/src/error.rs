//! Publishing errors.

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
        /// The PUBACK reason.
        reason: String,
    },
}
