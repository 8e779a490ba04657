//! The web UI: static files from `crates/api/ui/`, embedded in the binary (nothing to build or
//! install on the user's side): the page at `/`, its stylesheet at `/style.css`, and ES
//! modules (`<script type="module">`, loaded by the browser as they are): the router at
//! `/app.js`, which imports one module per page and the helpers they share from `/js/{name}`
//! ([`MODULES`]).
//!
//! They are open (the page must load before it can ask for a token); everything they show
//! comes from the API, which needs the token when one is set. Every answer carries a strict
//! Content-Security-Policy: scripts, styles and connections only from this listener, no
//! inline script or style, no framing; the UI builds its DOM with `textContent`, never
//! `innerHTML`, so event payloads are always shown as text. Scripts are `text/javascript`
//! (with `nosniff`, a browser runs a module only with a JavaScript type).

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::reply;

/// The policy of every UI answer.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const INDEX: &str = include_str!("../ui/index.html");
const APP: &str = include_str!("../ui/app.js");
const STYLE: &str = include_str!("../ui/style.css");

/// The modules of `ui/js/` served at `/js/{name}`, by name: the pages and their shared
/// helpers (`app.js` lists what each holds).
pub const MODULES: [(&str, &str); 16] = [
    ("api.js", include_str!("../ui/js/api.js")),
    ("asset-editor.js", include_str!("../ui/js/asset-editor.js")),
    ("asset-page.js", include_str!("../ui/js/asset-page.js")),
    ("assets.js", include_str!("../ui/js/assets.js")),
    ("destination.js", include_str!("../ui/js/destination.js")),
    (
        "device-editor.js",
        include_str!("../ui/js/device-editor.js"),
    ),
    ("devices.js", include_str!("../ui/js/devices.js")),
    ("dom.js", include_str!("../ui/js/dom.js")),
    ("form.js", include_str!("../ui/js/form.js")),
    ("overview.js", include_str!("../ui/js/overview.js")),
    ("page.js", include_str!("../ui/js/page.js")),
    ("schemas.js", include_str!("../ui/js/schemas.js")),
    ("sparkline.js", include_str!("../ui/js/sparkline.js")),
    ("tail.js", include_str!("../ui/js/tail.js")),
    (
        "transform-field.js",
        include_str!("../ui/js/transform-field.js"),
    ),
    ("wizard.js", include_str!("../ui/js/wizard.js")),
];

const JAVASCRIPT: &str = "text/javascript; charset=utf-8";

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
    file(APP, JAVASCRIPT)
}

pub(crate) async fn style() -> Response {
    file(STYLE, "text/css; charset=utf-8")
}

/// One of [`MODULES`]; 404 for any other name.
pub(crate) async fn module(Path(name): Path<String>) -> Response {
    match MODULES.iter().find(|(file_name, _)| *file_name == name) {
        Some((_, body)) => file(body, JAVASCRIPT),
        None => reply::error(StatusCode::NOT_FOUND, "no such UI module"),
    }
}
