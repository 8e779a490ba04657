//! The operators of a real module (the test guest in `tests/wasm-guest`, built for
//! wasm32-wasip2), and modules that must be refused, written in WAT.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use transform::{Clock, Error, Limits, Message, Module, Operator, OperatorKind, Output, Runtime};

/// The guest CI built (`SSE_CONNECTOR_TEST_GUEST`), else the copy committed beside this test.
fn guest_path() -> PathBuf {
    std::env::var_os("SSE_CONNECTOR_TEST_GUEST")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/guest.wasm"))
}

/// Generous time limits: these tests are about results, not speed, and the machine may be
/// busy. The time limit itself is checked with the default of 10 ms.
fn limits() -> Limits {
    Limits {
        per_event: Duration::from_secs(5),
        init: Duration::from_secs(5),
        ..Limits::default()
    }
}

/// One runtime and one compiled guest for the tests of this file (compiling is the slow part).
fn shared() -> &'static (Runtime, Module) {
    static SHARED: OnceLock<(Runtime, Module)> = OnceLock::new();
    SHARED.get_or_init(|| {
        let rt = Runtime::new(limits()).expect("runtime");
        let module = Module::from_file(&rt, &guest_path()).expect("the test guest loads");
        (rt, module)
    })
}

fn runtime() -> Runtime {
    shared().0.clone()
}

/// The guest, compiled by `runtime` (again, unless it is the shared one).
fn guest(runtime: &Runtime) -> Module {
    if *runtime == shared().0 {
        return shared().1.clone();
    }
    Module::from_file(runtime, &guest_path()).expect("the test guest loads")
}

fn message(payload: &str) -> Message {
    Message {
        topic: "sse/readings".into(),
        payload: Bytes::copy_from_slice(payload.as_bytes()),
        content_type: Some("application/json".into()),
        timestamp: Clock {
            secs: 1_700_000_000,
            nanos: 5,
            counter: 1,
            node_id: "node".into(),
        },
        properties: vec![
            ("sse-event".into(), "reading".into()),
            ("sse-id".into(), "7".into()),
        ],
    }
}

async fn operator(runtime: &Runtime, kind: OperatorKind, mode: &str) -> Result<Operator, Error> {
    Operator::new(guest(runtime), kind, vec![("mode".into(), mode.into())]).await
}

