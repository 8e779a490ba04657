//! The web UI's files: served at `/`, `/app.js`, `/style.css` and `/js/{name}`, with their
//! content types and a strict Content-Security-Policy; every module in `ui/js/` embedded and
//! every import resolvable; scripts that never insert HTML.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeSet;

use api::ui::MODULES;
use support::{Harness, TOKEN, answer, client, message};

const APP: &str = include_str!("../ui/app.js");

#[tokio::test]
async fn the_ui_files_are_served_open_with_a_strict_policy() {
    let api = Harness::start_with(Some(TOKEN), true).await;
    let http = client();
    let mut files = vec![
        (
            "/".to_owned(),
            "text/html; charset=utf-8",
            "<script type=\"module\" src=\"/app.js\">",
        ),
        (
            "/app.js".to_owned(),
            "text/javascript; charset=utf-8",
            "import { devicesPage } from './js/devices.js';",
        ),
        ("/style.css".to_owned(), "text/css; charset=utf-8", ":root"),
    ];
    for (name, body) in MODULES {
        files.push((
            format!("/js/{name}"),
            "text/javascript; charset=utf-8",
            body.lines().next().unwrap(),
        ));
    }
    for (path, content_type, marker) in files {
        let response = http.get(api.url(&path)).send().await.unwrap();
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
    for path in ["/js/nothing.js", "/js/..%2Fapp.js", "/js/app.js"] {
        let (status, body) = answer(http.get(api.url(path)).send().await.unwrap()).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(message(&body), "no such UI module", "{path}");
    }
}

/// The names `script` imports (`from './x.js'`, relative to its own folder).
fn imports(script: &str) -> Vec<&str> {
    script
        .lines()
        .filter(|line| line.starts_with("import "))
        .map(|line| {
            let from = line.rsplit_once(" from '").unwrap().1;
            from.trim_end_matches("';")
        })
        .collect()
}

#[test]
fn every_module_is_embedded_and_every_import_resolves() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/js");
    let on_disk: BTreeSet<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    let embedded: BTreeSet<String> = MODULES.iter().map(|(n, _)| (*n).to_owned()).collect();
    assert_eq!(on_disk, embedded, "ui/js/ and ui::MODULES differ");

    let app_imports = imports(APP);
    assert!(!app_imports.is_empty());
    for import in app_imports {
        let name = import.strip_prefix("./js/").unwrap();
        assert!(embedded.contains(name), "app.js imports {import}");
    }
    for (module, body) in MODULES {
        for import in imports(body) {
            let name = import.strip_prefix("./").unwrap();
            assert!(embedded.contains(name), "{module} imports {import}");
        }
    }
}

#[test]
fn the_ui_inserts_no_html_and_has_no_inline_script_or_style() {
    let scripts = MODULES.iter().copied().chain([("app.js", APP)]);
    for (name, script) in scripts {
        for forbidden in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
        ] {
            assert!(!script.contains(forbidden), "{name} uses {forbidden}");
        }
    }
    let page = include_str!("../ui/index.html");
    assert!(!page.contains("<script>") && !page.contains(" style=") && !page.contains("<style"));
    assert!(!page.contains(" onclick="));
}
