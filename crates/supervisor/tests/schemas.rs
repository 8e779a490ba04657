//! Message schemas through the runtime, against real HTTP SSE servers and a recording
//! registrar: versions registered in order as shapes widen, `dataschema` from the message
//! after a registration on, registrations that never hold the stream up, retries, and a
//! payload that is not JSON (degraded, the stream goes on).
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Mutex};

use aio_mqtt::Message;
use common::*;
use schema::{RegisterError, RegisterErrorKind, RegisterRequest, SchemaReference, SchemaRegistrar};
use supervisor::{OperationSchema, StreamState, Supervisor, SupervisorConfig};
use test_support::{Gate, Response, SseServer};

/// Records every request; answers `aio-sr://ns/{name}:{version}` once `open` is open, or
/// fails the first `fail_first` requests as unreachable.
#[derive(Clone)]
struct Registrar {
    requests: Arc<Mutex<Vec<RegisterRequest>>>,
    open: Gate,
    fail_first: usize,
}

impl Registrar {
    fn new() -> Self {
        let open = Gate::new();
        open.open();
        Self {
            requests: Arc::default(),
            open,
            fail_first: 0,
        }
    }

    fn held() -> Self {
        Self {
            open: Gate::new(),
            ..Self::new()
        }
    }

    fn requests(&self) -> Vec<RegisterRequest> {
        self.requests.lock().unwrap().clone()
    }

    fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}

impl SchemaRegistrar for Registrar {
    async fn register(&self, request: RegisterRequest) -> Result<SchemaReference, RegisterError> {
        let n = {
            let mut requests = self.requests.lock().unwrap();
            requests.push(request.clone());
            requests.len()
        };
        self.open.passed().await;
        if n <= self.fail_first {
            return Err(RegisterError::new(
                RegisterErrorKind::Unavailable,
                "no connection",
            ));
        }
        Ok(SchemaReference {
            namespace: "ns".into(),
            name: request.name,
            version: request.version,
        })
    }
}

fn config(dir: &tempfile::TempDir) -> SupervisorConfig {
    SupervisorConfig::new(dir.path(), "sse-connector-0")
}

fn event(id: u32, data: &str) -> String {
    format!("id: {id}\nevent: reading\ndata: {data}\n\n")
}

fn data_schema(m: &Message) -> Option<&str> {
    prop(m, "dataschema")
}

/// Waits until the operation's status satisfies `condition`, and returns it.
async fn schema_status<P: sinks::Publisher>(
    sup: &Supervisor<P>,
    what: &str,
    condition: impl Fn(&OperationSchema) -> bool,
) -> OperationSchema {
    let id = sup.plan().operations.keys().next().unwrap().clone();
    eventually(what, || sup.schema(&id).is_some_and(|s| condition(&s))).await;
    sup.schema(&id).unwrap()
}

fn reference_version(s: &OperationSchema) -> Option<&str> {
    s.reference.as_ref().map(|r| r.version.as_str())
}

