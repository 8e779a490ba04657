//! The write API behind the CLI commands, on real directories: atomic, valid, other files
//! untouched, refusals with the validation message; and the round trip of definitions.

use std::fs;
use std::path::Path;

use model::destination::parse_cli;
use model::device::Method;
use model::edit::{self, EndpointSpec};
use model::{Kind, Located};
use registry::load::parse_documents;
use registry::write::render;
use registry::{Error, Registry, RegistryPaths};

const CA: &str = include_str!("../../../examples/registry/trust/plant-ca/ca.pem");

fn open(dir: &Path) -> Registry {
    Registry::open(RegistryPaths::new(dir)).expect("opens")
}

/// A registry with the commands of the issue, run in order: device create, secrets, trust,
/// endpoint add, asset create, dataset add (MQTT and state store), event group, event.
fn populated(dir: &Path) -> Registry {
    let mut reg = open(dir);
    reg.create(edit::new_device("gw").expect("name"))
        .expect("device create");
    reg.set_secret("creds/username", b"user").expect("secret");
    reg.set_secret("creds/password", b"pass").expect("secret");
    reg.add_trust("plant-ca", "ca.pem", CA.as_bytes())
        .expect("trust");
    reg.update(Kind::Device, "gw", |r| {
        edit::add_endpoint(
            r,
            EndpointSpec {
                name: "ep".into(),
                address: "https://gw.example/base".into(),
                method: Method::UsernamePassword,
                username_secret: Some("creds/username".into()),
                password_secret: Some("creds/password".into()),
                trust_list: Some("plant-ca".into()),
                ..EndpointSpec::default()
            },
        )
    })
    .expect("endpoint add");
    let attrs = [edit::parse_attribute("line=A").expect("attr")];
    reg.create(edit::new_asset("pump", "gw", "ep", &attrs).expect("asset"))
        .expect("asset create");
    reg.update(Kind::Asset, "pump", |r| {
        edit::add_dataset(
            r,
            "readings",
            "/api/readings",
            Some(parse_cli("topic=data/pump,qos=Qos1,retain=Never,ttl=3600")?),
        )?;
        edit::add_dataset(
            r,
            "latest",
            "/api/readings",
            Some(parse_cli("key=pump/latest")?),
        )
    })
    .expect("dataset add");
    reg.update(Kind::Asset, "pump", |r| {
        edit::add_event_group(
            r,
            "alerts",
            Some("/events"),
            Some(parse_cli("topic=events/pump")?),
        )
    })
    .expect("event-group add");
    reg.update(Kind::Asset, "pump", |r| {
        edit::add_event(r, "alerts", "overheat", "overheat", None)
    })
    .expect("event add");
    reg
}

