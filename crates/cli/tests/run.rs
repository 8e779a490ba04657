//! `sse-connector run` end to end: the real binary, real SSE servers and a real mosquitto,
//! checked by a real subscriber.
//!
//! - an endpoint shared by several datasets and events opens one connection;
//! - a registry edit while running touches only what changed;
//! - a non-retryable source error (401) stops only its stream;
//! - SIGTERM exits 0 with checkpoints saved; `/healthz` and `/readyz`;
//! - AIO's environment variables and the config file choose the broker and the client id.
//!
//! The message format is checked in `run_messages.rs`; delivery across failures (source
//! drops, broker restart, SIGKILL) in `run_delivery.rs`.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{
    Broker, Connector, LIMIT, Options, SETTLE, asset_head, checkpoints, dataset, device,
    event_number, eventually, http_get, mqtt_destination, property, receive_until, wait_for_status,
    write_atomic,
};
use test_support::{
    Gate, Mosquitto, MqttSubscriber, ReceivedMessage, Response, ResumableSource, SourceConfig,
    SseServer,
};

fn path(dir: &tempfile::TempDir) -> &str {
    dir.path().to_str().unwrap()
}

/// Two datasets and two events of an event group all read `/s` of one endpoint; an event with
/// its own path reads `/own`. The server sees one connection to each URL, and every operation
/// gets its events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_on_one_url_share_one_connection() {
    let gate = Gate::new();
    let server = SseServer::http([]).await;
    server.set_fallback(
        Response::sse()
            .wait_for(&gate)
            .chunk("id: 1\nevent: reading\ndata: {\"t\":1}\n\n")
            .chunk("id: 2\nevent: alarm\ndata: {\"a\":2}\n\n")
            .hang(),
    );
    let registry = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    write_atomic(
        &registry.path().join("devices/dev.yaml"),
        &device("dev", "ep", &server.url("/"), &[]),
    );
    let asset = asset_head("plant", "dev", "ep", &[])
        + "  datasets:\n"
        + &dataset("all", "/s", "it/all", &[])
        + "      datasetConfiguration: '{\"eventTypes\": [\"reading\"]}'\n"
        + &dataset("everything", "s", "it/everything", &[])
        + "  eventGroups:\n    - name: group\n      dataSource: /s\n      defaultDestinations:\n"
        + &mqtt_destination(8, "it/group", &[])
        + "      events:\n        - name: alarm\n          dataSource: alarm\n        \
           - name: reading\n          dataSource: reading\n        \
           - name: own\n          dataSource: /own\n";
    write_atomic(&registry.path().join("assets/plant.yaml"), &asset);
    let mosquitto = Mosquitto::start();
    let mut subscriber = MqttSubscriber::connect(mosquitto.addr(), "it/#").await;
    let connector = Connector::start(&Options::new(
        registry.path(),
        state.path(),
        Broker::External(mosquitto.addr()),
    ))
    .await;
    gate.open();

    // all: 1 (reading only); everything: 2; group: alarm + reading + own's 2 = 4.
    let received = subscriber.wait_for(7, LIMIT).await;
    tokio::time::sleep(SETTLE).await;
    let extra = subscriber.drain();
    assert!(extra.is_empty(), "unexpected: {extra:#?}");
    let mut by_topic: BTreeMap<&str, Vec<(String, String)>> = BTreeMap::new();
    for m in &received {
        by_topic.entry(&m.topic).or_default().push((
            property(m, "subject").unwrap().to_owned(),
            property(m, "sse-id").unwrap().to_owned(),
        ));
    }
    for list in by_topic.values_mut() {
        list.sort();
    }
    let pairs = |items: &[(&str, &str)]| -> Vec<(String, String)> {
        items
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    };
    assert_eq!(by_topic["it/all"], pairs(&[("plant/all", "1")]));
    assert_eq!(
        by_topic["it/everything"],
        pairs(&[("plant/everything", "1"), ("plant/everything", "2")])
    );
    assert_eq!(
        by_topic["it/group"],
        pairs(&[
            ("plant/group/alarm", "2"),
            ("plant/group/own", "1"),
            ("plant/group/own", "2"),
            ("plant/group/reading", "1"),
        ])
    );

    let paths: Vec<String> = server.requests().iter().map(|r| r.path.clone()).collect();
    let count = |p: &str| paths.iter().filter(|x| *x == p).count();
    assert_eq!(
        count("/s"),
        1,
        "one connection for five operations: {paths:?}"
    );
    assert_eq!(count("/own"), 1, "{paths:?}");
    assert_eq!(paths.len(), 2, "{paths:?}");
    drop(connector);
}

