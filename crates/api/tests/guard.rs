//! The listener is safe from the browser: a page on another site cannot reach it through
//! DNS rebinding (Host), cannot change anything by a cross-site request (Origin,
//! Sec-Fetch-Site), and bodies must have the route's content type. Real HTTP requests; the
//! headers a browser would send are set by hand.

#![allow(clippy::unwrap_used)]

mod support;

use reqwest::Method;
use serde_json::Value;
use support::{Harness, TOKEN, client, device, files_below, message};

const PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

/// The request of a page from `evil.example` whose name now points at 127.0.0.1: the
/// browser sends its own origin and `Host`.
#[tokio::test]
async fn a_rebinding_page_can_neither_write_nor_read() {
    let api = Harness::start().await;
    let before = files_below(&api.registry());
    let evil = [
        ("host", "evil.example"),
        ("origin", "http://evil.example"),
        ("content-type", "text/plain"),
    ];
    let (status, body) = api
        .send_with(Method::PUT, "/api/v1/secrets/evil/pw", &evil, "pw")
        .await;
    assert_eq!(status, 421, "{body}");
    assert_eq!(body["error"]["code"], 421);
    assert!(
        message(&body).contains("evil.example") && message(&body).contains("--http-allowed-host"),
        "{body}"
    );
    assert!(!api.registry().join("secrets/evil/pw").exists());
    let pem = [
        ("host", "evil.example:8080"),
        ("content-type", "application/x-pem-file"),
    ];
    let (status, _) = api
        .send_with(Method::PUT, "/api/v1/trust/evil", &pem, PEM)
        .await;
    assert_eq!(status, 421);
    assert_eq!(files_below(&api.registry()), before, "nothing was written");

    // Reading is refused too (a rebound page reads its own origin's answers), the UI's
    // files and unknown paths included.
    for path in [
        "/api/v1/secrets",
        "/api/v1/trust",
        "/api/v1/status",
        "/",
        "/nothing",
    ] {
        let (status, _) = api
            .send_with(Method::GET, path, &[("host", "evil.example")], "")
            .await;
        assert_eq!(status, 421, "{path}");
    }
}

#[tokio::test]
async fn the_host_check_runs_before_the_token() {
    let api = Harness::start_with(Some(TOKEN), true).await;
    // Without the token, a foreign Host learns nothing, not even that a token is needed.
    let response = client()
        .get(api.url("/api/v1/status"))
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 421);
    assert!(response.headers().get("www-authenticate").is_none());
    // With the token, the Host must still be right.
    let (status, _) = api
        .send_with(
            Method::GET,
            "/api/v1/status",
            &[("host", "evil.example")],
            "",
        )
        .await;
    assert_eq!(status, 421);
}

#[tokio::test]
async fn loopback_names_and_addresses_are_accepted_with_any_port() {
    let api = Harness::start().await;
    let port = api.addr.port();
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        "LOCALHOST".to_owned(),
        format!("[::1]:{port}"),
        "127.0.0.2:1".to_owned(),
    ] {
        let (status, body) = api
            .send_with(Method::GET, "/api/v1/status", &[("host", &host)], "")
            .await;
        assert_eq!(status, 200, "{host}: {body}");
    }
    for host in ["10.0.0.1", "localhost.evil.example", "evil.example:80"] {
        let (status, _) = api
            .send_with(Method::GET, "/api/v1/status", &[("host", host)], "")
            .await;
        assert_eq!(status, 421, "{host}");
    }
    for malformed in ["", "a b", "[::1", "host:port"] {
        let (status, body) = api
            .send_with(Method::GET, "/api/v1/status", &[("host", malformed)], "")
            .await;
        assert_eq!(status, 400, "{malformed:?}");
        assert_eq!(body["error"]["code"], 400);
    }
}

/// On every address (`0.0.0.0`, with a token), any IP address is the listener's own (an
/// address cannot be rebound); a DNS name must be allowed by `--http-allowed-host`.
#[tokio::test]
async fn beyond_loopback_the_allowed_names_are_accepted() {
    let allowed = vec!["connector.plant.example".parse().unwrap()];
    let api = Harness::start_on(([0, 0, 0, 0], 0).into(), Some(TOKEN), true, allowed).await;
    for host in [
        "192.0.2.7:8080",
        "[fd00::7]",
        "localhost",
        "connector.plant.example",
        "Connector.Plant.Example.:443",
    ] {
        let (status, body) = api
            .send_with(Method::GET, "/api/v1/status", &[("host", host)], "")
            .await;
        assert_eq!(status, 200, "{host}: {body}");
    }
    let (status, _) = api
        .send_with(
            Method::GET,
            "/api/v1/status",
            &[("host", "other.plant.example")],
            "",
        )
        .await;
    assert_eq!(status, 421);
    // A reverse proxy that rewrites Host: the page's origin is the allowed name.
    let proxied = [
        ("host", "127.0.0.1:8080"),
        ("origin", "https://connector.plant.example"),
        ("content-type", "text/plain"),
    ];
    let (status, body) = api
        .send_with(Method::PUT, "/api/v1/secrets/proxy/pw", &proxied, "pw")
        .await;
    assert_eq!(status, 204, "{body}");
}

