//! `sse-connector tap SOURCE`: print the events of a stream as JSON lines.
//!
//! A URL is read with `sse-client`, exactly as the connector reads a device (TLS, trust list,
//! credentials, reconnects with `Last-Event-ID`, idle timeout); a file or standard input goes
//! straight through the `sse-parser` decoder. Either way each frame goes to the
//! [`Printer`], and reconnects and dropped events are logged to standard error.
//!
//! A file or standard input is read, decoded and printed on one blocking thread, in blocks of
//! up to [`READ_BLOCK`]: no trip through the async runtime or hand-off between threads per
//! read, and one write of the output per block. A flush per block, not per line, still shows a
//! live pipe (`curl -N … | sse-connector tap -`) event by event, since a read returns what has
//! arrived. The command's task only waits for a stop signal, which may come while the thread
//! is blocked in a read.

use std::ffi::{OsStr, OsString};
use std::io::{self, Read, Stdout};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context as _;
use bytes::BytesMut;
use clap::Args;
use http::HeaderMap;
use sse_client::{Auth, ClientConfig, EventStream, Secret, SseClient, StreamConfig, StreamItem};
use sse_parser::{Decoder, Frame, FrameKind};

use crate::commands::UsageError;
use crate::output::{self, Mode, Printer, StdoutPrinter};
use crate::shutdown::{Shutdown, Signal};
use crate::values;

const COMMAND: &str = "tap";

/// How much is read from a file or standard input at a time: large enough that reading
/// costs far less than decoding (BENCHMARKS.md, `tap`).
const READ_BLOCK: usize = 256 * 1024;

/// The least room a read is given (a pipe returns at most 64 KiB a read).
const MIN_READ: usize = 64 * 1024;

/// The output buffer of a file or standard input: about what a block of input prints.
const OUTPUT_BUFFER: usize = 256 * 1024;

const AFTER_LONG_HELP: &str = "\
Output, one JSON object a line:
  {\"type\":\"reading\",\"data\":\"{\\\"t\\\":21.5}\",\"id\":\"7\",\"lastEventId\":\"7\"}
  `id` is the event's own id field, null when the event only inherited `lastEventId`.
  --comments adds {\"comment\":\" text\"} lines, and {\"retry\":3000} lines for files and
  standard input (on URLs the client applies `retry` to its reconnect delay).
  --count prints only {\"events\":N,\"bytes\":B} at the end; B counts the bytes read.

Reconnects, dropped events and errors go to standard error; RUST_LOG sets what is logged
(default: info for sse-connector, e.g. RUST_LOG=warn for less, RUST_LOG=debug for more).

Exit status:
  0    end of file or input, --max-events reached, output closed (`| head`), or the
       server answered 204 No Content (a note goes to standard error)
  1    the stream failed for good (e.g. 401, 404, not an event stream, TLS verification)
       or the source cannot be read
  2    invalid command line
  130  stopped by Ctrl-C (143: SIGTERM), after flushing; --count still prints its summary

Examples:
  sse-connector tap https://device.local:8443/events --ca ca.pem --max-events 10
  sse-connector tap https://api.example.com/stream -H 'X-Api-Key: 123' | jq -r .data
  sse-connector tap https://gw.local/events --username ops --password-file ./password
  sse-connector tap capture.sse --count
  curl -sN http://device.local/events | sse-connector tap -";

/// Arguments of `tap`.
#[derive(Debug, Args)]
#[command(after_long_help = AFTER_LONG_HELP)]
pub struct TapArgs {
    /// An http:// or https:// URL, a file, or - for standard input
    #[arg(value_name = "SOURCE")]
    source: OsString,

    /// Exit after N events
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..), help_heading = "Output")]
    max_events: Option<u64>,

    /// Also print comments (and retry fields)
    #[arg(long, conflicts_with = "count", help_heading = "Output")]
    comments: bool,

    /// Print only a final {"events": N, "bytes": B}
    #[arg(long, help_heading = "Output")]
    count: bool,

    /// Drop (and warn about) events larger than this [default: 16MiB]
    #[arg(long, value_name = "BYTES", value_parser = values::byte_size, help_heading = "Output")]
    max_event_bytes: Option<usize>,

    /// Send a request header, e.g. -H 'X-Api-Key: 123' (repeatable)
    #[arg(
        short = 'H',
        long = "header",
        value_name = "NAME: VALUE",
        help_heading = "URL options"
    )]
    headers: Vec<String>,

    /// HTTP Basic user name (needs --password-file)
    #[arg(
        long,
        value_name = "NAME",
        requires = "password_file",
        help_heading = "URL options"
    )]
    username: Option<String>,

    /// File holding the Basic password (one trailing newline is ignored)
    #[arg(
        long,
        value_name = "FILE",
        requires = "username",
        help_heading = "URL options"
    )]
    password_file: Option<PathBuf>,

    /// Client certificate for mutual TLS, PEM, leaf first (needs --key)
    #[arg(
        long,
        value_name = "PEM",
        requires = "key",
        conflicts_with = "username",
        help_heading = "URL options"
    )]
    cert: Option<PathBuf>,

    /// Private key of --cert, PEM (PKCS#8, PKCS#1 or SEC1, not encrypted)
    #[arg(
        long,
        value_name = "PEM",
        requires = "cert",
        help_heading = "URL options"
    )]
    key: Option<PathBuf>,

    /// Intermediate CA certificates sent after --cert, PEM
    #[arg(
        long,
        value_name = "PEM",
        requires = "cert",
        help_heading = "URL options"
    )]
    cert_chain: Option<PathBuf>,

    /// Also trust the CA certificates in this PEM file (repeatable)
    #[arg(long = "ca", value_name = "PEM", help_heading = "URL options")]
    ca: Vec<PathBuf>,

    /// Resume after this event id (sent as Last-Event-ID)
    #[arg(long, value_name = "ID", help_heading = "URL options")]
    last_event_id: Option<String>,

    /// Reconnect after this long without a byte [default: 60s]
    #[arg(long, value_name = "DURATION", value_parser = values::duration, help_heading = "URL options")]
    idle_timeout: Option<Duration>,

    /// Give up a connection attempt after this long [default: 10s]
    #[arg(long, value_name = "DURATION", value_parser = values::duration, help_heading = "URL options")]
    connect_timeout: Option<Duration>,
}

