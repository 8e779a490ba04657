//! Entry points for the fuzz targets in the repository's `fuzz/` folder: the parsing of
//! request bodies, without a server or a registry. Not part of the API.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use model::{Kind, Resource};

/// A `POST` (no `url_name`) or `PUT` body of a device or asset route: the resource it holds,
/// or the status of the answer that refuses it.
///
/// # Errors
/// The refusal's status.
pub fn resource_body(
    kind: Kind,
    url_name: Option<&str>,
    body: &[u8],
) -> Result<Resource, StatusCode> {
    crate::resources::decode_body(kind, url_name, body).map_err(|response| response.status())
}

/// The value of a `PUT /api/v1/secrets/{name}` body sent with `content_type` (none when it
/// is not a valid header value), or the status of the answer that refuses it.
///
/// # Errors
/// The refusal's status.
pub fn secret_body(content_type: &[u8], body: &[u8]) -> Result<Vec<u8>, StatusCode> {
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_bytes(content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    crate::secrets::value_of(&headers, body).map_err(|response| response.status())
}