#[tokio::test]
async fn widening_shapes_register_versions_in_order_and_dataschema_follows() {
    let (g1, g2, g3) = (Gate::new(), Gate::new(), Gate::new());
    let server = SseServer::http([Response::sse()
        .chunk(event(1, r#"{"t":21,"unit":"C"}"#))
        .wait_for(&g1)
        .chunk(event(2, r#"{"unit":"F","t":70}"#))
        .wait_for(&g2)
        .chunk(event(3, r#"{"t":21.5,"unit":"C","ok":true}"#))
        .wait_for(&g3)
        .chunk(event(4, r#"{"t":22,"unit":"C"}"#))
        .hang()])
    .await;
    let registrar = Registrar::new();
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::new(Mode::Ack);
    let mut sup = Supervisor::new(config(&dir), recorder.clone()).with_schemas(registrar.clone());
    sup.apply(&plan([dataset(
        "temps",
        spec(&server.url("/events")),
        "/events",
        mqtt("data/temps"),
    )]));

    // Event 1: the first shape; its message goes out before the registration.
    let messages = recorder.wait_for(1).await;
    assert_eq!(data_schema(&messages[0]), None);
    let status = schema_status(&sup, "version 1", |s| reference_version(s) == Some("1")).await;
    let v1 = status.reference.clone().unwrap();
    g1.open();
    // Event 2: same shape, keys in another order: no new version; the reference is on.
    let messages = recorder.wait_for(2).await;
    let first = format!("aio-sr://ns/{}:1", v1.name);
    assert_eq!(data_schema(&messages[1]), Some(first.as_str()));
    assert_eq!(v1.to_string(), first);

    // Event 3 widens (integer → number, a new property): no reference until version 2.
    g2.open();
    let messages = recorder.wait_for(3).await;
    assert_eq!(
        data_schema(&messages[2]),
        None,
        "the shape widened past version 1"
    );
    let status = schema_status(&sup, "version 2", |s| reference_version(s) == Some("2")).await;
    let v2 = status.reference.clone().unwrap();
    assert_ne!(v1.name, v2.name, "a new content, a new name");
    g3.open();
    let messages = recorder.wait_for(4).await;
    let second = format!("aio-sr://ns/{}:2", v2.name);
    assert_eq!(data_schema(&messages[3]), Some(second.as_str()));
    // `dataschema` sits between `time` and `__ts`.
    let names: Vec<&str> = messages[3]
        .user_properties
        .iter()
        .map(|(k, _)| k.as_str())
        .collect();
    let at = names.iter().position(|n| *n == "dataschema").unwrap();
    assert_eq!((names[at - 1], names[at + 1]), ("time", "__ts"));

    let requests = registrar.requests();
    let versions: Vec<&str> = requests.iter().map(|r| r.version.as_str()).collect();
    assert_eq!(versions, ["1", "2"]);
    assert_eq!(
        requests[0].content,
        r#"{"$schema":"http://json-schema.org/draft-07/schema#","properties":{"t":{"type":"integer"},"unit":{"type":"string"}},"required":["t","unit"],"type":"object"}"#
    );
    assert_eq!(
        requests[1].content,
        r#"{"$schema":"http://json-schema.org/draft-07/schema#","properties":{"ok":{"type":"boolean"},"t":{"type":"number"},"unit":{"type":"string"}},"required":["t","unit"],"type":"object"}"#
    );
    for r in &requests {
        assert_eq!(r.name, schema::name_of(&r.content));
        assert_eq!(r.display_name, "mysseasset/temps");
    }
    assert_eq!(status.failure, None);
    assert_eq!(status.health_code(), None);
    sup.shutdown().await;
}

#[tokio::test]
async fn a_registration_never_holds_the_stream_up() {
    let (g1, g2) = (Gate::new(), Gate::new());
    let server = SseServer::http([Response::sse()
        .chunk(event(1, r#"{"a":1}"#))
        .chunk(event(2, r#"{"a":2,"b":"x"}"#))
        .chunk(event(3, r#"{"a":3}"#))
        .wait_for(&g1)
        .chunk(event(4, r#"{"a":4}"#))
        .wait_for(&g2)
        .chunk(event(5, r#"{"a":5,"b":"y"}"#))
        .hang()])
    .await;
    let registrar = Registrar::held();
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::new(Mode::Ack);
    let mut sup = Supervisor::new(config(&dir), recorder.clone()).with_schemas(registrar.clone());
    sup.apply(&plan([dataset(
        "d",
        spec(&server.url("/events")),
        "/events",
        mqtt("t"),
    )]));

    // The registrar does not answer: every message goes out anyway, without `dataschema`.
    let messages = recorder.wait_for(3).await;
    assert!(messages.iter().all(|m| data_schema(m).is_none()));
    settle().await;
    assert_eq!(registrar.count(), 1, "one registration in flight at a time");

    // It answers version 1 (the first shape); event 2 widened the shape meanwhile, so the
    // next payload starts version 2 with everything seen so far, and goes without a reference.
    registrar.open.open();
    schema_status(&sup, "version 1", |s| reference_version(s) == Some("1")).await;
    g1.open();
    let messages = recorder.wait_for(4).await;
    assert_eq!(data_schema(&messages[3]), None);
    schema_status(&sup, "version 2", |s| reference_version(s) == Some("2")).await;
    g2.open();
    let messages = recorder.wait_for(5).await;
    assert!(data_schema(&messages[4]).is_some_and(|s| s.ends_with(":2")));
    let requests = registrar.requests();
    let versions: Vec<&str> = requests.iter().map(|r| r.version.as_str()).collect();
    assert_eq!(versions, ["1", "2"]);
    assert_eq!(
        requests[1].content,
        r#"{"$schema":"http://json-schema.org/draft-07/schema#","properties":{"a":{"type":"integer"},"b":{"type":"string"}},"required":["a"],"type":"object"}"#
    );
    sup.shutdown().await;
}

#[tokio::test]
async fn a_failed_registration_is_tried_again() {
    let (g1, g2) = (Gate::new(), Gate::new());
    let server = SseServer::http([Response::sse()
        .chunk(event(1, r#"{"a":1}"#))
        .wait_for(&g1)
        .chunk(event(2, r#"{"a":2}"#))
        .wait_for(&g2)
        .chunk(event(3, r#"{"a":3}"#))
        .hang()])
    .await;
    let registrar = Registrar {
        fail_first: 1,
        ..Registrar::new()
    };
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::new(Mode::Ack);
    let mut sup = Supervisor::new(config(&dir), recorder.clone()).with_schemas(registrar.clone());
    sup.apply(&plan([dataset(
        "d",
        spec(&server.url("/events")),
        "/events",
        mqtt("t"),
    )]));

    let status = schema_status(&sup, "a registration error", |s| {
        s.registration_error.is_some()
    })
    .await;
    let error = status.registration_error.clone().unwrap();
    assert_eq!(error.reason_code, "schema_registry_unavailable");
    assert_eq!(
        status.health_code(),
        Some("SseConnectorSchemaGenerationFailure")
    );
    // The next payload after the backoff (1 s) tries again.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    g1.open();
    let status = schema_status(&sup, "version 1", |s| reference_version(s) == Some("1")).await;
    assert_eq!(status.registration_error, None);
    assert_eq!(status.health_code(), None);
    g2.open();
    let messages = recorder.wait_for(3).await;
    assert_eq!(data_schema(&messages[1]), None);
    assert!(data_schema(&messages[2]).is_some_and(|s| s.ends_with(":1")));
    assert_eq!(registrar.count(), 2);
    sup.shutdown().await;
}

#[tokio::test]
async fn a_payload_that_is_not_json_degrades_the_operation_and_the_stream_goes_on() {
    let gate = Gate::new();
    let server = SseServer::http([Response::sse()
        .chunk(event(1, r#"{"a":1}"#))
        .wait_for(&gate)
        .chunk(event(2, "leak"))
        .chunk(event(3, r#"{"a":2,"#))
        .chunk(event(4, r#"{"a":3}"#))
        .hang()])
    .await;
    let registrar = Registrar::new();
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::new(Mode::Ack);
    let mut sup = Supervisor::new(config(&dir), recorder.clone()).with_schemas(registrar.clone());
    sup.apply(&plan([dataset(
        "d",
        spec(&server.url("/events")),
        "/events",
        mqtt("t"),
    )]));
    schema_status(&sup, "version 1", |s| s.reference.is_some()).await;
    gate.open();

    let messages = recorder.wait_for(4).await;
    assert_eq!(payload(&messages[1]), "leak", "forwarded unchanged");
    assert_eq!(
        messages[1].content_type.as_deref(),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(data_schema(&messages[1]), None);
    assert_eq!(data_schema(&messages[2]), None);
    assert!(data_schema(&messages[3]).is_some_and(|s| s.ends_with(":1")));

    let status = schema_status(&sup, "the failure", |s| s.failure.is_some()).await;
    let failure = status.failure.clone().unwrap();
    assert_eq!(failure.code, "SseConnectorSchemaGenerationFailure");
    assert_eq!(failure.reason_code, "not_json");
    assert!(!failure.reason.contains("leak"), "{}", failure.reason);
    assert_eq!(
        status.health_code(),
        Some("SseConnectorSchemaGenerationFailure")
    );
    assert!(status.reference.is_some(), "the schema stays");
    assert_eq!(
        registrar.count(),
        1,
        "payloads that are not JSON change nothing"
    );
    let stream = &sup.streams()[0];
    assert_eq!(*stream.state.borrow(), StreamState::Connected);
    assert_eq!(stream.schemas.borrow().len(), 1);
    sup.shutdown().await;
}

#[tokio::test]
async fn without_a_registrar_nothing_is_inferred() {
    let server = SseServer::http([Response::sse()
        .chunk(event(1, r#"{"a":1}"#))
        .chunk(event(2, "leak"))
        .hang()])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::new(Mode::Ack);
    let mut sup = Supervisor::new(config(&dir), recorder.clone());
    sup.apply(&plan([dataset(
        "d",
        spec(&server.url("/events")),
        "/events",
        mqtt("t"),
    )]));
    let messages = recorder.wait_for(2).await;
    assert!(messages.iter().all(|m| data_schema(m).is_none()));
    assert!(sup.schemas().is_empty());
    sup.shutdown().await;
}
