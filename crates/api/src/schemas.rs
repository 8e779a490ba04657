//! `GET /api/v1/schemas` and `GET /api/v1/schemas/{name}/{version}`: the message schemas of
//! the schema registry, read through [`SchemaCatalog`] (which the runtime implements, so this
//! crate does not depend on the registry).
//!
//! | request | answer |
//! |---|---|
//! | `GET /api/v1/schemas` | 200 `{"schemas": [summary...]}`: every version by name, then version number |
//! | `GET /api/v1/schemas/{name}/{version}` | 200 the schema (the registry's JSON object, with `schemaContent`); 404 when there is no such version |
//! | either, with no catalog | 404 |
//! | either, when the catalog fails | 503 |
//!
//! A schema is [`RegisteredSchema`], the registry's own type, served unchanged. A summary is
//! the schema without `schemaContent`, plus `dataschema`
//! (`aio-sr://{namespace}/{name}:{version}`, what messages carry). Errors are
//! [`reply`]'s `{"error": {"code": N, "message": "..."}}`. Both routes need the bearer token when one is set.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use schema::RegisteredSchema;
use serde::Serialize;

use crate::reply;
use crate::server::AppState;

/// A list entry: the record without its content.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Summary<'a> {
    dataschema: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    display_name: Option<&'a str>,
    format: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    hash: Option<&'a str>,
    name: &'a str,
    namespace: &'a str,
    schema_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    tags: Option<&'a BTreeMap<String, String>>,
    version: &'a str,
}

impl<'a> From<&'a RegisteredSchema> for Summary<'a> {
    fn from(record: &'a RegisteredSchema) -> Self {
        Self {
            dataschema: record.reference(),
            description: record.description.as_deref(),
            display_name: record.display_name.as_deref(),
            format: &record.format,
            hash: record.hash.as_deref(),
            name: &record.name,
            namespace: &record.namespace,
            schema_type: record.schema_type.as_str(),
            tags: record.tags.as_ref().filter(|tags| !tags.is_empty()),
            version: &record.version,
        }
    }
}

/// Why the catalog cannot answer now (the registry's store cannot be read, for example).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CatalogError(pub String);

/// What the schema routes ask of the runtime. Calls run on a blocking thread, so an
/// implementation may read files.
pub trait SchemaCatalog: Send + Sync + 'static {
    /// Every schema version, by name then version number.
    ///
    /// # Errors
    /// When the schemas cannot be read now (answered with 503).
    fn list(&self) -> Result<Vec<RegisteredSchema>, CatalogError>;

    /// Version `version` of `name`; `None` when there is none.
    ///
    /// # Errors
    /// As [`list`](Self::list).
    fn get(&self, name: &str, version: &str) -> Result<Option<RegisteredSchema>, CatalogError>;
}

/// Runs `call` on the catalog on a blocking thread; a missing catalog is a 404.
async fn with_catalog<T: Send + 'static>(
    state: &AppState,
    call: impl FnOnce(&dyn SchemaCatalog) -> Result<T, CatalogError> + Send + 'static,
) -> Result<T, Response> {
    let Some(catalog) = state.schemas.clone() else {
        return Err(reply::error(
            StatusCode::NOT_FOUND,
            "no schema registry is available to this listener",
        ));
    };
    match tokio::task::spawn_blocking(move || call(catalog.as_ref())).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(failure)) => {
            tracing::warn!(error = %failure, "the schema catalog cannot answer");
            Err(reply::error(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("the schemas cannot be read now: {failure}"),
            ))
        }
        Err(_) => Err(reply::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the schema catalog failed",
        )),
    }
}

pub(crate) async fn list(State(state): State<Arc<AppState>>) -> Response {
    #[derive(Serialize)]
    struct Listing<'a> {
        schemas: Vec<Summary<'a>>,
    }
    match with_catalog(&state, |catalog| catalog.list()).await {
        Ok(records) => Json(Listing {
            schemas: records.iter().map(Summary::from).collect(),
        })
        .into_response(),
        Err(response) => response,
    }
}

pub(crate) async fn show(
    State(state): State<Arc<AppState>>,
    Path((name, version)): Path<(String, String)>,
) -> Response {
    let (wanted_name, wanted_version) = (name.clone(), version.clone());
    match with_catalog(&state, move |catalog| catalog.get(&name, &version)).await {
        Ok(Some(record)) => Json(record).into_response(),
        Ok(None) => reply::error(
            StatusCode::NOT_FOUND,
            &format!("schema {wanted_name} version {wanted_version} not found"),
        ),
        Err(response) => response,
    }
}
