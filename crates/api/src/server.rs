//! The router and the accept loop.
//!
//! | route | method | module | token |
//! |---|---|---|---|
//! | `/healthz`, `/readyz` | GET | here | open |
//! | `/`, `/app.js`, `/style.css`, `/js/{name}` | GET | [`ui`] | open |
//! | `/api/v1/openapi.json` | GET | [`openapi`] | open |
//! | `/metrics` | GET | [`metrics`] | required |
//! | `/api/v1/status` | GET | [`status`] | required |
//! | `/api/v1/overview` | GET | [`overview`] | required |
//! | `/api/v1/rates` | GET | [`rates`] | required |
//! | `/api/v1/schemas`, `/api/v1/schemas/{name}/{version}` | GET | [`schemas`] | required |
//! | `/api/v1/devices`, `/api/v1/assets` | GET, POST | [`resources`] | required |
//! | `/api/v1/devices/{name}`, `/api/v1/assets/{name}` | GET, PUT, DELETE | [`resources`] | required |
//! | `/api/v1/assets/{name}/tail` | GET (SSE) | [`tail`] | required |
//! | `/api/v1/secrets` | GET | [`secrets`] | required |
//! | `/api/v1/secrets/{name}` | PUT, DELETE | [`secrets`] | required |
//! | `/api/v1/trust` | GET | [`trust`] | required |
//! | `/api/v1/trust/{list}` | GET, PUT, DELETE | [`trust`] | required |
//! | `/api/v1/transforms` | GET | [`transforms`] | required |
//!
//! Every request first passes the [`guard`]: a `Host` this listener answers to
//! (421 otherwise) and, for a request that may change something, no other site's `Origin`
//! (403). "Required" means: when a token is configured (always, beyond loopback), a request
//! without `Authorization: Bearer TOKEN` gets 401. Bodies are checked by content type
//! (`body.rs`, 415). Errors are JSON, `{"error": {"code", "message"}}`
//! ([`reply`]). The table is [`route_table`]; the OpenAPI document is tested
//! against it.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, post, put};
use model::Kind;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::body::JsonBody;
use crate::error::ApiError;
use crate::guard::{self, HostPolicy};
use crate::listen::{Access, Token, check_exposure};
use crate::rates::Rates;
use crate::runtime::{MetricsSource, Readiness, Sources, StatusSource, TailSource};
use crate::schemas::{self, SchemaCatalog};
use crate::store::{RegistryStore, Store};
use crate::{
    metrics, openapi, overview, rates, reply, resources, secrets, status, tail, transforms, trust,
    ui,
};

pub(crate) struct AppState {
    readiness: Arc<dyn Readiness>,
    pub(crate) schemas: Option<Arc<dyn SchemaCatalog>>,
    pub(crate) status: Option<Arc<dyn StatusSource>>,
    pub(crate) metrics: Option<Arc<dyn MetricsSource>>,
    pub(crate) tail: Option<Arc<dyn TailSource>>,
    /// The message rates, sampled while someone reads them.
    pub(crate) rates: Option<Arc<Rates>>,
    pub(crate) registry: Option<Arc<RegistryStore>>,
    /// Cancelled when the listener stops: ends live tails, which would otherwise hold the
    /// graceful shutdown open.
    pub(crate) shutdown: CancellationToken,
    /// The names requests may address (the [`guard`]'s Host rule).
    pub(crate) hosts: HostPolicy,
    token: Option<Token>,
}

/// Binds `addr` and serves until `shutdown` is cancelled, to those `access` lets in. Returns
/// the bound address (useful with port 0) and the serving task. [`serve_with`] with
/// readiness only.
///
/// # Errors
/// [`ApiError::TokenRequired`] for an address beyond loopback without a token, and
/// [`ApiError::Bind`] when the address cannot be bound.
pub async fn serve(
    addr: SocketAddr,
    access: Access,
    readiness: Arc<dyn Readiness>,
    shutdown: CancellationToken,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), ApiError> {
    serve_with(addr, access, Sources::new(readiness), shutdown).await
}

