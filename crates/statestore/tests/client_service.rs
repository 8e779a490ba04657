//! The client against the embedded service, on mosquitto and on the embedded broker.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{Broker, WAIT, client, service, service_id};
use statestore::{
    ErrorKind, HlcTimestamp, Notification, ServiceError, SetCondition, SetOptions, StateStoreClient,
};

on_both_brokers!(
    set_get_del_vdel,
    nx_and_nex,
    px_expiry,
    fencing_tokens,
    observe_set_then_delete,
    values_survive_a_service_restart,
    binary_keys_and_values,
    queued_sets_land_in_order,
);

fn opts(condition: SetCondition) -> SetOptions {
    SetOptions {
        condition,
        ..SetOptions::default()
    }
}

async fn set_get_del_vdel(broker: Broker) {
    let dir = tempfile::tempdir().unwrap();
    let service = service(&broker, &service_id(), dir.path()).await;
    let client = client(&broker, "crud").await;
    assert_eq!(client.get("k").await.unwrap(), None);
    assert!(client.set("k", "v1", SetOptions::default()).await.unwrap());
    assert_eq!(client.get("k").await.unwrap(), Some(Bytes::from("v1")));
    assert!(client.set("k", "v2", SetOptions::default()).await.unwrap());
    assert_eq!(client.get("k").await.unwrap(), Some(Bytes::from("v2")));
    assert_eq!(client.del("k", None).await.unwrap(), 1);
    assert_eq!(client.del("k", None).await.unwrap(), 0);
    assert_eq!(client.get("k").await.unwrap(), None);

    client
        .set("v", "value", SetOptions::default())
        .await
        .unwrap();
    assert_eq!(
        client.vdel("v", "other", None).await.unwrap(),
        0,
        "value differs"
    );
    assert_eq!(client.get("v").await.unwrap(), Some(Bytes::from("value")));
    assert_eq!(client.vdel("v", "value", None).await.unwrap(), 1);
    assert_eq!(client.vdel("v", "value", None).await.unwrap(), 0, "gone");

    let empty = client.get("").await.unwrap_err();
    assert_eq!(empty.kind(), ErrorKind::InvalidArgument);
    service.shutdown().await;
}

async fn nx_and_nex(broker: Broker) {
    let dir = tempfile::tempdir().unwrap();
    let service = service(&broker, &service_id(), dir.path()).await;
    let client = client(&broker, "cond").await;
    assert!(
        client
            .set("nx", "a", opts(SetCondition::NotExists))
            .await
            .unwrap()
    );
    assert!(
        !client
            .set("nx", "b", opts(SetCondition::NotExists))
            .await
            .unwrap()
    );
    assert_eq!(client.get("nx").await.unwrap(), Some(Bytes::from("a")));
    let nex = opts(SetCondition::NotExistsOrEqual);
    assert!(client.set("nex", "a", nex.clone()).await.unwrap(), "absent");
    assert!(client.set("nex", "a", nex.clone()).await.unwrap(), "equal");
    assert!(!client.set("nex", "b", nex).await.unwrap(), "different");
    assert_eq!(client.get("nex").await.unwrap(), Some(Bytes::from("a")));
    service.shutdown().await;
}

