//! `GET /metrics`: every metric in the Prometheus text exposition format (version 0.0.4),
//! as the runtime's [`MetricsSource`] renders it. Behind the token like the API (a scraper
//! sends it as `Authorization: Bearer`); 404 when the listener has no metrics source.
//!
//! [`MetricsSource`]: crate::MetricsSource

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::reply;
use crate::server::AppState;

/// The content type of the Prometheus text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub(crate) async fn show(State(state): State<Arc<AppState>>) -> Response {
    match &state.metrics {
        Some(source) => (
            [(header::CONTENT_TYPE, CONTENT_TYPE)],
            source.prometheus_text(),
        )
            .into_response(),
        None => reply::error(
            StatusCode::NOT_FOUND,
            "no metrics are available to this listener",
        ),
    }
}
