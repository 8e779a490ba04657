//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 document of every route, kept in
//! `crates/api/openapi.json` and embedded. The crate's tests check it against the router
//! (every route with its methods, and nothing else) and against real answers of a few
//! routes, so it cannot drift from the implementation.

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// The document.
pub const DOCUMENT: &str = include_str!("../openapi.json");

pub(crate) async fn show() -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        DOCUMENT,
    )
        .into_response()
}
