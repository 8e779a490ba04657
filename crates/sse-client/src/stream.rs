//! [`EventStream`]: one SSE stream that connects, reads, and reconnects on its own.
//!
//! The stream is an explicit state machine; all of its progress lives in the struct, so a
//! [`EventStream::next`] future may be dropped at any time without losing anything:
//!
//! ```text
//!              ┌────────────── restart() ──────────────┐
//!              ▼                                        │
//! Disconnected ──► Connecting ──200──► Connected ──idle / EOF / I/O error──► Waiting
//!      ▲               │  │                                  (retryable)       │
//!      │               │  └─204──► Done (Closed)                               │
//!      │               └─retryable error──► Waiting        not retryable ──► Done (Failed)
//!      └──────────────────────────── backoff elapsed ◄─────────────────────────┘
//! ```
//!
//! A non-retryable failure ends the stream even after earlier successful connections: it
//! repeats until the definition, a secret or a trust list changes (DESIGN 3.7), which means a
//! new [`SseClient`] or [`StreamConfig`]. [`EventStream::restart`] overrides that on request.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use bytestring::ByteString;
use futures_util::Stream;
use http::StatusCode;
use sse_parser::{Decoder, Event, Frame};
use tokio::time::{Instant, Sleep};
use url::Url;

use crate::client::SseClient;
use crate::config::StreamConfig;
use crate::connect::{self, Outcome};
use crate::error::{Error, ErrorKind, Source};

/// What a stream reports, in order.
#[derive(Debug)]
pub enum StreamItem {
    /// A connection is established and its body is about to be read.
    Connected {
        /// The URL that answered (the configured one, or where redirects led).
        url: Url,
        /// The response status (200).
        status: StatusCode,
    },
    /// An event was dispatched.
    Event(Event),
    /// A comment line (often a heartbeat).
    Comment(ByteString),
    /// The connection failed or ended and the stream will reconnect after `delay`.
    Reconnecting {
        /// The 1-based attempt number; it starts over after a healthy period.
        attempt: u32,
        /// How long the stream waits before reconnecting.
        delay: Duration,
        /// Why it reconnects (retryable).
        error: Error,
    },
    /// An event was dropped (too large); the stream goes on. Count it.
    EventDropped(Error),
    /// A failure that retrying cannot fix; the stream has ended.
    Failed(Error),
    /// The server answered 204 (kind [`ErrorKind::ClosedByServer`]); the stream has ended.
    Closed(Error),
}

type Connecting = Pin<Box<dyn Future<Output = Result<Outcome, Error>> + Send>>;
type Body = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

enum State {
    /// Connect at the next poll.
    Disconnected,
    /// Backing off before the next attempt.
    Waiting(Pin<Box<Sleep>>),
    /// Request in flight (including redirects).
    Connecting(Connecting),
    /// Reading the body; `idle` fires when no byte arrived for the idle timeout.
    Connected {
        body: Body,
        idle: Pin<Box<Sleep>>,
        url: Url,
        since: Instant,
    },
    /// Failed or closed for good.
    Done,
}

/// A self-reconnecting SSE stream; create it with [`SseClient::stream`].
///
/// Poll it with [`EventStream::next`] or as a [`Stream`] of [`StreamItem`]s. It ends (`None`)
/// after [`StreamItem::Failed`] or [`StreamItem::Closed`].
pub struct EventStream {
    client: SseClient,
    config: Arc<StreamConfig>,
    decoder: Decoder,
    state: State,
    attempt: u32,
    server_retry: Option<Duration>,
    bytes_received: u64,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream")
            .field("url", &self.config.url.as_str())
            .field("attempt", &self.attempt)
            .field("bytes_received", &self.bytes_received)
            .finish_non_exhaustive()
    }
}

impl EventStream {
    pub(crate) fn new(client: SseClient, config: StreamConfig) -> Self {
        let mut decoder = Decoder::new().with_max_event_size(config.max_event_size);
        decoder.set_last_event_id(&config.last_event_id);
        Self {
            client,
            config: Arc::new(config),
            decoder,
            state: State::Disconnected,
            attempt: 0,
            server_retry: None,
            bytes_received: 0,
        }
    }

    /// The next item: connects, reads, backs off and reconnects as needed. Returns `None`
    /// once the stream has ended (after `Failed` or `Closed`).
    ///
    /// # Cancel safety
    /// Cancel safe: the in-flight request, the open body, the backoff timer and the parser
    /// all live in `self`, so dropping this future loses nothing and the next call resumes.
    pub async fn next(&mut self) -> Option<StreamItem> {
        poll_fn(|cx| self.poll_item(cx)).await
    }

    /// Drops the current connection or backoff and reconnects at the next poll, keeping the
    /// last event id. The attempt count starts over. This also revives an ended stream.
    pub fn restart(&mut self) {
        self.state = State::Disconnected;
        self.attempt = 0;
    }

    /// The resume point sent as `Last-Event-ID` at the next connection.
    pub fn last_event_id(&self) -> &str {
        self.decoder.last_event_id()
    }

    /// Replaces the resume point (e.g. with an acknowledged checkpoint) for the next
    /// connection; ids read from the stream update it again.
    pub fn set_last_event_id(&mut self, id: &str) {
        self.decoder.set_last_event_id(id);
    }