/// Binds `addr` and serves every route over `sources` until `shutdown` is cancelled, to
/// those `access` lets in.
/// Returns the bound address (useful with port 0) and the serving task.
///
/// # Errors
/// As [`serve`].
pub async fn serve_with(
    addr: SocketAddr,
    access: Access,
    sources: Sources,
    shutdown: CancellationToken,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), ApiError> {
    check_exposure(addr, access.token.as_ref())?;
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
        rates: sources
            .counters
            .map(|counters| Rates::new(counters, shutdown.clone())),
        registry: sources
            .registry
            .map(|paths| Arc::new(RegistryStore::new(paths))),
        shutdown: shutdown.clone(),
        hosts: HostPolicy::new(local.ip(), access.allowed_hosts),
        token: access.token,
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

impl Route {
    /// A route behind the token.
    fn token(
        path: &'static str,
        method: &'static str,
        handler: MethodRouter<Arc<AppState>>,
    ) -> Self {
        Self {
            info: RouteInfo {
                path,
                method,
                open: false,
            },
            axum_path: path,
            handler,
        }
    }

    /// A route served without the token.
    fn open(
        path: &'static str,
        method: &'static str,
        handler: MethodRouter<Arc<AppState>>,
    ) -> Self {
        let mut route = Self::token(path, method, handler);
        route.info.open = true;
        route
    }
}

/// Every route, in the order of the table in the crate's docs.
fn routes() -> Vec<Route> {
    use Route as R;
    // A secret's name may hold `/`: axum matches the rest of the path.
    let secret = |method, handler| Route {
        axum_path: "/api/v1/secrets/{*name}",
        ..R::token("/api/v1/secrets/{name}", method, handler)
    };
    let mut routes = vec![
        R::open("/healthz", "GET", get(healthz)),
        R::open("/readyz", "GET", get(readyz)),
        R::open("/", "GET", get(ui::index)),
        R::open("/app.js", "GET", get(ui::app)),
        R::open("/style.css", "GET", get(ui::style)),
        R::open("/js/{name}", "GET", get(ui::module)),
        R::open("/api/v1/openapi.json", "GET", get(openapi::show)),
        R::token("/metrics", "GET", get(metrics::show)),
        R::token("/api/v1/status", "GET", get(status::show)),
        R::token("/api/v1/overview", "GET", get(overview::show)),
        R::token("/api/v1/rates", "GET", get(rates::show)),
        R::token("/api/v1/schemas", "GET", get(schemas::list)),
        R::token(
            "/api/v1/schemas/{name}/{version}",
            "GET",
            get(schemas::show),
        ),
    ];
    routes.extend(resource_routes(Kind::Device));
    routes.extend(resource_routes(Kind::Asset));
    routes.extend([
        R::token("/api/v1/assets/{name}/tail", "GET", get(tail::tail)),
        R::token("/api/v1/secrets", "GET", get(secrets::list)),
        secret("PUT", put(secrets::put)),
        secret("DELETE", delete(secrets::delete)),
        R::token("/api/v1/trust", "GET", get(trust::list)),
        R::token("/api/v1/trust/{list}", "GET", get(trust::show)),
        R::token("/api/v1/trust/{list}", "PUT", put(trust::put)),
        R::token("/api/v1/trust/{list}", "DELETE", delete(trust::delete)),
        R::token("/api/v1/transforms", "GET", get(transforms::list)),
    ]);
    routes
}

/// The five routes of devices or assets: list and create on the collection; show, replace
/// and delete on one item.
fn resource_routes(kind: Kind) -> [Route; 5] {
    let (items, item) = resources::paths(kind);
    [
        Route::token(
            items,
            "GET",
            get(move |Store(store): Store| resources::list(store, kind)),
        ),
        Route::token(
            items,
            "POST",
            post(move |Store(store): Store, JsonBody(body): JsonBody| {
                resources::create(store, kind, body)
            }),
        ),
        Route::token(
            item,
            "GET",
            get(move |Path(name): Path<String>, Store(store): Store| {
                resources::show(store, kind, name)
            }),
        ),
        Route::token(
            item,
            "PUT",
            put(
                move |Path(name): Path<String>, Store(store): Store, JsonBody(body): JsonBody| {
                    resources::replace(store, kind, name, body)
                },
            ),
        ),
        Route::token(
            item,
            "DELETE",
            delete(move |Path(name): Path<String>, Store(store): Store| {
                resources::delete(store, kind, name)
            }),
        ),
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
    // The guard wraps everything, the fallback included, and runs before the token's check.
    open.merge(protected)
        .layer(middleware::from_fn_with_state(state.clone(), guard::guard))
        .with_state(state)
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
