//! `GET /api/v1/status`: configuration status and runtime health of every device endpoint,
//! asset, dataset and event, in AIO's shapes, as the runtime's [`StatusSource`] reports
//! them (`docs/status.md`). 404 when the listener has no status source.
//!
//! [`StatusSource`]: crate::StatusSource

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::reply;
use crate::server::AppState;

pub(crate) async fn show(State(state): State<Arc<AppState>>) -> Response {
    match &state.status {
        Some(source) => Json(source.status()).into_response(),
        None => reply::error(
            StatusCode::NOT_FOUND,
            "no status is available to this listener",
        ),
    }
}
