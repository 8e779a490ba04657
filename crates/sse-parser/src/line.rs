//! Line splitting: turns arbitrary chunks into complete lines.
//!
//! Lines end at CR, LF or CRLF, and nowhere else (not at VT, FF, NEL, U+2028 or U+2029). A CR
//! that ends a chunk terminates its line at once; a LF at the start of the next chunk is then
//! skipped as the second half of a CRLF. One UTF-8 byte order mark at the very start of a
//! connection is removed, even when it arrives one byte per chunk.
//!
//! Cost is linear in the input: each byte is scanned once (with `memchr`), and a line that
//! arrives in one chunk is handed out as a zero-copy slice of that chunk. Only the start of a line
//! whose end is still missing is copied, into `partial`. The complete lines of a chunk are
//! checked as UTF-8 at most once, in one pass, when the decoder first asks for them as text
//! ([`LineSplitter::source`]).

use std::ops::Range;

use bytes::{Bytes, BytesMut};
use bytestring::ByteString;

const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// The outcome of asking for the next line.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line {
    /// A complete line, without its terminator, at this range of [`LineSplitter::chunk`].
    InChunk(Range<usize>),
    /// A complete line that spanned chunks, joined into its own buffer.
    Joined(Bytes),
    /// The current line grew past the byte budget; its bytes up to the terminator are dropped.
    TooLong,
}

#[derive(Debug)]
pub(crate) struct LineSplitter {
    /// The current input chunk; bytes before `pos` have been scanned.
    chunk: Bytes,
    pos: usize,
    /// The start of `chunk` that is valid UTF-8 and ends with a LF, once asked for.
    text: Option<ByteString>,
    /// The start of a line whose terminator has not arrived yet.
    partial: BytesMut,
    /// The last line ended with CR: a LF that comes next belongs to it.
    skip_lf: bool,
    /// How many bytes of a leading BOM have been matched; `None` once the start is behind us.
    bom_matched: Option<usize>,
    /// The current line overflowed: drop bytes until its terminator.
    discarding: bool,
}

impl Default for LineSplitter {
    fn default() -> Self {
        Self {
            chunk: Bytes::new(),
            pos: 0,
            text: None,
            partial: BytesMut::new(),
            skip_lf: false,
            bom_matched: Some(0),
            discarding: false,
        }
    }
}

impl LineSplitter {
    /// Queues a chunk. Unscanned input from an earlier chunk, if any, stays in front of it.
    pub(crate) fn push(&mut self, chunk: Bytes) {
        let chunk = self.strip_bom(chunk);
        if chunk.is_empty() {
            return;
        }
        if self.pos == self.chunk.len() {
            self.chunk = chunk;
        } else {
            let rest = &self.chunk[self.pos..];
            let mut joined = BytesMut::with_capacity(rest.len() + chunk.len());
            joined.extend_from_slice(rest);
            joined.extend_from_slice(&chunk);
            self.chunk = joined.freeze();
        }
        self.pos = 0;
        self.text = None;
    }

    /// The current chunk, which [`Line::InChunk`] ranges index.
    pub(crate) fn chunk(&self) -> &Bytes {
        &self.chunk
    }

    /// Returns the next complete line, or `None` when more input is needed.
    ///
    /// `budget` is the number of bytes the line may have; a longer line yields
    /// [`Line::TooLong`] once, and its remaining bytes are skipped.
    #[inline]
    pub(crate) fn next_line(&mut self, budget: usize) -> Option<Line> {
        loop {
            let rest = &self.chunk[self.pos..];
            if rest.is_empty() {
                return None;
            }
            if self.skip_lf {
                self.skip_lf = false;
                if rest[0] == b'\n' {
                    self.pos += 1;
                    continue;
                }
            }
            let Some(len) = find_line_end(rest) else {
                return self.hold_partial(budget);
            };
            let start = self.pos;
            self.skip_lf = rest[len] == b'\r';
            self.pos += len + 1;
            if self.discarding {
                self.discarding = false;
                continue;
            }
            if self.partial.len() + len > budget {
                self.partial.clear();
                return Some(Line::TooLong);
            }
            if self.partial.is_empty() {
                return Some(Line::InChunk(start..start + len));
            }
            self.partial
                .extend_from_slice(&self.chunk[start..start + len]);
            return Some(Line::Joined(self.partial.split().freeze()));
        }
    }

    /// The current chunk and the offset of the next line, when that line starts in the chunk
    /// with nothing carried over (no partial line, no pending CR, no overflow).
    #[inline]
    pub(crate) fn at_clean_line_start(&self) -> Option<(&Bytes, usize)> {
        let clean = self.partial.is_empty() && !self.skip_lf && !self.discarding;
        clean.then_some((&self.chunk, self.pos))
    }

