//! The event-stream interpretation of the WHATWG HTML standard, over complete lines.

use std::ops::Range;

use bytes::Bytes;
use bytestring::ByteString;
use smol_str::SmolStr;

use crate::error::DecodeError;
use crate::event::{DataBuffer, Event, Frame, FrameKind, MESSAGE};
use crate::fast::{self, Shape};
use crate::line::{Line, LineSplitter, Source};

/// The default maximum event size: 16 MiB.
pub const DEFAULT_MAX_EVENT_SIZE: usize = 16 * 1024 * 1024;

/// A sans-I/O event-stream decoder: push bytes in, pull [`Frame`]s out.
///
/// It follows the WHATWG "interpret an event stream" rules exactly: UTF-8 with U+FFFD
/// replacement, one leading BOM stripped per connection, CR / LF / CRLF line ends, comments,
/// fields with and without a colon, one leading space stripped from values, `id` values with NUL
/// ignored, `retry` only when all ASCII digits, the event type reset after each dispatch, blocks
/// without data not dispatched, and the last event ID committed at every blank line.
///
/// The output does not depend on how the input is split into chunks. Memory is bounded by the
/// maximum event size; time is linear in the input. The data of an event with one `data` line
/// is a zero-copy slice of the pushed chunk, which therefore stays alive as long as the event.
///
/// ```
/// use bytes::Bytes;
/// use sse_parser::{Decoder, Frame};
///
/// let mut decoder = Decoder::new();
/// decoder.push(Bytes::from_static(b"id: 7\nevent: reading\ndata: {\"t\":21.5}\n\n"));
/// let Ok(Some(Frame::Event(event))) = decoder.next_frame() else { panic!("no event") };
/// assert_eq!((&*event.event_type, &*event.data, &*event.last_event_id), ("reading", "{\"t\":21.5}", "7"));
/// ```
#[derive(Debug)]
pub struct Decoder {
    lines: LineSplitter,
    block: Block,
    max_event_size: usize,
}

/// The state the standard attaches to a stream: the event being built and the IDs.
#[derive(Debug, Default)]
struct Block {
    data: DataBuffer,
    event_type: Option<SmolStr>,
    /// The most recent `event` value, kept to reuse.
    last_event_type: SmolStr,
    /// The last event ID buffer, when an `id` field changed it since the last blank line.
    pending_id: Option<SmolStr>,
    /// The last event ID string: committed at each blank line, sent on reconnection.
    last_event_id: SmolStr,
    /// The current event overflowed: ignore its lines until the blank line that ends it.
    skipping: bool,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    /// A decoder with the default maximum event size ([`DEFAULT_MAX_EVENT_SIZE`]).
    pub fn new() -> Self {
        Self {
            lines: LineSplitter::default(),
            block: Block::default(),
            max_event_size: DEFAULT_MAX_EVENT_SIZE,
        }
    }

    /// Sets the maximum number of bytes buffered for one event: the sum of its field values
    /// plus the line being read. A larger event is dropped with a [`DecodeError`].
    pub fn with_max_event_size(mut self, bytes: usize) -> Self {
        self.max_event_size = bytes.max(1);
        self
    }

    /// The maximum event size in bytes.
    pub fn max_event_size(&self) -> usize {
        self.max_event_size
    }

    /// Adds input. Call [`next_frame`](Self::next_frame) until it returns `Ok(None)` to drain it.
    pub fn push(&mut self, chunk: Bytes) {
        self.lines.push(chunk);
    }

