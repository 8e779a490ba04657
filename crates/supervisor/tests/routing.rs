//! Plans to publishes against real HTTP SSE servers: routing, headers, shared connections,
//! reload by difference, and failures that stop one stream only.

mod common;

use std::time::Duration;

use aio_mqtt::Qos;
use common::*;
use model::destination::Sink;
use model::plan::Credentials;
use supervisor::{StreamState, Supervisor, SupervisorConfig};
use test_support::{Response, SseServer};

const EVENTS: &str = "id: 1\nevent: reading\ndata: {\"t\":21.5,\"unit\":\"C\"}\n\n\
                      id: 2\nevent: alarm\ndata: leak\n\n\
                      event: heartbeat\ndata: x\n\n\
                      id: 4\nevent: reading\ndata: oops\n\n";

fn config(dir: &tempfile::TempDir) -> SupervisorConfig {
    SupervisorConfig::new(dir.path(), "sse-connector-0")
}

#[tokio::test]
async fn datasets_and_events_reach_their_topics_with_aio_headers_over_one_connection() {
    let server = SseServer::http([Response::sse().chunk(EVENTS).hang()]).await;
    let own = SseServer::http([Response::sse()
        .chunk("id: t1\ndata: {\"over\":true}\n\n")
        .hang()])
    .await;
    let shared = spec(&server.url("/events"));
    let mut temps = dataset("temps", shared.clone(), "/events", mqtt("data/temps"));
    temps.matching = types(&["reading"]);
    temps.data_points = vec![point("temperature", "/t"), point("missing", "/nope")];
    temps.type_ref = Some("weather".into());
    let mut state_store = dataset(
        "latest",
        shared.clone(),
        "/events",
        Sink::BrokerStateStore { key: "k".into() },
    );
    state_store.matching = types(&["reading"]);
    let plan = plan([
        dataset("all", shared.clone(), "/events", mqtt("data/all")),
        temps,
        state_store,
        event(
            "alerts",
            "alarm",
            shared.clone(),
            "alarm",
            types(&["alarm"]),
            mqtt("events/alarm"),
        ),
        event(
            "alerts",
            "temperaturethreshold",
            spec(&own.url("/events/temperaturethreshold")),
            "/events/temperaturethreshold",
            model::plan::Match::All,
            mqtt("events/tt"),
        ),
    ]);

    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::new(Mode::Ack);
    let mut sup = Supervisor::new(config(&dir), recorder.clone());
    let applied = sup.apply(&plan);
    assert_eq!(applied.started.len(), 2, "two distinct streams");
    assert_eq!(applied.unsupported.len(), 1, "the state store dataset");
    assert_eq!(applied.unsupported[0].sink, "BrokerStateStore");
    assert_eq!(
        applied.unsupported[0].reason,
        "no state store is configured"
    );

    // all: 4 events; temps: event 1 (event 4 is not JSON); alarm: event 2; tt: 1.
    let messages = recorder.wait_for(7).await;
    settle().await;
    let messages = if recorder.count() > messages.len() {
        recorder.messages()
    } else {
        messages
    };
    let on = |topic: &str| -> Vec<_> { messages.iter().filter(|m| m.topic == topic).collect() };
    assert_eq!(messages.len(), 7, "{messages:#?}");
    assert_eq!(on("data/all").len(), 4);
    assert_eq!(on("data/temps").len(), 1);
    assert_eq!(on("events/alarm").len(), 1);
    assert_eq!(on("events/tt").len(), 1);

    let temp = on("data/temps")[0];
    assert_eq!(payload(temp), r#"{"temperature":21.5}"#, "projected");
    assert_eq!(temp.content_type.as_deref(), Some("application/json"));
    assert_eq!(prop(temp, "type"), Some("DataSet/weather"));
    assert_eq!(prop(temp, "subject"), Some("mysseasset/temps"));
    assert_eq!(prop(temp, "source"), Some("ms-aio:camera-42/events"));

    let alarm = on("events/alarm")[0];
    assert_eq!(payload(alarm), "leak");
    assert_eq!(
        alarm.content_type.as_deref(),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(alarm.qos, Qos::AtLeastOnce);
    assert!(!alarm.retain);
    assert_eq!(alarm.expiry_secs, Some(10), "AIO's default without ttl");
    assert_eq!(alarm.correlation_data.as_ref().map(|c| c.len()), Some(16));
    let names: Vec<_> = alarm
        .user_properties
        .iter()
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "sse-event",
            "sse-id",
            "aiodeviceref",
            "aioassetref",
            "id",
            "source",
            "specversion",
            "type",
            "subject",
            "time",
            "__ts",
            "__protVer",
            "__srcId"
        ]
    );
    assert_eq!(prop(alarm, "sse-event"), Some("alarm"));
    assert_eq!(prop(alarm, "sse-id"), Some("2"));
    assert_eq!(
        prop(alarm, "aiodeviceref"),
        Some("ms-aio:dev-uuid/sse-connector-0")
    );
    assert_eq!(prop(alarm, "aioassetref"), Some("ms-aio:asset-uuid"));
    assert_eq!(prop(alarm, "source"), Some("ms-aio:camera-42/alarm"));
    assert_eq!(prop(alarm, "type"), Some("Event"));
    assert_eq!(prop(alarm, "subject"), Some("mysseasset/alerts/alarm"));
    assert_eq!(prop(alarm, "specversion"), Some("1.0"));
    assert_eq!(prop(alarm, "__protVer"), Some("1.0"));
    assert_eq!(prop(alarm, "__srcId"), Some("sse-connector-0"));
    assert!(prop(alarm, "time").is_some_and(|t| t.len() == 20 && t.ends_with('Z')));

    // The heartbeat inherited id 2; the raw dataset keeps the payload as it is.
    let all = on("data/all");
    assert_eq!(prop(all[2], "sse-event"), Some("heartbeat"));
    assert_eq!(prop(all[2], "sse-id"), Some("2"));
    assert_eq!(payload(all[3]), "oops");

    let tt = on("events/tt")[0];
    assert_eq!(
        prop(tt, "source"),
        Some("ms-aio:camera-42/events/temperaturethreshold")
    );
    assert_eq!(prop(tt, "sse-event"), Some("message"));
    assert_eq!(
        prop(tt, "subject"),
        Some("mysseasset/alerts/temperaturethreshold")
    );

    // One connection for the four operations of the shared endpoint.
    assert_eq!(server.requests().len(), 1);
    assert_eq!(own.requests().len(), 1);
    let handle = sup.stream(&shared.url).unwrap();
    assert_eq!(handle.operations.len(), 4);
    assert_eq!(*handle.state.borrow(), StreamState::Connected);
    let stats = handle.stats.snapshot();
    assert_eq!(stats.events, 4);
    assert_eq!(stats.not_json, 1, "event 4 for the data point dataset");
    assert_eq!(stats.missing_data_points, 1);
    assert_eq!(stats.delivered, 6);
    sup.shutdown().await;
}

