//! The web UI: three static files from `crates/api/ui/`, embedded in the binary (nothing to
//! build or install on the user's side), served at `/`, `/app.js` and `/style.css`.
//!
//! They are open (the page must load before it can ask for a token); everything they show
//! comes from the API, which needs the token when one is set. Every answer carries a strict
//! Content-Security-Policy: scripts, styles and connections only from this listener, no
//! inline script or style, no framing; the UI builds its DOM with `textContent`, never
//! `innerHTML`, so event payloads are always shown as text.

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// The policy of every UI answer.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const INDEX: &str = include_str!("../ui/index.html");
const APP: &str = include_str!("../ui/app.js");
const STYLE: &str = include_str!("../ui/style.css");

fn file(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

pub(crate) async fn index() -> Response {
    file(INDEX, "text/html; charset=utf-8")
}

pub(crate) async fn app() -> Response {
    file(APP, "text/javascript; charset=utf-8")
}

pub(crate) async fn style() -> Response {
    file(STYLE, "text/css; charset=utf-8")
}
