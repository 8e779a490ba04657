//! HTTPS behaviour with certificates made at test time: trust lists, server verification,
//! mutual TLS, credential files, and client certificates never sent to another origin.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::*;
use sse_client::{Auth, ClientConfig, ErrorKind, SseClient};
use test_support::{ClientAuth, PemFiles, Response, SseServer, TestPki};

fn trusting(pki: &TestPki, auth: Auth) -> SseClient {
    SseClient::new(&ClientConfig::new(auth).with_trust_list([&pki.ca_pem])).unwrap()
}

fn identity(files: &PemFiles, intermediates: Option<PathBuf>) -> Auth {
    Auth::ClientCertificate {
        cert_chain_pem: files.cert.clone(),
        key_pem: files.key.clone(),
        intermediates,
    }
}

fn event_server_response() -> Response {
    Response::sse().chunk("data: secure\n\n").hang()
}

#[tokio::test]
async fn trust_list_lets_the_client_verify_the_server() {
    let pki = TestPki::generate();
    let server = SseServer::https(
        pki.server_config(ClientAuth::None),
        [event_server_response()],
    )
    .await;
    let mut stream = trusting(&pki, Auth::Anonymous).stream(config(&server.url("/")));

    expect_connected(&mut stream).await;
    assert_eq!(expect_event(&mut stream).await, "secure");
}

#[tokio::test]
async fn unknown_server_ca_is_rejected_and_not_retried() {
    let pki = TestPki::generate();
    let server = SseServer::https(
        pki.server_config(ClientAuth::None),
        [event_server_response()],
    )
    .await;
    // System roots only, then a trust list with an unrelated CA: neither knows the test CA.
    for client in [
        anonymous(),
        SseClient::new(&ClientConfig::new(Auth::Anonymous).with_trust_list([&pki.rogue_ca_pem]))
            .unwrap(),
    ] {
        let mut stream = client.stream(config(&server.url("/events")));
        let error = expect_failed(&mut stream, ErrorKind::ServerCertificateRejected).await;
        let text = error.to_string();
        assert!(
            text.contains(&server.url("/events")) && text.contains("trust list"),
            "{text}"
        );
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        server.requests().is_empty(),
        "no request may pass an unverified handshake"
    );
}

#[tokio::test]
async fn https_to_a_plain_http_port_fails_without_retrying() {
    let pki = TestPki::generate();
    let server = SseServer::http([event_server_response()]).await;
    let url = server.url("/events").replacen("http://", "https://", 1);
    let mut stream = trusting(&pki, Auth::Anonymous).stream(config(&url));
    let error = expect_failed(&mut stream, ErrorKind::TlsHandshake).await;
    assert!(!error.is_retryable());
    assert!(error.to_string().contains("scheme"), "{error}");
    assert!(stream.next().await.is_none(), "the stream must end");
}