/// Three datasets on `/a`, `/b` of one endpoint. While running, the registry changes the
/// topic of the `/a` dataset and adds a dataset on `/c`: `/a` keeps its connection and its
/// next events go to the new topic; `/c` starts; `/b` is not touched (no new request) and
/// keeps flowing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_edit_restarts_only_what_changed() {
    let source = ResumableSource::start(
        SourceConfig::new(1_000_000)
            .interval(Duration::from_millis(20))
            .event_type("reading"),
    )
    .await;
    let registry = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    write_atomic(
        &registry.path().join("devices/dev.yaml"),
        &device("dev", "ep", &source.base_url(), &[]),
    );
    let asset_file = registry.path().join("assets/plant.yaml");
    let head = asset_head("plant", "dev", "ep", &[]) + "  datasets:\n";
    let b = dataset("b", "/b", "it/b", &[]);
    write_atomic(
        &asset_file,
        &(head.clone() + &dataset("a", "/a", "it/a", &[]) + &b),
    );
    let mosquitto = Mosquitto::start();
    let mut subscriber = MqttSubscriber::connect(mosquitto.addr(), "it/#").await;
    let mut connector = Connector::start(&Options::new(
        registry.path(),
        state.path(),
        Broker::External(mosquitto.addr()),
    ))
    .await;
    let mut received = Vec::new();
    let on = |topic: &'static str| move |m: &ReceivedMessage| m.topic == topic;
    receive_until(
        &mut subscriber,
        &mut received,
        "events on it/a and it/b",
        |r| r.iter().any(on("it/a")) && r.iter().any(on("it/b")),
    )
    .await;
    assert_eq!(source.requests().len(), 2);

    write_atomic(
        &asset_file,
        &(head + &dataset("a", "/a", "it/a2", &[]) + &b + &dataset("c", "/c", "it/c", &[])),
    );
    connector.wait_for_log("definitions changed").await;
    let b_before = received
        .iter()
        .filter(|m| m.topic == "it/b")
        .map(event_number)
        .max()
        .unwrap();
    receive_until(
        &mut subscriber,
        &mut received,
        "events on it/a2, it/c and later ones on it/b",
        |r| {
            r.iter().filter(|m| on("it/a2")(m)).count() >= 3
                && r.iter().any(on("it/c"))
                && r.iter()
                    .any(|m| m.topic == "it/b" && event_number(m) > b_before + 3)
        },
    )
    .await;

    // The routing changed at an event boundary: every event of /a after the change went to
    // the new topic only.
    let last_old = received
        .iter()
        .filter(|m| m.topic == "it/a")
        .map(event_number)
        .max()
        .unwrap();
    let first_new = received
        .iter()
        .filter(|m| m.topic == "it/a2")
        .map(event_number)
        .min()
        .unwrap();
    assert!(
        first_new > last_old,
        "it/a up to {last_old}, it/a2 from {first_new}"
    );
    // /c starts from the beginning of its stream (it had no checkpoint).
    assert_eq!(
        received
            .iter()
            .filter(|m| m.topic == "it/c")
            .map(event_number)
            .min(),
        Some(1)
    );
    let paths: Vec<String> = source.requests().iter().map(|r| r.path.clone()).collect();
    let count = |p: &str| paths.iter().filter(|x| *x == p).count();
    assert_eq!(
        count("/b"),
        1,
        "the unchanged stream kept its connection: {paths:?}"
    );
    assert_eq!(
        count("/a"),
        1,
        "a changed topic needs no reconnection: {paths:?}"
    );
    assert_eq!(count("/c"), 1, "{paths:?}");
    let status = connector.terminate().await;
    assert!(status.success(), "{status}");
}

