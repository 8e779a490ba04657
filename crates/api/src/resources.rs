//! Devices and assets: `GET`/`POST /api/v1/{devices,assets}` and
//! `GET`/`PUT`/`DELETE /api/v1/{devices,assets}/{name}`.
//!
//! Bodies are the Kubernetes resources (`apiVersion`, `kind`, `metadata`, `spec`) as JSON; the
//! ARM form (`properties`) is accepted too. A body is decoded by the model with every field
//! error's path, then written through the registry crate, which validates the whole registry
//! with the change and refuses it when that adds an error (see [`crate::store`]).
//!
//! | request | answer |
//! |---|---|
//! | `GET /api/v1/devices` | 200 `{"items": [resource...], "problems": [...]}`: every definition on disk, valid or not, and the problems `validate` reports on them |
//! | `POST /api/v1/devices` | 201 the resource as written, `Location` its URL; 400 not JSON; 409 name taken; 422 invalid (problems with field paths) |
//! | `GET /api/v1/devices/{name}` | 200 the resource; 404 |
//! | `PUT /api/v1/devices/{name}` | 200 the resource as written; 404; 422 (also when the body names another resource) |
//! | `DELETE /api/v1/devices/{name}` | 204; 404; 409 when other resources refer to it (problems) |
//!
//! The same for assets. A `status` in a body is ignored: status is the connector's to report.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use model::resource::{Decoded, decode};
use model::{FieldPath, Kind, Located, Resource};
use serde::Serialize;
use serde_json::Value;

use crate::reply::{self, ProblemBody};
use crate::store::RegistryStore;

/// The paths of a kind's routes, in OpenAPI's syntax: the collection
/// (`/api/v1/devices`) and one item (`/api/v1/devices/{name}`).
pub(crate) fn paths(kind: Kind) -> (&'static str, &'static str) {
    match kind {
        Kind::Device => ("/api/v1/devices", "/api/v1/devices/{name}"),
        Kind::Asset => ("/api/v1/assets", "/api/v1/assets/{name}"),
    }
}

pub(crate) async fn list(store: Arc<RegistryStore>, kind: Kind) -> Response {
    #[derive(Serialize)]
    struct Listing {
        items: Vec<Value>,
        problems: Vec<ProblemBody>,
    }
    let prefix = format!("{}/", kind.as_str());
    let found = store
        .run(false, move |registry| {
            let mut found: Vec<Located> = registry
                .definitions()?
                .into_iter()
                .filter(|l| l.resource.kind() == kind)
                .collect();
            found.sort_by(|a, b| (&a.resource.name, &a.file).cmp(&(&b.resource.name, &b.file)));
            let snapshot = registry.snapshot();
            let problems: Vec<model::Problem> = snapshot
                .problems
                .iter()
                .filter(|p| p.resource.starts_with(&prefix))
                .cloned()
                .collect();
            Ok((found, problems))
        })
        .await;
    match found {
        Ok((found, problems)) => {
            let items = found
                .iter()
                .filter_map(|l| l.resource.to_value().ok())
                .collect();
            Json(Listing {
                items,
                problems: store.problems(&problems),
            })
            .into_response()
        }
        Err(error) => store.failure(&error),
    }
}

pub(crate) async fn show(store: Arc<RegistryStore>, kind: Kind, name: String) -> Response {
    let wanted = name.clone();
    match store
        .run(false, move |registry| registry.find(kind, &wanted))
        .await
    {
        Ok(Some(located)) => resource_response(StatusCode::OK, &located.resource),
        Ok(None) => not_found(kind, &name),
        Err(error) => store.failure(&error),
    }
}

pub(crate) async fn create(store: Arc<RegistryStore>, kind: Kind, body: Bytes) -> Response {
    let resource = match decode_body(kind, None, &body) {
        Ok(resource) => resource,
        Err(response) => return response,
    };
    let location = format!("{}/{}", paths(kind).0, resource.name);
    let written = resource.clone();
    match store
        .run(true, move |registry| registry.create(written))
        .await
    {
        Ok(_) => {
            let mut response = resource_response(StatusCode::CREATED, &resource);
            if let Ok(value) = location.parse() {
                response.headers_mut().insert(header::LOCATION, value);
            }
            response
        }
        Err(error) => store.failure(&error),
    }
}

pub(crate) async fn replace(
    store: Arc<RegistryStore>,
    kind: Kind,
    name: String,
    body: Bytes,
) -> Response {
    let resource = match decode_body(kind, Some(&name), &body) {
        Ok(resource) => resource,
        Err(response) => return response,
    };
    let written = resource.clone();
    match store
        .run(false, move |registry| {
            registry.update(kind, &name, move |current| {
                *current = written;
                Ok(())
            })
        })
        .await
    {
        Ok(_) => resource_response(StatusCode::OK, &resource),
        Err(error) => store.failure(&error),
    }
}