#[tokio::test]
async fn events_of_a_group_stream_that_no_operation_takes_are_counted() {
    let server = SseServer::http([Response::sse().chunk(EVENTS).hang()]).await;
    let stream = spec(&server.url("/"));
    let plan = plan([event(
        "g",
        "alarm",
        stream.clone(),
        "alarm",
        types(&["alarm"]),
        mqtt("events/alarm"),
    )]);
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::new(Mode::Ack);
    let mut sup = Supervisor::new(config(&dir), recorder.clone());
    sup.apply(&plan);
    let handle = sup.stream(&stream.url).unwrap();
    eventually("4 events read", || handle.stats.snapshot().events == 4).await;
    assert_eq!(recorder.count(), 1);
    assert_eq!(handle.stats.snapshot().unmatched, 3);
    sup.shutdown().await;
}

#[tokio::test]
async fn an_edited_plan_restarts_only_the_changed_stream() {
    let a = SseServer::http([Response::sse()
        .chunk("id: a1\ndata: one\n\nid: a2\ndata: two\n\n")
        .hang()])
    .await;
    let b = SseServer::http([
        Response::sse().chunk("id: b1\ndata: one\n\n").hang(),
        Response::sse().chunk("id: b2\ndata: v2\n\n").hang(),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    // One event in flight per stream: the second event of `a` is read only once the first is
    // acknowledged, which the test does after the edit.
    let mut cfg = config(&dir);
    cfg.max_in_flight = 1.try_into().unwrap();
    let recorder = Recorder::new(Mode::Hold);
    let mut sup = Supervisor::new(cfg, recorder.clone());
    let op_a = dataset("a", spec(&a.url("/a")), "/a", mqtt("t/a"));
    let op_b = dataset("b", spec(&b.url("/v1")), "/v1", mqtt("t/b"));
    sup.apply(&plan([op_a.clone(), op_b.clone()]));
    recorder.wait_for(2).await;

    let mut op_a2 = op_a.clone();
    op_a2.sink = mqtt("t/a-new");
    let mut op_b2 = op_b.clone();
    op_b2.stream = spec(&b.url("/v2"));
    let applied = sup.apply(&plan([op_a2, op_b2]));
    assert_eq!(applied.updated, std::slice::from_ref(&op_a.stream.url));
    assert_eq!(applied.stopped, std::slice::from_ref(&op_b.stream.url));
    assert_eq!(applied.started.len(), 1);
    assert!(applied.started[0].as_str().ends_with("/v2"));
    let current = sup.plan().clone();
    assert_eq!(
        sup.apply(&current),
        supervisor::Applied::default(),
        "same plan: nothing"
    );

    recorder.set_mode(Mode::Ack);
    recorder.release_all();
    let messages = recorder.wait_for(4).await;
    let b_requests = b.wait_for_requests(2, Duration::from_secs(30)).await;
    assert_eq!(b_requests[1].path, "/v2");
    assert!(
        messages
            .iter()
            .any(|m| m.topic == "t/a-new" && payload(m) == "two"),
        "a's next event goes to its new topic: {messages:#?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.topic == "t/b" && payload(m) == "v2")
    );
    settle().await;
    assert_eq!(
        a.requests().len(),
        1,
        "the unchanged stream was not reconnected"
    );
    sup.shutdown().await;
}

#[tokio::test]
async fn an_unauthorized_stream_fails_alone() {
    let creds = tempfile::tempdir().unwrap();
    let user = creds.path().join("username");
    let good = creds.path().join("password");
    let bad = creds.path().join("wrong");
    std::fs::write(&user, "alice").unwrap();
    std::fs::write(&good, "s3cret").unwrap();
    std::fs::write(&bad, "guess").unwrap();
    let locked = SseServer::http([]).await;
    locked.require_basic_auth("alice", "s3cret");
    let open = SseServer::http([Response::sse().chunk("id: 1\ndata: ok\n\n").hang()]).await;
    open.require_basic_auth("alice", "s3cret");

    let with = |url: String, password: &std::path::Path| {
        let mut s = spec(&url);
        s.credentials = Credentials::UsernamePassword {
            username: file(&user),
            password: file(password),
        };
        s
    };
    let denied = with(locked.url("/"), &bad);
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::new(Mode::Ack);
    let mut sup = Supervisor::new(config(&dir), recorder.clone());
    sup.apply(&plan([
        dataset("denied", denied.clone(), "", mqtt("t/denied")),
        dataset("fine", with(open.url("/"), &good), "", mqtt("t/fine")),
    ]));
    let messages = recorder.wait_for(1).await;
    assert_eq!(messages[0].topic, "t/fine");
    let mut state = sup.stream(&denied.url).unwrap().state;
    let failed = tokio::time::timeout(
        Duration::from_secs(30),
        state.wait_for(StreamState::is_terminal),
    )
    .await
    .unwrap()
    .unwrap()
    .clone();
    match failed {
        StreamState::Failed { code, reason } => {
            assert_eq!(code, "http_unauthorized");
            assert!(
                !reason.contains("s3cret") && !reason.contains("guess"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    settle().await;
    assert_eq!(locked.requests().len(), 1, "not retried");
    assert_eq!(recorder.count(), 1);
    sup.shutdown().await;
}

#[tokio::test]
async fn a_missing_secret_or_a_204_stops_that_stream_with_its_reason() {
    let closed = SseServer::http([Response::status(204)]).await;
    let nobody = SseServer::http([]).await;
    let mut missing = spec(&nobody.url("/"));
    missing.credentials = Credentials::UsernamePassword {
        username: file(std::path::Path::new("/nonexistent/username")),
        password: file(std::path::Path::new("/nonexistent/password")),
    };
    let dir = tempfile::tempdir().unwrap();
    let mut sup = Supervisor::new(config(&dir), Recorder::new(Mode::Ack));
    let closed_spec = spec(&closed.url("/"));
    sup.apply(&plan([
        dataset("missing", missing.clone(), "", mqtt("t/1")),
        dataset("closed", closed_spec.clone(), "", mqtt("t/2")),
    ]));
    let wait = |url: &url::Url| {
        let mut state = sup.stream(url).unwrap().state;
        async move {
            tokio::time::timeout(
                Duration::from_secs(30),
                state.wait_for(StreamState::is_terminal),
            )
            .await
            .unwrap()
            .unwrap()
            .clone()
        }
    };
    match wait(&missing.url).await {
        StreamState::Failed { code, .. } => assert_eq!(code, "secret_unreadable"),
        other => panic!("{other:?}"),
    }
    let closed_state = wait(&closed_spec.url).await;
    assert!(matches!(closed_state, StreamState::Closed { .. }));
    assert_eq!(closed_state.health_code(), Some("SseConnectorStreamClosed"));
    assert!(
        nobody.requests().is_empty(),
        "no request without credentials"
    );
    sup.shutdown().await;
}