async fn px_expiry(broker: Broker) {
    let dir = tempfile::tempdir().unwrap();
    let service = service(&broker, &service_id(), dir.path()).await;
    let client = client(&broker, "px").await;
    let mut observation = client.observe("ttl").await.unwrap();
    let short = SetOptions {
        expires: Some(Duration::from_millis(300)),
        ..SetOptions::default()
    };
    assert!(client.set("ttl", "soon gone", short).await.unwrap());
    assert!(
        client
            .set("stay", "here", SetOptions::default())
            .await
            .unwrap()
    );
    let first = tokio::time::timeout(WAIT, observation.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.operation, Notification::Set(Bytes::from("soon gone")));
    // The service deletes the key when it expires, and tells the observer.
    let gone = tokio::time::timeout(WAIT, observation.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(gone.operation, Notification::Delete);
    assert_eq!(client.get("ttl").await.unwrap(), None);
    assert_eq!(client.get("stay").await.unwrap(), Some(Bytes::from("here")));
    // NX succeeds on an expired key.
    assert!(
        client
            .set("ttl", "again", opts(SetCondition::NotExists))
            .await
            .unwrap()
    );
    service.shutdown().await;
}

async fn fencing_tokens(broker: Broker) {
    let dir = tempfile::tempdir().unwrap();
    let service = service(&broker, &service_id(), dir.path()).await;
    let client = client(&broker, "fence").await;
    let token = |counter| HlcTimestamp {
        millis: aio_mqtt::hlc::wall_millis(),
        counter,
        node_id: "lease-holder".into(),
    };
    let (old, current) = (token(1), token(2));
    let fenced = |t: &HlcTimestamp| SetOptions {
        fencing_token: Some(t.clone()),
        ..SetOptions::default()
    };
    assert!(client.set("lock", "v1", fenced(&current)).await.unwrap());
    let missing = client
        .set("lock", "x", SetOptions::default())
        .await
        .unwrap_err();
    assert_eq!(
        missing.kind(),
        ErrorKind::Service(ServiceError::FencingTokenRequired)
    );
    assert!(
        missing.to_string().contains("a fencing token is required"),
        "{missing}"
    );
    assert_eq!(missing.reason_code(), "statestore_fencing_token_required");
    let older = client.set("lock", "x", fenced(&old)).await.unwrap_err();
    assert_eq!(
        older.kind(),
        ErrorKind::Service(ServiceError::FencingTokenLowerVersion)
    );
    let del = client.del("lock", None).await.unwrap_err();
    assert_eq!(
        del.kind(),
        ErrorKind::Service(ServiceError::FencingTokenRequired)
    );
    let vdel = client.vdel("lock", "v1", Some(old)).await.unwrap_err();
    assert_eq!(
        vdel.kind(),
        ErrorKind::Service(ServiceError::FencingTokenLowerVersion)
    );
    assert_eq!(client.get("lock").await.unwrap(), Some(Bytes::from("v1")));
    assert!(client.set("lock", "v2", fenced(&current)).await.unwrap());
    assert_eq!(client.del("lock", Some(current)).await.unwrap(), 1);
    service.shutdown().await;
}

async fn observe_set_then_delete(broker: Broker) {
    let dir = tempfile::tempdir().unwrap();
    let service = service(&broker, &service_id(), dir.path()).await;
    let watcher = client(&broker, "watcher").await;
    let writer = client(&broker, "writer").await;
    let mut observation = watcher.observe("watched").await.unwrap();
    assert_eq!(observation.key(), &Bytes::from("watched"));
    let duplicate = watcher.observe("watched").await.unwrap_err();
    assert_eq!(duplicate.kind(), ErrorKind::DuplicateObserve);

    writer
        .set("watched", "one", SetOptions::default())
        .await
        .unwrap();
    writer
        .set("other", "ignored", SetOptions::default())
        .await
        .unwrap();
    writer.del("watched", None).await.unwrap();
    let set = tokio::time::timeout(WAIT, observation.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(set.key, Bytes::from("watched"));
    assert_eq!(set.operation, Notification::Set(Bytes::from("one")));
    let deleted = tokio::time::timeout(WAIT, observation.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(deleted.operation, Notification::Delete);
    let (v1, v2) = (set.version.unwrap(), deleted.version.unwrap());
    assert!(v2 > v1, "versions increase: {v1} then {v2}");

    assert!(watcher.unobserve("watched").await.unwrap());
    assert_eq!(
        tokio::time::timeout(WAIT, observation.recv())
            .await
            .unwrap(),
        None,
        "the observation ends"
    );
    assert!(
        !watcher.unobserve("watched").await.unwrap(),
        "not registered any more"
    );
    service.shutdown().await;
}

async fn values_survive_a_service_restart(broker: Broker) {
    let dir = tempfile::tempdir().unwrap();
    let id = service_id();
    let first = service(&broker, &id, dir.path()).await;
    let client = client(&broker, "persist").await;
    let watcher = client.with_timeout(Duration::from_secs(10));
    let mut observation = watcher.observe("kept").await.unwrap();
    for i in 0..50 {
        client
            .set(
                format!("key-{i}"),
                format!("value-{i}"),
                SetOptions::default(),
            )
            .await
            .unwrap();
    }
    client
        .set("kept", "before restart", SetOptions::default())
        .await
        .unwrap();
    client.del("key-0", None).await.unwrap();
    first.shutdown().await;

    let second = service(&broker, &id, dir.path()).await;
    assert_eq!(
        client.get("kept").await.unwrap(),
        Some(Bytes::from("before restart"))
    );
    assert_eq!(
        client.get("key-49").await.unwrap(),
        Some(Bytes::from("value-49"))
    );
    assert_eq!(client.get("key-0").await.unwrap(), None);
    // The KEYNOTIFY registration was persisted too.
    client
        .set("kept", "after restart", SetOptions::default())
        .await
        .unwrap();
    let mut seen = Vec::new();
    while seen.last() != Some(&Notification::Set(Bytes::from("after restart"))) {
        let next = tokio::time::timeout(WAIT, observation.recv())
            .await
            .unwrap()
            .unwrap();
        seen.push(next.operation);
    }
    assert_eq!(seen[0], Notification::Set(Bytes::from("before restart")));
    second.shutdown().await;
}

async fn binary_keys_and_values(broker: Broker) {
    let dir = tempfile::tempdir().unwrap();
    let service = service(&broker, &service_id(), dir.path()).await;
    let client: StateStoreClient = client(&broker, "binary").await;
    let key = Bytes::from_static(b"k\r\n\0\xff");
    let value = Bytes::from((0..=255u8).collect::<Vec<_>>());
    assert!(
        client
            .set(key.clone(), value.clone(), SetOptions::default())
            .await
            .unwrap()
    );
    assert_eq!(client.get(key.clone()).await.unwrap(), Some(value));
    assert!(
        client
            .set(key.clone(), Bytes::new(), SetOptions::default())
            .await
            .unwrap()
    );
    assert_eq!(
        client.get(key).await.unwrap(),
        Some(Bytes::new()),
        "empty value"
    );
    service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_service_means_a_timeout_error() {
    let broker = Broker::embedded().await;
    let client = client(&broker, "lonely")
        .await
        .with_timeout(Duration::from_millis(300));
    let error = client.get("k").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Timeout);
    assert!(error.is_retryable());
    assert_eq!(error.reason_code(), "statestore_timeout");
    assert!(error.to_string().contains("no response"), "{error}");
    client.close();
    assert_eq!(client.get("k").await.unwrap_err().kind(), ErrorKind::Closed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_service_cannot_take_the_same_directory() {
    let broker = Broker::embedded().await;
    let dir = tempfile::tempdir().unwrap();
    let first = service(&broker, &service_id(), dir.path()).await;
    let error = statestore::StateStoreService::start(
        common::config(&broker, "second"),
        dir.path().to_owned(),
    )
    .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Storage);
    assert!(
        error.to_string().contains("another state store service"),
        "{error}"
    );
    first.shutdown().await;
}

/// SETs queued back to back (without waiting for their replies) are applied in order, so the
/// key ends with the last value: what the `BrokerStateStore` destination relies on.
async fn queued_sets_land_in_order(broker: Broker) {
    let dir = tempfile::tempdir().unwrap();
    let service = service(&broker, &service_id(), dir.path()).await;
    let client = client(&broker, "kv").await;
    let mut queued = Vec::new();
    for n in 0..200 {
        let value = Bytes::from(format!("{{\"n\":{n}}}"));
        queued.push(
            client
                .queue_set("latest", value, SetOptions::default())
                .await
                .unwrap(),
        );
    }
    for set in queued {
        assert!(
            tokio::time::timeout(WAIT, set.applied())
                .await
                .unwrap()
                .unwrap()
        );
    }
    assert_eq!(
        client.get("latest").await.unwrap(),
        Some(Bytes::from("{\"n\":199}"))
    );
    service.shutdown().await;
}
