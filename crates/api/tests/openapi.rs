//! The OpenAPI document matches the router: every route with its methods and nothing else,
//! and real answers of several routes have the documented shapes.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeSet;

use api::route_table;
use reqwest::Method;
use serde_json::Value;
use support::{Harness, asset, concrete_path, device, message, method};

fn document() -> Value {
    serde_json::from_str(api::openapi::DOCUMENT).unwrap()
}

const METHODS: &[&str] = &["get", "put", "post", "delete", "patch", "head", "options"];

#[test]
fn every_route_is_documented_and_every_documented_operation_is_a_route() {
    let doc = document();
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|k| METHODS.contains(&k.as_str()))
                .map(|m| (path.clone(), m.to_uppercase()))
                .collect::<Vec<_>>()
        })
        .collect();
    let routed: BTreeSet<(String, String)> = route_table()
        .into_iter()
        .map(|r| (r.path.to_owned(), r.method.to_owned()))
        .collect();
    let missing: Vec<_> = routed.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&routed).collect();
    assert!(
        missing.is_empty(),
        "routes not in openapi.json: {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "operations of openapi.json the router lacks: {extra:?}"
    );

    // Open routes are documented without security, the others with the bearer scheme.
    for route in route_table() {
        let op = &doc["paths"][route.path][route.method.to_lowercase()];
        let open = op.get("security") == Some(&serde_json::json!([]));
        assert_eq!(open, route.open, "{} {}", route.method, route.path);
        if !route.open {
            assert!(
                op["responses"].get("401").is_some(),
                "{} {} lacks 401",
                route.method,
                route.path
            );
        }
    }
}

#[tokio::test]
async fn every_documented_operation_is_served() {
    // The route table is what the router is built from; this checks the router itself
    // answers each documented method on each path (no 405, no fallback).
    let api = Harness::start().await;
    for route in route_table() {
        let path = concrete_path(&route);
        let response = api
            .request(method(&route), &path)
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_ne!(response.status(), 405, "{} {path}", route.method);
        if response.status() == 404 {
            let (_, body) = support::answer(response).await;
            assert_ne!(
                message(&body),
                "not found",
                "{} {path} hit the fallback",
                route.method
            );
        }
    }
}

/// Checks `value` against the subset of JSON Schema the document uses: `$ref`, `type`,
/// `required`, `properties`, `items`, `enum`.
fn check(doc: &Value, schema: &Value, value: &Value, at: &str) {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = reference.trim_start_matches("#/components/schemas/");
        return check(doc, &doc["components"]["schemas"][name], value, at);
    }
    if let Some(kind) = schema.get("type").and_then(Value::as_str) {
        let ok = match kind {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            _ => true,
        };
        assert!(ok, "{at}: expected {kind}, found {value}");
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        assert!(
            options.contains(value),
            "{at}: {value} is not one of {options:?}"
        );
    }
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for name in required {
            let name = name.as_str().unwrap();
            assert!(value.get(name).is_some(), "{at}: {name} is required");
        }
    }
    if let (Some(properties), Some(object)) = (
        schema.get("properties").and_then(Value::as_object),
        value.as_object(),
    ) {
        for (name, sub) in properties {
            if let Some(v) = object.get(name) {
                check(doc, sub, v, &format!("{at}.{name}"));
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, v) in array.iter().enumerate() {
            check(doc, items, v, &format!("{at}[{i}]"));
        }
    }
}

fn response_schema<'a>(doc: &'a Value, path: &str, method: &str, status: u16) -> &'a Value {
    let response = &doc["paths"][path][method]["responses"][status.to_string()];
    assert!(
        !response.is_null(),
        "{method} {path} does not document {status}"
    );
    &response["content"]["application/json"]["schema"]
}