    /// The current chunk as text when `range` of it lies in its valid UTF-8 start, or else as
    /// bytes.
    ///
    /// The text is validated on the first call for a chunk, in one pass up to its last LF (the
    /// end of its last complete line): one pass over a large chunk costs less than one per
    /// field, and a field found in it is then sliced without another check.
    #[inline]
    pub(crate) fn source(&mut self, range: Range<usize>) -> Source<'_> {
        let text = self.text.get_or_insert_with(|| valid_lines(&self.chunk));
        if range.end <= text.len() {
            Source::Text(text)
        } else {
            Source::Bytes(&self.chunk)
        }
    }

    /// Marks the chunk consumed up to `pos`, which must follow a LF.
    #[inline]
    pub(crate) fn consume_to(&mut self, pos: usize) {
        self.pos = pos;
    }

    /// Forgets everything buffered: the next input starts a new connection.
    pub(crate) fn reset(&mut self) {
        *self = Self::default();
    }

    /// Number of bytes held for a line not yet complete.
    pub(crate) fn buffered(&self) -> usize {
        self.partial.len() + self.chunk.len() - self.pos
    }

    /// Moves unterminated input into `partial`, or starts discarding it when over budget.
    fn hold_partial(&mut self, budget: usize) -> Option<Line> {
        let rest = std::mem::take(&mut self.chunk).slice(self.pos..);
        self.pos = 0;
        self.text = None;
        if self.discarding {
            return None;
        }
        if self.partial.len() + rest.len() > budget {
            self.partial = BytesMut::new();
            self.discarding = true;
            return Some(Line::TooLong);
        }
        self.partial.extend_from_slice(&rest);
        None
    }

    /// Removes a leading BOM, which may be split over several chunks.
    fn strip_bom(&mut self, chunk: Bytes) -> Bytes {
        let Some(mut matched) = self.bom_matched else {
            return chunk;
        };
        let already = matched;
        let mut taken = 0;
        while matched < BOM.len() && taken < chunk.len() {
            if chunk[taken] != BOM[matched] {
                // Not a BOM after all: the bytes matched so far are ordinary input.
                self.bom_matched = None;
                if already == 0 {
                    return chunk;
                }
                let mut restored = BytesMut::with_capacity(already + chunk.len());
                restored.extend_from_slice(&BOM[..already]);
                restored.extend_from_slice(&chunk);
                return restored.freeze();
            }
            matched += 1;
            taken += 1;
        }
        self.bom_matched = (matched < BOM.len()).then_some(matched);
        chunk.slice(taken..)
    }
}

/// A chunk, seen as text where it is valid UTF-8.
pub(crate) enum Source<'a> {
    /// Valid text: fields are sliced out of it without another check.
    Text(&'a ByteString),
    /// Bytes that have not been validated: each field is checked on its own.
    Bytes(&'a Bytes),
}

impl Source<'_> {
    /// The field at `range` as text; `None` when it is not valid UTF-8.
    #[inline]
    pub(crate) fn str(&self, range: Range<usize>) -> Option<&str> {
        match self {
            Self::Text(text) => text.get(range),
            Self::Bytes(bytes) => std::str::from_utf8(bytes.get(range)?).ok(),
        }
    }

    /// The field at `range` as a zero-copy string; `None` when it is not valid UTF-8.
    #[inline]
    pub(crate) fn string(&self, range: Range<usize>) -> Option<ByteString> {
        match self {
            Self::Text(text) => text.get(range).map(|field| text.slice_ref(field)),
            Self::Bytes(bytes) => ByteString::try_from(bytes.slice(range)).ok(),
        }
    }
}

/// The start of `chunk` up to its last LF, or up to its first invalid UTF-8 sequence if one
/// comes before. A chunk's end may cut a code point, never a complete line.
fn valid_lines(chunk: &Bytes) -> ByteString {
    let lines = memchr::memrchr(b'\n', chunk).map_or(0, |lf| lf + 1);
    match ByteString::try_from(chunk.slice(..lines)) {
        Ok(text) => text,
        // The second check cannot fail: it covers only what the first found valid.
        Err(error) => ByteString::try_from(chunk.slice(..error.valid_up_to())).unwrap_or_default(),
    }
}

