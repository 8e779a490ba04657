//! The deployment read from real mount trees laid out as Kubernetes mounts them: every
//! variable set, the least the contract needs, and each way it can be unusable.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use aio_mqtt::{MqttConfig, TlsSettings};
use akri::deployment::{Deployment, MqttConnection, Protocol, is_akri};
use akri::error::Error;
use serde_json::json;
use test_support::k8s_mount::K8sMount;

const CONNECTION: &str = r#"{
    "host": "aio-broker:18883",
    "keepAliveSeconds": 10,
    "maxInflightMessages": 50,
    "protocol": "mqtt",
    "authentication": { "method": "ServiceAccountToken",
                        "serviceAccountTokenSettings": { "audience": "aio-internal" } },
    "sessionExpirySeconds": 20,
    "tls": { "mode": "Enabled" }
}"#;

const PLAIN_CONNECTION: &str = r#"{"host": "broker.local:1883", "keepAliveSeconds": 60,
    "maxInflightMessages": 100, "protocol": "Mqtt", "sessionExpirySeconds": 3600,
    "tls": {"mode": "Disabled"}}"#;

/// The variables of a deployment, looked up like the environment.
#[derive(Default, Clone)]
struct Vars(HashMap<&'static str, String>);

impl Vars {
    fn set(mut self, name: &'static str, value: impl AsRef<Path>) -> Self {
        self.0
            .insert(name, value.as_ref().to_string_lossy().into_owned());
        self
    }

    fn without(mut self, name: &str) -> Self {
        self.0.remove(name);
        self
    }

    fn read(&self) -> Result<Deployment, Error> {
        Deployment::from_vars(|name| self.0.get(name).cloned())
    }
}

/// Every mount of the contract, each in kubelet's layout, below one temporary directory.
struct FullTree {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    config: K8sMount,
    vars: Vars,
}

fn full_tree() -> FullTree {
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = tmp.path().to_path_buf();
    for pv in ["pv/state", "pv/cache"] {
        std::fs::create_dir_all(root.join(pv)).expect("volume");
    }
    let volumes = format!(
        "{}\n\n  {}  \n",
        root.join("pv/state").display(),
        root.join("pv/cache").display()
    );
    let config = K8sMount::create(
        root.join("config/connector_configuration"),
        &[
            ("MQTT_CONNECTION_CONFIGURATION", CONNECTION),
            ("DIAGNOSTICS", r#"{"logs":{"level":"Debug"}}"#),
            (
                "AIO_METADATA",
                r#"{"aioMinVersion":"1.0","aioMaxVersion":"2.0"}"#,
            ),
            (
                "ADDITIONAL_CONNECTOR_CONFIGURATION",
                r#"{"reconnect":{"maxSeconds":30},"tags":["a","b"]}"#,
            ),
            ("PERSISTENT_VOLUME_MOUNT_PATH", volumes.as_str()),
        ],
    );
    let metadata = K8sMount::create(
        root.join("config/connector_secrets_metadata"),
        &[("api-key", "akri-secrets/connector_api-key\n")],
    );
    let secrets = K8sMount::create(
        root.join("secrets/connector_secrets"),
        &[("akri-secrets/connector_api-key", "s3cret")],
    );
    let connector_trust = K8sMount::create(
        root.join("secrets/connector_trust_settings"),
        &[("ca.crt", "-----BEGIN CERTIFICATE-----\n")],
    );
    let broker_trust = K8sMount::create(
        root.join("cacerts/broker_tls_trust_bundle"),
        &[
            ("zz-second.crt", "-----BEGIN CERTIFICATE-----\n"),
            ("ca.crt", "-----BEGIN CERTIFICATE-----\n"),
        ],
    );
    let tokens = K8sMount::create(root.join("tokens"), &[("broker-sat", "eyJhbGciOi")]);
    let allocation = K8sMount::create(
        root.join("config/adr_resources_names"),
        &[("thermostat_sse-endpoint", "boiler\n")],
    );
    let device_trust = K8sMount::create(
        root.join("cacerts/device_endpoint_tls_trust_bundle"),
        &[("feed-trust/ca.crt", "-----BEGIN CERTIFICATE-----\n")],
    );
    let device_auth = K8sMount::create(
        root.join("secrets/device_endpoint_auth"),
        &[("feed-creds/username", "u"), ("feed-creds/password", "p")],
    );
    let vars = Vars::default()
        .set(
            "AZURE_EXTENSION_RESOURCEID",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Kubernetes/connectedClusters/c/providers/Microsoft.KubernetesConfiguration/extensions/aio",
        )
        .set("CONNECTOR_ID", "sse-connector-7f9c-0")
        .set("CONNECTOR_NAMESPACE", "azure-iot-operations")
        .set("CONNECTOR_CONFIGURATION_MOUNT_PATH", config.path())
        .set("CONNECTOR_SECRETS_METADATA_MOUNT_PATH", metadata.path())
        .set("CONNECTOR_SECRETS_MOUNT_PATH", secrets.path())
        .set("CONNECTOR_TRUST_SETTINGS_MOUNT_PATH", connector_trust.path())
        .set("BROKER_TLS_TRUST_BUNDLE_CACERT_MOUNT_PATH", broker_trust.path())
        .set("BROKER_SAT_MOUNT_PATH", tokens.file("broker-sat"))
        .set("ADR_RESOURCES_NAME_MOUNT_PATH", allocation.path())
        .set(
            "DEVICE_ENDPOINT_TLS_TRUST_BUNDLE_CA_CERT_MOUNT_PATH",
            device_trust.path(),
        )
        .set("DEVICE_ENDPOINT_CREDENTIALS_MOUNT_PATH", device_auth.path())
        .set("OTLP_HTTP_LOG_ENDPOINT", "http://collector:4318");
    FullTree {
        _tmp: tmp,
        root,
        config,
        vars,
    }
}

/// The least a deployment can be: the required variables, the connection file, an empty
/// allocation.
fn minimal_tree() -> (tempfile::TempDir, K8sMount, Vars) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let config = K8sMount::create(
        tmp.path().join("config"),
        &[("MQTT_CONNECTION_CONFIGURATION", PLAIN_CONNECTION)],
    );
    let allocation = K8sMount::create::<&str>(tmp.path().join("adr"), &[]);
    let vars = Vars::default()
        .set("CONNECTOR_ID", "sse-0")
        .set("CONNECTOR_NAMESPACE", "aio")
        .set("CONNECTOR_CONFIGURATION_MOUNT_PATH", config.path())
        .set("ADR_RESOURCES_NAME_MOUNT_PATH", allocation.path());
    (tmp, config, vars)
}

#[test]
fn a_full_deployment_is_read_with_every_mount() {
    let tree = full_tree();
    let root = &tree.root;
    let deployment = tree.vars.read().expect("a usable deployment");
    let expected = Deployment {
        connector_id: "sse-connector-7f9c-0".into(),
        connector_namespace: "azure-iot-operations".into(),
        azure_extension_resource_id: Some(
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Kubernetes/connectedClusters/c/providers/Microsoft.KubernetesConfiguration/extensions/aio".into(),
        ),
        configuration: root.join("config/connector_configuration"),
        mqtt: MqttConnection {
            host: "aio-broker".into(),
            port: 18883,
            keep_alive: Duration::from_secs(10),
            max_inflight: 50,
            session_expiry: Duration::from_secs(20),
            tls: true,
            protocol: Protocol::Mqtt,
        },
        log_level: Some("debug".into()),
        additional_configuration: Some(json!({"reconnect": {"maxSeconds": 30}, "tags": ["a", "b"]})),
        persistent_volumes: vec![root.join("pv/state"), root.join("pv/cache")],
        broker_ca: Some(root.join("cacerts/broker_tls_trust_bundle/ca.crt")),
        broker_sat: Some(root.join("tokens/broker-sat")),
        allocations: root.join("config/adr_resources_names"),
        device_credentials: Some(root.join("secrets/device_endpoint_auth")),
        device_trust: Some(root.join("cacerts/device_endpoint_tls_trust_bundle")),
        connector_trust: Some(root.join("secrets/connector_trust_settings")),
        connector_secrets: Some(root.join("secrets/connector_secrets")),
        connector_secrets_metadata: BTreeMap::from([(
            "api-key".to_owned(),
            PathBuf::from("akri-secrets/connector_api-key"),
        )]),
    };
    assert_eq!(deployment, expected);

    let secret = deployment.connector_secret("api-key").expect("the alias");
    assert_eq!(std::fs::read_to_string(secret).expect("secret"), "s3cret");
    assert_eq!(deployment.connector_secret("other"), None);

    assert_eq!(deployment.mqtt_client_id(), "sse-connector-7f9c-00");
    let mut config = MqttConfig::new("aio-broker", 18883);
    config.client_id = "sse-connector-7f9c-00".into();
    config.keep_alive = Duration::from_secs(10);
    config.session_expiry = Duration::from_secs(20);
    config.max_in_flight = 50;
    config.clean_start = false;
    config.tls = Some(TlsSettings {
        ca_file: Some(root.join("cacerts/broker_tls_trust_bundle/ca.crt")),
        ..TlsSettings::default()
    });
    config.sat_file = Some(root.join("tokens/broker-sat"));
    assert_eq!(deployment.mqtt_config(), config);
    deployment
        .mqtt_config()
        .validate()
        .expect("a valid MQTT config");
}

#[test]
fn a_minimal_deployment_has_defaults_for_everything_optional() {
    let (tmp, _config, vars) = minimal_tree();
    let deployment = vars.read().expect("a usable deployment");
    let expected = Deployment {
        connector_id: "sse-0".into(),
        connector_namespace: "aio".into(),
        azure_extension_resource_id: None,
        configuration: tmp.path().join("config"),
        mqtt: MqttConnection {
            host: "broker.local".into(),
            port: 1883,
            keep_alive: Duration::from_secs(60),
            max_inflight: 100,
            session_expiry: Duration::from_secs(3600),
            tls: false,
            protocol: Protocol::Mqtt,
        },
        log_level: None,
        additional_configuration: None,
        persistent_volumes: Vec::new(),
        broker_ca: None,
        broker_sat: None,
        allocations: tmp.path().join("adr"),
        device_credentials: None,
        device_trust: None,
        connector_trust: None,
        connector_secrets: None,
        connector_secrets_metadata: BTreeMap::new(),
    };
    assert_eq!(deployment, expected);
    let mut config = MqttConfig::new("broker.local", 1883);
    config.client_id = "sse-00".into();
    config.keep_alive = Duration::from_secs(60);
    config.session_expiry = Duration::from_secs(3600);
    config.max_in_flight = 100;
    assert_eq!(deployment.mqtt_config(), config);
}

#[test]
fn akri_mode_is_detected_by_the_configuration_and_allocation_mounts() {
    let vars = |set: &'static [&'static str]| {
        move |name: &str| set.contains(&name).then(|| "/somewhere".to_owned())
    };
    assert!(is_akri(vars(&[
        "CONNECTOR_CONFIGURATION_MOUNT_PATH",
        "ADR_RESOURCES_NAME_MOUNT_PATH"
    ])));
    assert!(!is_akri(vars(&["CONNECTOR_CONFIGURATION_MOUNT_PATH"])));
    assert!(!is_akri(vars(&[
        "ADR_RESOURCES_NAME_MOUNT_PATH",
        "CONNECTOR_ID"
    ])));
    assert!(!is_akri(|_: &str| Some(String::new())));
}

