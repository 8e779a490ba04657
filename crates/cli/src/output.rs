//! What `tap` writes to standard output: one JSON object a line, or a final count.
//!
//! The line shapes are part of the CLI's interface (scripts parse them), so they are built
//! from the structs below and pinned by tests:
//!
//! ```text
//! {"type":"reading","data":"{\"t\":21.5}","id":"7","lastEventId":"7"}   every event
//! {"comment":" heartbeat"}                                              with --comments
//! {"retry":3000}                                                        with --comments
//! {"events":42,"bytes":8192}                                            --count, at the end
//! ```
//!
//! `type`, `data` and `lastEventId` are what the WHATWG `MessageEvent` carries; `id` is the
//! event's own `id:` field, `null` when the event only inherited `lastEventId`.
//!
//! Each line is built in the printer's buffer, strings escaped by hand ([`push_json_str`]) as
//! `serde_json` would escape them, byte for byte: `tap` on a file prints millions of lines, and
//! going through `serde` cost more than decoding them (BENCHMARKS.md, `tap`). For a URL the
//! buffer is written out after every line unless standard output is a regular file: a terminal
//! shows events live, and `| head -n 1` ends the stream after the first event instead of after
//! a buffer's worth of them. A file or standard input is read in blocks, and `tap` flushes
//! after each block ([`Printer::flush`]).

use std::io::{self, IsTerminal, StdoutLock, Write};

use sse_parser::Event;

/// What is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Events only.
    Events,
    /// Events, comments and `retry` fields.
    EventsAndComments,
    /// Nothing but the final summary.
    Count,
}

/// The buffer of a printer on standard output for a URL.
const STDOUT_BUFFER: usize = 8 * 1024;

/// A [`Printer`] on standard output.
pub type StdoutPrinter = Printer<StdoutLock<'static>>;

/// Writes the lines of one `tap` run and counts the events.
#[derive(Debug)]
pub struct Printer<W: Write> {
    out: W,
    /// Lines not yet written to `out`.
    buffer: Vec<u8>,
    /// Once `buffer` holds this many bytes, it is written out.
    capacity: usize,
    mode: Mode,
    flush_each_line: bool,
    events: u64,
}

impl StdoutPrinter {
    /// A printer on the locked standard output, flushed after each line unless standard
    /// output is a regular file.
    pub fn stdout(mode: Mode) -> Self {
        let flush_each_line = !stdout_is_regular_file();
        Self::new(io::stdout().lock(), mode, flush_each_line, STDOUT_BUFFER)
    }
}

impl<W: Write> Printer<W> {
    /// A printer on `out` that buffers about `capacity` bytes of lines between writes.
    pub fn new(out: W, mode: Mode, flush_each_line: bool, capacity: usize) -> Self {
        Self {
            out,
            buffer: Vec::with_capacity(capacity),
            capacity,
            mode,
            flush_each_line,
            events: 0,
        }
    }

    /// Counts an event and prints it (unless counting only).
    ///
    /// # Errors
    /// Write errors of the output, such as a broken pipe (see [`is_broken_pipe`]).
    pub fn event(&mut self, event: &Event) -> io::Result<()> {
        self.events += 1;
        if self.mode == Mode::Count {
            return Ok(());
        }
        let line = &mut self.buffer;
        line.extend_from_slice(b"{\"type\":");
        push_json_str(line, &event.event_type);
        line.extend_from_slice(b",\"data\":");
        push_json_str(line, &event.data);
        line.extend_from_slice(b",\"id\":");
        match event.id() {
            Some(id) => push_json_str(line, id),
            None => line.extend_from_slice(b"null"),
        }
        line.extend_from_slice(b",\"lastEventId\":");
        push_json_str(line, &event.last_event_id);
        self.end_line()
    }

    /// Counts an event that is not printed: `--count` passes over events without building them.
    pub fn count_event(&mut self) {
        self.events += 1;
    }

    /// Prints a comment (without its leading colon) when comments are wanted.
    ///
    /// # Errors
    /// Write errors of the output.
    pub fn comment(&mut self, text: &str) -> io::Result<()> {
        if self.mode != Mode::EventsAndComments {
            return Ok(());
        }
        self.buffer.extend_from_slice(b"{\"comment\":");
        push_json_str(&mut self.buffer, text);
        self.end_line()
    }

    /// Prints a `retry` field (milliseconds) when comments are wanted.
    ///
    /// # Errors
    /// Write errors of the output.
    pub fn retry(&mut self, millis: u64) -> io::Result<()> {
        if self.mode != Mode::EventsAndComments {
            return Ok(());
        }
        write!(self.buffer, "{{\"retry\":{millis}")?;
        self.end_line()
    }

    /// Writes out what is buffered.
    ///
    /// # Errors
    /// Write errors of the output.
    pub fn flush(&mut self) -> io::Result<()> {
        self.write_buffer()?;
        self.out.flush()
    }