#[tokio::test]
async fn other_sites_pages_cannot_change_anything() {
    let api = Harness::start().await;
    let own = format!("http://{}", api.addr);
    let text = ("content-type", "text/plain");
    for (headers, what) in [
        (
            vec![text, ("origin", "http://evil.example")],
            "another site",
        ),
        (
            vec![text, ("origin", "http://127.0.0.1:3000")],
            "another port",
        ),
        (vec![text, ("origin", "null")], "an opaque origin"),
        (
            vec![text, ("sec-fetch-site", "cross-site")],
            "cross-site, no Origin",
        ),
        (
            vec![text, ("sec-fetch-site", "same-site"), ("origin", &own)],
            "same-site",
        ),
    ] {
        let (status, body) = api
            .send_with(Method::PUT, "/api/v1/secrets/csrf/pw", &headers, "pw")
            .await;
        assert_eq!(status, 403, "{what}: {body}");
        assert_eq!(body["error"]["code"], 403);
    }
    assert!(!api.registry().join("secrets/csrf/pw").exists());

    // The UI's own requests: same origin.
    let (status, body) = api
        .send_with(
            Method::POST,
            "/api/v1/devices",
            &[
                ("content-type", "application/json"),
                ("origin", &own),
                ("sec-fetch-site", "same-origin"),
            ],
            &device("weather-station", "http://127.0.0.1:9").to_string(),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    // Deleting is changing.
    let (status, _) = api
        .send_with(
            Method::DELETE,
            "/api/v1/devices/weather-station",
            &[("origin", "http://evil.example")],
            "",
        )
        .await;
    assert_eq!(status, 403);
    assert!(api.registry().join("devices/weather-station.yaml").exists());

    // Reading from another origin is not refused here: without CORS headers the page
    // cannot read the answer.
    let response = client()
        .get(api.url("/api/v1/devices"))
        .header("origin", "http://evil.example")
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    // Scripts and curl send neither header.
    let (status, _) = api.delete("/api/v1/devices/weather-station").await;
    assert_eq!(status, 204);
}

#[tokio::test]
async fn json_routes_take_only_json() {
    let api = Harness::start().await;
    let before = files_below(&api.registry());
    let resource = device("weather-station", "http://127.0.0.1:9").to_string();
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
    ] {
        let headers: Vec<(&str, &str)> = content_type
            .map(|t| vec![("content-type", t)])
            .unwrap_or_default();
        for (method, path) in [
            (Method::POST, "/api/v1/devices"),
            (Method::PUT, "/api/v1/devices/weather-station"),
            (Method::POST, "/api/v1/assets"),
        ] {
            let (status, body) = api
                .send_with(method.clone(), path, &headers, &resource)
                .await;
            assert_eq!(status, 415, "{method} {path} as {content_type:?}: {body}");
            assert!(
                message(&body).contains("application/json"),
                "the answer says what to send: {body}"
            );
        }
    }
    assert_eq!(files_below(&api.registry()), before, "nothing was written");
    let (status, body) = api
        .send_with(
            Method::POST,
            "/api/v1/devices",
            &[("content-type", "Application/JSON; charset=utf-8")],
            &resource,
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn secrets_and_trust_lists_take_their_documented_types() {
    let api = Harness::start().await;
    let secrets = api.registry().join("secrets");
    for (content_type, name) in [
        (Some("text/plain; charset=utf-8"), "text"),
        (Some("application/octet-stream"), "binary"),
        (None, "untyped"),
    ] {
        let headers: Vec<(&str, &str)> = content_type
            .map(|t| vec![("content-type", t)])
            .unwrap_or_default();
        let path = format!("/api/v1/secrets/typed/{name}");
        let (status, body) = api.send_with(Method::PUT, &path, &headers, "v").await;
        assert_eq!(status, 204, "{content_type:?}: {body}");
        assert_eq!(
            std::fs::read_to_string(secrets.join("typed").join(name)).unwrap(),
            "v"
        );
    }
    for content_type in ["application/x-www-form-urlencoded", "multipart/form-data"] {
        let (status, body) = api
            .send_with(
                Method::PUT,
                "/api/v1/secrets/typed/form",
                &[("content-type", content_type)],
                "value=v",
            )
            .await;
        assert_eq!(status, 415, "{content_type}: {body}");
        assert!(!message(&body).contains("value=v"), "{body}");
    }
    assert!(!secrets.join("typed/form").exists());

    let (status, body) = api
        .send_with(
            Method::PUT,
            "/api/v1/trust/plant-ca",
            &[("content-type", "text/html")],
            PEM,
        )
        .await;
    assert_eq!(status, 415, "{body}");
    assert!(message(&body).contains("application/x-pem-file"), "{body}");
    assert!(!api.registry().join("trust/plant-ca").exists());
}

#[tokio::test]
async fn only_the_whole_token_is_accepted() {
    let api = Harness::start_with(Some(TOKEN), true).await;
    let http = client();
    let mut off_by_one = TOKEN.to_owned();
    off_by_one.pop();
    off_by_one.push('8');
    for candidate in [
        &TOKEN[..TOKEN.len() - 1],
        &format!("{TOKEN}0"),
        &off_by_one,
        &TOKEN.to_uppercase(),
        "",
    ] {
        let response = http
            .get(api.url("/api/v1/status"))
            .header("authorization", format!("Bearer {candidate}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{candidate:?}");
    }
    let (status, body): (u16, Value) = api.get("/api/v1/status").await;
    assert_eq!(status, 200, "{body}");
}