    /// Body bytes received over all connections.
    pub fn bytes_received(&self) -> u64 {
        self.bytes_received
    }

    /// Whether a response body is being read.
    pub fn is_connected(&self) -> bool {
        matches!(self.state, State::Connected { .. })
    }

    /// Whether the stream has ended.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// The stream configuration.
    pub fn config(&self) -> &StreamConfig {
        &self.config
    }

    fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<StreamItem>> {
        loop {
            match &mut self.state {
                State::Done => return Poll::Ready(None),
                State::Disconnected => {
                    self.decoder.reset();
                    let last_event_id = self.decoder.last_event_id().clone();
                    let attempt =
                        connect::open(self.client.clone(), self.config.clone(), last_event_id);
                    self.state = State::Connecting(Box::pin(attempt));
                }
                State::Waiting(sleep) => {
                    ready!(sleep.as_mut().poll(cx));
                    self.state = State::Disconnected;
                }
                State::Connecting(attempt) => match ready!(attempt.as_mut().poll(cx)) {
                    Ok(Outcome::Stream {
                        response,
                        url,
                        status,
                    }) => {
                        tracing::debug!(%url, %status, "connected");
                        let idle = Box::pin(tokio::time::sleep(self.config.idle_timeout));
                        self.state = State::Connected {
                            body: Box::pin(response.bytes_stream()),
                            idle,
                            url: url.clone(),
                            since: Instant::now(),
                        };
                        return Poll::Ready(Some(StreamItem::Connected { url, status }));
                    }
                    Ok(Outcome::Closed(error)) => {
                        tracing::info!(%error, "stream closed by the server");
                        self.state = State::Done;
                        return Poll::Ready(Some(StreamItem::Closed(error)));
                    }
                    Err(error) => return Poll::Ready(Some(self.fail(error, None))),
                },
                State::Connected {
                    body,
                    idle,
                    url,
                    since,
                } => {
                    // Hand out what is already parsed before reading more.
                    match self.decoder.next_frame() {
                        Ok(Some(Frame::Event(event))) => {
                            return Poll::Ready(Some(StreamItem::Event(event)));
                        }
                        Ok(Some(Frame::Comment(comment))) => {
                            return Poll::Ready(Some(StreamItem::Comment(comment)));
                        }
                        Ok(Some(Frame::Retry(millis))) => {
                            self.server_retry = Some(Duration::from_millis(millis));
                            continue;
                        }
                        Ok(None) => {}
                        Err(e) => {
                            let error = Error::new(
                                ErrorKind::EventTooLarge,
                                format!("event from {url} dropped ({e})"),
                            )
                            .with_source(Source::Decode(e));
                            return Poll::Ready(Some(StreamItem::EventDropped(error)));
                        }
                    }
                    let since = *since;
                    let error = match body.as_mut().poll_next(cx) {
                        Poll::Ready(Some(Ok(chunk))) => {
                            if !chunk.is_empty() {
                                self.bytes_received += chunk.len() as u64;
                                idle.as_mut()
                                    .reset(Instant::now() + self.config.idle_timeout);
                                self.decoder.push(chunk);
                            }
                            continue;
                        }
                        Poll::Ready(Some(Err(e))) => connect::transport_error(url, e, true),
                        Poll::Ready(None) => {
                            Error::new(ErrorKind::EndOfStream, format!("{url} ended the stream"))
                        }
                        Poll::Pending => {
                            ready!(idle.as_mut().poll(cx));
                            Error::new(
                                ErrorKind::IdleTimeout,
                                format!(
                                    "no data from {url} for {:?} (idle timeout)",
                                    self.config.idle_timeout
                                ),
                            )
                        }
                    };
                    return Poll::Ready(Some(self.fail(error, Some(since))));
                }
            }
        }
    }

    /// Ends the stream for a final error, or schedules the next attempt for a retryable one.
    fn fail(&mut self, error: Error, connected_since: Option<Instant>) -> StreamItem {
        if !error.is_retryable() {
            tracing::warn!(%error, reason = error.reason_code(), "stream failed");
            self.state = State::Done;
            return StreamItem::Failed(error);
        }
        let policy = &self.config.retry;
        if connected_since.is_some_and(|since| since.elapsed() >= policy.reset_after()) {
            self.attempt = 0;
        }
        self.attempt = self.attempt.saturating_add(1);
        let delay = policy.next_delay(self.attempt, self.server_retry, error.retry_after());
        tracing::info!(%error, reason = error.reason_code(), attempt = self.attempt, ?delay, "reconnecting");
        self.state = State::Waiting(Box::pin(tokio::time::sleep(delay)));
        StreamItem::Reconnecting {
            attempt: self.attempt,
            delay,
            error,
        }
    }
}

/// Streams move into tasks; clients are shared between them.
const _: () = {
    const fn assert_send<T: Send>() {}
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send::<EventStream>();
    assert_send_sync::<SseClient>();
    assert_send_sync::<crate::Error>();
};

impl Stream for EventStream {
    type Item = StreamItem;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<StreamItem>> {
        self.get_mut().poll_item(cx)
    }
}