    /// Decodes the next frame from the input pushed so far.
    ///
    /// Returns `Ok(None)` when more input is needed. An `Err` reports an event that was dropped
    /// for being too large; decoding goes on with the next call.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, DecodeError> {
        self.decode(true)
    }

    /// Passes over the next frame: what [`next_frame`](Self::next_frame) would return, without
    /// its content, for a caller that only counts. The decoder goes through the same states;
    /// the data of a common event is checked but not sliced out of the input, which saves the
    /// updates of the input's reference count that creating and dropping the slice cost.
    ///
    /// # Errors
    /// As [`next_frame`](Self::next_frame): an event dropped for being too large.
    pub fn skip_frame(&mut self) -> Result<Option<FrameKind>, DecodeError> {
        self.decode(false)
            .map(|frame| frame.as_ref().map(Frame::kind))
    }

    /// Decodes the next frame. `build`: whether the data of a common event is wanted; when not,
    /// an empty string stands in for it.
    #[inline(always)]
    fn decode(&mut self, build: bool) -> Result<Option<Frame>, DecodeError> {
        loop {
            if let Some(event) = self.fast_event(build) {
                return Ok(Some(Frame::Event(event)));
            }
            let budget = self.max_event_size.saturating_sub(self.block.retained());
            let outcome = match self.lines.next_line(budget) {
                None => return Ok(None),
                Some(Line::InChunk(range)) => self.block.process_line(self.lines.chunk(), range),
                Some(Line::Joined(line)) => self.block.process_line(&line, 0..line.len()),
                Some(Line::TooLong) => {
                    if self.block.start_skipping() {
                        return Err(DecodeError::event_too_large(self.max_event_size));
                    }
                    Outcome::Nothing
                }
            };
            match outcome {
                Outcome::Nothing => {}
                Outcome::Dispatch => {
                    if let Some(event) = self.block.dispatch() {
                        return Ok(Some(Frame::Event(event)));
                    }
                }
                Outcome::Frame(frame) => return Ok(Some(frame)),
            }
        }
    }

    /// Decodes a whole event in one pass when it is of the common shape, without the per-line
    /// bookkeeping of the general path. See [`crate::fast`].
    #[inline]
    fn fast_event(&mut self, build: bool) -> Option<Event> {
        if !self.block.is_clear() {
            return None;
        }
        let (chunk, start) = self.lines.at_clean_line_start()?;
        let shape = fast::scan(&chunk[start..], self.max_event_size)?.offset(start);
        let end = shape.end;
        let event = self
            .block
            .dispatch_shape(&self.lines.source(start..end), &shape, build)?;
        self.lines.consume_to(end);
        Some(event)
    }

    /// Starts a new connection: drops a partial line and an undispatched event (as the end of a
    /// stream does), and strips a BOM again at the start of the next input. The last event ID
    /// is kept, and events of the new connection inherit it, as browsers do.
    pub fn reset(&mut self) {
        self.lines.reset();
        let last_event_id = std::mem::take(&mut self.block.last_event_id);
        self.block = Block {
            last_event_id,
            ..Block::default()
        };
    }

    /// The last event ID: the value a reconnection sends as `Last-Event-ID` (empty: none).
    pub fn last_event_id(&self) -> &SmolStr {
        &self.block.last_event_id
    }

    /// Sets the last event ID, e.g. a resume point saved by an earlier run.
    pub fn set_last_event_id(&mut self, id: &str) {
        self.block.pending_id = None;
        self.block.last_event_id = SmolStr::new(id);
    }

    /// Number of bytes held for the event being read (its fields and the current line).
    pub fn buffered(&self) -> usize {
        self.block.retained() + self.lines.buffered()
    }
}

impl Block {
    /// Bytes kept for the event being built; they count against the maximum event size.
    fn retained(&self) -> usize {
        self.data.len() + self.event_type.as_ref().map_or(0, |t| t.len())
    }

    /// Whether no field of an event has been read since the last blank line.
    #[inline]
    fn is_clear(&self) -> bool {
        matches!(self.data, DataBuffer::Empty)
            && self.event_type.is_none()
            && self.pending_id.is_none()
            && !self.skipping
    }

    /// Dispatches an event of the common shape, exactly as the general path would after reading
    /// its lines one by one. Returns `None`, changing nothing, when a value is not valid UTF-8:
    /// replacement characters can make a value longer than its bytes, which only the general
    /// path accounts for. Without `build`, the data is only checked, and left empty.
    #[inline]
    fn dispatch_shape(&mut self, source: &Source<'_>, shape: &Shape, build: bool) -> Option<Event> {
        let event_type = match &shape.event_type {
            Some(range) => Some(source.str(range.clone())?),
            None => None,
        };
        let id = match &shape.id {
            Some(range) => Some(source.str(range.clone())?),
            None => None,
        };
        let data = if build {
            source.string(shape.data.clone())?
        } else {
            source.str(shape.data.clone()).map(|_| ByteString::new())?
        };
        let event_type = match event_type {
            Some(name) if !name.is_empty() => {
                if self.last_event_type != name {
                    self.last_event_type = short_str(name);
                }
                self.last_event_type.clone()
            }
            _ => MESSAGE,
        };
        // The new ID is built once and copied into the state, rather than stored and read back.
        let last_event_id = match id {
            Some(id) => {
                let id = short_str(id);
                self.last_event_id = id.clone();
                id
            }
            None => self.last_event_id.clone(),
        };
        Some(Event {
            event_type,
            data,
            last_event_id,
            has_own_id: id.is_some(),
        })
    }

    /// Drops the event being built; returns whether this is the first overflow of the event.
    fn start_skipping(&mut self) -> bool {
        self.data = DataBuffer::Empty;
        self.event_type = None;
        !std::mem::replace(&mut self.skipping, true)
    }

    /// Processes one line, found at `range` of `source`.
    #[inline]
    fn process_line(&mut self, source: &Bytes, range: Range<usize>) -> Outcome {
        let line = &source[range.clone()];
        if line.is_empty() {
            return Outcome::Dispatch;
        }
        if self.skipping {
            return Outcome::Nothing;
        }
        if line[0] == b':' {
            return Outcome::Frame(Frame::Comment(text(source, range.start + 1..range.end)));
        }
        let Some((name, value)) = split_field(line) else {
            return Outcome::Nothing;
        };
        let value = range.start + value..range.end;
        match Field::parse(name) {
            Some(Field::Data) => self.data.append(text(source, value)),
            Some(Field::Event) => self.set_event_type(&source[value]),
            Some(Field::Id) if !source[value.clone()].contains(&0) => {
                self.pending_id = Some(short_text(&source[value]));
            }
            Some(Field::Retry) => {
                if let Some(ms) = parse_retry(&source[value]) {
                    return Outcome::Frame(Frame::Retry(ms));
                }
            }
            _ => {}
        }
        Outcome::Nothing
    }