pub(crate) async fn delete(store: Arc<RegistryStore>, kind: Kind, name: String) -> Response {
    match store
        .run(false, move |registry| registry.delete(kind, &name))
        .await
    {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(registry::Error::Invalid(problems)) => reply::problems(
            StatusCode::CONFLICT,
            "refused: other resources refer to it",
            &store.problems(&problems),
        ),
        Err(error) => store.failure(&error),
    }
}

fn resource_response(status: StatusCode, resource: &Resource) -> Response {
    match resource.to_value() {
        Ok(value) => (status, Json(value)).into_response(),
        Err(error) => reply::error(StatusCode::INTERNAL_SERVER_ERROR, &error.to_string()),
    }
}

fn not_found(kind: Kind, name: &str) -> Response {
    reply::error(
        StatusCode::NOT_FOUND,
        &format!("no {} named {name:?}", kind.as_str().to_ascii_lowercase()),
    )
}

/// A problem in the request body.
fn body_problem(resource: &str, path: &FieldPath, message: &str) -> ProblemBody {
    ProblemBody {
        file: "(request)".to_owned(),
        resource: resource.to_owned(),
        path: path.as_str().to_owned(),
        message: message.to_owned(),
        severity: "error",
    }
}

fn invalid_body(problems: &[ProblemBody]) -> Response {
    reply::problems(
        StatusCode::UNPROCESSABLE_ENTITY,
        "the definition is not valid",
        problems,
    )
}

/// The request body as a resource of `kind`; `url_name` (PUT) fills a missing
/// `metadata.name` and must match a present one.
#[allow(clippy::result_large_err)]
pub(crate) fn decode_body(
    kind: Kind,
    url_name: Option<&str>,
    body: &[u8],
) -> Result<Resource, Response> {
    let mut value: Value = serde_json::from_slice(body).map_err(|error| {
        reply::error(
            StatusCode::BAD_REQUEST,
            &format!("the body is not a JSON document: {error}"),
        )
    })?;
    let label = |name: &str| format!("{}/{name}", kind.as_str());
    if let Value::Object(map) = &mut value {
        map.remove("status");
        if let Some(name) = url_name
            && !map.contains_key("properties")
        {
            let metadata = map
                .entry("metadata")
                .or_insert_with(|| Value::Object(serde_json::Map::new()));
            if let Value::Object(metadata) = metadata
                && !metadata.contains_key("name")
            {
                metadata.insert("name".to_owned(), Value::String(name.to_owned()));
            }
        }
    }
    let resource = match decode(value, url_name.unwrap_or_default()) {
        Ok(Decoded::Resource(resource)) => *resource,
        Ok(Decoded::Foreign { api_version, .. }) => {
            return Err(invalid_body(&[body_problem(
                &label(url_name.unwrap_or("?")),
                &FieldPath::root().key("apiVersion"),
                &format!(
                    "{api_version:?} is not {}/...: expected {}",
                    model::resource::API_GROUP,
                    model::resource::API_VERSION
                ),
            )]));
        }
        Err(error) => {
            let resource = error
                .resource
                .clone()
                .unwrap_or_else(|| label(url_name.unwrap_or("?")));
            let problems: Vec<ProblemBody> = error
                .errors()
                .map(|(path, message)| body_problem(&resource, path, message))
                .collect();
            return Err(invalid_body(&problems));
        }
    };
    let name_path = if resource.body_path().as_str() == "spec" {
        FieldPath::root().key("metadata").key("name")
    } else {
        FieldPath::root().key("name")
    };
    if resource.kind() != kind {
        return Err(invalid_body(&[body_problem(
            &resource.label(),
            &FieldPath::root().key("kind"),
            &format!(
                "this is a {}, and {} takes only a {}",
                resource.kind().as_str(),
                paths(kind).0,
                kind.as_str()
            ),
        )]));
    }
    if let Err(why) = model::validate::check_name(&resource.name) {
        return Err(invalid_body(&[body_problem(
            &resource.label(),
            &name_path,
            &why,
        )]));
    }
    if let Some(name) = url_name
        && resource.name != name
    {
        return Err(invalid_body(&[body_problem(
            &resource.label(),
            &name_path,
            &format!(
                "{:?} differs from the name in the URL, {name:?}",
                resource.name
            ),
        )]));
    }
    Ok(resource)
}