/// Where the events come from.
#[derive(Debug)]
enum Source {
    Url(String),
    Stdin,
    File(PathBuf),
}

impl Source {
    /// Reads SOURCE: `http(s)://…` is a URL, `-` standard input, anything else a file, except
    /// `scheme://…` with another scheme, which is refused rather than looked up as a file.
    fn parse(raw: &OsStr) -> Result<Self, UsageError> {
        if raw == "-" {
            return Ok(Self::Stdin);
        }
        let Some(text) = raw.to_str() else {
            return Ok(Self::File(PathBuf::from(raw)));
        };
        let Some((scheme, _)) = text.split_once("://") else {
            return Ok(Self::File(PathBuf::from(raw)));
        };
        if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") {
            return Ok(Self::Url(text.to_owned()));
        }
        let looks_like_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        if looks_like_scheme {
            return Err(UsageError::new(
                COMMAND,
                format!(
                    "SOURCE has the scheme `{scheme}`; use an http:// or https:// URL, a file or -"
                ),
            ));
        }
        Ok(Self::File(PathBuf::from(raw)))
    }
}

impl TapArgs {
    /// The options given that only a URL source can use.
    fn url_options(&self) -> Vec<&'static str> {
        let given = [
            (!self.headers.is_empty(), "--header"),
            (self.username.is_some(), "--username"),
            (self.password_file.is_some(), "--password-file"),
            (self.cert.is_some(), "--cert"),
            (self.key.is_some(), "--key"),
            (self.cert_chain.is_some(), "--cert-chain"),
            (!self.ca.is_empty(), "--ca"),
            (self.last_event_id.is_some(), "--last-event-id"),
            (self.idle_timeout.is_some(), "--idle-timeout"),
            (self.connect_timeout.is_some(), "--connect-timeout"),
        ];
        given
            .into_iter()
            .filter_map(|(set, name)| set.then_some(name))
            .collect()
    }

    fn mode(&self) -> Mode {
        if self.count {
            Mode::Count
        } else if self.comments {
            Mode::EventsAndComments
        } else {
            Mode::Events
        }
    }

    fn max_event_size(&self) -> usize {
        self.max_event_bytes
            .unwrap_or(sse_parser::DEFAULT_MAX_EVENT_SIZE)
    }

    /// The client settings: credentials, trust list, connect timeout. Reads the password file.
    fn client_config(&self) -> anyhow::Result<ClientConfig> {
        let auth = if let (Some(username), Some(path)) = (&self.username, &self.password_file) {
            Auth::Basic {
                username: username.clone(),
                password: read_password(path)?,
            }
        } else if let (Some(cert), Some(key)) = (&self.cert, &self.key) {
            Auth::ClientCertificate {
                cert_chain_pem: cert.clone(),
                key_pem: key.clone(),
                intermediates: self.cert_chain.clone(),
            }
        } else {
            Auth::Anonymous
        };
        let mut config = ClientConfig::new(auth).with_trust_list(&self.ca);
        if let Some(timeout) = self.connect_timeout {
            config = config.with_connect_timeout(timeout).map_err(client_error)?;
        }
        Ok(config)
    }

    /// The stream settings for `url`.
    fn stream_config(&self, url: &str) -> anyhow::Result<StreamConfig> {
        let mut headers = HeaderMap::new();
        for text in &self.headers {
            let (name, value) = values::header(text)
                .map_err(|why| UsageError::new(COMMAND, format!("--header: {why}")))?;
            headers.append(name, value);
        }
        let mut config = StreamConfig::new(url)
            .map_err(|e| UsageError::new(COMMAND, e.to_string()))?
            .with_headers(headers)
            .with_max_event_size(self.max_event_size());
        if let Some(timeout) = self.idle_timeout {
            config = config.with_idle_timeout(timeout).map_err(client_error)?;
        }
        if let Some(id) = &self.last_event_id {
            config = config.with_last_event_id(id);
        }
        Ok(config)
    }
}

