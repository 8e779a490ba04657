//! A scripted HTTP / HTTPS server for SSE client tests.
//!
//! Every request is recorded (method, path and query, headers, arrival time) and answered by
//! the next [`Response`] of the script; when the script is exhausted the fallback answers
//! (by default `503` with no body, which a client retries). A response is a status, headers
//! and body steps (chunks and pauses), then one of three endings: a clean end of body, an
//! abrupt connection reset, or hanging open without bytes until the server is dropped.
//!
//! The server binds `127.0.0.1:0`, serves HTTP/1.1 (with rustls when given a server
//! configuration) and stops when dropped.

#![allow(clippy::unwrap_used)]

use std::collections::VecDeque;
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::gate::Gate;

/// One step of a scripted body.
#[derive(Debug, Clone)]
enum Step {
    Data(Bytes),
    Delay(Duration),
    Wait(Gate),
}

/// What happens after the scripted body steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// End the body cleanly (the client sees end of stream).
    Close,
    /// Reset the connection mid-body (the client sees an I/O error).
    Abort,
    /// Keep the response open without sending anything until the server is dropped.
    Hang,
}

/// A scripted answer to one request.
#[derive(Debug, Clone)]
pub struct Response {
    status: StatusCode,
    headers: Vec<(HeaderName, HeaderValue)>,
    steps: Vec<Step>,
    ending: Ending,
}

impl Response {
    /// `200 OK` with `Content-Type: text/event-stream`, an empty body that then ends.
    pub fn sse() -> Self {
        Self::status(200).header("content-type", "text/event-stream")
    }

    /// The given status with no headers and an empty body.
    pub fn status(status: u16) -> Self {
        Self {
            status: StatusCode::from_u16(status).unwrap(),
            headers: Vec::new(),
            steps: Vec::new(),
            ending: Ending::Close,
        }
    }

    /// A redirect with the given status and `Location`.
    pub fn redirect(status: u16, location: &str) -> Self {
        Self::status(status).header("location", location)
    }

    /// Adds a response header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        ));
        self
    }

    /// Appends a body chunk, sent as its own write.
    pub fn chunk(mut self, data: impl Into<Bytes>) -> Self {
        self.steps.push(Step::Data(data.into()));
        self
    }

    /// Pauses before the next chunk or the ending.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.steps.push(Step::Delay(delay));
        self
    }

    /// Waits until `gate` is open before the next chunk or the ending.
    pub fn wait_for(mut self, gate: &Gate) -> Self {
        self.steps.push(Step::Wait(gate.clone()));
        self
    }

    /// After the steps, keeps the connection open without bytes until the server is dropped.
    pub fn hang(mut self) -> Self {
        self.ending = Ending::Hang;
        self
    }

    /// After the steps, resets the connection instead of ending the body cleanly.
    pub fn abort(mut self) -> Self {
        self.ending = Ending::Abort;
        self
    }
}

/// A request as the server received it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// The method, e.g. `GET`.
    pub method: String,
    /// Path and query, e.g. `/events?x=1`.
    pub path: String,
    /// All request headers.
    pub headers: HeaderMap,
    /// When the request head arrived (tokio clock).
    pub at: Instant,
}

impl RecordedRequest {
    /// The value of a header as text, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

struct Shared {
    requests: Mutex<Vec<RecordedRequest>>,
    script: Mutex<VecDeque<Response>>,
    fallback: Mutex<Response>,
    /// When set, requests without exactly this `Authorization` value get `401` (the script
    /// is not consumed).
    required_authorization: Mutex<Option<String>>,
}

/// A running scripted server; stops when dropped.
pub struct SseServer {
    addr: SocketAddr,
    tls: bool,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
}

impl std::fmt::Debug for SseServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SseServer")
            .field("addr", &self.addr)
            .field("tls", &self.tls)
            .finish()
    }
}

impl Drop for SseServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl SseServer {
    /// Starts a plain HTTP server answering with `script`, in order.
    pub async fn http(script: impl IntoIterator<Item = Response>) -> Self {
        Self::start(None, script).await
    }

    /// Starts an HTTPS server with the given rustls configuration.
    pub async fn https(
        config: Arc<rustls::ServerConfig>,
        script: impl IntoIterator<Item = Response>,
    ) -> Self {
        Self::start(Some(TlsAcceptor::from(config)), script).await
    }

