//! Trust lists: the CA certificates an endpoint's `trustSettings.trustList` adds to the
//! system roots. The list `plant-ca` is every PEM file in `<trust>/plant-ca/`.
//!
//! | request | answer |
//! |---|---|
//! | `GET /api/v1/trust` | 200 `{"trustLists": [{"name": "plant-ca", "files": ["ca.pem"]}]}` |
//! | `GET /api/v1/trust/{list}` | 200 the list's certificates, concatenated (`application/x-pem-file`); 404 |
//! | `PUT /api/v1/trust/{list}` | 204; the body (PEM certificates, `application/x-pem-file` or no content type) becomes the list's only file, `ca.pem`; 415 another content type; 422 when it holds no PEM certificate or the name is bad |
//! | `DELETE /api/v1/trust/{list}` | 204; 404 |

use std::path::{Path as FsPath, PathBuf};

use axum::Json;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use model::environment::safe_relative_path;
use serde::Serialize;

use crate::body::{media_type, unsupported};
use crate::reply;
use crate::store::{RegistryStore, Store};

/// The content type of certificates, in and out.
const PEM: &str = "application/x-pem-file";

/// The file a `PUT` writes.
const FILE: &str = "ca.pem";

#[derive(Serialize)]
struct TrustList {
    name: String,
    files: Vec<String>,
}

/// The names of the entries of `dir` that pass `keep`, sorted. Hidden entries (a mounted
/// secret's `..data` links, temporary files) are neither lists nor certificates.
fn names(dir: &FsPath, keep: fn(&FsPath) -> bool) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| keep(&e.path()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    names
}

/// The certificate files of the list in `dir`.
fn files(dir: &FsPath) -> Vec<String> {
    names(dir, FsPath::is_file)
}

pub(crate) async fn list(Store(store): Store) -> Response {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Listing {
        trust_lists: Vec<TrustList>,
    }
    let dir = store.paths.trust.clone();
    let lists = tokio::task::spawn_blocking(move || {
        names(&dir, FsPath::is_dir)
            .into_iter()
            .map(|name| TrustList {
                files: files(&dir.join(&name)),
                name,
            })
            .collect()
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

/// The directory of a list that exists, or the answer for a bad name (422) or a missing
/// list (404).
#[allow(clippy::result_large_err)]
fn existing(store: &RegistryStore, list: &str) -> Result<PathBuf, Response> {
    let dir = directory(store, list)?;
    if dir.is_dir() {
        Ok(dir)
    } else {
        Err(reply::error(
            StatusCode::NOT_FOUND,
            &format!("no trust list named {list:?}"),
        ))
    }
}

pub(crate) async fn show(Path(list): Path<String>, Store(store): Store) -> Response {
    let dir = match existing(&store, &list) {
        Ok(dir) => dir,
        Err(response) => return response,
    };
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
    ([(header::CONTENT_TYPE, PEM)], pem).into_response()
}

pub(crate) async fn put(
    Path(list): Path<String>,
    Store(store): Store,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let media = media_type(&headers);
    if !matches!(media.as_deref(), None | Some(PEM)) {
        return unsupported(media.as_deref(), PEM);
    }
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
    store.no_content(written)
}

pub(crate) async fn delete(Path(list): Path<String>, Store(store): Store) -> Response {
    match existing(&store, &list) {
        Ok(dir) => store.remove(dir, |dir| std::fs::remove_dir_all(dir)).await,
        Err(response) => response,
    }
}