/// Reads a Basic password. One trailing newline (LF or CRLF), as editors and `echo` leave,
/// is not part of it. Errors name the file, never its content.
fn read_password(path: &Path) -> anyhow::Result<Secret> {
    let mut text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the password file {}", path.display()))?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    Ok(Secret::new(text))
}

/// `sse-client` messages already name the cause and what to do; their source chain would
/// repeat it, so only the message is kept.
fn client_error(error: sse_client::Error) -> anyhow::Error {
    anyhow::anyhow!("{error}")
}

/// Why tapping stopped.
enum Stop {
    /// The input ended, `--max-events` was reached, or the server answered 204.
    Done,
    /// A stop signal came.
    Signal(Signal),
    /// The stream cannot go on.
    Failed(anyhow::Error),
}

/// Runs `tap`.
///
/// # Errors
/// [`UsageError`] for options that do not fit the source or invalid URLs and headers;
/// any other error (unreadable file, stream failed for good, output not writable) means
/// exit status 1.
pub async fn run(args: TapArgs, shutdown: Shutdown) -> anyhow::Result<ExitCode> {
    let source = Source::parse(&args.source)?;
    if !matches!(source, Source::Url(_)) {
        let options = args.url_options();
        if !options.is_empty() {
            return Err(UsageError::new(
                COMMAND,
                format!(
                    "{} cannot be used with a file or standard input (URL sources only)",
                    options.join(", ")
                ),
            )
            .into());
        }
    }
    let decoder = Decoder::new().with_max_event_size(args.max_event_size());
    let tapped = match source {
        Source::Url(url) => {
            let stream_config = args.stream_config(&url)?;
            let client = SseClient::new(&args.client_config()?).map_err(client_error)?;
            let mut tap = Tap {
                printer: Printer::stdout(args.mode()),
                max_events: args.max_events,
                shutdown,
                bytes: 0,
            };
            let stop = tap.url(client.stream(stream_config)).await;
            stop.and_then(|stop| tap.printer.finish(tap.bytes).map(|()| stop))
        }
        Source::Stdin => {
            let input = Input::new(io::stdin(), "standard input", decoder, &args);
            input.run(&shutdown).await?
        }
        Source::File(path) => {
            let file = std::fs::File::open(&path)
                .with_context(|| format!("cannot open {}", path.display()))?;
            let input = Input::new(file, path.display().to_string(), decoder, &args);
            input.run(&shutdown).await?
        }
    };
    let stop = match tapped {
        Ok(stop) => stop,
        Err(error) if output::is_broken_pipe(&error) => return Ok(ExitCode::SUCCESS),
        Err(error) => return Err(error).context("cannot write to standard output"),
    };
    match stop {
        Stop::Done => Ok(ExitCode::SUCCESS),
        Stop::Signal(signal) => Ok(signal.exit_code()),
        Stop::Failed(error) => Err(error),
    }
}

