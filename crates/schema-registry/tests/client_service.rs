//! The client against the embedded service, on mosquitto and on the embedded broker.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{Broker, client, service};
use schema_registry::protocol::{format, target};
use schema_registry::{ErrorKind, PutRequest, SchemaRegistryClient, store};

on_both_brokers!(
    put_get_and_idempotent_put,
    refusals_name_the_member,
    schemas_survive_a_service_restart,
    no_registry_is_a_timeout,
);

const CONTENT: &str = r#"{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{"t":{"type":"number"}}}"#;

async fn put_get_and_idempotent_put(broker: Broker) {
    let dir = tempfile::tempdir().unwrap();
    let service = service(&broker, dir.path()).await;
    let client = client(&broker, "crud").await;
    let request = PutRequest {
        tags: Some(BTreeMap::from([("asset".into(), "thermostat".into())])),
        ..PutRequest::json_schema(CONTENT, "1")
    };
    let first = client.put(request.clone()).await.unwrap();
    assert_eq!(first.namespace, "sse-connector");
    assert_eq!(first.version, "1");
    assert_eq!(
        first.reference(),
        format!("aio-sr://sse-connector/{}:1", first.name)
    );
    // The same content again, with other whitespace: the same schema, nothing new written.
    let spaced = CONTENT.replace(',', ", ");
    let again = client
        .put(PutRequest {
            schema_content: spaced,
            ..request.clone()
        })
        .await
        .unwrap();
    assert_eq!(again, first);
    assert_eq!(
        client.get(&first.name, "1").await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(client.get(&first.name, "2").await.unwrap(), None);
    assert_eq!(client.get("no-such-schema", "1").await.unwrap(), None);
    let second = client
        .put(PutRequest::json_schema(CONTENT, "2"))
        .await
        .unwrap();
    assert_eq!(
        (second.name.as_str(), second.tags.as_ref()),
        (first.name.as_str(), None)
    );
    let stored = store::list(dir.path()).unwrap();
    assert_eq!(stored, vec![first.clone(), second]);
    assert_eq!(service.catalog().len(), 2);
    // Concurrent puts of one new version from many tasks: one file, one answer.
    let puts = (0..8).map(|_| {
        let client = client.clone();
        tokio::spawn(async move { client.put(PutRequest::json_schema("{}", "1")).await })
    });
    let mut names = Vec::new();
    for put in puts {
        names.push(put.await.unwrap().unwrap().name);
    }
    names.dedup();
    assert_eq!(names.len(), 1);
    assert_eq!(store::list(dir.path()).unwrap().len(), 3);
    client.close();
    service.shutdown().await;
}

async fn refusals_name_the_member(broker: Broker) {
    let dir = tempfile::tempdir().unwrap();
    let service = service(&broker, dir.path()).await;
    let client = client(&broker, "refusals").await;
    let cases = [
        (PutRequest::json_schema(CONTENT, "01"), target::VERSION),
        (
            PutRequest::json_schema("{not json", "1"),
            target::SCHEMA_CONTENT,
        ),
        (
            PutRequest {
                format: "Avro/1.9".into(),
                ..PutRequest::json_schema(CONTENT, "1")
            },
            target::FORMAT,
        ),
    ];
    for (request, member) in cases {
        let error = client.put(request).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Registry, "{error}");
        let registry = error.registry_error().unwrap();
        assert_eq!(
            (registry.code, registry.target.as_deref()),
            (400, Some(member))
        );
        assert_eq!(error.reason_code(), "schema_registry_bad_request");
    }
    // Delta schemas need not be JSON Schema.
    let delta = client
        .put(PutRequest {
            format: format::DELTA_1.into(),
            ..PutRequest::json_schema(CONTENT, "1")
        })
        .await
        .unwrap();
    assert_eq!(delta.format, "Delta/1.0");
    let empty = client.get("", "1").await.unwrap_err();
    assert_eq!(empty.kind(), ErrorKind::InvalidArgument);
    assert!(store::list(dir.path()).unwrap().len() == 1);
    service.shutdown().await;
}

async fn schemas_survive_a_service_restart(broker: Broker) {
    let dir = tempfile::tempdir().unwrap();
    let service_1 = service(&broker, dir.path()).await;
    let client = client(&broker, "restart").await;
    let schema = client
        .put(PutRequest::json_schema(CONTENT, "1"))
        .await
        .unwrap();
    service_1.shutdown().await;
    let service_2 = service(&broker, dir.path()).await;
    assert_eq!(service_2.catalog().list(), vec![schema.clone()]);
    assert_eq!(
        client.get(&schema.name, "1").await.unwrap(),
        Some(schema.clone())
    );
    let again = client
        .put(PutRequest::json_schema(CONTENT, "1"))
        .await
        .unwrap();
    assert_eq!(again, schema, "idempotent across restarts");
    service_2.shutdown().await;
}

async fn no_registry_is_a_timeout(broker: Broker) {
    let client: SchemaRegistryClient = client(&broker, "lonely")
        .await
        .with_timeout(Duration::from_millis(500));
    let error = client.get("x", "1").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error}");
    assert!(error.is_retryable());
    client.close();
    let closed = client.get("x", "1").await.unwrap_err();
    assert_eq!(closed.kind(), ErrorKind::Closed);
}
