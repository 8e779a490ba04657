//! Trust lists: the CA certificates an endpoint's `trustSettings.trustList` adds to the
//! system roots. The list `plant-ca` is every PEM file in `<trust>/plant-ca/`.
//!
//! | request | answer |
//! |---|---|
//! | `GET /api/v1/trust` | 200 `{"trustLists": [{"name": "plant-ca", "files": ["ca.pem"]}]}` |
//! | `GET /api/v1/trust/{list}` | 200 the list's certificates, concatenated (`application/x-pem-file`); 404 |
//! | `PUT /api/v1/trust/{list}` | 204; the body (PEM certificates) becomes the list's only file, `ca.pem`; 422 when it holds no PEM certificate or the name is bad |
//! | `DELETE /api/v1/trust/{list}` | 204; 404 |

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use model::environment::safe_relative_path;
use serde::Serialize;

use crate::reply;
use crate::server::AppState;
use crate::store::{RegistryStore, store};

/// The file a `PUT` writes.
const FILE: &str = "ca.pem";

#[derive(Serialize)]
struct TrustList {
    name: String,
    files: Vec<String>,
}

fn files(dir: &FsPath) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    files.sort();
    files
}

pub(crate) async fn list(State(state): State<Arc<AppState>>) -> Response {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Listing {
        trust_lists: Vec<TrustList>,
    }
    let store = match store(&state) {
        Ok(store) => store,
        Err(response) => return response,
    };
    let dir = store.paths.trust.clone();
    let lists = tokio::task::spawn_blocking(move || {
        let mut lists: Vec<TrustList> = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .map(|name| TrustList {
                files: files(&dir.join(&name)),
                name,
            })
            .collect();
        lists.sort_by(|a, b| a.name.cmp(&b.name));
        lists
    })
    .await
    .unwrap_or_default();
    Json(Listing { trust_lists: lists }).into_response()
}

/// The list's directory, or the answer for a bad name.
#[allow(clippy::result_large_err)]
fn directory(store: &RegistryStore, list: &str) -> Result<PathBuf, Response> {
    let bad = |why: String| {
        reply::error(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("trust list {list:?}: {why}"),
        )
    };
    if list.starts_with('.') {
        return Err(bad("must not start with '.'".to_owned()));
    }
    safe_relative_path(list)
        .map(|relative| store.paths.trust.join(relative))
        .map_err(bad)
}

pub(crate) async fn show(State(state): State<Arc<AppState>>, Path(list): Path<String>) -> Response {
    let store = match store(&state) {
        Ok(store) => store,
        Err(response) => return response,
    };
    let dir = match directory(&store, &list) {
        Ok(dir) => dir,
        Err(response) => return response,
    };
    if !dir.is_dir() {
        return reply::error(
            StatusCode::NOT_FOUND,
            &format!("no trust list named {list:?}"),
        );
    }
    let pem = tokio::task::spawn_blocking(move || {
        let mut pem = Vec::new();
        for file in files(&dir) {
            if let Ok(bytes) = std::fs::read(dir.join(file)) {
                pem.extend_from_slice(&bytes);
                if !pem.ends_with(b"\n") {
                    pem.push(b'\n');
                }
            }
        }
        pem
    })
    .await
    .unwrap_or_default();
    ([(header::CONTENT_TYPE, "application/x-pem-file")], pem).into_response()
}

pub(crate) async fn put(
    State(state): State<Arc<AppState>>,
    Path(list): Path<String>,
    body: Bytes,
) -> Response {
    let store = match store(&state) {
        Ok(store) => store,
        Err(response) => return response,
    };
    let dir = match directory(&store, &list) {
        Ok(dir) => dir,
        Err(response) => return response,
    };
    if !registry::secrets::holds_certificate(&body) {
        return reply::error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "the body holds no PEM certificate: expected one or more \
             -----BEGIN CERTIFICATE----- blocks",
        );
    }
    let written = store
        .run(false, move |registry| {
            registry.add_trust(&list, FILE, &body)?;
            // The body replaces the list: other files go.
            for other in files(&dir).into_iter().filter(|f| f != FILE) {
                let path = dir.join(other);
                std::fs::remove_file(&path)
                    .map_err(|source| registry::Error::Io { path, source })?;
            }
            Ok(())
        })
        .await;
    match written {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => store.failure(&error),
    }
}

pub(crate) async fn delete(
    State(state): State<Arc<AppState>>,
    Path(list): Path<String>,
) -> Response {
    let store = match store(&state) {
        Ok(store) => store,
        Err(response) => return response,
    };
    let dir = match directory(&store, &list) {
        Ok(dir) => dir,
        Err(response) => return response,
    };
    if !dir.is_dir() {
        return reply::error(
            StatusCode::NOT_FOUND,
            &format!("no trust list named {list:?}"),
        );
    }
    match store
        .run(false, move |_| {
            std::fs::remove_dir_all(&dir).map_err(|source| registry::Error::Io { path: dir, source })
        })
        .await
    {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => store.failure(&error),
    }
}