    async fn start(tls: Option<TlsAcceptor>, script: impl IntoIterator<Item = Response>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            requests: Mutex::new(Vec::new()),
            script: Mutex::new(script.into_iter().collect()),
            fallback: Mutex::new(Response::status(503)),
            required_authorization: Mutex::new(None),
        });
        let shutdown = CancellationToken::new();
        let server = Self {
            addr,
            tls: tls.is_some(),
            shared: shared.clone(),
            shutdown: shutdown.clone(),
        };
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    () = shutdown.cancelled() => return,
                    accepted = listener.accept() => accepted,
                };
                let Ok((tcp, _)) = accepted else { continue };
                tokio::spawn(serve(tcp, tls.clone(), shared.clone(), shutdown.clone()));
            }
        });
        server
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT{path}`, or `https://localhost:PORT{path}` for a TLS server (the
    /// server certificate names both `localhost` and `127.0.0.1`).
    pub fn url(&self, path: &str) -> String {
        if self.tls {
            format!("https://localhost:{}{path}", self.addr.port())
        } else {
            format!("http://127.0.0.1:{}{path}", self.addr.port())
        }
    }

    /// Appends responses to the script.
    pub fn push(&self, response: Response) {
        self.shared.script.lock().unwrap().push_back(response);
    }

    /// Sets the answer used once the script is exhausted (default: `503`, empty body).
    pub fn set_fallback(&self, response: Response) {
        *self.shared.fallback.lock().unwrap() = response;
    }

    /// Answers `401` with `WWW-Authenticate: Basic` to every request that does not carry
    /// these Basic credentials, without consuming the script.
    pub fn require_basic_auth(&self, username: &str, password: &str) {
        let token = base64(format!("{username}:{password}").as_bytes());
        *self.shared.required_authorization.lock().unwrap() = Some(format!("Basic {token}"));
    }

    /// The requests received so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests.lock().unwrap().clone()
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
    tcp: TcpStream,
    tls: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
) {
    match tls {
        None => serve_io(TokioIo::new(tcp), shared, shutdown).await,
        Some(acceptor) => {
            // A failed handshake (e.g. a rejected client certificate) just closes the socket;
            // rustls has already sent the alert the client will report.
            let Ok(stream) = acceptor.accept(tcp).await else {
                return;
            };
            serve_io(TokioIo::new(stream), shared, shutdown).await;
        }
    }
}

async fn serve_io<I>(io: TokioIo<I>, shared: Arc<Shared>, shutdown: CancellationToken)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
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
    shared: &Shared,
    shutdown: &CancellationToken,
) -> http::Response<ChannelBody> {
    shared.requests.lock().unwrap().push(RecordedRequest {
        method: request.method().to_string(),
        path: request
            .uri()
            .path_and_query()
            .map_or_else(|| "/".to_owned(), ToString::to_string),
        headers: request.headers().clone(),
        at: Instant::now(),
    });
    let required = shared.required_authorization.lock().unwrap().clone();
    let authorized = required.is_none_or(|expected| {
        request
            .headers()
            .get(http::header::AUTHORIZATION)
            .is_some_and(|v| v.as_bytes() == expected.as_bytes())
    });
    let response = if authorized {
        let scripted = shared.script.lock().unwrap().pop_front();
        scripted.unwrap_or_else(|| shared.fallback.lock().unwrap().clone())
    } else {
        Response::status(401).header("www-authenticate", "Basic realm=\"test\"")
    };

    let (tx, rx) = mpsc::channel(8);
    let shutdown = shutdown.clone();
    let Response {
        status,
        headers,
        steps,
        ending,
    } = response;
    tokio::spawn(async move {
        for step in steps {
            match step {
                Step::Data(data) => {
                    if tx.send(Ok(data)).await.is_err() {
                        return;
                    }
                }
                Step::Delay(delay) => tokio::time::sleep(delay).await,
                Step::Wait(gate) => tokio::select! {
                    () = gate.passed() => {}
                    () = shutdown.cancelled() => return,
                    () = tx.closed() => return,
                },
            }
        }
        match ending {
            Ending::Close => {}
            Ending::Abort => {
                // Let hyper take and flush the data frames first, or they die with the reset.
                while tx.capacity() < tx.max_capacity() {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                let _ = tx
                    .send(Err(io::Error::other("scripted connection reset")))
                    .await;
            }
            Ending::Hang => {
                tokio::select! {
                    () = shutdown.cancelled() => {}
                    () = tx.closed() => {}
                }
            }
        }
    });

    let mut builder = http::Response::builder().status(status);
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    builder.body(ChannelBody(rx)).unwrap()
}

/// A response body fed by the script task; an `Err` aborts the connection.
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

/// Standard base64 with padding (RFC 4648), enough for Basic credentials in tests.
pub fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for group in input.chunks(3) {
        let b = [
            group[0],
            group.get(1).copied().unwrap_or(0),
            group.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= group.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_rfc4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("user:pass", "dXNlcjpwYXNz"),
        ];
        for (input, expected) in cases {
            assert_eq!(super::base64(input.as_bytes()), expected);
        }
    }
}
