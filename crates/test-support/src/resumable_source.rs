//! An SSE source that honours `Last-Event-ID`, for delivery tests.
//!
//! [`ResumableSource`] serves a fixed, numbered sequence of events `1..=total` (`id: N`,
//! `data: {"n":N}`, an optional `event:` type) on every path. Each request starts right after
//! the `Last-Event-ID` it carries (from the beginning without one), so a client that resumes
//! correctly sees every event, and one that does not shows gaps or repeats. With
//! [`SourceConfig::drop_every`] the server drops each connection after that many events,
//! alternating a clean end of body and a connection reset, to exercise reconnects. After the
//! last event the connection stays open and idle until the server is dropped.
//!
//! Every request is recorded as a [`RecordedRequest`], and every response as a
//! [`SourceConnection`]: when it opened and closed, and which events it sent (what replica
//! tests check "one reader at a time" with). The server binds `127.0.0.1:0`, speaks plain
//! HTTP/1.1 and stops when dropped.

#![allow(clippy::unwrap_used)]

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::gate::Gate;
use crate::sse_server::RecordedRequest;

/// What a [`ResumableSource`] serves.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    total: u64,
    drop_every: Option<u64>,
    interval: Duration,
    event_type: Option<String>,
    retry: Option<Duration>,
    /// Events after this id wait for the gate.
    gate: Option<(u64, Gate)>,
}

impl SourceConfig {
    /// Events `1..=total`, one every millisecond, no `event:` field, no `retry:`, never
    /// dropped.
    pub fn new(total: u64) -> Self {
        Self {
            total,
            drop_every: None,
            interval: Duration::from_millis(1),
            event_type: None,
            retry: None,
            gate: None,
        }
    }

    /// Holds every event back until `gate` is open (the response head and `retry:` are sent
    /// at once).
    pub fn gate(self, gate: &Gate) -> Self {
        self.hold_after(0, gate)
    }

    /// Sends events up to id `n` freely and holds the later ones until `gate` is open.
    pub fn hold_after(mut self, n: u64, gate: &Gate) -> Self {
        self.gate = Some((n, gate.clone()));
        self
    }

    /// Ends every connection after `n` events (odd connections cleanly, even ones with a
    /// reset).
    pub fn drop_every(mut self, n: u64) -> Self {
        assert!(n > 0, "drop_every needs at least one event per connection");
        self.drop_every = Some(n);
        self
    }

    /// The pause before each event.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// The `event:` field of every event.
    pub fn event_type(mut self, event_type: &str) -> Self {
        self.event_type = Some(event_type.to_owned());
        self
    }

    /// A `retry:` field sent at the start of every response (the client's reconnect base
    /// delay).
    pub fn retry(mut self, retry: Duration) -> Self {
        self.retry = Some(retry);
        self
    }
}

/// One response of a [`ResumableSource`]: its stream of events, from the request to the end
/// of the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceConnection {
    /// When the request arrived (tokio clock).
    pub opened: Instant,
    /// When the connection ended (the client went away, or the server stopped); `None` while
    /// it is open.
    pub closed: Option<Instant>,
    /// The `Last-Event-ID` it resumed after (0: from the beginning).
    pub after: u64,
    /// The last event id written on it (`after` when none).
    pub last_sent: u64,
}

struct Shared {
    config: SourceConfig,
    requests: Mutex<Vec<RecordedRequest>>,
    connections: Mutex<Vec<SourceConnection>>,
    /// The highest event id written so far, on any connection.
    sent: AtomicU64,
}

/// A running resumable source; stops when dropped.
pub struct ResumableSource {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
}

impl std::fmt::Debug for ResumableSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResumableSource")
            .field("addr", &self.addr)
            .field("config", &self.shared.config)
            .finish()
    }
}