#[test]
fn the_commands_build_a_valid_registry_of_readable_yaml() {
    let dir = tempfile::tempdir().expect("tempdir");
    let reg = populated(dir.path());
    let snap = reg.snapshot();
    assert!(snap.is_valid(), "{:#?}", snap.problems);
    assert_eq!(snap.plan.len(), 3);
    let text = fs::read_to_string(dir.path().join("assets/pump.yaml")).expect("written");
    assert!(
        text.starts_with("apiVersion: namespaces.deviceregistry.microsoft.com/v1\nkind: Asset\n"),
        "{text}"
    );
    assert!(text.contains("topic: data/pump"), "{text}");
    assert!(
        fs::read_to_string(dir.path().join("devices/gw.yaml"))
            .expect("written")
            .contains("trustList: plant-ca")
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(dir.path().join("secrets/creds/password"))
            .expect("secret")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // No temporary file is left behind.
    let leftovers: Vec<_> = fs::read_dir(dir.path().join("assets"))
        .expect("ls")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn writes_refuse_what_validate_rejects_and_leave_files_unchanged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut reg = populated(dir.path());
    let before = fs::read_to_string(dir.path().join("devices/gw.yaml")).expect("read");
    let err = reg
        .update(Kind::Device, "gw", |r| {
            edit::add_endpoint(
                r,
                EndpointSpec {
                    name: "mtls".into(),
                    address: "https://gw.example".into(),
                    method: Method::Certificate,
                    cert_secret: Some("missing/cert".into()),
                    ..EndpointSpec::default()
                },
            )
        })
        .expect_err("missing secret");
    match &err {
        Error::Invalid(problems) => {
            // The device's own problem, and its consequence for the asset using it.
            let text: Vec<_> = problems.iter().map(ToString::to_string).collect();
            assert_eq!(text.len(), 2, "{text:#?}");
            assert!(text.iter().any(|t| t.contains("Device/gw: spec.endpoints.inbound.mtls.authentication.x509Credentials.certificateSecretName: secret \"missing/cert\"")), "{text:#?}");
            assert!(
                text.iter()
                    .any(|t| t.contains("Asset/pump: spec.deviceRef.deviceName")),
                "{text:#?}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        fs::read_to_string(dir.path().join("devices/gw.yaml")).expect("read"),
        before
    );

    let err = reg.update(Kind::Asset, "pump", |r| {
        edit::add_dataset(r, "wild", "/x", Some(parse_cli("topic=a/#")?))
    });
    assert!(matches!(err, Err(Error::Invalid(_))), "{err:?}");
    let err = reg.update(Kind::Asset, "pump", |r| {
        edit::add_event(r, "alerts", "bad", "x", Some(parse_cli("key=k")?))
    });
    assert!(
        matches!(err, Err(Error::Invalid(_))),
        "BrokerStateStore on an event: {err:?}"
    );
    let err = reg.update(Kind::Asset, "pump", |r| {
        edit::add_dataset(r, "readings", "/x", None)
    });
    assert!(
        matches!(err, Err(Error::Model(model::Error::AlreadyExists { .. }))),
        "{err:?}"
    );
    let err = reg.create(edit::new_asset("orphan", "nope", "ep", &[]).expect("asset"));
    assert!(matches!(err, Err(Error::Invalid(_))), "{err:?}");
    assert!(!dir.path().join("assets/orphan.yaml").exists());
    assert!(matches!(
        reg.create(edit::new_device("gw").expect("name")),
        Err(Error::Model(model::Error::AlreadyExists { .. }))
    ));
}

#[test]
fn delete_is_refused_while_referenced() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut reg = populated(dir.path());
    assert!(matches!(
        reg.delete(Kind::Device, "gw"),
        Err(Error::Invalid(_))
    ));
    assert!(dir.path().join("devices/gw.yaml").exists());
    reg.delete(Kind::Asset, "pump").expect("asset delete");
    reg.delete(Kind::Device, "gw").expect("device delete");
    assert!(reg.definitions().expect("list").is_empty());
    assert!(matches!(
        reg.delete(Kind::Device, "gw"),
        Err(Error::Model(model::Error::NotFound { .. }))
    ));
}

#[test]
fn other_resources_files_are_untouched_and_shared_files_are_not_rewritten() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut reg = populated(dir.path());
    let shared = "# hand-written, with a comment\napiVersion: namespaces.deviceregistry.microsoft.com/v1\nkind: Device\nmetadata: {name: d2}\nspec: {}\n---\napiVersion: namespaces.deviceregistry.microsoft.com/v1\nkind: Device\nmetadata: {name: d3}\nspec: {}\n";
    fs::write(dir.path().join("hand.yaml"), shared).expect("write");
    let device_before = fs::read(dir.path().join("devices/gw.yaml")).expect("read");
    reg.update(Kind::Asset, "pump", |r| {
        edit::add_dataset(r, "more", "/more", Some(parse_cli("topic=more")?))
    })
    .expect("dataset add");
    assert_eq!(
        fs::read(dir.path().join("devices/gw.yaml")).expect("read"),
        device_before
    );
    assert_eq!(
        fs::read_to_string(dir.path().join("hand.yaml")).expect("read"),
        shared
    );
    let err = reg.update(Kind::Device, "d2", |r| {
        edit::add_endpoint(
            r,
            EndpointSpec {
                name: "e".into(),
                address: "https://x".into(),
                ..EndpointSpec::default()
            },
        )
    });
    assert!(matches!(err, Err(Error::SharedFile { .. })), "{err:?}");
}

#[test]
fn secret_and_trust_names_that_leave_their_directory_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut reg = open(dir.path());
    for name in ["../escape", "/etc/x", "a/../../b"] {
        assert!(
            matches!(
                reg.set_secret(name, b"x"),
                Err(Error::Model(model::Error::Invalid { .. }))
            ),
            "{name}"
        );
        assert!(
            matches!(
                reg.add_trust(name, "ca.pem", CA.as_bytes()),
                Err(Error::Model(_))
            ),
            "{name}"
        );
    }
    assert!(matches!(
        reg.add_trust("ca", "../ca.pem", CA.as_bytes()),
        Err(Error::Model(_))
    ));
    assert!(matches!(
        reg.add_trust("ca", "ca.pem", b"not pem"),
        Err(Error::NotPem(_))
    ));
    assert!(!dir.path().join("escape").exists());
}

/// Every field of the model, plus unknown ones, read and written back: nothing lost.
const FULL_ASSET: &str = r#"apiVersion: namespaces.deviceregistry.microsoft.com/v1
kind: Asset
metadata:
  name: full
  namespace: azure-iot-operations
  labels: {a: b}
  uid: 1234