#[tokio::test]
async fn wrong_server_host_name_is_rejected_even_with_a_trusted_ca() {
    let pki = TestPki::generate();
    let config_for_other_name = pki.server_config_for(&["other.example"], ClientAuth::None);
    let server = SseServer::https(config_for_other_name, [event_server_response()]).await;
    let mut stream = trusting(&pki, Auth::Anonymous).stream(config(&server.url("/")));

    let error = expect_failed(&mut stream, ErrorKind::ServerCertificateRejected).await;
    assert!(error.to_string().contains("host name"), "{error}");
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn client_certificate_is_accepted() {
    let pki = TestPki::generate();
    let server = SseServer::https(
        pki.server_config(ClientAuth::Required),
        [event_server_response()],
    )
    .await;
    let mut stream = trusting(&pki, identity(&pki.client, None)).stream(config(&server.url("/")));

    expect_connected(&mut stream).await;
    assert_eq!(expect_event(&mut stream).await, "secure");
}

#[tokio::test]
async fn client_certificate_with_intermediate_chain_is_accepted() {
    let pki = TestPki::generate();
    let server = SseServer::https(
        pki.server_config(ClientAuth::Required),
        [event_server_response()],
    )
    .await;
    let auth = identity(
        &pki.client_via_intermediate,
        Some(pki.intermediate_pem.clone()),
    );
    let mut stream = trusting(&pki, auth).stream(config(&server.url("/")));

    expect_connected(&mut stream).await;
    assert_eq!(expect_event(&mut stream).await, "secure");
}

#[tokio::test]
async fn client_certificate_from_an_unknown_ca_is_rejected() {
    let pki = TestPki::generate();
    let server = SseServer::https(
        pki.server_config(ClientAuth::Required),
        [event_server_response()],
    )
    .await;
    let mut stream =
        trusting(&pki, identity(&pki.rogue_client, None)).stream(config(&server.url("/")));

    let error = expect_failed(&mut stream, ErrorKind::ClientCertificateRejected).await;
    assert_eq!(error.reason_code(), "tls_client_certificate_rejected");
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn missing_client_certificate_is_rejected() {
    let pki = TestPki::generate();
    let server = SseServer::https(
        pki.server_config(ClientAuth::Required),
        [event_server_response()],
    )
    .await;
    let mut stream = trusting(&pki, Auth::Anonymous).stream(config(&server.url("/")));

    expect_failed(&mut stream, ErrorKind::ClientCertificateRejected).await;
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn client_certificate_is_not_presented_to_another_origin() {
    let pki = TestPki::generate();
    // The redirect target demands a client certificate; following the redirect from another
    // origin must not present ours, so the target rejects the handshake.
    let target = SseServer::https(
        pki.server_config(ClientAuth::Required),
        [event_server_response()],
    )
    .await;
    let origin = SseServer::https(
        pki.server_config(ClientAuth::None),
        [Response::redirect(307, &target.url("/x"))],
    )
    .await;
    let client = trusting(&pki, identity(&pki.client, None));

    let mut stream = client.stream(config(&origin.url("/")));
    expect_failed(&mut stream, ErrorKind::ClientCertificateRejected).await;
    assert_eq!(origin.requests().len(), 1);
    assert!(target.requests().is_empty());

    // Control: the same client reaches the target directly.
    target.push(event_server_response());
    let mut stream = client.stream(config(&target.url("/x")));
    expect_connected(&mut stream).await;
}

#[test]
fn credential_and_trust_files_are_checked_with_clear_errors() {
    let pki = TestPki::generate();
    let new = |config: ClientConfig| SseClient::new(&config).unwrap_err();

    let missing = pki.dir().join("nope.pem");
    let err = new(ClientConfig::new(Auth::Anonymous).with_trust_list([&missing]));
    assert_eq!(err.kind(), ErrorKind::TrustList);
    assert!(!err.is_retryable());
    assert!(
        err.to_string().contains("cannot read") && err.to_string().contains("nope.pem"),
        "{err}"
    );

    let empty = pki.write_file("empty.pem", "not a certificate\n");
    let err = new(ClientConfig::new(Auth::Anonymous).with_trust_list([&empty]));
    assert_eq!(err.kind(), ErrorKind::TrustList);
    assert!(
        err.to_string().contains(&format!(
            "no certificate found in trust list file {}",
            empty.display()
        )),
        "{err}"
    );

    // A key file that holds a certificate instead of a key.
    let err = new(ClientConfig::new(identity(
        &PemFiles {
            cert: pki.client.cert.clone(),
            key: pki.client.cert.clone(),
        },
        None,
    )));
    assert_eq!(err.kind(), ErrorKind::ClientCertificate);
    assert!(err.to_string().contains("is not PKCS#8"), "{err}");

    let encrypted = pki.write_file(
        "enc.key",
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
    );
    let err = new(ClientConfig::new(identity(
        &PemFiles {
            cert: pki.client.cert.clone(),
            key: encrypted,
        },
        None,
    )));
    assert!(err.to_string().contains("encrypted"), "{err}");

    // A key that does not belong to the certificate; the message must not show key material.
    let mismatched = PemFiles {
        cert: pki.client.cert.clone(),
        key: pki.rogue_client.key.clone(),
    };
    let err = new(ClientConfig::new(identity(&mismatched, None)));
    assert_eq!(err.kind(), ErrorKind::ClientCertificate);
    let key_pem = std::fs::read_to_string(&pki.rogue_client.key).unwrap();
    let key_body = key_pem.lines().nth(1).unwrap();
    assert!(!err.to_string().contains(key_body) && !format!("{err:?}").contains(key_body));

    let err = new(ClientConfig::new(identity(
        &PemFiles {
            cert: missing.clone(),
            key: pki.client.key.clone(),
        },
        None,
    )));
    assert_eq!(err.kind(), ErrorKind::ClientCertificate);
    assert_eq!(err.reason_code(), "client_certificate_invalid");
}
