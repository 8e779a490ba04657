//! The REST API of the test service (routes and shared state), as the contract-test harness
//! calls it:
//!
//! | request | answer |
//! |---|---|
//! | `GET /` | `200` `{"name":…,"capabilities":[…]}` |
//! | `DELETE /` | `204`, then the service stops |
//! | `POST /` create stream | `201` + `Location: …/streams/{id}`; `400` for bad parameters |
//! | `POST /streams/{id}` command | `204`; `400` unknown command; `404` unknown stream |
//! | `DELETE /streams/{id}` | `204`; `404` unknown stream |
//!
//! `400` answers carry a plain-text message naming the field at fault.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use sse_client::{Auth, ClientConfig, SseClient};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::params::{Command, CreateStreamParams, ParamError, Status};
use crate::stream_entity::{Callbacks, StreamEntity};

/// How long stopping waits for stream tasks to notice.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The SSE client could not be built.
    #[error("cannot build the SSE client: {0}")]
    Client(#[from] sse_client::Error),
    /// The HTTP client for callbacks could not be built.
    #[error("cannot build the callback HTTP client: {0}")]
    Callbacks(#[from] reqwest::Error),
    /// The TLS configuration of the callback client could not be built.
    #[error("cannot configure TLS for callbacks: {0}")]
    Tls(#[from] rustls::Error),
}

/// The test service: the SSE client under test, the callback client and the open streams.
///
/// Cheap to clone; all clones share the same streams.
#[derive(Debug, Clone)]
pub struct Service {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    /// One client for every stream: the harness never sends credentials or trust lists.
    client: SseClient,
    callbacks: reqwest::Client,
    streams: Mutex<HashMap<u64, StreamEntity>>,
    next_id: AtomicU64,
    tasks: TaskTracker,
    /// Cancelled by `DELETE /` (or the caller): stops the server and, being the parent of
    /// every stream's token, every stream.
    shutdown: CancellationToken,
}

impl Service {
    /// Builds the clients.
    ///
    /// # Errors
    /// [`StartError`] when a client cannot be built (e.g. the system trust store cannot be
    /// used); nothing is listening yet.
    pub fn new() -> Result<Self, StartError> {
        let client = SseClient::new(&ClientConfig::new(Auth::Anonymous))?;
        Ok(Self {
            shared: Arc::new(Shared {
                client,
                callbacks: callback_client()?,
                streams: Mutex::new(HashMap::new()),
                next_id: AtomicU64::new(1),
                tasks: TaskTracker::new(),
                shutdown: CancellationToken::new(),
            }),
        })
    }

    /// The token that stops the service; `DELETE /` cancels it, and so may the caller (e.g.
    /// on Ctrl-C).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shared.shutdown.clone()
    }

    /// The routes, over this service's state.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/", get(status).post(create).delete(stop))
            .route("/streams/{id}", post(command).delete(close))
            .with_state(self.clone())
    }

    /// Serves the API on `listener` until the shutdown token is cancelled, then closes
    /// every stream and waits (up to a few seconds) for their tasks to end.
    ///
    /// # Errors
    /// I/O errors of the listener.
    ///
    /// # Cancel safety
    /// Dropping the future stops serving at once; stream tasks then end only when the
    /// runtime does. Prefer cancelling [`Service::shutdown_token`].
    pub async fn serve(self, listener: TcpListener) -> io::Result<()> {
        let shutdown = self.shared.shutdown.clone();
        let served = axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown.clone().cancelled_owned())
            .await;
        shutdown.cancel();
        self.shared.lock_streams().clear();
        self.shared.tasks.close();
        if tokio::time::timeout(STOP_GRACE, self.shared.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("stream tasks did not stop in time");
        }
        tracing::info!("test service stopped");
        served
    }
}

