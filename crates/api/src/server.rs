//! The router and the accept loop.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::error::ApiError;
use crate::listen::{Token, check_exposure};
use crate::schemas::{self, SchemaCatalog};
use crate::sources::{Readiness, Sources};

pub(crate) struct AppState {
    readiness: Arc<dyn Readiness>,
    pub(crate) schemas: Option<Arc<dyn SchemaCatalog>>,
    token: Option<Token>,
}

/// Binds `addr` and serves until `shutdown` is cancelled. Returns the bound address (useful
/// with port 0) and the serving task. [`serve_with`] with readiness only.
///
/// # Errors
/// [`ApiError::TokenRequired`] for an address beyond loopback without a token, and
/// [`ApiError::Bind`] when the address cannot be bound.
pub async fn serve(
    addr: SocketAddr,
    token: Option<Token>,
    readiness: Arc<dyn Readiness>,
    shutdown: CancellationToken,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), ApiError> {
    serve_with(addr, token, Sources::new(readiness), shutdown).await
}

/// Binds `addr` and serves every route over `sources` until `shutdown` is cancelled.
/// Returns the bound address (useful with port 0) and the serving task.
///
/// # Errors
/// As [`serve`].
pub async fn serve_with(
    addr: SocketAddr,
    token: Option<Token>,
    sources: Sources,
    shutdown: CancellationToken,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), ApiError> {
    check_exposure(addr, token.as_ref())?;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ApiError::Bind { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| ApiError::Bind { addr, source })?;
    let app = router(Arc::new(AppState {
        readiness: sources.readiness,
        schemas: sources.schemas,
        token,
    }));
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await;
        if let Err(error) = served {
            tracing::error!(%error, "the HTTP listener stopped");
        }
    });
    tracing::info!(addr = %local, "HTTP listener ready");
    Ok((local, task))
}

fn router(state: Arc<AppState>) -> Router {
    // Probes stay open: orchestrators call them without credentials, and they reveal nothing.
    let probes = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz));
    // Everything else needs the token when one is set; later routes join this router.
    let protected = Router::new()
        .route("/api/v1/schemas", get(schemas::list))
        .route("/api/v1/schemas/{name}/{version}", get(schemas::show))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), require_token));
    probes.merge(protected).with_state(state)
}

async fn not_found() -> impl IntoResponse {
    (StatusCode::NOT_FOUND, "not found\n")
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    match state.readiness.not_ready() {
        None => "ready\n".into_response(),
        Some(what) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {what}\n"),
        )
            .into_response(),
    }
}

/// Rejects requests without the bearer token, when a token is configured.
async fn require_token(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(token) = &state.token else {
        return next.run(request).await;
    };
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    match presented {
        Some(candidate) if token.matches(candidate) => next.run(request).await,
        _ => (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "a bearer token is required\n",
        )
            .into_response(),
    }
}
