//! The listener over real TCP: probes, readiness, and the token rule.

#![allow(clippy::unwrap_used)]

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use api::{Access, ApiError, Readiness, Token, serve};
use support::{client, token_file};
use tokio_util::sync::CancellationToken;

#[derive(Default)]
struct Switch(AtomicBool);

impl Readiness for Switch {
    fn not_ready(&self) -> Option<String> {
        (!self.0.load(Ordering::SeqCst)).then(|| "broker not connected".to_owned())
    }
}

async fn start(token: Option<Token>, ready: Arc<Switch>) -> (SocketAddr, CancellationToken) {
    let shutdown = CancellationToken::new();
    let access = Access {
        token,
        ..Access::default()
    };
    let (addr, _task) = serve(([127, 0, 0, 1], 0).into(), access, ready, shutdown.clone())
        .await
        .unwrap();
    (addr, shutdown)
}

/// Status and text of a plain `GET` of `path`.
async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let response = client()
        .get(format!("http://{addr}{path}"))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn healthz_answers_and_readyz_follows_the_runtime() {
    let ready = Arc::new(Switch::default());
    let (addr, shutdown) = start(None, ready.clone()).await;
    assert_eq!(get(addr, "/healthz").await, (200, "ok\n".to_owned()));

    let (status, text) = get(addr, "/readyz").await;
    assert_eq!(status, 503);
    assert!(text.contains("broker not connected"), "{text}");

    ready.0.store(true, Ordering::SeqCst);
    assert_eq!(get(addr, "/readyz").await.0, 200);
    shutdown.cancel();
}

#[tokio::test]
async fn a_token_guards_everything_but_the_probes() {
    let dir = tempfile::tempdir().unwrap();
    let token = Token::from_file(&token_file(dir.path(), "s3cret\n")).unwrap();
    let (addr, shutdown) = start(Some(token), Arc::new(Switch(AtomicBool::new(true)))).await;
    let http = client();
    let url = format!("http://{addr}/api/v1/anything");
    assert_eq!(http.get(&url).send().await.unwrap().status(), 401);
    let wrong = http.get(&url).bearer_auth("nope").send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    let right = http.get(&url).bearer_auth("s3cret").send().await.unwrap();
    assert_eq!(right.status(), 404);
    assert_eq!(get(addr, "/healthz").await.0, 200);
    shutdown.cancel();
}

#[tokio::test]
async fn listening_beyond_loopback_without_a_token_is_refused() {
    let result = serve(
        ([0, 0, 0, 0], 0).into(),
        Access::default(),
        Arc::new(Switch::default()),
        CancellationToken::new(),
    )
    .await;
    assert!(matches!(result, Err(ApiError::TokenRequired { .. })));
}

#[test]
fn an_empty_token_file_is_refused_without_echoing_it() {
    let dir = tempfile::tempdir().unwrap();
    let error = Token::from_file(&token_file(dir.path(), "  \n"))
        .unwrap_err()
        .to_string();
    assert!(error.contains("empty"), "{error}");
}