    /// The number of events seen so far (printed or not).
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Prints the summary when counting (`bytes`: what was read from the source), then
    /// flushes.
    ///
    /// # Errors
    /// Write errors of the output.
    pub fn finish(&mut self, bytes: u64) -> io::Result<()> {
        if self.mode == Mode::Count {
            let events = self.events;
            write!(self.buffer, "{{\"events\":{events},\"bytes\":{bytes}")?;
            self.end_line()?;
        }
        self.flush()
    }

    /// Closes the line being built and writes the buffer out if it is full or lines are
    /// flushed one by one.
    fn end_line(&mut self) -> io::Result<()> {
        self.buffer.extend_from_slice(b"}\n");
        if self.flush_each_line {
            self.flush()
        } else if self.buffer.len() >= self.capacity {
            self.write_buffer()
        } else {
            Ok(())
        }
    }

    /// Hands the buffered lines to `out`; they are dropped if that fails.
    fn write_buffer(&mut self) -> io::Result<()> {
        let written = self.out.write_all(&self.buffer);
        self.buffer.clear();
        written
    }
}

/// Appends `text` as a JSON string, quotes included, exactly as `serde_json` writes it: `"`
/// and `\` after a backslash, the control characters U+0000 to U+001F as `\b \t \n \f \r`
/// or `\u00xx` (lower-case hex), everything else (DEL, U+2028, all non-ASCII) as it is.
///
/// The bytes are tested eight at a time: a word without escapes is copied whole, and in one
/// with escapes each run between them is copied as a whole word cut back to the run's length.
/// Event data is mostly JSON, with a quote to escape every few bytes.
fn push_json_str(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let word = u64::from_le_bytes(<[u8; 8]>::try_from(word).unwrap_or_default());
        let mut flags = escape_flags(word);
        let mut from = 0;
        while flags != 0 {
            let at = flags.trailing_zeros() / 8;
            push_word_part(out, word, from, at);
            push_escape(out, word.to_le_bytes()[at as usize]);
            from = at + 1;
            flags &= flags - 1;
        }
        push_word_part(out, word, from, 8);
    }
    for &byte in words.remainder() {
        if ESCAPES[usize::from(byte)] == 0 {
            out.push(byte);
        } else {
            push_escape(out, byte);
        }
    }
    out.push(b'"');
}

/// Sets the high bit of exactly the bytes of `word` below 0x20 or equal to `"` or `\`.
#[inline]
fn escape_flags(word: u64) -> u64 {
    const LOW: u64 = 0x0101_0101_0101_0101;
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    // High bit set for the zero bytes of `x`, without a carry from one byte to the next.
    let zero = |x: u64| !(((x & LOW7) + LOW7) | x | LOW7);
    zero(word & (LOW * 0xE0)) | zero(word ^ (LOW * u64::from(b'"'))) | zero(word ^ (LOW * 0x5C))
}

/// Appends bytes `from..to` of `word` (little-endian order): the whole word is written, then
/// cut back, which costs less than copying a few bytes one by one.
#[inline]
fn push_word_part(out: &mut Vec<u8>, word: u64, from: u32, to: u32) {
    if from < to {
        let len = out.len();
        out.extend_from_slice(&(word >> (from * 8)).to_le_bytes());
        out.truncate(len + (to - from) as usize);
    }
}