#[tokio::test]
async fn map_passes_a_message_through_unchanged() {
    let rt = runtime();
    let mut op = operator(&rt, OperatorKind::Map, "pass")
        .await
        .expect("init");
    let input = message(r#"{"t":21.5}"#);
    let out = op.process(&input).await.expect("process");
    assert_eq!(out, Output::Message(input.clone()));
    // The same instance keeps running.
    assert_eq!(
        op.process(&input).await.expect("again"),
        Output::Message(input)
    );
}

#[tokio::test]
async fn map_rewrites_json_and_topic() {
    let rt = runtime();
    let mut json = operator(&rt, OperatorKind::Map, "json")
        .await
        .expect("init");
    let Output::Message(out) = json.process(&message(r#"{"t":21.5}"#)).await.expect("json") else {
        panic!("a map returns a message");
    };
    let value: serde_json::Value = serde_json::from_slice(&out.payload).expect("JSON");
    assert_eq!(value, serde_json::json!({"t": 21.5, "transformed": true}));
    assert_eq!(out.topic, "sse/readings");
    assert_eq!(out.properties, message("").properties);

    let mut topic = operator(&rt, OperatorKind::Map, "topic:sse/other")
        .await
        .expect("init");
    let Output::Message(out) = topic.process(&message("{}")).await.expect("topic") else {
        panic!("a map returns a message");
    };
    assert_eq!(out.topic, "sse/other");
    assert_eq!(out.payload, "{}");
}

#[tokio::test]
async fn filter_and_branch_decide() {
    let rt = runtime();
    let cases = [
        (OperatorKind::Filter, "pass", r#"{"a":1}"#, true),
        (OperatorKind::Filter, "drop", r#"{"a":1}"#, false),
        (OperatorKind::Filter, "drop-event:reading", "{}", false),
        (OperatorKind::Filter, "drop-event:heartbeat", "{}", true),
        (OperatorKind::Filter, "field:a", r#"{"a":1}"#, true),
        (OperatorKind::Filter, "field:b", r#"{"a":1}"#, false),
        (OperatorKind::Branch, "pass", "{}", false),
        (OperatorKind::Branch, "true", "{}", true),
        (OperatorKind::Branch, "field:alarm", r#"{"alarm":1}"#, true),
    ];
    for (kind, mode, payload, expected) in cases {
        let mut op = operator(&rt, kind, mode).await.expect("init");
        assert_eq!(
            op.process(&message(payload)).await.expect("process"),
            Output::Decision(expected),
            "{kind} {mode} {payload}"
        );
    }
}

#[tokio::test]
async fn init_that_refuses_is_an_error() {
    let rt = runtime();
    let err = operator(&rt, OperatorKind::Map, "init-fails")
        .await
        .expect_err("refused");
    assert!(matches!(err, Error::InitRefused { .. }), "{err}");
}

#[tokio::test]
async fn failures_drop_the_instance_and_the_next_call_gets_a_new_one() {
    let rt = runtime();
    type Expected = fn(&Error) -> bool;
    let cases: [(&str, Expected); 3] = [
        ("panic", |e| matches!(e, Error::Trap { .. })),
        ("oom", |e| matches!(e, Error::Trap { .. })),
        (
            "error",
            |e| matches!(e, Error::Guest { message, .. } if message.contains("on purpose")),
        ),
    ];
    for (mode, expected) in cases {
        for kind in [
            OperatorKind::Map,
            OperatorKind::Filter,
            OperatorKind::Branch,
        ] {
            let mut op = operator(&rt, kind, mode).await.expect("init");
            for _ in 0..2 {
                let err = op.process(&message("{}")).await.expect_err(mode);
                assert!(expected(&err), "{kind} {mode}: {err}");
            }
        }
    }
}

#[tokio::test]
async fn a_call_beyond_its_time_limit_is_interrupted() {
    let rt = Runtime::new(Limits {
        init: Duration::from_secs(5),
        ..Limits::default()
    })
    .expect("runtime");
    let module = guest(&rt);
    for kind in [
        OperatorKind::Map,
        OperatorKind::Filter,
        OperatorKind::Branch,
    ] {
        let config = vec![("mode".into(), "loop".into())];
        let mut op = Operator::new(module.clone(), kind, config)
            .await
            .expect("init");
        for _ in 0..2 {
            let err = op.process(&message("{}")).await.expect_err("loop");
            assert!(
                matches!(err, Error::Timeout { limit_ms: 10, .. }),
                "{kind}: {err}"
            );
        }
    }
}

#[tokio::test]
async fn an_instance_after_an_error_runs_again() {
    let rt = runtime();
    let mut op = operator(&rt, OperatorKind::Map, "fail-every:2")
        .await
        .expect("init");
    let input = message("{}");
    assert!(op.process(&input).await.is_ok(), "call 1");
    assert!(
        matches!(op.process(&input).await, Err(Error::Guest { .. })),
        "call 2"
    );
    // A new instance: its call counter starts again, so call 1 of it passes.
    assert_eq!(
        op.process(&input).await.expect("new instance"),
        Output::Message(input)
    );
}

#[tokio::test]
async fn memory_beyond_the_limit_traps() {
    let rt = Runtime::new(Limits {
        memory_bytes: 4 << 20,
        ..limits()
    })
    .expect("runtime");
    let mut op = operator(&rt, OperatorKind::Map, "oom").await.expect("init");
    let err = op.process(&message("{}")).await.expect_err("oom");
    assert!(matches!(err, Error::Trap { .. }), "{err}");
}

#[test]
fn the_guest_exports_every_operator() {
    let rt = runtime();
    let module = guest(&rt);
    for kind in [
        OperatorKind::Map,
        OperatorKind::Filter,
        OperatorKind::Branch,
    ] {
        assert!(module.exports(kind), "{kind}");
    }
}

#[test]
fn a_core_module_is_not_a_component() {
    let rt = runtime();
    let err = Module::from_bytes(&rt, "core.wat", br#"(module (func (export "process")))"#)
        .expect_err("a core module");
    assert!(matches!(err, Error::NotAComponent { .. }), "{err}");
    assert!(err.is_configuration());
    let err = Module::from_bytes(&rt, "junk", b"\0asm junk").expect_err("junk");
    assert!(matches!(err, Error::NotAComponent { .. }), "{err}");
}

#[test]
fn a_component_without_operators_is_refused() {
    let rt = runtime();
    let err = Module::from_bytes(&rt, "empty.wat", b"(component)").expect_err("no exports");
    assert!(
        matches!(&err, Error::Exports { detail, .. } if detail.contains("none of")),
        "{err}"
    );
}

#[test]
fn a_component_that_imports_what_the_host_lacks_is_refused() {
    let rt = runtime();
    let wat = r#"(component (import "example:unknown/thing" (instance (export "f" (func)))))"#;
    let err = Module::from_bytes(&rt, "imports.wat", wat.as_bytes()).expect_err("imports");
    assert!(
        matches!(&err, Error::Exports { detail, .. } if detail.contains("imports")),
        "{err}"
    );
}

#[tokio::test]
async fn an_operator_with_missing_functions_is_refused() {
    // A component exporting an instance named like the filter interface, without its
    // functions.
    let rt = runtime();
    let wat = r#"(component
        (instance $f)
        (export "wasm-graph:processor/filter@1.1.0" (instance $f)))"#;
    match Module::from_bytes(&rt, "filter.wat", wat.as_bytes()) {
        Ok(module) => {
            let err = Operator::new(module, OperatorKind::Filter, Vec::new())
                .await
                .expect_err("no functions");
            assert!(matches!(err, Error::Exports { .. }), "{err}");
        }
        Err(err) => assert!(matches!(err, Error::Exports { .. }), "{err}"),
    }
}
