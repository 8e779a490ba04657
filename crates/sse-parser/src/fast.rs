//! The common event in one pass.
//!
//! Most events on the wire look alike: a few of `id`, `event` and exactly one `data` line, LF
//! line ends, and the whole event inside the chunk at hand. For those, [`scan`] finds the
//! field ranges in one pass and the decoder builds the event at once, skipping the per-line
//! state of the general path. Anything else (comments, `retry`, several data lines, CR line
//! ends, unknown fields, a block without data, invalid UTF-8, an event cut by the chunk's end or
//! over the size limit) makes the fast path give up at the first line that is not common, having changed
//! nothing, and the general path takes over. The results are the same either way; the
//! property and differential tests check both paths on the same inputs.

use std::ops::Range;

use crate::decoder::{Field, split_field};
use crate::line::find_line_end;

/// Where the fields of a common event are: relative to the scanned slice, or to the chunk after
/// [`offset`](Shape::offset).
#[derive(Debug)]
pub(crate) struct Shape {
    /// Value of the one `data` field.
    pub(crate) data: Range<usize>,
    /// Value of the last `event` field, if any.
    pub(crate) event_type: Option<Range<usize>>,
    /// Value of the last `id` field without NUL, if any.
    pub(crate) id: Option<Range<usize>>,
    /// The end of the event: just past the LF of its blank line.
    pub(crate) end: usize,
}

impl Shape {
    /// The same shape, scanned from `start` of the chunk: every offset becomes one in the chunk.
    #[inline]
    pub(crate) fn offset(self, start: usize) -> Self {
        let at = |range: Range<usize>| start + range.start..start + range.end;
        Self {
            data: at(self.data),
            event_type: self.event_type.map(at),
            id: self.id.map(at),
            end: start + self.end,
        }
    }
}

/// Scans one event of the common shape at the start of `input`.
#[inline]
pub(crate) fn scan(input: &[u8], max_event_size: usize) -> Option<Shape> {
    let mut data = None;
    let mut event_type = None;
    let mut id = None;
    let mut pos = 0;
    loop {
        let len = find_line_end(&input[pos..])?;
        let end = pos + len;
        if input[end] != b'\n' {
            return None;
        }
        let line = &input[pos..end];
        if line.is_empty() {
            // Within the limit as a whole, the general path could not have refused any line.
            let len = end + 1;
            return (len <= max_event_size).then_some(Shape {
                data: data?,
                event_type,
                id,
                end: len,
            });
        }
        let (name, value_at) = split_field(line)?;
        let value = pos + value_at..end;
        match Field::parse(name)? {
            Field::Data if data.is_none() => data = Some(value),
            Field::Event => event_type = Some(value),
            Field::Id if !input[value.clone()].contains(&0) => id = Some(value),
            Field::Id => {}
            Field::Data | Field::Retry => return None,
        }
        pos = end + 1;
    }
}
