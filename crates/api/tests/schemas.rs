//! The schema routes over real TCP: listing, one version, not found, a failing catalog, no
//! catalog, and the token.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use api::{Access, CatalogError, SchemaCatalog, Sources, Token, serve_with};
use schema::{RegisteredSchema, SchemaType};
use serde_json::{Value, json};
use support::{Ready, answer, client, message, token_file};
use tokio_util::sync::CancellationToken;

struct Fixed(Vec<RegisteredSchema>);

impl SchemaCatalog for Fixed {
    fn list(&self) -> Result<Vec<RegisteredSchema>, CatalogError> {
        Ok(self.0.clone())
    }

    fn get(&self, name: &str, version: &str) -> Result<Option<RegisteredSchema>, CatalogError> {
        Ok(self
            .0
            .iter()
            .find(|r| r.name == name && r.version == version)
            .cloned())
    }
}

struct Broken;

impl SchemaCatalog for Broken {
    fn list(&self) -> Result<Vec<RegisteredSchema>, CatalogError> {
        Err(CatalogError("the store is unreadable".into()))
    }

    fn get(&self, _: &str, _: &str) -> Result<Option<RegisteredSchema>, CatalogError> {
        Err(CatalogError("the store is unreadable".into()))
    }
}

fn record(version: &str) -> RegisteredSchema {
    RegisteredSchema {
        display_name: Some("thermostat".into()),
        format: "JsonSchema/draft-07".into(),
        hash: Some("abc".into()),
        name: "e3a2".into(),
        namespace: "sse-connector".into(),
        schema_content: r#"{"type":"object"}"#.into(),
        schema_type: SchemaType::MessageSchema,
        tags: Some(BTreeMap::from([("asset".into(), "t1".into())])),
        version: version.into(),
        ..RegisteredSchema::default()
    }
}

async fn start(
    token: Option<Token>,
    schemas: Option<Arc<dyn SchemaCatalog>>,
) -> (SocketAddr, CancellationToken) {
    let shutdown = CancellationToken::new();
    let mut sources = Sources::new(Arc::new(Ready));
    if let Some(schemas) = schemas {
        sources = sources.with_schemas(schemas);
    }
    let access = Access {
        token,
        ..Access::default()
    };
    let (addr, _task) = serve_with(
        ([127, 0, 0, 1], 0).into(),
        access,
        sources,
        shutdown.clone(),
    )
    .await
    .unwrap();
    (addr, shutdown)
}

async fn get(url: &str, token: Option<&str>) -> (u16, Value) {
    let mut request = client().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    answer(request.send().await.unwrap()).await
}

#[tokio::test]
async fn list_and_show_the_catalog() {
    let catalog = Fixed(vec![record("1"), record("2")]);
    let (addr, shutdown) = start(None, Some(Arc::new(catalog))).await;
    let (status, listing) = get(&format!("http://{addr}/api/v1/schemas"), None).await;
    assert_eq!(status, 200);
    assert_eq!(
        listing["schemas"][0],
        json!({
            "dataschema": "aio-sr://sse-connector/e3a2:1",
            "displayName": "thermostat",
            "format": "JsonSchema/draft-07",
            "hash": "abc",
            "name": "e3a2",
            "namespace": "sse-connector",
            "schemaType": "MessageSchema",
            "tags": {"asset": "t1"},
            "version": "1"
        })
    );
    assert_eq!(listing["schemas"].as_array().unwrap().len(), 2);

    let response = client()
        .get(format!("http://{addr}/api/v1/schemas/e3a2/2"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    assert_eq!(
        response.text().await.unwrap(),
        r#"{"displayName":"thermostat","format":"JsonSchema/draft-07","hash":"abc","name":"e3a2","namespace":"sse-connector","schemaContent":"{\"type\":\"object\"}","schemaType":"MessageSchema","tags":{"asset":"t1"},"version":"2"}"#,
        "the registry's Schema object"
    );

    let (status, missing) = get(&format!("http://{addr}/api/v1/schemas/e3a2/3"), None).await;
    assert_eq!(status, 404);
    assert_eq!(missing["error"]["code"], 404);
    assert_eq!(
        missing["error"]["message"],
        "schema e3a2 version 3 not found"
    );
    shutdown.cancel();
}

#[tokio::test]
async fn without_or_with_a_broken_catalog() {
    let (addr, shutdown) = start(None, None).await;
    let (status, body) = get(&format!("http://{addr}/api/v1/schemas"), None).await;
    assert_eq!(status, 404);
    assert!(message(&body).contains("no schema registry"), "{body}");
    shutdown.cancel();

    let (addr, shutdown) = start(None, Some(Arc::new(Broken))).await;
    for path in ["/api/v1/schemas", "/api/v1/schemas/a/1"] {
        let (status, body) = get(&format!("http://{addr}{path}"), None).await;
        assert_eq!(status, 503, "{path}");
        assert!(message(&body).contains("unreadable"), "{body}");
    }
    shutdown.cancel();
}

#[tokio::test]
async fn the_token_guards_the_schema_routes() {
    let dir = tempfile::tempdir().unwrap();
    let token = Token::from_file(&token_file(dir.path(), "s3cret\n")).unwrap();
    let (addr, shutdown) = start(Some(token), Some(Arc::new(Fixed(vec![record("1")])))).await;
    for path in ["/api/v1/schemas", "/api/v1/schemas/e3a2/1"] {
        let url = format!("http://{addr}{path}");
        assert_eq!(get(&url, None).await.0, 401, "{path}");
        assert_eq!(get(&url, Some("nope")).await.0, 401, "{path}");
        assert_eq!(get(&url, Some("s3cret")).await.0, 200, "{path}");
    }
    shutdown.cancel();
}