impl Shared {
    fn lock_streams(&self) -> std::sync::MutexGuard<'_, HashMap<u64, StreamEntity>> {
        // The map is only ever inserted into or removed from; a panic mid-way cannot leave
        // it inconsistent, so a poisoned lock is still usable.
        self.streams.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The HTTP client for callbacks. The workspace builds reqwest without a default crypto
/// provider, and reqwest panics when it needs one that is not installed, so the TLS
/// configuration is given explicitly: the ring provider and no trust anchors. Callbacks are
/// plain HTTP (the harness serves them so); an `https` callback URL would fail verification
/// rather than be trusted blindly.
fn callback_client() -> Result<reqwest::Client, StartError> {
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(rustls::RootCertStore::empty())
    .with_no_client_auth();
    Ok(reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .build()?)
}

/// A `400` with a plain-text reason.
fn bad_request(error: &ParamError) -> Response {
    tracing::warn!(%error, "bad request");
    (StatusCode::BAD_REQUEST, format!("{error}\n")).into_response()
}

fn not_found(id: &str) -> Response {
    (StatusCode::NOT_FOUND, format!("no stream {id:?}\n")).into_response()
}

/// `GET /`: the service is up; what it supports.
async fn status() -> Json<Status> {
    Json(Status::current())
}

/// `DELETE /`: stop the service (after this answer is sent).
async fn stop(State(service): State<Service>) -> StatusCode {
    tracing::info!("stop requested");
    service.shared.shutdown.cancel();
    StatusCode::NO_CONTENT
}

/// `POST /`: validate the parameters, start the stream task, answer with its resource URL.
async fn create(State(service): State<Service>, headers: HeaderMap, body: Bytes) -> Response {
    let spec = match CreateStreamParams::from_json(&body).and_then(CreateStreamParams::validate) {
        Ok(spec) => spec,
        Err(error) => return bad_request(&error),
    };
    let shared = &service.shared;
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    tracing::info!(id, tag = %spec.tag, url = %spec.stream.url(), "creating stream");
    let entity = StreamEntity::start(
        &shared.tasks,
        shared.client.stream(spec.stream),
        Callbacks::new(shared.callbacks.clone(), &spec.callback_url),
        shared.shutdown.child_token(),
        spec.tag,
    );
    shared.lock_streams().insert(id, entity);
    (
        StatusCode::CREATED,
        [(header::LOCATION, location(&headers, id))],
    )
        .into_response()
}

/// The stream's resource URL: absolute when the request named its host, so that the harness
/// uses it as is whatever base URL (with or without a trailing slash) it was given.
fn location(headers: &HeaderMap, id: u64) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .filter(|host| !host.is_empty() && !host.contains(['/', '?', '#', '@']));
    match host {
        Some(host) => format!("http://{host}/streams/{id}"),
        None => format!("/streams/{id}"),
    }
}

/// `POST /streams/{id}`: a command for a stream.
async fn command(State(service): State<Service>, Path(id): Path<String>, body: Bytes) -> Response {
    let Some(commands) = service.commands_of(&id) else {
        return not_found(&id);
    };
    let command = match Command::from_json(&body) {
        Ok(command) => command,
        Err(error) => return bad_request(&error),
    };
    tracing::info!(id, ?command, "command");
    if commands.send(command).await.is_err() {
        return not_found(&id);
    }
    StatusCode::NO_CONTENT.into_response()
}

impl Service {
    /// The command queue of stream `id`, if it exists (a non-numeric id never does).
    fn commands_of(&self, id: &str) -> Option<tokio::sync::mpsc::Sender<Command>> {
        let id: u64 = id.parse().ok()?;
        self.shared
            .lock_streams()
            .get(&id)
            .map(StreamEntity::commands)
    }
}

/// `DELETE /streams/{id}`: stop a stream; no callback follows.
async fn close(State(service): State<Service>, Path(id): Path<String>) -> Response {
    let removed = id
        .parse::<u64>()
        .ok()
        .and_then(|key| service.shared.lock_streams().remove(&key));
    match removed {
        Some(entity) => {
            entity.close();
            tracing::info!(id, "stream closed");
            StatusCode::NO_CONTENT.into_response()
        }
        None => not_found(&id),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn the_location_is_absolute_when_the_host_is_known() {
        let mut headers = HeaderMap::new();
        assert_eq!(location(&headers, 7), "/streams/7");
        headers.insert(header::HOST, HeaderValue::from_static("localhost:8000"));
        assert_eq!(location(&headers, 7), "http://localhost:8000/streams/7");
        headers.insert(header::HOST, HeaderValue::from_static("evil/path"));
        assert_eq!(location(&headers, 7), "/streams/7");
    }
}
