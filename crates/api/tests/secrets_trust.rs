//! Secrets (write-only) and trust lists over the API.

#![allow(clippy::unwrap_used)]

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::{Harness, device, message, problems};

/// A device whose endpoint authenticates with the username and password of these secrets.
fn device_with_credentials(username: &str, password: &str) -> Value {
    let mut d = device("weather-station", "https://127.0.0.1:9");
    d["spec"]["endpoints"]["inbound"]["sse"]["authentication"] = json!({
        "method": "UsernamePassword",
        "usernamePasswordCredentials": {"usernameSecretName": username,
            "passwordSecretName": password}});
    d
}

#[tokio::test]
async fn secrets_are_set_listed_and_deleted_but_never_read_back() {
    let api = Harness::start().await;
    let value = "s3cr3t-passw0rd";
    let (status, body) = api
        .send_raw(Method::PUT, "/api/v1/secrets/sse-creds/password", value)
        .await;
    assert_eq!((status, body), (204, Value::Null));
    let (status, _) = api
        .put(
            "/api/v1/secrets/sse-creds/username",
            &json!({"value": "reader"}),
        )
        .await;
    assert_eq!(status, 204);
    let secrets = api.registry().join("secrets");
    assert_eq!(
        std::fs::read_to_string(secrets.join("sse-creds/password")).unwrap(),
        value
    );
    assert_eq!(
        std::fs::read_to_string(secrets.join("sse-creds/username")).unwrap(),
        "reader"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(secrets.join("sse-creds/password"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o077,
            0,
            "a secret must be readable by its owner only"
        );
    }

    let (status, list) = api.get("/api/v1/secrets").await;
    assert_eq!(status, 200);
    assert_eq!(
        list,
        json!({"secrets": ["sse-creds/password", "sse-creds/username"]})
    );
    assert!(!list.to_string().contains(value));
    // There is no route that reads a value.
    let (status, body) = api.get("/api/v1/secrets/sse-creds/password").await;
    assert_eq!(status, 405, "{body}");
    assert!(!body.to_string().contains(value));

    // A device that uses them validates now.
    let d = device_with_credentials("sse-creds/username", "sse-creds/password");
    let (status, created) = api.post("/api/v1/devices", &d).await;
    assert_eq!(status, 201, "{created}");
    assert!(!created.to_string().contains(value));

    assert_eq!(
        api.delete("/api/v1/secrets/sse-creds/username").await.0,
        204
    );
    assert_eq!(
        api.delete("/api/v1/secrets/sse-creds/username").await.0,
        404
    );
}

#[tokio::test]
async fn a_device_whose_secret_is_missing_is_refused_at_the_secret_name() {
    let api = Harness::start().await;
    let d = device_with_credentials("c/username", "c/password");
    let (status, body) = api.post("/api/v1/devices", &d).await;
    assert_eq!(status, 422, "{body}");
    let paths: Vec<String> = problems(&body).into_iter().map(|(p, _)| p).collect();
    assert!(
        paths.contains(
            &"spec.endpoints.inbound.sse.authentication.usernamePasswordCredentials.passwordSecretName"
                .to_owned()
        ),
        "{body}"
    );
}

#[tokio::test]
async fn bad_secret_requests_are_refused_without_echoing_the_value() {
    let api = Harness::start().await;
    // `..%2F` reaches the route as `../`: a name that leaves the secrets directory.
    let (status, body) = api
        .send_raw(Method::PUT, "/api/v1/secrets/..%2Fescape", "v")
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(!body.to_string().contains("\"v\""));
    assert!(!api.registry().join("escape").exists());
    // Malformed JSON: the parser's message, which may quote the value, is not echoed.
    let (status, body) = support::answer(
        api.request(Method::PUT, "/api/v1/secrets/x")
            .header("content-type", "application/json")
            .body("{\"value\": \"half-a-secret")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(!body.to_string().contains("half-a-secret"), "{body}");
    let (status, body) = api.send_raw(Method::PUT, "/api/v1/secrets/x", "").await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(api.delete("/api/v1/secrets/..%2Fx").await.0, 422);
}

#[tokio::test]
async fn trust_lists_hold_pem_certificates_only() {
    let api = Harness::start().await;
    let pem = rcgen::generate_simple_self_signed(vec!["plant.example".to_owned()])
        .unwrap()
        .cert
        .pem();
    let (status, body) = api
        .send_raw(Method::PUT, "/api/v1/trust/plant-ca", &pem)
        .await;
    assert_eq!((status, body), (204, Value::Null));
    let file = api.registry().join("trust/plant-ca/ca.pem");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), pem);

    let (status, list) = api.get("/api/v1/trust").await;
    assert_eq!(status, 200);
    assert_eq!(
        list,
        json!({"trustLists": [{"name": "plant-ca", "files": ["ca.pem"]}]})
    );
    let shown = api
        .request(Method::GET, "/api/v1/trust/plant-ca")
        .send()
        .await
        .unwrap();
    assert_eq!(shown.status(), 200);
    assert_eq!(shown.headers()["content-type"], "application/x-pem-file");
    assert_eq!(shown.text().await.unwrap(), pem);

    // Not PEM: refused, the list unchanged.
    let (status, body) = api
        .send_raw(Method::PUT, "/api/v1/trust/plant-ca", "hello")
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(message(&body).contains("PEM"), "{body}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), pem);

    // A device may name it.
    let mut d = device("weather-station", "https://127.0.0.1:9");
    d["spec"]["endpoints"]["inbound"]["sse"]["trustSettings"] = json!({"trustList": "plant-ca"});
    assert_eq!(api.post("/api/v1/devices", &d).await.0, 201);

    assert_eq!(
        api.send_raw(Method::PUT, "/api/v1/trust/.hidden", &pem)
            .await
            .0,
        422
    );
    assert_eq!(api.get("/api/v1/trust/nowhere").await.0, 404);
    assert_eq!(api.delete("/api/v1/trust/nowhere").await.0, 404);
    assert_eq!(api.delete("/api/v1/trust/plant-ca").await.0, 204);
    assert!(!file.exists());
}