/// The escape of each byte: 0 for none, `u` for `\u00xx`, else the letter after the backslash.
static ESCAPES: [u8; 256] = {
    let mut table = [0; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = b'u';
        byte += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0A] = b'n';
    table[0x0C] = b'f';
    table[0x0D] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

/// Appends the escape of a byte that needs one.
#[inline]
fn push_escape(out: &mut Vec<u8>, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    match ESCAPES[usize::from(byte)] {
        b'u' => {
            let (high, low) = (HEX[usize::from(byte >> 4)], HEX[usize::from(byte & 0xF)]);
            out.extend_from_slice(&[b'\\', b'u', b'0', b'0', high, low]);
        }
        letter => out.extend_from_slice(&[b'\\', letter]),
    }
}

/// Whether a write failed because the reader went away (`| head`): a normal way for the
/// output to end, not an error.
pub fn is_broken_pipe(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::BrokenPipe
}

/// Whether standard output is a regular file, where per-line flushing only costs time.
#[cfg(unix)]
fn stdout_is_regular_file() -> bool {
    use std::os::fd::AsFd;

    if io::stdout().is_terminal() {
        return false;
    }
    io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .map(std::fs::File::from)
        .and_then(|file| file.metadata())
        .is_ok_and(|meta| meta.file_type().is_file())
}

#[cfg(not(unix))]
fn stdout_is_regular_file() -> bool {
    false
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use bytes::Bytes;
    use sse_parser::{Decoder, Frame};

    use super::*;

    /// Decodes `input` and prints every frame in `mode`.
    fn print(input: &'static str, mode: Mode) -> String {
        let mut decoder = Decoder::new();
        decoder.push(Bytes::from_static(input.as_bytes()));
        let mut printer = Printer::new(Vec::new(), mode, true, 64);
        while let Some(frame) = decoder.next_frame().unwrap() {
            match frame {
                Frame::Event(event) => printer.event(&event).unwrap(),
                Frame::Comment(text) => printer.comment(&text).unwrap(),
                Frame::Retry(millis) => printer.retry(millis).unwrap(),
            }
        }
        printer.finish(input.len() as u64).unwrap();
        String::from_utf8(printer.out).unwrap()
    }

    const STREAM: &str = ": hi\nretry: 3000\nid: 7\nevent: reading\ndata: {\"t\":21.5}\n\n\
                          data: a\ndata: \"b\"\n\n";

    #[test]
    fn events_have_type_data_id_and_last_event_id() {
        assert_eq!(
            print(STREAM, Mode::Events),
            concat!(
                r#"{"type":"reading","data":"{\"t\":21.5}","id":"7","lastEventId":"7"}"#,
                "\n",
                r#"{"type":"message","data":"a\n\"b\"","id":null,"lastEventId":"7"}"#,
                "\n",
            )
        );
    }

    #[test]
    fn comments_and_retry_only_when_asked() {
        let printed = print(STREAM, Mode::EventsAndComments);
        let lines: Vec<&str> = printed.lines().collect();
        assert_eq!(lines[..2], [r#"{"comment":" hi"}"#, r#"{"retry":3000}"#]);
        assert_eq!(lines.len(), 4);
    }

    #[test]
    fn count_prints_only_the_summary() {
        assert_eq!(
            print(STREAM, Mode::Count),
            format!("{{\"events\":2,\"bytes\":{}}}\n", STREAM.len())
        );
    }

    #[test]
    fn without_per_line_flush_nothing_reaches_the_writer_before_finish() {
        let mut printer = Printer::new(Vec::new(), Mode::EventsAndComments, false, 1024);
        printer.comment("kept").unwrap();
        printer.retry(1).unwrap();
        assert!(printer.out.is_empty());
        assert_eq!(printer.events(), 0);
        printer.finish(0).unwrap();
        assert_eq!(printer.out, b"{\"comment\":\"kept\"}\n{\"retry\":1}\n");
    }

    #[test]
    fn a_full_buffer_is_written_out() {
        let mut printer = Printer::new(Vec::new(), Mode::EventsAndComments, false, 16);
        printer.comment("0123456789").unwrap();
        assert_eq!(printer.out, b"{\"comment\":\"0123456789\"}\n");
        assert!(printer.buffer.is_empty());
    }

    /// `push_json_str` against `serde_json` on one string.
    fn assert_escapes_like_serde(text: &str) {
        let mut ours = Vec::new();
        push_json_str(&mut ours, text);
        let theirs = serde_json::to_string(text).unwrap();
        assert_eq!(String::from_utf8(ours).unwrap(), theirs, "{text:?}");
    }

    #[test]
    fn escapes_tricky_strings_like_serde_json() {
        let every_ascii: String = (0u8..0x80).map(char::from).collect();
        for text in [
            "",
            "plain",
            "\"",
            "\\",
            "\\\"\\\"",
            "\u{0}\u{1}\u{8}\t\n\u{b}\u{c}\r\u{1b}\u{1f} \u{7f}",
            "{\"t\":21.5,\"s\":\"a\\\\b\"}",
            "line\u{2028}para\u{2029}",
            "\u{e9}\u{20ac}\u{1F600}\u{fffd}\u{feff}",
            "1234567\"",
            "12345678\"",
            "\"1234567",
            "abcdefgh12345678\n",
            every_ascii.as_str(),
        ] {
            assert_escapes_like_serde(text);
        }
    }

    #[test]
    fn escapes_random_strings_like_serde_json() {
        // The characters that matter to the escaper, and any others.
        const TRICKY: [char; 12] = [
            '"', '\\', '\n', '\r', '\t', '\u{0}', '\u{1f}', '\u{7f}', '\u{80}', '\u{2028}', 'é',
            '😀',
        ];
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = move || {
            // splitmix64: a fixed seed, so a failure repeats.
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        for _ in 0..20_000 {
            let len = next() % 40;
            let text: String = (0..len)
                .map(|_| match next() % 4 {
                    0 => TRICKY[(next() % 12) as usize],
                    1 => char::from((next() % 0x80) as u8),
                    2 => char::from_u32((next() % 0x11_0000) as u32).unwrap_or('\u{fffd}'),
                    _ => char::from(b'a' + (next() % 26) as u8),
                })
                .collect();
            assert_escapes_like_serde(&text);
        }
    }
}
