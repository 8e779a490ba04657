//! The web UI's files: served at `/`, with their content types and a strict
//! Content-Security-Policy, and a script that never inserts HTML.

#![allow(clippy::unwrap_used)]

mod support;

use support::{Harness, TOKEN, client};

#[tokio::test]
async fn the_ui_files_are_served_open_with_a_strict_policy() {
    let api = Harness::start_with(Some(TOKEN), true).await;
    let http = client();
    for (path, content_type, marker) in [
        (
            "/",
            "text/html; charset=utf-8",
            "<script type=\"module\" src=\"/app.js\">",
        ),
        ("/app.js", "text/javascript; charset=utf-8", "function h("),
        ("/style.css", "text/css; charset=utf-8", ":root"),
    ] {
        let response = http.get(api.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers().clone();
        assert_eq!(headers["content-type"], content_type, "{path}");
        let policy = headers["content-security-policy"].to_str().unwrap();
        assert!(policy.starts_with("default-src 'self'"), "{policy}");
        assert!(policy.contains("script-src 'self';"), "{policy}");
        assert!(
            !policy.contains("unsafe-inline") && !policy.contains("unsafe-eval"),
            "{policy}"
        );
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert!(response.text().await.unwrap().contains(marker), "{path}");
    }
}

#[test]
fn the_ui_inserts_no_html_and_has_no_inline_script_or_style() {
    let script = include_str!("../ui/app.js");
    for forbidden in [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
    ] {
        assert!(!script.contains(forbidden), "app.js uses {forbidden}");
    }
    let page = include_str!("../ui/index.html");
    assert!(!page.contains("<script>") && !page.contains(" style=") && !page.contains("<style"));
    assert!(!page.contains(" onclick="));
}