status: {config: {version: 3}}
extraTop: kept
spec:
  uuid: u-1
  enabled: true
  externalAssetId: ext-1
  displayName: Full
  description: every field
  deviceRef: {deviceName: d, endpointName: e, futureRef: 1}
  assetTypeRefs: [t1]
  version: 7
  lastTransitionTime: "2026-01-01T00:00:00Z"
  manufacturer: M
  manufacturerUri: https://m.example
  model: X
  productCode: P
  hardwareRevision: H
  softwareRevision: S
  documentationUri: https://doc.example
  serialNumber: "0042"
  attributes: {line: A, count: 3, nested: {x: [1, 2]}}
  discoveredAssetRefs: [r1]
  defaultDatasetsConfiguration: "{}"
  defaultEventsConfiguration: "{}"
  defaultStreamsConfiguration: "{}"
  defaultManagementGroupsConfiguration: "{}"
  defaultDatasetsDestinations: [{target: Mqtt, configuration: {topic: t, qos: Qos0, retain: Keep, ttl: 5}}]
  defaultEventsDestinations: [{target: Storage, configuration: {path: e.jsonl}}]
  defaultStreamsDestinations: [{target: Mqtt, configuration: {topic: s, futureOption: true}}]
  datasets:
    - name: ds
      dataSource: /x
      typeRef: tr
      datasetConfiguration: '{"eventTypes": ["a"]}'
      destinations: [{target: BrokerStateStore, configuration: {key: k}}]
      dataPoints: [{name: p, dataSource: /p, dataPointConfiguration: "{}", typeRef: tp}]
  eventGroups:
    - name: g
      dataSource: ""
      eventGroupConfiguration: "{}"
      typeRef: tg
      defaultDestinations: [{target: Mqtt, configuration: {topic: g}}]
      events: [{name: e, dataSource: x, eventConfiguration: "{}", typeRef: te, destinations: [{target: Mqtt, configuration: {topic: e}}]}]
  streams: [{name: s, streamConfiguration: "{}", typeRef: ts, destinations: [{target: Mqtt, configuration: {topic: s}}]}]
  managementGroups:
    - name: m
      dataSource: ds
      managementGroupConfiguration: "{}"
      typeRef: tm
      defaultTopic: mt
      defaultTimeoutInSeconds: 100
      actions: [{name: a, actionConfiguration: "{}", targetUri: u, typeRef: ta, topic: at, actionType: Call, timeoutInSeconds: 5}]
  status: {datasets: [{name: ds}]}
  provisioningState: Succeeded
  someFutureField: {deep: [1, {x: y}]}
"#;

fn read_one(path: &Path) -> Located {
    let text = fs::read_to_string(path).expect("read");
    let docs = parse_documents(path, &text).expect("parses");
    assert_eq!(docs.len(), 1);
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    match model::resource::decode(docs.into_iter().next().expect("one"), stem) {
        Ok(model::Decoded::Resource(r)) => Located {
            file: path.to_path_buf(),
            document: 1,
            resource: *r,
        },
        other => panic!("{other:?}"),
    }
}

#[test]
fn round_trip_loses_no_field_yaml_and_arm_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("full.yaml");
    fs::write(&path, FULL_ASSET).expect("write");
    let original = read_one(&path);
    let source_value: serde_json::Value = parse_documents(&path, FULL_ASSET)
        .expect("parses")
        .remove(0);
    assert_eq!(
        original.resource.to_value().expect("value"),
        source_value,
        "every field read is kept"
    );
    let unknown: Vec<_> = original
        .resource
        .unknown_fields()
        .iter()
        .map(|p| p.as_str().to_owned())
        .collect();
    assert_eq!(
        unknown,
        [
            "extraTop",
            "spec.someFutureField",
            "spec.deviceRef.futureRef",
            "spec.defaultStreamsDestinations[0].configuration.futureOption"
        ],
        "Kubernetes metadata such as uid is kept but not reported"
    );

    let written = dir.path().join("written.yaml");
    fs::write(&written, render(&original).expect("renders")).expect("write");
    assert_eq!(
        read_one(&written).resource,
        original.resource,
        "YAML round trip"
    );

    let arm = dir.path().join("arm.json");
    let mut value = source_value;
    let spec = value["spec"].take();
    let arm_doc = serde_json::json!({"name": "full", "type": "Microsoft.DeviceRegistry/namespaces/assets",
        "location": "westeurope", "tags": {"x": "y"}, "properties": spec});
    fs::write(&arm, serde_json::to_string(&arm_doc).expect("json")).expect("write");
    let arm_read = read_one(&arm);
    let rewritten = dir.path().join("rewritten.json");
    fs::write(&rewritten, render(&arm_read).expect("renders")).expect("write");
    let again: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&rewritten).expect("read")).expect("json");
    assert_eq!(again, arm_doc, "ARM JSON round trip");
}
