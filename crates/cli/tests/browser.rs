//! The web UI in a real headless Chromium, driven by `playwright-core` from npm
//! (`tests/browser/ui.mjs`), against a running connector with the embedded broker and a
//! scripted SSE server that requires Basic credentials.
//!
//! The listener requires a token (`SSE_CONNECTOR_HTTP_TOKEN`): the page asks for it first.
//! The script then creates a device with a username/password endpoint (the secrets set through the
//! UI are what lets the connector in), sees a validation error next to an invalid field,
//! creates an asset with a dataset and an event group, and sees events arrive in the asset's
//! live tail (pausing and resuming it); an edit of the asset then changes where the messages
//! go, another sets a transform on the dataset (a graph and the test module the script puts in
//! the registry, `REGISTRY`) whose rewritten payloads reach the tail, a `lagged` event of the tail shows how many messages were skipped, and a device
//! deleted after confirmation leaves the list and the registry. The page's scripts are ES
//! modules (`/app.js` importing `/js/*.js`): any that fails to load is an error of the page.
//! Every change goes through the listener's
//! Host, Origin and content-type checks with the headers Chromium really sends. It saves screenshots of the main pages to `SSE_CONNECTOR_SCREENSHOTS` (default:
//! a temporary directory); with `UPDATE_SCREENSHOTS=1` they are copied to `docs/screenshots/`.
//!
//! Needs `node` (with npm) and Chromium (`/usr/bin/chromium`, or `CHROMIUM`). When either is
//! missing the test is skipped, except under CI (`CI` set), where it fails: `.ci/run`
//! installs both. `npm ci` runs when `tests/browser/node_modules` is missing.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{Broker, Connector, Options};
use test_support::{Response, SseServer};