/// Tapping a URL: where the frames go, and when to stop.
struct Tap {
    printer: StdoutPrinter,
    max_events: Option<u64>,
    shutdown: Shutdown,
    /// Bytes read from the source.
    bytes: u64,
}

impl Tap {
    /// Prints an event; `true` once `--max-events` is reached.
    fn event(&mut self, event: &sse_parser::Event) -> std::io::Result<bool> {
        self.printer.event(event)?;
        Ok(self
            .max_events
            .is_some_and(|max| self.printer.events() >= max))
    }

    /// Taps a URL until it fails for good, the server closes it with 204, `--max-events`
    /// or a signal. Returns `Err` only for output errors.
    async fn url(&mut self, mut stream: EventStream) -> std::io::Result<Stop> {
        let stop = loop {
            let item = tokio::select! {
                biased;
                signal = self.shutdown.requested() => break Stop::Signal(signal),
                item = stream.next() => item,
            };
            match item {
                Some(StreamItem::Event(event)) => {
                    if self.event(&event)? {
                        break Stop::Done;
                    }
                }
                Some(StreamItem::Comment(text)) => self.printer.comment(&text)?,
                Some(StreamItem::Connected { url, .. }) => tracing::info!("connected to {url}"),
                Some(StreamItem::Reconnecting {
                    attempt,
                    delay,
                    error,
                }) => tracing::warn!(
                    "{error} (attempt {attempt}, next in {:.1}s)",
                    delay.as_secs_f64()
                ),
                Some(StreamItem::EventDropped(error)) => tracing::warn!("{error}"),
                Some(StreamItem::Closed(error)) => {
                    tracing::warn!("{error}");
                    break Stop::Done;
                }
                Some(StreamItem::Failed(error)) => break Stop::Failed(client_error(error)),
                None => break Stop::Done,
            }
        };
        self.bytes = stream.bytes_received();
        Ok(stop)
    }
}

/// A file or standard input to tap.
struct Input<R> {
    input: R,
    /// For messages.
    name: String,
    decoder: Decoder,
    /// `--count`: events are counted, not built.
    count_only: bool,
    max_events: Option<u64>,
    /// Shared with the command's task, which prints the summary when a signal comes.
    out: Arc<Mutex<Output>>,
}

/// What the reading thread and the command's task share.
struct Output {
    printer: Printer<Stdout>,
    /// Bytes read from the source.
    bytes: u64,
    /// Set once the summary is printed: nothing may follow it.
    finished: bool,
}