    /// Sets the event type. Streams repeat a few types, so the previous one is reused when equal.
    fn set_event_type(&mut self, value: &[u8]) {
        if self.last_event_type.as_bytes() != value {
            self.last_event_type = short_text(value);
        }
        self.event_type = Some(self.last_event_type.clone());
    }

    /// Handles a blank line: commits the last event ID and dispatches the event, if it has data.
    fn dispatch(&mut self) -> Option<Event> {
        let has_own_id = match self.pending_id.take() {
            Some(id) => {
                self.last_event_id = id;
                true
            }
            None => false,
        };
        let event_type = self.event_type.take();
        self.skipping = false;
        let data = self.data.take()?;
        Some(Event {
            event_type: event_type.filter(|t| !t.is_empty()).unwrap_or(MESSAGE),
            data,
            last_event_id: self.last_event_id.clone(),
            has_own_id,
        })
    }
}

/// What a line asks of the decoder. Kept apart from [`Frame`] so that the common lines, which
/// produce nothing, do not move a whole frame around.
enum Outcome {
    Nothing,
    /// A blank line: dispatch the event.
    Dispatch,
    /// A comment or a retry value to hand out.
    Frame(Frame),
}

/// The fields the standard defines; every other field name is ignored.
#[derive(Clone, Copy)]
pub(crate) enum Field {
    Data,
    Event,
    Id,
    Retry,
}

impl Field {
    /// Matches a field name by length first, then content, without a call to `memcmp`.
    #[inline]
    pub(crate) fn parse(name: &[u8]) -> Option<Self> {
        match *name {
            [b'd', b'a', b't', b'a'] => Some(Self::Data),
            [b'e', b'v', b'e', b'n', b't'] => Some(Self::Event),
            [b'i', b'd'] => Some(Self::Id),
            [b'r', b'e', b't', b'r', b'y'] => Some(Self::Retry),
            _ => None,
        }
    }
}

/// The longest field name the standard defines (`retry`, `event`).
const LONGEST_FIELD_NAME: usize = 5;

/// Splits a non-comment line into its field name and the offset of its value (after the colon
/// and one optional space). Returns `None` for a line whose name is longer than any field the
/// standard defines: such a field is ignored, so the rest of the line need not be searched.
#[inline]
pub(crate) fn split_field(line: &[u8]) -> Option<(&[u8], usize)> {
    let head = &line[..line.len().min(LONGEST_FIELD_NAME + 1)];
    match head.iter().position(|&b| b == b':') {
        Some(colon) => {
            let skip = if line.get(colon + 1) == Some(&b' ') {
                2
            } else {
                1
            };
            Some((&line[..colon], colon + skip))
        }
        None if line.len() <= LONGEST_FIELD_NAME => Some((line, line.len())),
        None => None,
    }
}

/// A `retry` value counts only when it is all ASCII digits; one too large for u64 is ignored.
fn parse_retry(value: &[u8]) -> Option<u64> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    value.iter().try_fold(0u64, |n, digit| {
        n.checked_mul(10)?.checked_add(u64::from(digit - b'0'))
    })
}

/// Decodes a short field (event type, ID) as UTF-8 with U+FFFD replacement.
///
/// These are copied rather than sliced: most fit inline in a [`SmolStr`], whose clones then cost
/// no reference counting, and they are cloned into every event.
#[inline(always)]
fn short_text(value: &[u8]) -> SmolStr {
    match std::str::from_utf8(value) {
        Ok(text) => short_str(text),
        Err(_) => SmolStr::new(String::from_utf8_lossy(value)),
    }
}

/// `new_inline` is a plain inlined copy; `new` goes through a general path.
#[inline(always)]
fn short_str(text: &str) -> SmolStr {
    if text.len() <= SmolStr::INLINE_CAP {
        SmolStr::new_inline(text)
    } else {
        SmolStr::new(text)
    }
}

/// Decodes `range` of `source` as UTF-8, replacing invalid sequences with U+FFFD.
///
/// Valid text (the common case) is a zero-copy slice of `source`. Decoding field by field equals
/// decoding the whole stream: line terminators and colons are ASCII, so no valid code point
/// spans two fields, and a sequence cut by one is invalid either way.
fn text(source: &Bytes, range: Range<usize>) -> ByteString {
    if range.is_empty() {
        return ByteString::new();
    }
    ByteString::try_from(source.slice(range.clone()))
        .unwrap_or_else(|_| ByteString::from(String::from_utf8_lossy(&source[range]).into_owned()))
}
