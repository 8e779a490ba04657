//! Decoder errors.

use std::fmt;

/// Why the decoder refused part of a stream.
///
/// A `DecodeError` is never fatal: the decoder drops the offending event and goes on with the
/// next one, so the caller decides whether to count, log or reconnect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    kind: DecodeErrorKind,
}

/// The kinds of [`DecodeError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// An event needed more than `limit` bytes of buffer (field lines of one event, or one line).
    EventTooLarge {
        /// The configured maximum event size in bytes.
        limit: usize,
    },
}

impl DecodeError {
    pub(crate) fn event_too_large(limit: usize) -> Self {
        Self {
            kind: DecodeErrorKind::EventTooLarge { limit },
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> DecodeErrorKind {
        self.kind
    }

    /// A stable, machine-readable label for metrics and status.
    pub fn reason_code(&self) -> &'static str {
        match self.kind {
            DecodeErrorKind::EventTooLarge { .. } => "event_too_large",
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            DecodeErrorKind::EventTooLarge { limit } => write!(
                f,
                "event larger than the maximum event size of {limit} bytes; it was dropped \
                 (raise the maximum event size to accept it)"
            ),
        }
    }
}

impl std::error::Error for DecodeError {}