#[tokio::test]
async fn answers_have_the_documented_shapes() {
    let doc = document();
    let api = Harness::start().await;
    let calls: Vec<(&str, &str, Method, String, Option<Value>)> = vec![
        (
            "/api/v1/devices",
            "post",
            Method::POST,
            "/api/v1/devices".into(),
            Some(device("weather-station", "http://127.0.0.1:9")),
        ),
        (
            "/api/v1/devices",
            "post",
            Method::POST,
            "/api/v1/devices".into(),
            Some(device("Bad", "http://127.0.0.1:9")),
        ),
        (
            "/api/v1/devices",
            "post",
            Method::POST,
            "/api/v1/devices".into(),
            Some(device("weather-station", "http://127.0.0.1:9")),
        ),
        (
            "/api/v1/assets",
            "post",
            Method::POST,
            "/api/v1/assets".into(),
            Some(asset("weather", "weather-station")),
        ),
        (
            "/api/v1/devices",
            "get",
            Method::GET,
            "/api/v1/devices".into(),
            None,
        ),
        (
            "/api/v1/assets",
            "get",
            Method::GET,
            "/api/v1/assets".into(),
            None,
        ),
        (
            "/api/v1/assets/{name}",
            "get",
            Method::GET,
            "/api/v1/assets/weather".into(),
            None,
        ),
        (
            "/api/v1/assets/{name}",
            "get",
            Method::GET,
            "/api/v1/assets/nowhere".into(),
            None,
        ),
        (
            "/api/v1/devices/{name}",
            "put",
            Method::PUT,
            "/api/v1/devices/weather-station".into(),
            Some(device("weather-station", "http://127.0.0.1:8")),
        ),
        (
            "/api/v1/devices/{name}",
            "delete",
            Method::DELETE,
            "/api/v1/devices/weather-station".into(),
            None,
        ),
        (
            "/api/v1/status",
            "get",
            Method::GET,
            "/api/v1/status".into(),
            None,
        ),
        (
            "/api/v1/secrets",
            "get",
            Method::GET,
            "/api/v1/secrets".into(),
            None,
        ),
        (
            "/api/v1/trust",
            "get",
            Method::GET,
            "/api/v1/trust".into(),
            None,
        ),
        (
            "/api/v1/schemas",
            "get",
            Method::GET,
            "/api/v1/schemas".into(),
            None,
        ),
        (
            "/api/v1/transforms",
            "get",
            Method::GET,
            "/api/v1/transforms".into(),
            None,
        ),
    ];
    let mut seen = BTreeSet::new();
    for (path, method, http_method, url, body) in calls {
        let mut request = api.request(http_method, &url);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let schema = response_schema(&doc, path, method, status);
        seen.insert((path, method, status));
        if !schema.is_null() {
            let value: Value = serde_json::from_str(&text).unwrap();
            check(&doc, schema, &value, &format!("{method} {url} {status}"));
        }
    }
    // The calls above covered success and failure answers.
    for expected in [
        ("/api/v1/devices", "post", 201),
        ("/api/v1/devices", "post", 422),
        ("/api/v1/devices", "post", 409),
        ("/api/v1/assets/{name}", "get", 404),
        ("/api/v1/devices/{name}", "delete", 409),
        ("/api/v1/schemas", "get", 404),
    ] {
        assert!(
            seen.contains(&expected),
            "{expected:?} not exercised: {seen:?}"
        );
    }

    let served: Value = api.get("/api/v1/openapi.json").await.1;
    assert_eq!(served, doc);
}

/// Every operation documents the guard's refusals (421 for a foreign Host, 403 for another
/// site's page on a change, 415 for a body of another type), and real ones have the
/// documented shape.
#[tokio::test]
async fn the_refusals_of_the_guard_and_of_content_types_are_documented() {
    let doc = document();
    for route in route_table() {
        let op = &doc["paths"][route.path][route.method.to_lowercase()];
        let documents = |status: &str| op["responses"].get(status).is_some();
        let at = format!("{} {}", route.method, route.path);
        assert!(documents("421"), "{at} lacks 421");
        let changes = route.method != "GET";
        assert_eq!(documents("403"), changes, "{at}: 403");
        assert_eq!(
            documents("415"),
            op.get("requestBody").is_some(),
            "{at}: 415"
        );
    }
    let api = Harness::start().await;
    let own = format!("http://{}", api.addr);
    let body = device("weather-station", "http://127.0.0.1:9").to_string();
    for (headers, status) in [
        (vec![("host", "evil.example")], 421),
        (
            vec![
                ("content-type", "application/json"),
                ("origin", "http://evil.example"),
            ],
            403,
        ),
        (
            vec![("content-type", "text/plain"), ("origin", own.as_str())],
            415,
        ),
    ] {
        let (got, value) = api
            .send_with(Method::POST, "/api/v1/devices", &headers, &body)
            .await;
        assert_eq!(got, status, "{value}");
        let schema = response_schema(&doc, "/api/v1/devices", "post", status);
        check(
            &doc,
            schema,
            &value,
            &format!("POST /api/v1/devices {status}"),
        );
    }
}
