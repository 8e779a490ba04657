//! Authentication rules: credentials resolve to secret files; missing, misnamed or
//! out-of-directory secrets and trust lists are errors.

mod common;

use common::*;
use model::Credentials;
use serde_json::json;

fn auth_device(auth: serde_json::Value) -> serde_json::Value {
    device(
        "dev",
        json!({"endpointType": "Microsoft.SSEHttp", "address": "https://h/", "authentication": auth}),
    )
}

#[test]
fn credentials_resolve_to_secret_files() {
    let env = FakeEnv::with(&["c/user", "c/pass", "m/cert", "m/key"], &[("plant-ca", 2)]);
    let b = build(
        &env,
        vec![
            located(
                "d.yaml",
                device(
                    "dev",
                    json!({"endpointType": "Microsoft.SSEHttp", "address": "https://h/",
                "authentication": {"method": "UsernamePassword", "usernamePasswordCredentials":
                    {"usernameSecretName": "c/user", "passwordSecretName": "c/pass"}},
                "trustSettings": {"trustList": "plant-ca"}}),
                ),
            ),
            located(
                "m.yaml",
                device(
                    "mtls",
                    json!({"endpointType": "Microsoft.SSEHttp", "address": "https://h/",
                "authentication": {"method": "Certificate", "x509Credentials":
                    {"certificateSecretName": "m/cert", "keySecretName": "m/key"}}}),
                ),
            ),
            located(
                "a.yaml",
                asset(
                    "a",
                    json!({"datasets": [{"name": "d", "destinations": mqtt("t")}]}),
                ),
            ),
            located(
                "b.yaml",
                asset(
                    "b",
                    json!({"deviceRef": {"deviceName": "mtls", "endpointName": "ep"},
                "datasets": [{"name": "d", "destinations": mqtt("t")}]}),
                ),
            ),
        ],
    );
    assert!(errors(&b).is_empty(), "{:#?}", b.problems);
    let ops: Vec<_> = b.plan.operations.values().collect();
    match &ops[0].stream.credentials {
        Credentials::UsernamePassword { username, password } => {
            assert_eq!(username.path.to_str(), Some("/secrets/c/user"));
            assert_eq!(password.path.to_str(), Some("/secrets/c/pass"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(ops[0].stream.trust.len(), 2);
    match &ops[1].stream.credentials {
        Credentials::Certificate {
            certificate,
            key,
            intermediates,
        } => {
            assert_eq!(certificate.path.to_str(), Some("/secrets/m/cert"));
            assert_eq!(
                key.as_ref().and_then(|k| k.path.to_str()),
                Some("/secrets/m/key")
            );
            assert!(intermediates.is_none());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn certificate_without_certificate_secret_is_an_error() {
    let env = FakeEnv::default();
    for auth in [
        json!({"method": "Certificate"}),
        json!({"method": "Certificate", "x509Credentials": {}}),
    ] {
        let b = build(&env, vec![located("d.yaml", auth_device(auth))]);
        assert_one_error(
            &errors(&b),
            &[
                "authentication.x509Credentials.certificateSecretName",
                "required",
            ],
        );
    }
}

#[test]
fn username_password_without_credentials_is_an_error() {
    let b = build(
        &FakeEnv::default(),
        vec![located(
            "d.yaml",
            auth_device(json!({"method": "UsernamePassword"})),
        )],
    );
    assert_one_error(
        &errors(&b),
        &["authentication.usernamePasswordCredentials", "required"],
    );
}

#[test]
fn missing_secrets_and_trust_lists_are_errors() {
    let env = FakeEnv::with(&["c/user"], &[("empty", 0)]);
    let b = build(
        &env,
        vec![located(
            "d.yaml",
            auth_device(json!({"method": "UsernamePassword",
        "usernamePasswordCredentials": {"usernameSecretName": "c/user", "passwordSecretName": "c/pass"}})),
        )],
    );
    assert_one_error(
        &errors(&b),
        &[
            "usernamePasswordCredentials.passwordSecretName",
            "secret \"c/pass\"",
            "does not exist",
        ],
    );
    for (list, what) in [("nope", "does not exist"), ("empty", "no PEM certificate")] {
        let b = build(
            &env,
            vec![located(
                "d.yaml",
                device(
                    "dev",
                    json!({"endpointType": "Microsoft.SSEHttp",
            "address": "https://h", "trustSettings": {"trustList": list}}),
                ),
            )],
        );
        assert_one_error(&errors(&b), &["trustSettings.trustList", what]);
    }
}

#[test]
fn secret_names_that_leave_the_directory_are_errors_even_if_the_file_exists() {
    let env = FakeEnv::with(&["../etc/passwd", "/etc/passwd"], &[("../x", 1)]);
    for name in ["../etc/passwd", "/etc/passwd"] {
        let b = build(
            &env,
            vec![located(
                "d.yaml",
                auth_device(json!({"method": "Certificate",
            "x509Credentials": {"certificateSecretName": name}})),
            )],
        );
        let e = errors(&b);
        assert_one_error(&e, &["x509Credentials.certificateSecretName", name]);
        assert!(
            e[0].contains("leaves its directory") || e[0].contains("is absolute"),
            "{e:?}"
        );
    }
    let b = build(
        &env,
        vec![located(
            "d.yaml",
            device(
                "dev",
                json!({"endpointType": "Microsoft.SSEHttp",
        "address": "https://h", "trustSettings": {"trustList": "../x"}}),
            ),
        )],
    );
    assert_one_error(&errors(&b), &["trustList", "leaves its directory"]);
}