const USERNAME: &str = "reader";
const PASSWORD: &str = "s3cret-for-the-browser-test";
const TOKEN: &str = "browser-test-token-4711";

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// Whether `program --version` runs.
fn runs(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Chromium's path, node, npm; or why the test cannot run.
fn tools() -> Result<PathBuf, String> {
    let chromium = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    if !chromium.exists() {
        return Err(format!(
            "Chromium not found at {} (install the Debian package `chromium`, or set CHROMIUM)",
            chromium.display()
        ));
    }
    if !runs("node") {
        return Err("node not found (install the Debian package `nodejs`)".to_owned());
    }
    if !browser_dir().join("node_modules/playwright-core").exists() {
        if !runs("npm") {
            return Err("npm not found (install the Debian package `npm`)".to_owned());
        }
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(browser_dir())
            .status()
            .map_err(|e| format!("npm ci: {e}"))?;
        if !status.success() {
            return Err(format!("npm ci in {} failed", browser_dir().display()));
        }
    }
    Ok(chromium)
}

/// An endless stream of readings and threshold events, one every 250 ms.
fn stream() -> Response {
    let mut response = Response::sse().chunk("retry: 1000\n\n");
    for n in 1..=2400 {
        let event = if n % 2 == 0 { "threshold" } else { "reading" };
        let data = format!(
            "id: {n}\nevent: {event}\ndata: {{\"temperature\": {}.5, \"n\": {n}}}\n\n",
            18 + n % 7
        );
        response = response.delay(Duration::from_millis(250)).chunk(data);
    }
    response.hang()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_ui_creates_a_device_and_an_asset_and_shows_live_events() {
    let chromium = match tools() {
        Ok(path) => path,
        Err(why) if std::env::var_os("CI").is_some() => {
            panic!("the browser test cannot run under CI: {why}")
        }
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    let server = SseServer::http([]).await;
    server.require_basic_auth(USERNAME, PASSWORD);
    server.set_fallback(stream());

    let registry = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    // The token from the environment: the page must ask for it, and every call (the live
    // tail's included) must carry it.
    let connector = Connector::start(
        &Options::new(registry.path(), state.path(), Broker::Embedded)
            .http()
            .env("SSE_CONNECTOR_HTTP_TOKEN", TOKEN),
    )
    .await;
    let http = connector.http.unwrap();

    let screenshots = match std::env::var_os("SSE_CONNECTOR_SCREENSHOTS") {
        Some(dir) => PathBuf::from(dir),
        None => state.path().join("screenshots"),
    };
    std::fs::create_dir_all(&screenshots).unwrap();
    let output = tokio::process::Command::new("node")
        .arg(browser_dir().join("ui.mjs"))
        .env("BASE_URL", format!("http://{http}"))
        .env("API_TOKEN", TOKEN)
        .env("SSE_URL", server.url(""))
        .env("REGISTRY", registry.path())
        .env("SSE_USERNAME", USERNAME)
        .env("SSE_PASSWORD", PASSWORD)
        .env("CHROMIUM", &chromium)
        .env("SCREENSHOTS", &screenshots)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(240), output)
        .await
        .expect("the browser script did not finish within 4 minutes")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the browser script failed ({}):\n{stdout}\n{stderr}\n---- connector log ----\n{}",
        output.status,
        connector.log().join("\n")
    );
    eprintln!("{stdout}");

    // What the UI wrote is the registry's ordinary files.
    let device =
        std::fs::read_to_string(registry.path().join("devices/weather-station.yaml")).unwrap();
    assert!(device.contains("method: UsernamePassword"), "{device}");
    assert!(device.contains("site: plant-1"), "{device}");
    assert!(!device.contains(PASSWORD));
    assert!(
        !registry.path().join("devices/scratch.yaml").exists(),
        "the device deleted in the UI is still in the registry"
    );
    let asset = std::fs::read_to_string(registry.path().join("assets/weather.yaml")).unwrap();
    assert!(asset.contains("eventGroups"), "{asset}");
    assert_eq!(
        std::fs::read_to_string(
            registry
                .path()
                .join("secrets/weather-station-creds/password")
        )
        .unwrap(),
        PASSWORD
    );
    assert!(
        !connector.log().iter().any(|l| l.contains(PASSWORD)),
        "a secret value reached the log"
    );

    for name in ["devices.png", "asset-form.png", "asset-page.png"] {
        assert!(screenshots.join(name).exists(), "no screenshot {name}");
    }
    if std::env::var_os("UPDATE_SCREENSHOTS").is_some_and(|v| v == "1") {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
        std::fs::create_dir_all(&docs).unwrap();
        for name in ["devices.png", "asset-form.png", "asset-page.png"] {
            std::fs::copy(screenshots.join(name), docs.join(name)).unwrap();
        }
    }
    drop(connector);
}

/// The overview (`tests/browser/overview.mjs`) of a connector with a healthy asset (a dataset
/// and an event on an endless stream) and a failing one (its device's password is refused):
/// the counts by health, the rates chart moving, the attention list naming the failing
/// endpoint with its error and the secrets to check, the sparklines of the assets list and of
/// the asset page, and the live tail's filters, pause (the buffer keeps filling) and lag.
/// Saves `overview.png` and `asset-rates.png` (copied to `docs/screenshots/` with
/// `UPDATE_SCREENSHOTS=1`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_shows_counts_rates_and_what_needs_attention() {
    let chromium = match tools() {
        Ok(path) => path,
        Err(why) if std::env::var_os("CI").is_some() => {
            panic!("the browser test cannot run under CI: {why}")
        }
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    let healthy = SseServer::http([]).await;
    healthy.set_fallback(stream());
    let locked = SseServer::http([]).await;
    locked.require_basic_auth(USERNAME, PASSWORD);

    let registry = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let r = registry.path();
    common::write_atomic(
        &r.join("devices/plant.yaml"),
        &common::device("plant", "sse", &healthy.url(""), &[]),
    );
    let mut line = common::asset_head("line-1", "plant", "sse", &[]);
    line.push_str("  datasets:\n");
    line.push_str(&common::dataset(
        "readings",
        "/api/weather",
        "plant/readings",
        &[],
    ));
    line.push_str(
        "  eventGroups:\n    - name: alerts\n      dataSource: /events\n      events:\n        \
         - name: threshold\n          dataSource: threshold\n          destinations:\n",
    );
    line.push_str(&common::mqtt_destination(12, "plant/alerts", &[]));
    common::write_atomic(&r.join("assets/line-1.yaml"), &line);
    let mut device = common::device("locked", "sse", &locked.url(""), &[]);
    device.push_str(
        "        authentication:\n          method: UsernamePassword\n          \
         usernamePasswordCredentials:\n            usernameSecretName: locked-creds/username\n            \
         passwordSecretName: locked-creds/password\n",
    );
    common::write_atomic(&r.join("devices/locked.yaml"), &device);
    common::write_atomic(&r.join("secrets/locked-creds/username"), USERNAME);
    common::write_atomic(&r.join("secrets/locked-creds/password"), "not-the-password");
    let mut failing = common::asset_head("locked-line", "locked", "sse", &[]);
    failing.push_str("  datasets:\n");
    failing.push_str(&common::dataset("d", "/events", "plant/locked", &[]));
    common::write_atomic(&r.join("assets/locked-line.yaml"), &failing);

    let connector = Connector::start(
        &Options::new(r, state.path(), Broker::Embedded)
            .http()
            .env("SSE_CONNECTOR_HTTP_TOKEN", TOKEN),
    )
    .await;
    let http = connector.http.unwrap();
    let screenshots = match std::env::var_os("SSE_CONNECTOR_SCREENSHOTS") {
        Some(dir) => PathBuf::from(dir),
        None => state.path().join("screenshots"),
    };
    std::fs::create_dir_all(&screenshots).unwrap();
    let output = tokio::process::Command::new("node")
        .arg(browser_dir().join("overview.mjs"))
        .env("BASE_URL", format!("http://{http}"))
        .env("API_TOKEN", TOKEN)
        .env("CHROMIUM", &chromium)
        .env("SCREENSHOTS", &screenshots)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(240), output)
        .await
        .expect("the browser script did not finish within 4 minutes")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the browser script failed ({}):\n{stdout}\n{stderr}\n---- connector log ----\n{}",
        output.status,
        connector.log().join("\n")
    );
    eprintln!("{stdout}");
    let shots = ["overview.png", "asset-rates.png"];
    for name in shots {
        assert!(screenshots.join(name).exists(), "no screenshot {name}");
    }
    if std::env::var_os("UPDATE_SCREENSHOTS").is_some_and(|v| v == "1") {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
        std::fs::create_dir_all(&docs).unwrap();
        for name in shots {
            std::fs::copy(screenshots.join(name), docs.join(name)).unwrap();
        }
    }
    drop(connector);
}
