//! One checkpoint per stream, not per URL: two endpoints of one gateway with the same address
//! and different credentials (two tenants) each resume from their own last event id after a
//! SIGKILL and a restart.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Broker, Connector, LIMIT, Options, asset_head, checkpoints, dataset, write_atomic};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What the gateway saw of one request: the tenant (Basic user) and its `Last-Event-ID`.
type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// A gateway serving one stream per tenant at the same URL: `alice` gets ids `a-1`… (20
/// events a connection), `bob` gets `b-1`… (5 a connection), each from its `Last-Event-ID`
/// on; then the connection stays open.
async fn gateway() -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen: Seen = Arc::default();
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let log = log.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if socket.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).to_string();
                let header = |name: &str| {
                    head.lines().find_map(|line| {
                        let (key, value) = line.split_once(':')?;
                        key.eq_ignore_ascii_case(name)
                            .then(|| value.trim().to_owned())
                    })
                };
                let user = match header("authorization").as_deref() {
                    Some("Basic YWxpY2U6YS1zZWNyZXQ=") => "alice",
                    Some("Basic Ym9iOmItc2VjcmV0") => "bob",
                    _ => {
                        let _ = socket
                            .write_all(b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n")
                            .await;
                        return;
                    }
                };
                let last = header("last-event-id");
                log.lock().unwrap().push((user.to_owned(), last.clone()));
                let (prefix, count) = if user == "alice" { ("a", 20) } else { ("b", 5) };
                let start: u64 = last
                    .as_deref()
                    .and_then(|id| id.strip_prefix(&format!("{prefix}-")))
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                let mut body = String::from(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n\r\n",
                );
                for n in start + 1..=start + count {
                    body.push_str(&format!("id: {prefix}-{n}\ndata: {{\"n\":{n}}}\n\n"));
                }
                if socket.write_all(body.as_bytes()).await.is_err() {
                    return;
                }
                // Keep the stream open until the connector goes away.
                let mut rest = [0u8; 64];
                while socket.read(&mut rest).await.is_ok_and(|n| n > 0) {}
            });
        }
    });
    (url, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tenants_of_one_url_resume_from_their_own_checkpoints_after_sigkill() {
    let (url, seen) = gateway().await;
    let registry = tempfile::tempdir().unwrap();
    let r = registry.path();
    for (user, password) in [("alice", "a-secret"), ("bob", "b-secret")] {
        std::fs::create_dir_all(r.join(format!("secrets/{user}"))).unwrap();
        std::fs::write(r.join(format!("secrets/{user}/username")), user).unwrap();
        std::fs::write(r.join(format!("secrets/{user}/password")), password).unwrap();
    }
    let endpoint = |user: &str| {
        format!(
            "      {user}:\n        endpointType: Microsoft.SSEHttp\n        address: {url}\n        \
             authentication:\n          method: UsernamePassword\n          \
             usernamePasswordCredentials:\n            usernameSecretName: {user}/username\n            \
             passwordSecretName: {user}/password\n"
        )
    };
    write_atomic(
        &r.join("devices/gw.yaml"),
        &format!(
            "apiVersion: namespaces.deviceregistry.microsoft.com/v1\nkind: Device\nmetadata:\n  \
             name: gw\nspec:\n  endpoints:\n    inbound:\n{}{}",
            endpoint("alice"),
            endpoint("bob")
        ),
    );
    for user in ["alice", "bob"] {
        write_atomic(
            &r.join(format!("assets/{user}.yaml")),
            &(asset_head(user, "gw", user, &[])
                + "  datasets:\n"
                + &dataset("d", "/events", &format!("tenants/{user}"), &[])),
        );
    }
    let state = tempfile::tempdir().unwrap();
    let options = Options::new(r, state.path(), Broker::Embedded);

    let connector = Connector::start(&options).await;
    common::eventually("both checkpoints saved", || {
        let saved: Vec<String> = checkpoints(state.path())
            .into_iter()
            .map(|(_, id)| id)
            .collect();
        saved == ["a-20", "b-5"]
    })
    .await;
    connector.kill().await;

    let _connector = Connector::start(&options).await;
    let deadline = tokio::time::Instant::now() + LIMIT;
    while seen.lock().unwrap().len() < 4 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the restarted connector did not reconnect: {:?}",
            seen.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut resumed = seen.lock().unwrap()[2..].to_vec();
    resumed.sort();
    assert_eq!(
        resumed,
        [
            ("alice".to_owned(), Some("a-20".to_owned())),
            ("bob".to_owned(), Some("b-5".to_owned())),
        ],
        "each tenant resumes from its own last event id"
    );
    let first: Vec<_> = seen.lock().unwrap()[..2].to_vec();
    assert!(first.iter().all(|(_, last)| last.is_none()), "{first:?}");
}