/// A source answering 401 fails its stream for good (one request, no retry); another stream
/// of the same connector keeps delivering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_retryable_source_error_stops_only_that_stream() {
    let denied = SseServer::http([]).await;
    denied.set_fallback(Response::status(401).header("www-authenticate", "Basic"));
    let source =
        ResumableSource::start(SourceConfig::new(1_000_000).interval(Duration::from_millis(20)))
            .await;
    let registry = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    write_atomic(
        &registry.path().join("devices/denied.yaml"),
        &device("denied", "ep", &denied.url(""), &[]),
    );
    write_atomic(
        &registry.path().join("devices/open.yaml"),
        &device("open", "ep", &source.base_url(), &[]),
    );
    write_atomic(
        &registry.path().join("assets/denied.yaml"),
        &(asset_head("denied", "denied", "ep", &[])
            + "  datasets:\n"
            + &dataset("d", "/x", "it/denied", &[])),
    );
    write_atomic(
        &registry.path().join("assets/open.yaml"),
        &(asset_head("open", "open", "ep", &[])
            + "  datasets:\n"
            + &dataset("d", "/y", "it/open", &[])),
    );
    let mosquitto = Mosquitto::start();
    let mut subscriber = MqttSubscriber::connect(mosquitto.addr(), "it/#").await;
    let mut connector = Connector::start(&Options::new(
        registry.path(),
        state.path(),
        Broker::External(mosquitto.addr()),
    ))
    .await;
    denied.wait_for_requests(1, LIMIT).await;
    connector.wait_for_log("stream failed").await;
    // Longer than the client's first backoff (1 s, plus jitter) would be.
    let mut received = Vec::new();
    let until = tokio::time::Instant::now() + Duration::from_millis(1600);
    while tokio::time::Instant::now() < until {
        if let Some(m) = subscriber.next(Duration::from_millis(100)).await {
            received.push(m);
        }
    }
    receive_until(
        &mut subscriber,
        &mut received,
        "10 events of it/open",
        |r| r.len() >= 10,
    )
    .await;
    assert!(received.iter().all(|m| m.topic == "it/open"));
    let last = received.iter().map(event_number).max().unwrap();
    receive_until(
        &mut subscriber,
        &mut received,
        "more events of it/open",
        |r| r.iter().any(|m| event_number(m) > last),
    )
    .await;
    assert_eq!(
        denied.requests().len(),
        1,
        "401 is not retried: {:?}",
        denied.requests()
    );
    let failed = connector.wait_for_log("stream failed").await;
    assert!(failed.contains("401"), "{failed}");
    let status = connector.terminate().await;
    assert!(status.success(), "{status}");
}

/// `/healthz` and `/readyz` answer 200 while connected; SIGTERM exits 0 after saving the
/// checkpoint of every stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_exits_zero_with_checkpoints_saved() {
    let source = ResumableSource::start(SourceConfig::new(20)).await;
    let registry = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    write_atomic(
        &registry.path().join("devices/dev.yaml"),
        &device("dev", "ep", &source.base_url(), &[]),
    );
    write_atomic(
        &registry.path().join("assets/plant.yaml"),
        &(asset_head("plant", "dev", "ep", &[])
            + "  datasets:\n"
            + &dataset("d", "/stream", "it/d", &[])),
    );
    let mosquitto = Mosquitto::start();
    let mut subscriber = MqttSubscriber::connect(mosquitto.addr(), "it/#").await;
    let connector = Connector::start(
        &Options::new(
            registry.path(),
            state.path(),
            Broker::External(mosquitto.addr()),
        )
        .http(),
    )
    .await;
    let http = connector.http.unwrap();
    assert_eq!(http_get(http, "/healthz").await, (200, "ok\n".to_owned()));
    wait_for_status(http, "/readyz", 200).await;
    common::collect_all(&mut subscriber, &mut Vec::new(), "it/d", 20).await;

    let status = connector.terminate().await;
    assert_eq!(status.code(), Some(0), "{status}");
    assert_eq!(
        checkpoints(state.path()),
        [(source.base_url() + "/stream", "20".to_owned())]
    );
    eventually("the HTTP listener to close", || {
        std::net::TcpStream::connect(http).is_err()
    })
    .await;
}