/// Finds the first CR or LF.
///
/// Most lines of an event stream are short (`id`, `event`, blank lines). For those, testing
/// eight bytes at a time in a register beats the setup of a vectorised search, which takes over
/// after the first 16 bytes.
#[inline]
pub(crate) fn find_line_end(bytes: &[u8]) -> Option<usize> {
    let mut offset = 0;
    while let Some(word) = bytes
        .get(offset..offset + 8)
        .and_then(|w| <[u8; 8]>::try_from(w).ok())
    {
        let word = u64::from_le_bytes(word);
        let found = byte_mask(word, b'\n') | byte_mask(word, b'\r');
        if found != 0 {
            return Some(offset + (found.trailing_zeros() / 8) as usize);
        }
        offset += 8;
        if offset == 16 {
            return memchr::memchr2(b'\n', b'\r', &bytes[offset..]).map(|i| i + offset);
        }
    }
    bytes[offset..]
        .iter()
        .position(|&b| b == b'\n' || b == b'\r')
        .map(|i| i + offset)
}

/// Sets the high bit of each byte of `word` equal to `byte`. Bytes above a match may be flagged
/// too (borrows propagate upwards), so only the lowest flag is exact; that is the one we use.
#[inline]
fn byte_mask(word: u64, byte: u8) -> u64 {
    const LOW: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let x = word ^ (LOW * u64::from(byte));
    x.wrapping_sub(LOW) & !x & HIGH
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Complete lines as bytes, or `None` for [`Line::TooLong`].
    fn lines(chunks: &[&[u8]]) -> Vec<Option<Vec<u8>>> {
        let mut splitter = LineSplitter::default();
        let mut out = Vec::new();
        for chunk in chunks {
            splitter.push(Bytes::copy_from_slice(chunk));
            while let Some(line) = splitter.next_line(4) {
                out.push(text(&splitter, line));
            }
        }
        out
    }

    fn text(splitter: &LineSplitter, line: Line) -> Option<Vec<u8>> {
        match line {
            Line::InChunk(range) => Some(splitter.chunk()[range].to_vec()),
            Line::Joined(bytes) => Some(bytes.to_vec()),
            Line::TooLong => None,
        }
    }

    fn complete(text: &str) -> Option<Vec<u8>> {
        Some(text.as_bytes().to_vec())
    }

    #[test]
    fn line_end_found_at_every_offset() {
        for len in 0..40 {
            for end in [b'\n', b'\r'] {
                let mut bytes = vec![b'x'; len];
                bytes.push(end);
                bytes.extend_from_slice(b"yy\n");
                assert_eq!(find_line_end(&bytes), Some(len));
            }
            assert_eq!(find_line_end(&vec![0xFF; len]), None);
        }
    }

    #[test]
    fn line_split_over_chunks_is_joined() {
        assert_eq!(lines(&[b"a", b"b", b"c\n"]), vec![complete("abc")]);
        assert_eq!(lines(&[b"ab", b"cde\n"]), vec![None]);
    }

    #[test]
    fn splits_on_lf_cr_and_crlf() {
        assert_eq!(
            lines(&[b"a\nb\rc\r\nd\n"]),
            vec![complete("a"), complete("b"), complete("c"), complete("d")]
        );
    }

    #[test]
    fn cr_at_chunk_end_then_lf_is_one_terminator() {
        assert_eq!(
            lines(&[b"a\r", b"\nb\n"]),
            vec![complete("a"), complete("b")]
        );
    }

    #[test]
    fn cr_cr_is_two_lines() {
        assert_eq!(lines(&[b"a\r", b"\r"]), vec![complete("a"), complete("")]);
    }

    #[test]
    fn other_separators_do_not_end_lines() {
        let text = "\u{0b}\u{0c}\n\u{85}\n\u{2028}\n\u{2029}\n\u{1c}\u{1d}\u{1e}\n";
        let want: Vec<_> = text.lines().map(complete).collect();
        assert_eq!(lines(&[text.as_bytes()]), want);
    }

    #[test]
    fn bom_split_one_byte_at_a_time_is_stripped_once() {
        assert_eq!(
            lines(&[b"\xEF", b"\xBB", b"\xBF", b"\xEF\xBB\xBFx\n"]),
            vec![complete("\u{feff}x")]
        );
    }

    #[test]
    fn broken_bom_prefix_is_kept_as_data() {
        assert_eq!(
            lines(&[b"\xEF\xBB", b"x\n"]),
            vec![Some(b"\xEF\xBBx".to_vec())]
        );
    }

    #[test]
    fn empty_chunks_change_nothing() {
        assert_eq!(
            lines(&[b"", b"\xEF\xBB\xBF", b"", b"a\n"]),
            vec![complete("a")]
        );
    }

    #[test]
    fn over_budget_line_is_reported_once_and_skipped() {
        let mut splitter = LineSplitter::default();
        splitter.push(Bytes::from_static(b"abcdef"));
        assert_eq!(splitter.next_line(4), Some(Line::TooLong));
        splitter.push(Bytes::from_static(b"gh\nok\n"));
        let line = splitter.next_line(4).expect("a line");
        assert_eq!(text(&splitter, line), complete("ok"));
        assert_eq!(splitter.next_line(4), None);
    }
}
