//! Bearer-token authentication: every route but the probes, the UI's files and the OpenAPI
//! document needs the token once one is configured.

#![allow(clippy::unwrap_used)]

mod support;

use api::route_table;
use support::{Harness, TOKEN, client, concrete_path, method};

#[tokio::test]
async fn every_protected_route_needs_the_token_and_the_open_ones_do_not() {
    let api = Harness::start_with(Some(TOKEN), true).await;
    let http = client();
    for route in route_table() {
        let (path, method) = (concrete_path(&route), method(&route));
        let without = http
            .request(method.clone(), api.url(&path))
            .send()
            .await
            .unwrap();
        let wrong = http
            .request(method.clone(), api.url(&path))
            .bearer_auth("not-the-token")
            .send()
            .await
            .unwrap();
        if route.open {
            assert_ne!(without.status(), 401, "{} {path}", route.method);
        } else {
            assert_eq!(without.status(), 401, "{} {path}", route.method);
            assert_eq!(without.headers()["www-authenticate"], "Bearer");
            let (_, body) = support::answer(without).await;
            assert_eq!(body["error"]["code"], 401);
            assert_eq!(wrong.status(), 401, "{} {path}", route.method);
        }
    }
    // With the token the API answers.
    let (status, _) = api.get("/api/v1/devices").await;
    assert_eq!(status, 200);
    let (status, _) = api.get("/api/v1/status").await;
    assert_eq!(status, 200);
    // Unknown paths need it too: they reveal nothing without it.
    let unknown = http.get(api.url("/api/v1/nothing")).send().await.unwrap();
    assert_eq!(unknown.status(), 401);
    assert_eq!(api.get("/api/v1/nothing").await.0, 404);
}

#[tokio::test]
async fn a_scheme_other_than_bearer_is_refused() {
    let api = Harness::start_with(Some(TOKEN), true).await;
    let basic = client()
        .get(api.url("/api/v1/devices"))
        .header("authorization", format!("Basic {TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 401);
}
