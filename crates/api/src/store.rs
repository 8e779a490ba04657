//! The registry directory behind the CRUD routes: every call opens the registry afresh on a
//! blocking thread (so it sees what the CLI or an editor wrote meanwhile), one call at a
//! time (so two writes never validate against the same "before"), and goes through the
//! registry crate's write API: the same files and the same rules as the CLI.
//!
//! The running connector watches the directory, so what is written here takes effect by
//! itself.
//!
//! Handlers take the store as the `Store` argument, which answers 404 for them when the
//! listener has no registry.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use registry::{Registry, RegistryPaths};

use crate::reply::{self, ProblemBody};
use crate::server::AppState;

/// The registry's directories and the lock that serializes calls.
#[derive(Debug)]
pub(crate) struct RegistryStore {
    pub(crate) paths: RegistryPaths,
    lock: Mutex<()>,
}

impl RegistryStore {
    pub(crate) fn new(paths: RegistryPaths) -> Self {
        Self {
            paths,
            lock: Mutex::new(()),
        }
    }

    /// Runs `call` on a freshly opened registry, on a blocking thread, alone.
    /// `create_dir` creates the definitions directory first (for routes that add something).
    pub(crate) async fn run<T: Send + 'static>(
        self: &Arc<Self>,
        create_dir: bool,
        call: impl FnOnce(&mut Registry) -> Result<T, registry::Error> + Send + 'static,
    ) -> Result<T, registry::Error> {
        let store = Arc::clone(self);
        let joined = tokio::task::spawn_blocking(move || {
            let _alone = store
                .lock
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if create_dir {
                std::fs::create_dir_all(&store.paths.definitions).map_err(|source| {
                    registry::Error::Io {
                        path: store.paths.definitions.clone(),
                        source,
                    }
                })?;
            }
            let mut registry = Registry::open(store.paths.clone())?;
            call(&mut registry)
        })
        .await;
        joined.unwrap_or_else(|_| {
            Err(registry::Error::Io {
                path: self.paths.definitions.clone(),
                source: std::io::Error::other("the registry call failed"),
            })
        })
    }

    /// Problems as the API shows them, with files relative to the registry directory.
    pub(crate) fn problems<'a>(
        &self,
        problems: impl IntoIterator<Item = &'a model::Problem>,
    ) -> Vec<ProblemBody> {
        problems
            .into_iter()
            .map(|p| ProblemBody::new(p, &self.paths.definitions))
            .collect()
    }

    /// The answer for a registry error: 404 unknown name, 409 name taken or shared file,
    /// 422 refused by validation (with the problems), 503 the directory cannot be read or
    /// written now. Messages name files and fields, never secret values.
    pub(crate) fn failure(&self, error: &registry::Error) -> Response {
        use registry::Error;
        match error {
            Error::Invalid(problems) => reply::problems(
                StatusCode::UNPROCESSABLE_ENTITY,
                "refused: the result would not be valid",
                &self.problems(problems),
            ),
            Error::Model(model::Error::NotFound { .. }) => {
                reply::error(StatusCode::NOT_FOUND, &error.to_string())
            }
            Error::Model(model::Error::AlreadyExists { .. }) | Error::SharedFile { .. } => {
                reply::error(StatusCode::CONFLICT, &self.relative(error))
            }
            Error::Model(_) | Error::NotPem(_) => {
                reply::error(StatusCode::UNPROCESSABLE_ENTITY, &self.relative(error))
            }
            Error::Serialize { .. } => {
                reply::error(StatusCode::INTERNAL_SERVER_ERROR, &error.to_string())
            }
            Error::Io { .. } | Error::NoRegistry(_) | Error::Gone { .. } | Error::Watch { .. } => {
                tracing::warn!(%error, "the registry cannot be used now");
                reply::error(StatusCode::SERVICE_UNAVAILABLE, &error.to_string())
            }
        }
    }

    /// 204 for a call that succeeded, else the answer for its error (see [`failure`]).
    ///
    /// [`failure`]: Self::failure
    pub(crate) fn no_content<T>(&self, done: Result<T, registry::Error>) -> Response {
        match done {
            Ok(_) => StatusCode::NO_CONTENT.into_response(),
            Err(error) => self.failure(&error),
        }
    }

    /// Removes `path` (a secret's file, a trust list's directory) with `remove`, alone like
    /// every call: 204, or 503 when it cannot be removed now.
    pub(crate) async fn remove(
        self: &Arc<Self>,
        path: PathBuf,
        remove: fn(&Path) -> std::io::Result<()>,
    ) -> Response {
        let removed = self
            .run(false, move |_| {
                remove(&path).map_err(|source| registry::Error::Io { path, source })
            })
            .await;
        self.no_content(removed)
    }

    /// The error's message with the registry directory's own path left out.
    fn relative(&self, error: &registry::Error) -> String {
        let root = format!("{}/", self.paths.definitions.display());
        error.to_string().replace(&root, "")
    }
}

/// The store as a handler argument: 404 for the request when this listener has no registry.
pub(crate) struct Store(pub(crate) Arc<RegistryStore>);

impl FromRequestParts<Arc<AppState>> for Store {
    type Rejection = Response;

    async fn from_request_parts(
        _: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        store(state).map(Self)
    }
}

/// The store, or the answer when this listener has no registry. (The error is the HTTP
/// answer itself, returned at once; its size does not matter.)
#[allow(clippy::result_large_err)]
pub(crate) fn store(state: &AppState) -> Result<Arc<RegistryStore>, Response> {
    state.registry.clone().ok_or_else(|| {
        reply::error(
            StatusCode::NOT_FOUND,
            "no registry is available to this listener",
        )
    })
}
