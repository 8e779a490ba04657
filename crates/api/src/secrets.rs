//! Secrets, write-only: `GET /api/v1/secrets` lists names, `PUT /api/v1/secrets/{name}`
//! sets a value, `DELETE /api/v1/secrets/{name}` removes it. No route ever answers with a
//! value, and no log line carries one.
//!
//! A secret is the file `<secrets>/NAME`, as the registry lays them out (the secret
//! `sse-creds/password` is `<secrets>/sse-creds/password`), so a name may hold one `/` or
//! more; names that leave the directory are refused (422).
//!
//! | request | answer |
//! |---|---|
//! | `GET /api/v1/secrets` | 200 `{"secrets": ["sse-creds/password", ...]}` |
//! | `PUT /api/v1/secrets/{name}` | 204; the body is the value (`text/plain`, `application/octet-stream` or no content type), or `{"value": "..."}` as `application/json`; 415 another content type; 422 bad name |
//! | `DELETE /api/v1/secrets/{name}` | 204; 404 |

use std::path::Path as FsPath;

use axum::Json;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use model::environment::safe_relative_path;
use serde::{Deserialize, Serialize};

use crate::body::{JSON, media_type, unsupported};
use crate::reply;
use crate::store::Store;

pub(crate) async fn list(Store(store): Store) -> Response {
    #[derive(Serialize)]
    struct Listing {
        secrets: Vec<String>,
    }
    let dir = store.paths.secrets.clone();
    let names = tokio::task::spawn_blocking(move || {
        let mut names = Vec::new();
        walk(&dir, "", &mut names);
        names.sort();
        names
    })
    .await
    .unwrap_or_default();
    Json(Listing { secrets: names }).into_response()
}

/// Every file below `dir`, by its name relative to the secrets directory. Hidden entries
/// (a mounted secret's `..data` links, temporary files) are not secrets.
fn walk(dir: &FsPath, prefix: &str, names: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let full = format!("{prefix}{name}");
        if path.is_dir() {
            walk(&path, &format!("{full}/"), names);
        } else if path.is_file() {
            names.push(full);
        }
    }
}

pub(crate) async fn put(
    Path(name): Path<String>,
    Store(store): Store,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let value = match value_of(&headers, &body) {
        Ok(value) => value,
        Err(response) => return response,
    };
    let written = store
        .run(false, move |registry| registry.set_secret(&name, &value))
        .await;
    store.no_content(written)
}

/// The secret's value in a `PUT` body, by its content type, or the answer that refuses it
/// (400, 415, 422).
#[allow(clippy::result_large_err)]
pub(crate) fn value_of(headers: &HeaderMap, body: &[u8]) -> Result<Vec<u8>, Response> {
    #[derive(Deserialize)]
    struct Value {
        value: String,
    }
    let value: Vec<u8> = match media_type(headers).as_deref() {
        Some(JSON) => match serde_json::from_slice::<Value>(body) {
            Ok(v) => v.value.into_bytes(),
            Err(_) => {
                // Never echo the parser's message: it may quote the value.
                return Err(reply::error(
                    StatusCode::BAD_REQUEST,
                    "a JSON body must be {\"value\": \"...\"}",
                ));
            }
        },
        None | Some("text/plain" | "application/octet-stream") => body.to_vec(),
        Some(other) => {
            return Err(unsupported(
                Some(other),
                "text/plain or application/octet-stream (the value), \
                 or application/json ({\"value\": \"...\"})",
            ));
        }
    };
    if value.is_empty() {
        return Err(reply::error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "the value is empty",
        ));
    }
    Ok(value)
}

pub(crate) async fn delete(Path(name): Path<String>, Store(store): Store) -> Response {
    let relative = match safe_relative_path(&name) {
        Ok(relative) => relative,
        Err(why) => {
            return reply::error(
                StatusCode::UNPROCESSABLE_ENTITY,
                &format!("secret name {name:?}: {why}"),
            );
        }
    };
    let path = store.paths.secrets.join(relative);
    if !path.is_file() {
        return reply::error(StatusCode::NOT_FOUND, &format!("no secret named {name:?}"));
    }
    store.remove(path, |path| std::fs::remove_file(path)).await
}