#[test]
fn missing_variables_are_all_named() {
    let error = Vars::default()
        .set("CONNECTOR_ID", "")
        .set("CONNECTOR_NAMESPACE", "aio")
        .read()
        .expect_err("no deployment");
    match &error {
        Error::MissingVariables(names) => assert_eq!(
            names,
            &[
                "CONNECTOR_ID",
                "CONNECTOR_CONFIGURATION_MOUNT_PATH",
                "ADR_RESOURCES_NAME_MOUNT_PATH"
            ]
        ),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        error.to_string(),
        "the Akri deployment lacks the variable(s) CONNECTOR_ID, CONNECTOR_CONFIGURATION_MOUNT_PATH, ADR_RESOURCES_NAME_MOUNT_PATH"
    );
}

#[test]
fn every_path_variable_must_name_an_existing_path() {
    let tree = full_tree();
    for variable in [
        "CONNECTOR_CONFIGURATION_MOUNT_PATH",
        "CONNECTOR_SECRETS_METADATA_MOUNT_PATH",
        "CONNECTOR_SECRETS_MOUNT_PATH",
        "CONNECTOR_TRUST_SETTINGS_MOUNT_PATH",
        "BROKER_TLS_TRUST_BUNDLE_CACERT_MOUNT_PATH",
        "BROKER_SAT_MOUNT_PATH",
        "ADR_RESOURCES_NAME_MOUNT_PATH",
        "DEVICE_ENDPOINT_TLS_TRUST_BUNDLE_CA_CERT_MOUNT_PATH",
        "DEVICE_ENDPOINT_CREDENTIALS_MOUNT_PATH",
    ] {
        let missing = tree.root.join("not-mounted");
        let error = tree
            .vars
            .clone()
            .set(variable, &missing)
            .read()
            .expect_err(variable);
        assert!(
            matches!(&error, Error::MissingPath { named_by, path }
                if *named_by == format!("variable {variable}") && *path == missing),
            "{variable}: {error:?}"
        );
        assert_eq!(
            error.to_string(),
            format!(
                "variable {variable} names {}, which does not exist",
                missing.display()
            )
        );
    }
}