impl Drop for ResumableSource {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl ResumableSource {
    /// Starts the server.
    pub async fn start(config: SourceConfig) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            config,
            requests: Mutex::new(Vec::new()),
            connections: Mutex::new(Vec::new()),
            sent: AtomicU64::new(0),
        });
        let shutdown = CancellationToken::new();
        let accepting = shared.clone();
        let token = shutdown.clone();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    () = token.cancelled() => return,
                    accepted = listener.accept() => accepted,
                };
                let Ok((tcp, _)) = accepted else { continue };
                tokio::spawn(serve(TokioIo::new(tcp), accepting.clone(), token.clone()));
            }
        });
        Self {
            addr,
            shared,
            shutdown,
        }
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (no trailing slash), the address of a device endpoint.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.addr.port())
    }

    /// The requests received so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// The `Last-Event-ID` of every request so far, in order.
    pub fn last_event_ids(&self) -> Vec<Option<String>> {
        self.requests()
            .iter()
            .map(|r| r.header("last-event-id").map(str::to_owned))
            .collect()
    }

    /// Every response so far, in the order the requests arrived.
    pub fn connections(&self) -> Vec<SourceConnection> {
        self.shared.connections.lock().unwrap().clone()
    }

    /// The highest event id written so far.
    pub fn sent(&self) -> u64 {
        self.shared.sent.load(Ordering::SeqCst)
    }

    /// Waits (real time, polling every 10 ms) until at least `n` requests arrived, or panics
    /// after `within`.
    pub async fn wait_for_requests(&self, n: usize, within: Duration) -> Vec<RecordedRequest> {
        let deadline = std::time::Instant::now() + within;
        loop {
            let requests = self.requests();
            if requests.len() >= n {
                return requests;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "expected {n} requests within {within:?}, got {}",
                requests.len()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

async fn serve(
    io: TokioIo<tokio::net::TcpStream>,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
) {
    let token = shutdown.clone();
    let service = service_fn(move |request: http::Request<Incoming>| {
        let shared = shared.clone();
        let token = token.clone();
        async move { Ok::<_, Infallible>(answer(&request, &shared, &token)) }
    });
    let connection = hyper::server::conn::http1::Builder::new().serve_connection(io, service);
    tokio::select! {
        () = shutdown.cancelled() => {}
        _ = connection => {}
    }
}

fn answer(
    request: &http::Request<Incoming>,
    shared: &Arc<Shared>,
    shutdown: &CancellationToken,
) -> http::Response<ChannelBody> {
    let recorded = RecordedRequest {
        method: request.method().to_string(),
        path: request
            .uri()
            .path_and_query()
            .map_or_else(|| "/".to_owned(), ToString::to_string),
        headers: request.headers().clone(),
        at: Instant::now(),
    };
    // An id this server did not send (or none) starts from the beginning.
    let after = recorded
        .header("last-event-id")
        .and_then(|id| id.parse::<u64>().ok())
        .unwrap_or(0);
    let opened = recorded.at;
    let connection = {
        let mut requests = shared.requests.lock().unwrap();
        requests.push(recorded);
        requests.len()
    };
    let index = {
        let mut connections = shared.connections.lock().unwrap();
        connections.push(SourceConnection {
            opened,
            closed: None,
            after,
            last_sent: after,
        });
        connections.len() - 1
    };

    let (tx, rx) = mpsc::channel(8);
    let shared = shared.clone();
    let shutdown = shutdown.clone();
    tokio::spawn(async move {
        write(&tx, &shared, &shutdown, after, connection, index).await;
        // The client went away (or the server stops): the body is dropped, or about to be.
        shared.connections.lock().unwrap()[index].closed = Some(Instant::now());
    });

    http::Response::builder()
        .status(200)
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-store")
        .body(ChannelBody(rx))
        .unwrap()
}

/// Writes the events after `after` to response `connection` (1-based), recorded at `index`.
async fn write(
    tx: &mpsc::Sender<Result<Bytes, io::Error>>,
    shared: &Shared,
    shutdown: &CancellationToken,
    after: u64,
    connection: usize,
    index: usize,
) {
    let config = &shared.config;
    if let Some(retry) = config.retry {
        let field = format!("retry: {}\n\n", retry.as_millis());
        if tx.send(Ok(Bytes::from(field))).await.is_err() {
            return;
        }
    }
    for (written, n) in (after + 1..=config.total).enumerate() {
        if config
            .drop_every
            .is_some_and(|every| written as u64 == every)
        {
            if connection.is_multiple_of(2) {
                // Let hyper take and flush the data frames first, or they die with the
                // reset.
                while tx.capacity() < tx.max_capacity() {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
                let _ = tx.send(Err(io::Error::other("scripted reset"))).await;
            }
            return;
        }
        if let Some((_, gate)) = config.gate.as_ref().filter(|(free, _)| n > *free) {
            tokio::select! {
                () = gate.passed() => {}
                () = tx.closed() => return,
            }
        }
        tokio::select! {
            () = tokio::time::sleep(config.interval) => {}
            () = tx.closed() => return,
        }
        let event = match &config.event_type {
            Some(kind) => format!("id: {n}\nevent: {kind}\ndata: {{\"n\":{n}}}\n\n"),
            None => format!("id: {n}\ndata: {{\"n\":{n}}}\n\n"),
        };
        if tx.send(Ok(Bytes::from(event))).await.is_err() {
            return;
        }
        shared.sent.fetch_max(n, Ordering::SeqCst);
        shared.connections.lock().unwrap()[index].last_sent = n;
    }
    tokio::select! {
        () = shutdown.cancelled() => {}
        () = tx.closed() => {}
    }
}

/// A response body fed by the writer task; an `Err` aborts the connection.
struct ChannelBody(mpsc::Receiver<Result<Bytes, io::Error>>);

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|item| item.map(|result| result.map(Frame::data)))
    }
}