/// AIO's environment variables choose the broker and the client id (`__srcId`); the config
/// file is honoured, and an option overrides it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aio_environment_and_config_file_choose_the_broker() {
    let source = ResumableSource::start(SourceConfig::new(1)).await;
    let registry = tempfile::tempdir().unwrap();
    write_atomic(
        &registry.path().join("devices/dev.yaml"),
        &device("dev", "ep", &source.base_url(), &[]),
    );
    write_atomic(
        &registry.path().join("assets/plant.yaml"),
        &(asset_head("plant", "dev", "ep", &[])
            + "  datasets:\n"
            + &dataset("d", "/stream", "it/d", &[])),
    );
    let mosquitto = Mosquitto::start();
    let mut subscriber = MqttSubscriber::connect(mosquitto.addr(), "it/#").await;
    let config_dir = tempfile::tempdir().unwrap();
    let config = config_dir.path().join("connector.yaml");
    let run = |args: &[&str]| {
        let mut command = common::run_command();
        command.arg("--registry").arg(registry.path()).args(args);
        command
    };
    let next_src_id = async |subscriber: &mut MqttSubscriber| {
        let message = subscriber.wait_for(1, LIMIT).await.remove(0);
        assert_eq!(message.topic, "it/d");
        property(&message, "__srcId").unwrap().to_owned()
    };

    // 1. AIO's variables only.
    let state = tempfile::tempdir().unwrap();
    let mut command = run(&["--state-dir", path(&state), "--http", "off"]);
    command
        .env("AIO_BROKER_HOSTNAME", "127.0.0.1")
        .env("AIO_BROKER_TCP_PORT", mosquitto.port().to_string())
        .env("AIO_MQTT_USE_TLS", "false")
        .env("AIO_MQTT_CLIENT_ID", "aio-connector-0");
    let connector = Connector::spawn(command, false, false).await;
    assert_eq!(next_src_id(&mut subscriber).await, "aio-connector-0");
    assert!(connector.terminate().await.success());

    // 2. The config file: broker, client id, state directory and HTTP listener.
    let state = tempfile::tempdir().unwrap();
    std::fs::write(
        &config,
        format!(
            "broker: mqtt://127.0.0.1:{}\nclientId: from-file\nstateDir: {}\nhttp: 127.0.0.1:0\n",
            mosquitto.port(),
            state.path().display()
        ),
    )
    .unwrap();
    let command = run(&["--config", config.to_str().unwrap()]);
    let connector = Connector::spawn(command, false, true).await;
    assert_eq!(next_src_id(&mut subscriber).await, "from-file");
    assert!(connector.terminate().await.success());
    assert_eq!(checkpoints(state.path()).len(), 1, "the file's stateDir");

    // 3. An option overrides the file.
    let state = tempfile::tempdir().unwrap();
    let command = run(&[
        "--config",
        config.to_str().unwrap(),
        "--client-id",
        "from-flag",
        "--http",
        "off",
        "--state-dir",
        path(&state),
    ]);
    let connector = Connector::spawn(command, false, false).await;
    assert_eq!(next_src_id(&mut subscriber).await, "from-flag");
    assert!(connector.terminate().await.success());
}