#[test]
fn paths_of_the_wrong_kind_are_refused() {
    let tree = full_tree();
    let dir = tree.root.join("tokens");
    let error = tree
        .vars
        .clone()
        .set("BROKER_SAT_MOUNT_PATH", &dir)
        .read()
        .expect_err("a directory as the token");
    assert_eq!(
        error.to_string(),
        format!(
            "variable BROKER_SAT_MOUNT_PATH names {}, which is not a file",
            dir.display()
        )
    );
    let file = tree.root.join("tokens/broker-sat");
    let error = tree
        .vars
        .clone()
        .set("DEVICE_ENDPOINT_CREDENTIALS_MOUNT_PATH", &file)
        .read()
        .expect_err("a file as a mount");
    assert!(
        matches!(
            error,
            Error::WrongKind {
                expected: "a directory",
                ..
            }
        ),
        "{error:?}"
    );
}

#[test]
fn a_missing_persistent_volume_is_named_with_its_file() {
    let mut tree = full_tree();
    let gone = tree.root.join("pv/gone");
    tree.config.replace(&[
        ("MQTT_CONNECTION_CONFIGURATION", CONNECTION.to_owned()),
        ("PERSISTENT_VOLUME_MOUNT_PATH", gone.display().to_string()),
    ]);
    let error = tree.vars.read().expect_err("missing volume");
    let file = tree.config.file("PERSISTENT_VOLUME_MOUNT_PATH");
    assert_eq!(
        error.to_string(),
        format!(
            "{} names {}, which does not exist",
            file.display(),
            gone.display()
        )
    );
}

