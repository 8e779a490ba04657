//! What request bodies the routes take, by `Content-Type`; anything else is refused with
//! `415 Unsupported Media Type` before the body is read.
//!
//! | routes | content types |
//! |---|---|
//! | `POST`/`PUT` of devices and assets | `application/json` (`JsonBody`) |
//! | `PUT /api/v1/secrets/{name}` | `application/json` (`{"value": ...}`), `text/plain`, `application/octet-stream`, or none (the raw value) |
//! | `PUT /api/v1/trust/{list}` | `application/x-pem-file`, or none |
//!
//! A body without `Content-Type` is taken as raw bytes where raw bytes are accepted
//! (RFC 9110 §8.3), never as JSON. Parameters (`; charset=utf-8`) do not count.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::reply;

/// JSON, the type of the resource routes.
pub(crate) const JSON: &str = "application/json";

/// The media type of the request's body, lower case and without parameters; `None` without
/// a `Content-Type` (or with one that is not text).
pub(crate) fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let essence = value.split(';').next().unwrap_or_default().trim();
    Some(essence.to_ascii_lowercase())
}

/// The `415` answer: what the route takes, and what came.
pub(crate) fn unsupported(found: Option<&str>, accepted: &str) -> Response {
    let found = found.map_or_else(
        || "the request has none".to_owned(),
        |t| format!("not {t:?}"),
    );
    reply::error(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        &format!("the Content-Type must be {accepted}; {found}"),
    )
}

/// The body of a JSON route: refused with `415` unless the content type is
/// `application/json`.
pub(crate) struct JsonBody(pub(crate) Bytes);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let media = media_type(request.headers());
        if media.as_deref() != Some(JSON) {
            return Err(unsupported(media.as_deref(), JSON));
        }
        Bytes::from_request(request, state)
            .await
            .map(Self)
            .map_err(IntoResponse::into_response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_drop_parameters_and_case() {
        let of = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, value.parse().expect("header value"));
            media_type(&headers)
        };
        assert_eq!(of("application/json").as_deref(), Some(JSON));
        assert_eq!(of("Application/JSON; charset=utf-8").as_deref(), Some(JSON));
        assert_eq!(
            of("text/plain;charset=UTF-8").as_deref(),
            Some("text/plain")
        );
        assert_eq!(media_type(&HeaderMap::new()), None);
    }
}