/// Locks the output; a panic of the other side leaves nothing half-written that matters here.
fn lock(out: &Mutex<Output>) -> MutexGuard<'_, Output> {
    out.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<R: Read + Send + 'static> Input<R> {
    fn new(input: R, name: impl Into<String>, decoder: Decoder, args: &TapArgs) -> Self {
        let printer = Printer::new(io::stdout(), args.mode(), false, OUTPUT_BUFFER);
        Self {
            input,
            name: name.into(),
            decoder,
            count_only: args.mode() == Mode::Count,
            max_events: args.max_events,
            out: Arc::new(Mutex::new(Output {
                printer,
                bytes: 0,
                finished: false,
            })),
        }
    }

    /// Taps the input to its end, `--max-events` or a signal, then prints the summary.
    /// The outer `Err` is a failure of the reading thread; the inner one an output error.
    async fn run(self, shutdown: &Shutdown) -> anyhow::Result<io::Result<Stop>> {
        let out = Arc::clone(&self.out);
        let mut reading = tokio::task::spawn_blocking(move || self.read());
        let stop = tokio::select! {
            biased;
            signal = shutdown.requested() => Ok(Stop::Signal(signal)),
            read = &mut reading => read.context("the reading thread failed")?,
        };
        let mut out = lock(&out);
        out.finished = true;
        let bytes = out.bytes;
        Ok(stop.and_then(|stop| out.printer.finish(bytes).map(|()| stop)))
    }

    /// Reads, decodes and prints until the end of the input, `--max-events`, or the summary
    /// printed by the command's task. An event without its closing blank line at the end is
    /// not dispatched, as the standard says. Returns `Err` only for output errors.
    ///
    /// Reads go into an initialized buffer of [`READ_BLOCK`] bytes and each read's bytes are
    /// split off it; a new buffer is made when less than [`MIN_READ`] is left. So memory is
    /// zeroed once (a safe `read` needs initialized memory) and each buffer serves several
    /// reads of a pipe, which returns at most 64 KiB a read.
    fn read(mut self) -> io::Result<Stop> {
        let shared = Arc::clone(&self.out);
        let mut buffer = BytesMut::new();
        loop {
            if buffer.len() < MIN_READ {
                buffer = BytesMut::with_capacity(READ_BLOCK);
                buffer.resize(READ_BLOCK, 0);
            }
            let read = match self.input.read(&mut buffer) {
                Ok(read) => read,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => {
                    let name = &self.name;
                    let error = anyhow::Error::new(error).context(format!("cannot read {name}"));
                    return Ok(Stop::Failed(error));
                }
            };
            let mut out = lock(&shared);
            if read == 0 || out.finished {
                return Ok(Stop::Done);
            }
            out.bytes += read as u64;
            self.decoder.push(buffer.split_to(read).freeze());
            if self.print_all(&mut out.printer)? {
                return Ok(Stop::Done);
            }
            out.printer.flush()?;
        }
    }

    /// Decodes and prints what the decoder holds; `true` once `--max-events` is reached.
    /// When only counting, events are passed over, not built ([`Decoder::skip_frame`]).
    fn print_all(&mut self, printer: &mut Printer<Stdout>) -> io::Result<bool> {
        loop {
            if self.count_only {
                match self.decoder.skip_frame() {
                    Ok(Some(FrameKind::Event)) => printer.count_event(),
                    Ok(Some(FrameKind::Comment | FrameKind::Retry)) => continue,
                    Ok(None) => return Ok(false),
                    Err(error) => {
                        tracing::warn!("{}: {error}", self.name);
                        continue;
                    }
                }
            } else {
                match self.decoder.next_frame() {
                    Ok(Some(Frame::Event(event))) => printer.event(&event)?,
                    Ok(Some(Frame::Comment(text))) => {
                        printer.comment(&text)?;
                        continue;
                    }
                    Ok(Some(Frame::Retry(millis))) => {
                        printer.retry(millis)?;
                        continue;
                    }
                    Ok(None) => return Ok(false),
                    Err(error) => {
                        tracing::warn!("{}: {error}", self.name);
                        continue;
                    }
                }
            }
            if self.max_events.is_some_and(|max| printer.events() >= max) {
                return Ok(true);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn sources() {
        let parse = |s: &str| Source::parse(OsStr::new(s));
        assert!(matches!(parse("-"), Ok(Source::Stdin)));
        for url in ["http://h/e", "https://h:8443/e?x=1", "HTTPS://H/"] {
            assert!(
                matches!(parse(url), Ok(Source::Url(u)) if u == url),
                "{url}"
            );
        }
        for file in ["capture.sse", "./a/b", "/tmp/x", "--", "./x://y", "a b://c"] {
            assert!(matches!(parse(file), Ok(Source::File(_))), "{file}");
        }
        for bad in ["ftp://h/e", "file:///tmp/x", "wss://h/"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