/// The configuration mount holding only a connection file with `connection`.
fn read_with_connection(connection: &str) -> (Error, PathBuf) {
    let (_tmp, mut config, vars) = minimal_tree();
    config.replace(&[("MQTT_CONNECTION_CONFIGURATION", connection)]);
    let error = vars.read().expect_err(connection);
    (error, config.file("MQTT_CONNECTION_CONFIGURATION"))
}

#[test]
fn bad_connection_json_names_the_file_and_the_field() {
    let cases = [
        ("not json".to_owned(), "expected ident"),
        (
            PLAIN_CONNECTION.replace("60", "\"sixty\""),
            "field `keepAliveSeconds`: invalid type: string \"sixty\"",
        ),
        (
            PLAIN_CONNECTION.replace("Disabled", "On"),
            "field `tls.mode`: unknown variant `On`",
        ),
        (
            PLAIN_CONNECTION.replace("Mqtt", "amqp"),
            "field `protocol`: unknown variant `amqp`",
        ),
        (
            PLAIN_CONNECTION.replace("\"maxInflightMessages\": 100,", ""),
            "missing field `maxInflightMessages`",
        ),
        (
            PLAIN_CONNECTION.replace("3600", "-1"),
            "field `sessionExpirySeconds`",
        ),
    ];
    for (connection, expected) in cases {
        let (error, file) = read_with_connection(&connection);
        assert!(
            matches!(&error, Error::InvalidFile { path, .. } if *path == file),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(
            message.starts_with(&format!("{} is not valid: ", file.display())),
            "{message}"
        );
        assert!(
            message.contains(expected),
            "{message} should say {expected}"
        );
    }
}

#[test]
fn a_host_without_a_port_is_refused() {
    for host in [
        "aio-broker",
        "aio-broker:",
        "aio-broker:port",
        ":18883",
        "aio-broker:0",
    ] {
        let (error, file) =
            read_with_connection(&PLAIN_CONNECTION.replace("broker.local:1883", host));
        assert_eq!(
            error.to_string(),
            format!(
                "{} is not valid: field `host`: {host:?} is not <hostname>:<port> with a port from 1 to 65535",
                file.display()
            )
        );
    }
}

#[test]
fn a_missing_connection_file_is_named() {
    let (_tmp, mut config, vars) = minimal_tree();
    config.replace(&[("DIAGNOSTICS", r#"{"logs":{"level":"info"}}"#)]);
    let error = vars.read().expect_err("no connection file");
    assert!(
        matches!(&error, Error::MissingPath { path, .. }
            if *path == config.file("MQTT_CONNECTION_CONFIGURATION")),
        "{error:?}"
    );
}

#[test]
fn bad_optional_configuration_files_are_named() {
    let cases = [
        (
            "DIAGNOSTICS",
            r#"{"logs":{"level":"verbose"}}"#,
            "field `logs.level`: \"verbose\" is not one of trace, debug, info, warn, error",
        ),
        (
            "DIAGNOSTICS",
            r#"{"logs":{"level":3}}"#,
            "field `logs.level`: invalid type",
        ),
        (
            "ADDITIONAL_CONNECTOR_CONFIGURATION",
            "{reconnect: 30}",
            "not JSON: key must be a string",
        ),
    ];
    for (name, content, expected) in cases {
        let (_tmp, mut config, vars) = minimal_tree();
        config.replace(&[
            ("MQTT_CONNECTION_CONFIGURATION", PLAIN_CONNECTION),
            (name, content),
        ]);
        let error = vars.read().expect_err(name);
        let message = error.to_string();
        assert!(
            message.starts_with(&format!(
                "{} is not valid: {expected}",
                config.file(name).display()
            )),
            "{message} should name {name} and say {expected}"
        );
    }
}

#[test]
fn the_broker_ca_is_the_first_file_not_starting_with_two_dots() {
    let tree = full_tree();
    // The SDK's test mounts: plain files named like kubelet's bookkeeping entries.
    let bundle = tree.root.join("plain-bundle");
    std::fs::create_dir_all(bundle.join("..2025_22_7")).expect("dir");
    std::fs::write(bundle.join("..data"), "not a certificate").expect("file");
    std::fs::write(bundle.join("..aaa"), "not a certificate").expect("file");
    std::fs::write(bundle.join("ca.txt"), "-----BEGIN CERTIFICATE-----\n").expect("file");
    std::fs::create_dir_all(bundle.join("a-directory")).expect("dir");
    let deployment = tree
        .vars
        .clone()
        .set("BROKER_TLS_TRUST_BUNDLE_CACERT_MOUNT_PATH", &bundle)
        .read()
        .expect("deployment");
    assert_eq!(deployment.broker_ca, Some(bundle.join("ca.txt")));

    // Nothing but bookkeeping: no certificate to trust.
    std::fs::remove_file(bundle.join("ca.txt")).expect("remove");
    let error = tree
        .vars
        .clone()
        .set("BROKER_TLS_TRUST_BUNDLE_CACERT_MOUNT_PATH", &bundle)
        .read()
        .expect_err("no certificate");
    assert_eq!(
        error.to_string(),
        format!(
            "variable BROKER_TLS_TRUST_BUNDLE_CACERT_MOUNT_PATH names {}, which is not a directory holding a certificate file",
            bundle.display()
        )
    );
}

#[test]
fn secrets_metadata_must_stay_below_the_secrets_mount() {
    let tree = full_tree();
    for bad in ["/etc/passwd", "../other/key", "  \n"] {
        let dir = tree.root.join(format!("metadata-{}", bad.len()));
        let metadata = K8sMount::create(&dir, &[("alias", bad)]);
        let error = tree
            .vars
            .clone()
            .set("CONNECTOR_SECRETS_METADATA_MOUNT_PATH", metadata.path())
            .read()
            .expect_err(bad);
        assert!(
            matches!(&error, Error::InvalidFile { path, .. } if *path == metadata.file("alias")),
            "{bad}: {error:?}"
        );
    }
}

#[test]
fn an_unset_optional_variable_is_not_checked() {
    let tree = full_tree();
    let deployment = tree
        .vars
        .clone()
        .without("BROKER_SAT_MOUNT_PATH")
        .without("AZURE_EXTENSION_RESOURCEID")
        .set("DEVICE_ENDPOINT_CREDENTIALS_MOUNT_PATH", "")
        .read()
        .expect("deployment");
    assert_eq!(deployment.broker_sat, None);
    assert_eq!(deployment.azure_extension_resource_id, None);
    assert_eq!(deployment.device_credentials, None);
    assert_eq!(deployment.mqtt_config().sat_file, None);
}
