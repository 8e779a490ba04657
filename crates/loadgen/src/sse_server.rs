//! The SSE server of a run, on plain tokio TCP (HTTP/1.1, chunked): `/events` is a flood of
//! events written as fast as the connection takes them (or at a fixed rate); every other path
//! is an idle stream that sends a comment every `comment_every` and nothing else.
//!
//! Each flood event is `id: SEQ`, `event: reading` and one `data` line of [`payload::SIZE`]
//! bytes whose `ts` is the clock reading taken as the event is put into the write buffer;
//! events go out in batches of a few (one `write` each), so the timestamp is the server's write
//! to within a batch.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clock::now_ns;
use crate::payload;

/// How `/events` is served.
#[derive(Debug, Clone, Copy)]
pub struct Flood {
    /// Events written per connection; after them the stream stays open and silent.
    pub events_per_connection: u64,
    /// Events per `write`.
    pub batch: usize,
    /// Events per second; `None`: as fast as the connection accepts them.
    pub rate: Option<u64>,
}

#[derive(Debug)]
struct Shared {
    flood: Flood,
    comment_every: Duration,
    next_seq: AtomicU64,
    established: AtomicUsize,
    cancel: CancellationToken,
}

/// A running server; [`stop`](Self::stop) ends every connection.
#[derive(Debug)]
pub struct SseServer {
    port: u16,
    shared: Arc<Shared>,
    tracker: TaskTracker,
}

impl SseServer {
    /// Listens on a free loopback port, with a listen backlog deep enough for thousands of
    /// streams connecting at once.
    ///
    /// # Errors
    /// When no loopback socket can be bound.
    pub fn start(flood: Flood, comment_every: Duration) -> anyhow::Result<Self> {
        let socket = TcpSocket::new_v4().context("socket")?;
        socket.set_reuseaddr(true)?;
        socket.bind(([127, 0, 0, 1], 0).into())?;
        let listener = socket.listen(16_384).context("listen")?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared {
            flood,
            comment_every,
            next_seq: AtomicU64::new(0),
            established: AtomicUsize::new(0),
            cancel: CancellationToken::new(),
        });
        let tracker = TaskTracker::new();
        let accept_shared = Arc::clone(&shared);
        let accept_tracker = tracker.clone();
        tracker.spawn(async move {
            let shared = accept_shared;
            loop {
                let accepted = tokio::select! {
                    () = shared.cancel.cancelled() => break,
                    accepted = listener.accept() => accepted,
                };
                match accepted {
                    Ok((stream, _)) => {
                        let shared = Arc::clone(&shared);
                        accept_tracker.spawn(async move {
                            let _ = serve(stream, &shared).await;
                        });
                    }
                    // Out of file descriptors, typically: wait for some to close.
                    Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                }
            }
        });
        Ok(Self {
            port,
            shared,
            tracker,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Streams whose response head has been written and that are still open.
    pub fn established(&self) -> usize {
        self.shared.established.load(Ordering::Relaxed)
    }

    /// Closes the listener and every connection; waits at most 5 s.
    pub async fn stop(self) {
        self.shared.cancel.cancel();
        self.tracker.close();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.tracker.wait()).await;
    }
}

const HEAD: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n";

async fn serve(mut stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let path = tokio::time::timeout(Duration::from_secs(10), read_path(&mut stream))
        .await
        .map_err(|_| std::io::ErrorKind::TimedOut)??;
    stream.write_all(HEAD).await?;
    if path == "/events" {
        flood(&mut stream, shared).await?;
    }
    idle(&mut stream, shared).await
}

/// Reads the request head (at most 16 KiB) and returns its path.
async fn read_path(stream: &mut TcpStream) -> std::io::Result<String> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        if head.len() > 16 * 1024 {
            return Err(std::io::ErrorKind::InvalidData.into());
        }
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
    let path = line.split(|&b| b == b' ').nth(1).unwrap_or_default();
    Ok(String::from_utf8_lossy(path).into_owned())
}

/// Writes one HTTP chunk.
async fn write_chunk(
    stream: &mut TcpStream,
    out: &mut Vec<u8>,
    body: &[u8],
) -> std::io::Result<()> {
    use std::io::Write as _;
    out.clear();
    let _ = write!(out, "{:x}\r\n", body.len());
    out.extend_from_slice(body);
    out.extend_from_slice(b"\r\n");
    stream.write_all(out).await
}

async fn flood(stream: &mut TcpStream, shared: &Shared) -> std::io::Result<()> {
    use std::io::Write as _;
    let Flood {
        events_per_connection: limit,
        batch,
        rate,
    } = shared.flood;
    let batch = batch.max(1) as u64;
    let mut body = Vec::with_capacity(256 * batch as usize);
    let mut out = Vec::with_capacity(256 * batch as usize + 16);
    let start = Instant::now();
    let mut sent = 0u64;
    while sent < limit && !shared.cancel.is_cancelled() {
        let mut n = batch.min(limit - sent);
        if let Some(rate) = rate.filter(|r| *r > 0) {
            let due = start + Duration::from_secs_f64(sent as f64 / rate as f64);
            tokio::select! {
                () = shared.cancel.cancelled() => break,
                () = tokio::time::sleep_until(due) => {}
            }
            let owed = (start.elapsed().as_secs_f64() * rate as f64) as u64;
            n = n.min(owed.saturating_sub(sent).max(1));
        }
        body.clear();
        for _ in 0..n {
            let seq = shared.next_seq.fetch_add(1, Ordering::Relaxed);
            let _ = write!(body, "id: {seq}\nevent: reading\ndata: ");
            payload::write(&mut body, seq, now_ns());
            body.extend_from_slice(b"\n\n");
        }
        tokio::select! {
            () = shared.cancel.cancelled() => break,
            written = write_chunk(stream, &mut out, &body) => written?,
        }
        sent += n;
    }
    Ok(())
}

/// Keeps the stream open, a comment every `comment_every`, until the peer closes or the
/// server stops.
async fn idle(stream: &mut TcpStream, shared: &Shared) -> std::io::Result<()> {
    let mut out = Vec::with_capacity(64);
    write_chunk(stream, &mut out, b": connected\n\n").await?;
    shared.established.fetch_add(1, Ordering::Relaxed);
    let mut buf = [0u8; 256];
    let result = loop {
        tokio::select! {
            () = shared.cancel.cancelled() => break Ok(()),
            read = stream.read(&mut buf) => match read {
                Ok(0) | Err(_) => break Ok(()),
                Ok(_) => {}
            },
            () = tokio::time::sleep(shared.comment_every) => {
                if let Err(error) = write_chunk(stream, &mut out, b": keep-alive\n\n").await {
                    break Err(error);
                }
            }
        }
    };
    shared.established.fetch_sub(1, Ordering::Relaxed);
    result
}
