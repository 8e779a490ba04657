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
//! Output goes through a buffer. For a URL it is flushed after every line unless standard
//! output is a regular file: a terminal shows events live, and `| head -n 1` ends the stream
//! after the first event instead of after a buffer's worth of them. A file or standard input
//! is read in blocks, and `tap` flushes after each block ([`Printer::flush`]).

use std::io::{self, BufWriter, IsTerminal, StdoutLock, Write};

use serde::Serialize;
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

#[derive(Serialize)]
struct EventLine<'a> {
    #[serde(rename = "type")]
    event_type: &'a str,
    data: &'a str,
    id: Option<&'a str>,
    #[serde(rename = "lastEventId")]
    last_event_id: &'a str,
}

#[derive(Serialize)]
struct CommentLine<'a> {
    comment: &'a str,
}

#[derive(Serialize)]
struct RetryLine {
    retry: u64,
}

#[derive(Serialize)]
struct CountLine {
    events: u64,
    bytes: u64,
}

/// A [`Printer`] on standard output.
pub type StdoutPrinter = Printer<BufWriter<StdoutLock<'static>>>;

/// Writes the lines of one `tap` run and counts the events.
#[derive(Debug)]
pub struct Printer<W: Write> {
    out: W,
    mode: Mode,
    flush_each_line: bool,
    events: u64,
}

impl StdoutPrinter {
    /// A printer on the locked standard output, flushed after each line unless standard
    /// output is a regular file.
    pub fn stdout(mode: Mode) -> Self {
        let flush_each_line = !stdout_is_regular_file();
        Self::new(BufWriter::new(io::stdout().lock()), mode, flush_each_line)
    }
}

impl<W: Write> Printer<W> {
    /// A printer on `out`.
    pub fn new(out: W, mode: Mode, flush_each_line: bool) -> Self {
        Self {
            out,
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
        self.line(&EventLine {
            event_type: &event.event_type,
            data: &event.data,
            id: event.id(),
            last_event_id: &event.last_event_id,
        })
    }

    /// Prints a comment (without its leading colon) when comments are wanted.
    ///
    /// # Errors
    /// Write errors of the output.
    pub fn comment(&mut self, text: &str) -> io::Result<()> {
        if self.mode != Mode::EventsAndComments {
            return Ok(());
        }
        self.line(&CommentLine { comment: text })
    }

    /// Prints a `retry` field (milliseconds) when comments are wanted.
    ///
    /// # Errors
    /// Write errors of the output.
    pub fn retry(&mut self, millis: u64) -> io::Result<()> {
        if self.mode != Mode::EventsAndComments {
            return Ok(());
        }
        self.line(&RetryLine { retry: millis })
    }

    /// Writes out what is buffered.
    ///
    /// # Errors
    /// Write errors of the output.
    pub fn flush(&mut self) -> io::Result<()> {
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
            self.line(&CountLine { events, bytes })?;
        }
        self.out.flush()
    }

    fn line(&mut self, line: &impl Serialize) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, line)?;
        self.out.write_all(b"\n")?;
        if self.flush_each_line {
            self.out.flush()?;
        }
        Ok(())
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
        let mut printer = Printer::new(Vec::new(), mode, true);
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
        let mut printer = Printer::new(BufWriter::new(Vec::new()), Mode::Events, false);
        printer.comment("ignored").unwrap();
        printer.retry(1).unwrap();
        assert!(printer.out.get_ref().is_empty());
        assert_eq!(printer.events(), 0);
    }
}
