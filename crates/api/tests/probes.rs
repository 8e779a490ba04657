//! The listener over real TCP: probes, readiness, and the token rule.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use api::{ApiError, Readiness, Token, serve};
use tokio_util::sync::CancellationToken;

#[derive(Default)]
struct Switch(AtomicBool);

impl Readiness for Switch {
    fn not_ready(&self) -> Option<String> {
        (!self.0.load(Ordering::SeqCst)).then(|| "broker not connected".to_owned())
    }
}

fn client() -> reqwest::Client {
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(rustls::RootCertStore::empty())
    .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .build()
        .unwrap()
}

async fn start(token: Option<Token>, ready: Arc<Switch>) -> (SocketAddr, CancellationToken) {
    let shutdown = CancellationToken::new();
    let (addr, _task) = serve(([127, 0, 0, 1], 0).into(), token, ready, shutdown.clone())
        .await
        .unwrap();
    (addr, shutdown)
}

#[tokio::test]
async fn healthz_answers_and_readyz_follows_the_runtime() {
    let ready = Arc::new(Switch::default());
    let (addr, shutdown) = start(None, ready.clone()).await;
    let http = client();
    let health = http
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), "ok\n");

    let not_ready = http
        .get(format!("http://{addr}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(not_ready.status(), 503);
    assert!(
        not_ready
            .text()
            .await
            .unwrap()
            .contains("broker not connected")
    );

    ready.0.store(true, Ordering::SeqCst);
    let ready_now = http
        .get(format!("http://{addr}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready_now.status(), 200);
    shutdown.cancel();
}

#[tokio::test]
async fn a_token_guards_everything_but_the_probes() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "s3cret\n").unwrap();
    let token = Token::from_file(&file).unwrap();
    let (addr, shutdown) = start(Some(token), Arc::new(Switch(AtomicBool::new(true)))).await;
    let http = client();
    let url = format!("http://{addr}/api/v1/anything");
    assert_eq!(http.get(&url).send().await.unwrap().status(), 401);
    let wrong = http.get(&url).bearer_auth("nope").send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    let right = http.get(&url).bearer_auth("s3cret").send().await.unwrap();
    assert_eq!(right.status(), 404);
    let probe = http
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(probe.status(), 200);
    shutdown.cancel();
}

#[tokio::test]
async fn listening_beyond_loopback_without_a_token_is_refused() {
    let result = serve(
        ([0, 0, 0, 0], 0).into(),
        None,
        Arc::new(Switch::default()),
        CancellationToken::new(),
    )
    .await;
    assert!(matches!(result, Err(ApiError::TokenRequired { .. })));
}

#[test]
fn an_empty_token_file_is_refused_without_echoing_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "  \n").unwrap();
    let error = Token::from_file(&file).unwrap_err().to_string();
    assert!(error.contains("empty"), "{error}");
}
