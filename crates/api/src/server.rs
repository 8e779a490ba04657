//! The router and the accept loop.
//!
//! | route | method | module | token |
//! |---|---|---|---|
//! | `/healthz`, `/readyz` | GET | here | open |
//! | `/`, `/app.js`, `/style.css` | GET | [`ui`](crate::ui) | open |
//! | `/api/v1/openapi.json` | GET | [`openapi`](crate::openapi) | open |
//! | `/metrics` | GET | [`metrics`](crate::metrics) | required |
//! | `/api/v1/status` | GET | [`status`](crate::status) | required |
//! | `/api/v1/schemas`, `/api/v1/schemas/{name}/{version}` | GET | [`schemas`](crate::schemas) | required |
//! | `/api/v1/devices`, `/api/v1/assets` | GET, POST | [`resources`](crate::resources) | required |
//! | `/api/v1/devices/{name}`, `/api/v1/assets/{name}` | GET, PUT, DELETE | [`resources`](crate::resources) | required |
//! | `/api/v1/assets/{name}/tail` | GET (SSE) | [`tail`](crate::tail) | required |
//! | `/api/v1/secrets` | GET | [`secrets`](crate::secrets) | required |
//! | `/api/v1/secrets/{name}` | PUT, DELETE | [`secrets`](crate::secrets) | required |
//! | `/api/v1/trust` | GET | [`trust`](crate::trust) | required |
//! | `/api/v1/trust/{list}` | GET, PUT, DELETE | [`trust`](crate::trust) | required |
//!
//! "Required" means: when a token is configured (always, beyond loopback), a request without
//! `Authorization: Bearer TOKEN` gets 401. Errors are JSON, `{"error": {"code", "message"}}`
//! ([`reply`](crate::reply)). The table is [`route_table`]; the OpenAPI document is tested
//! against it.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, post, put};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::error::ApiError;
use crate::listen::{Token, check_exposure};
use crate::schemas::{self, SchemaCatalog};
use crate::sources::{MetricsSource, Readiness, Sources, StatusSource, TailSource};
use crate::store::RegistryStore;
use crate::{metrics, openapi, reply, resources, secrets, status, tail, trust, ui};

pub(crate) struct AppState {
    readiness: Arc<dyn Readiness>,
    pub(crate) schemas: Option<Arc<dyn SchemaCatalog>>,
    pub(crate) status: Option<Arc<dyn StatusSource>>,
    pub(crate) metrics: Option<Arc<dyn MetricsSource>>,
    pub(crate) tail: Option<Arc<dyn TailSource>>,
    pub(crate) registry: Option<Arc<RegistryStore>>,
    /// Cancelled when the listener stops: ends live tails, which would otherwise hold the
    /// graceful shutdown open.
    pub(crate) shutdown: CancellationToken,
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
        status: sources.status,
        metrics: sources.metrics,
        tail: sources.tail,
        registry: sources
            .registry
            .map(|paths| Arc::new(RegistryStore::new(paths))),
        shutdown: shutdown.clone(),
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

/// One route of the listener: what the OpenAPI document must describe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct RouteInfo {
    /// The path, in OpenAPI's syntax (`/api/v1/devices/{name}`).
    pub path: &'static str,
    /// The method, upper case.
    pub method: &'static str,
    /// Whether it is served without the token (probes, the UI's files, the OpenAPI document).
    pub open: bool,
}

struct Route {
    info: RouteInfo,
    /// The path in axum's syntax (`{*name}` for a name that may hold `/`).
    axum_path: &'static str,
    handler: MethodRouter<Arc<AppState>>,
}

/// Every route, in the order of the table in the crate's docs.
fn routes() -> Vec<Route> {
    let open = |path, method, handler| Route {
        info: RouteInfo {
            path,
            method,
            open: true,
        },
        axum_path: path,
        handler,
    };
    let token = |path, method, handler| Route {
        info: RouteInfo {
            path,
            method,
            open: false,
        },
        axum_path: path,
        handler,
    };
    let secret_path = |method, handler| Route {
        info: RouteInfo {
            path: "/api/v1/secrets/{name}",
            method,
            open: false,
        },
        axum_path: "/api/v1/secrets/{*name}",
        handler,
    };
    vec![
        open("/healthz", "GET", get(healthz)),
        open("/readyz", "GET", get(readyz)),
        open("/", "GET", get(ui::index)),
        open("/app.js", "GET", get(ui::app)),
        open("/style.css", "GET", get(ui::style)),
        open("/api/v1/openapi.json", "GET", get(openapi::show)),
        token("/metrics", "GET", get(metrics::show)),
        token("/api/v1/status", "GET", get(status::show)),
        token("/api/v1/schemas", "GET", get(schemas::list)),
        token("/api/v1/schemas/{name}/{version}", "GET", get(schemas::show)),
        token("/api/v1/devices", "GET", get(resources::list_devices)),
        token("/api/v1/devices", "POST", post(resources::create_device)),
        token("/api/v1/devices/{name}", "GET", get(resources::show_device)),
        token("/api/v1/devices/{name}", "PUT", put(resources::replace_device)),
        token("/api/v1/devices/{name}", "DELETE", delete(resources::delete_device)),
        token("/api/v1/assets", "GET", get(resources::list_assets)),
        token("/api/v1/assets", "POST", post(resources::create_asset)),
        token("/api/v1/assets/{name}", "GET", get(resources::show_asset)),
        token("/api/v1/assets/{name}", "PUT", put(resources::replace_asset)),
        token("/api/v1/assets/{name}", "DELETE", delete(resources::delete_asset)),
        token("/api/v1/assets/{name}/tail", "GET", get(tail::tail)),
        token("/api/v1/secrets", "GET", get(secrets::list)),
        secret_path("PUT", put(secrets::put)),
        secret_path("DELETE", delete(secrets::delete)),
        token("/api/v1/trust", "GET", get(trust::list)),
        token("/api/v1/trust/{list}", "GET", get(trust::show)),
        token("/api/v1/trust/{list}", "PUT", put(trust::put)),
        token("/api/v1/trust/{list}", "DELETE", delete(trust::delete)),
    ]
}

/// Every route the listener serves, for the test that holds the OpenAPI document to the
/// router.
pub fn route_table() -> Vec<RouteInfo> {
    routes().into_iter().map(|r| r.info).collect()
}

fn router(state: Arc<AppState>) -> Router {
    // Open routes: orchestrators call the probes without credentials, and the browser must
    // load the UI before it can ask for a token; none of them reveals anything.
    let mut open = Router::new();
    // Everything else needs the token when one is set, the fallback included.
    let mut protected = Router::new();
    for route in routes() {
        if route.info.open {
            open = open.route(route.axum_path, route.handler);
        } else {
            protected = protected.route(route.axum_path, route.handler);
        }
    }
    let protected = protected
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), require_token));
    open.merge(protected).with_state(state)
}

async fn not_found() -> Response {
    reply::error(StatusCode::NOT_FOUND, "not found")
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
        _ => {
            let mut response = reply::error(
                StatusCode::UNAUTHORIZED,
                "a bearer token is required: send Authorization: Bearer TOKEN",
            );
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
            response
        }
    }
}
