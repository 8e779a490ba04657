//! What the decoder hands out: events, comments and reconnection-time changes.

use bytestring::ByteString;
use smol_str::SmolStr;

/// One item decoded from an event stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A dispatched event.
    Event(Event),
    /// A comment line (`:` and what follows), without the leading colon. Comments are heartbeats
    /// for most servers; they are reported as soon as their line ends.
    Comment(ByteString),
    /// A valid `retry:` field: the server's reconnection time in milliseconds.
    Retry(u64),
}

/// What kind of [`Frame`] [`Decoder::skip_frame`](crate::Decoder::skip_frame) passed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// An event.
    Event,
    /// A comment line.
    Comment,
    /// A valid `retry:` field.
    Retry,
}

impl Frame {
    /// What kind of frame this is.
    pub fn kind(&self) -> FrameKind {
        match self {
            Self::Event(_) => FrameKind::Event,
            Self::Comment(_) => FrameKind::Comment,
            Self::Retry(_) => FrameKind::Retry,
        }
    }
}

/// A dispatched event, as the WHATWG `MessageEvent` would carry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The `event:` field, or `message` when the event had none (or an empty one).
    pub event_type: SmolStr,
    /// The data lines joined with LF.
    pub data: ByteString,
    /// The stream's last event ID when this event was dispatched: what a reconnection would send
    /// as `Last-Event-ID`. Events without an `id` field inherit it from earlier events.
    pub last_event_id: SmolStr,
    /// Whether this event's own lines set the ID (see [`id`](Self::id)).
    pub has_own_id: bool,
}

impl Event {
    /// The ID set by this event's own `id` field, if it had one. Unlike
    /// [`last_event_id`](Self::last_event_id), this is `None` for an event that only inherited
    /// an ID.
    pub fn id(&self) -> Option<&str> {
        self.has_own_id.then_some(&*self.last_event_id)
    }
}

/// The default event type.
pub(crate) const MESSAGE: SmolStr = SmolStr::new_static("message");

/// The data buffer of the event being built.
///
/// The common event has a single `data:` line; it stays a zero-copy slice of the input. Only
/// events with several data lines are joined into an owned string.
#[derive(Debug, Default)]
pub(crate) enum DataBuffer {
    /// No `data` field yet: a blank line dispatches nothing.
    #[default]
    Empty,
    /// Exactly one `data` field.
    One(ByteString),
    /// Several `data` fields, joined with LF.
    Many(String),
}

impl DataBuffer {
    #[inline]
    pub(crate) fn append(&mut self, value: ByteString) {
        if let Self::Empty = self {
            *self = Self::One(value);
            return;
        }
        *self = match std::mem::take(self) {
            Self::Empty => Self::One(value),
            Self::One(first) => {
                let mut joined = String::with_capacity(first.len() + 1 + value.len());
                joined.push_str(&first);
                joined.push('\n');
                joined.push_str(&value);
                Self::Many(joined)
            }
            Self::Many(mut joined) => {
                joined.push('\n');
                joined.push_str(&value);
                Self::Many(joined)
            }
        };
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Self::Empty => 0,
            Self::One(data) => data.len(),
            Self::Many(data) => data.len(),
        }
    }

    /// Takes the data for dispatch; `None` when the event had no data field.
    pub(crate) fn take(&mut self) -> Option<ByteString> {
        match std::mem::take(self) {
            Self::Empty => None,
            Self::One(data) => Some(data),
            Self::Many(data) => Some(ByteString::from(data)),
        }
    }
}
