//! One stream under test: a task that reads an [`EventStream`] and reports every item to the
//! harness' callback endpoint, one numbered POST at a time.
//!
//! ```text
//! harness SSE endpoint ──► EventStream ──► CallbackMessage ──POST {callbackUrl}/{n}──► harness
//!                              ▲
//!     POST /streams/{id} ──────┘ restart          DELETE /streams/{id} ──► cancel
//! ```
//!
//! Callbacks are sent in order and each one is awaited before the stream is read again, so
//! the numbering `n = 1, 2, 3…` matches the order of the stream. The stream is only polled
//! through the cancel-safe [`EventStream::next`], so a command or a cancellation arriving
//! mid-read loses nothing.
//!
//! After the stream has ended (a final failure, or `204`), the task stays until it is closed:
//! a `restart` command revives the stream, as [`EventStream::restart`] allows.

use std::time::Duration;

use http::HeaderValue;
use http::header::CONTENT_TYPE;
use sse_client::{Error, EventStream, StreamItem};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;
use url::Url;

use crate::params::{CallbackMessage, Command, EventMessage};

/// How long one callback may take. The harness waits 5 s for each message, so a callback
/// slower than this has failed the test already; the bound keeps a dead harness from
/// blocking the task forever.
const CALLBACK_TIMEOUT: Duration = Duration::from_secs(10);

/// Commands waiting for the task; the harness sends one at a time.
const COMMAND_QUEUE: usize = 16;

/// The handle the service keeps for a running stream task.
#[derive(Debug)]
pub(crate) struct StreamEntity {
    commands: mpsc::Sender<Command>,
    cancel: CancellationToken,
}

impl StreamEntity {
    /// Starts the task for `stream`, reporting to `callback_url`. The task ends when `cancel`
    /// (or a parent of it) is cancelled.
    pub(crate) fn start(
        tracker: &TaskTracker,
        stream: EventStream,
        callbacks: Callbacks,
        cancel: CancellationToken,
        tag: String,
    ) -> Self {
        let (commands, queue) = mpsc::channel(COMMAND_QUEUE);
        let task = run(stream, callbacks, queue, cancel.clone());
        let span = tracing::info_span!("stream", %tag);
        tracker.spawn(task.instrument(span));
        Self { commands, cancel }
    }

    /// The task's command queue (a clone, so that no lock is held while sending). Commands
    /// are applied before the next read of the stream; sending fails once the task has ended.
    pub(crate) fn commands(&self) -> mpsc::Sender<Command> {
        self.commands.clone()
    }

    /// Stops the task: no callback is sent after it notices (at the latest when the callback
    /// in flight, if any, is abandoned).
    pub(crate) fn close(&self) {
        self.cancel.cancel();
    }
}

impl Drop for StreamEntity {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

async fn run(
    mut stream: EventStream,
    mut callbacks: Callbacks,
    mut commands: mpsc::Receiver<Command>,
    cancel: CancellationToken,
) {
    tracing::info!(url = %stream.config().url(), "stream started");
    loop {
        let item = tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            Some(command) = commands.recv() => {
                match command {
                    Command::Restart => {
                        tracing::info!("restart requested");
                        stream.restart();
                    }
                }
                continue;
            }
            item = stream.next(), if !stream.is_done() => item,
        };
        // `None`: the stream has ended; wait for a restart or the close.
        let Some(message) = item.and_then(|item| message(&item)) else {
            continue;
        };
        tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            () = callbacks.send(&message) => {}
        }
    }
    tracing::info!("stream closed");
}

/// The callback for a stream item; `None` for what the harness does not hear about (a
/// successful connection).
pub(crate) fn message(item: &StreamItem) -> Option<CallbackMessage> {
    let error = |error: &Error, what: String| CallbackMessage::Error {
        error: format!("[{}] {error} ({what})", error.reason_code()),
    };
    match item {
        StreamItem::Connected { url, status } => {
            tracing::debug!(%url, %status, "connected");
            None
        }
        StreamItem::Event(event) => Some(CallbackMessage::Event {
            event: EventMessage::from(event),
        }),
        StreamItem::Comment(text) => Some(CallbackMessage::Comment {
            comment: text.to_string(),
        }),
        StreamItem::Reconnecting {
            attempt,
            delay,
            error: e,
        } => Some(error(
            e,
            format!("reconnect attempt {attempt} in {delay:?}"),
        )),
        StreamItem::EventDropped(e) => Some(error(e, "event dropped, stream goes on".to_owned())),
        StreamItem::Failed(e) => Some(error(e, "stream ended".to_owned())),
        StreamItem::Closed(e) => Some(error(e, "closed by the server, stream ended".to_owned())),
    }
}

/// The numbered callback endpoint of one stream.
#[derive(Debug)]
pub(crate) struct Callbacks {
    http: reqwest::Client,
    base: String,
    sent: u64,
}

impl Callbacks {
    /// Callbacks to `{base}/1`, `{base}/2`, …
    pub(crate) fn new(http: reqwest::Client, base: &Url) -> Self {
        Self {
            http,
            base: base.as_str().trim_end_matches('/').to_owned(),
            sent: 0,
        }
    }

    /// Posts the next numbered callback and waits for the answer. A failure is logged and
    /// the number is used up anyway: resending under the same number could deliver a message
    /// twice, and the harness reports the gap as a missing message.
    ///
    /// # Cancel safety
    /// A dropped call may or may not have delivered its callback. The task only drops it
    /// when the stream is being closed, after which nothing is reported anyway.
    pub(crate) async fn send(&mut self, message: &CallbackMessage) {
        self.sent += 1;
        let url = format!("{}/{}", self.base, self.sent);
        let body = match serde_json::to_vec(message) {
            Ok(body) => body,
            Err(error) => {
                tracing::warn!(%url, %error, ?message, "callback not serializable");
                return;
            }
        };
        let sent = self
            .http
            .post(&url)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(body)
            .timeout(CALLBACK_TIMEOUT)
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => {
                tracing::debug!(%url, ?message, "callback delivered");
            }
            Ok(response) => {
                tracing::warn!(%url, status = %response.status(), ?message, "callback refused");
            }
            Err(error) => {
                tracing::warn!(%url, %error, ?message, "callback failed");
            }
        }
    }
}
