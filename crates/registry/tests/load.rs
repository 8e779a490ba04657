//! Loading real directories: the examples, YAML and JSON, several documents a file, ARM form,
//! parse errors with positions, secrets and trust lists on disk.

use std::fs;
use std::path::{Path, PathBuf};

use model::{Credentials, Kind, OperationId};
use registry::{Registry, RegistryPaths, validate};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/registry")
}

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    fs::create_dir_all(path.parent().expect("has parent")).expect("mkdir");
    fs::write(path, text).expect("write");
}

const DEVICE: &str = "apiVersion: namespaces.deviceregistry.microsoft.com/v1
kind: Device
metadata: {name: dev}
spec:
  endpoints:
    inbound:
      ep: {endpointType: Microsoft.SSEHttp, address: 'https://h/base'}
";

fn asset(name: &str, topic: &str) -> String {
    format!(
        "apiVersion: namespaces.deviceregistry.microsoft.com/v1
kind: Asset
metadata: {{name: {name}}}
spec:
  deviceRef: {{deviceName: dev, endpointName: ep}}
  datasets:
    - name: d
      dataSource: /x
      destinations: [{{target: Mqtt, configuration: {{topic: {topic}}}}}]
"
    )
}

#[test]
fn the_examples_validate_cleanly_and_cover_every_mode() {
    let snap = validate(RegistryPaths::new(examples())).expect("opens");
    let problems: Vec<_> = snap.problems.iter().map(ToString::to_string).collect();
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(
        snap.summary()
            .starts_with("valid: 4 devices, 3 assets, 6 data operations"),
        "{}",
        snap.summary()
    );
    let creds: Vec<_> = snap
        .plan
        .operations
        .values()
        .map(|o| &o.stream.credentials)
        .collect();
    assert!(creds.iter().any(|c| matches!(c, Credentials::Anonymous)));
    assert!(
        creds
            .iter()
            .any(|c| matches!(c, Credentials::UsernamePassword { .. }))
    );
    assert!(
        creds
            .iter()
            .any(|c| matches!(c, Credentials::Certificate { key: Some(_), .. }))
    );
    let alarms = &snap.plan.operations[&OperationId::Event {
        asset: "plant-alarms".into(),
        group: "alerts".into(),
        event: "overheat".into(),
    }];
    assert_eq!(
        alarms.stream.url.as_str(),
        "https://gateway.plant.example/base-path/events"
    );
    assert_eq!(alarms.stream.trust.len(), 1);
    assert!(
        alarms.stream.trust[0]
            .path
            .ends_with("trust/plant-ca/ca.pem")
    );
    assert!(
        snap.resources
            .contains_key(&(Kind::Device, "lab-sensor".into())),
        "ARM form read"
    );
}

#[test]
fn several_documents_a_file_json_and_arm_forms() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "all.yaml",
        &format!("{DEVICE}---\n{}", asset("a", "t/a")),
    );
    write(
        dir.path(),
        "sub/b.json",
        r#"{"apiVersion": "namespaces.deviceregistry.microsoft.com/v1", "kind": "Asset", "metadata": {"name": "b"},
            "spec": {"deviceRef": {"deviceName": "dev", "endpointName": "ep"},
                     "datasets": [{"name": "d", "destinations": [{"target": "Mqtt", "configuration": {"topic": "t/b"}}]}]}}"#,
    );
    // An ARM PUT body: no name (taken from the file stem), no type (an asset has deviceRef).
    write(
        dir.path(),
        "c.json",
        r#"{"location": "x", "properties": {"deviceRef": {"deviceName": "dev", "endpointName": "ep"},
            "defaultDatasetsDestinations": [{"target": "Mqtt", "configuration": {"topic": "t/c"}}],
            "datasets": [{"name": "d"}]}}"#,
    );
    write(
        dir.path(),
        "k8s.yml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
    );
    write(dir.path(), "notes.txt", "not a definition");
    let snap = validate(RegistryPaths::new(dir.path())).expect("opens");
    assert!(snap.is_valid(), "{:#?}", snap.problems);
    let assets: Vec<_> = snap
        .plan
        .operations
        .keys()
        .map(|id| id.asset().to_owned())
        .collect();
    assert_eq!(assets, ["a", "b", "c"]);
    let warnings: Vec<_> = snap.warnings().map(ToString::to_string).collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains(
        "k8s.yml: document 1: (document): v1 ConfigMap is not a Device or Asset; ignored"
    ));
    assert_eq!(snap.files.len(), 4);
}

#[test]
fn parse_errors_carry_line_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "bad.yaml", "apiVersion: x\nkind: [Device\n");
    write(dir.path(), "bad.json", "{\n  \"kind\": \"Device\",\n}");
    let snap = validate(RegistryPaths::new(dir.path())).expect("opens");
    let errors: Vec<_> = snap.errors().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(
        errors[0].starts_with(&format!(
            "{}: -: line 3, column 1: ",
            dir.path().join("bad.json").display()
        )),
        "{}",
        errors[0]
    );
    assert!(
        errors[1].contains("bad.yaml: -: line 2, column 7: "),
        "{}",
        errors[1]
    );
}

#[test]
fn a_type_error_names_the_field_path_line_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "d.yaml", DEVICE);
    write(
        dir.path(),
        "a.yaml",
        &asset("a", "t").replace("topic: t}", "topic: t, qos: Qos7}"),
    );
    let snap = validate(RegistryPaths::new(dir.path())).expect("opens");
    let errors: Vec<_> = snap.errors().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].ends_with(
            "a.yaml: Asset/a: spec.datasets[0].destinations[0].configuration.qos: \
             line 9, column 68: unknown variant Qos7, expected Qos0 or Qos1"
        ),
        "{}",
        errors[0]
    );
}

#[test]
fn a_bad_value_hides_no_other_problem_of_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Document 2 has two type errors and, once they are set aside, a wildcard topic; document
    // 3 is another resource with its own problem.
    let text = format!(
        "{DEVICE}---
apiVersion: namespaces.deviceregistry.microsoft.com/v1
kind: Asset
metadata: {{name: a}}
spec:
  enabled: maybe
  deviceRef: {{deviceName: dev, endpointName: ep}}
  datasets:
    - name: d
      dataSource: /x
      destinations: [{{target: Mqtt, configuration: {{topic: 't/#', qos: Qos7}}}}]
---
{}",
        asset("b", "t/+")
    );
    write(dir.path(), "all.yaml", &text);
    let snap = validate(RegistryPaths::new(dir.path())).expect("opens");
    let errors: Vec<_> = snap
        .errors()
        .map(|p| format!("{}: {}: {}", p.resource, p.path, p.message))
        .collect();
    assert_eq!(errors.len(), 4, "{errors:#?}");
    let want = [
        "Asset/a: spec.enabled: line 13, column 12: invalid type: string \"maybe\", expected a boolean",
        "Asset/a: spec.datasets[0].destinations[0].configuration.qos: line 18, column 72: unknown variant Qos7",
        "Asset/a: spec.datasets[0].destinations[0].configuration.topic: \"t/#\" contains a wildcard",
        "Asset/b: spec.datasets[0].destinations[0].configuration.topic: \"t/+\" contains a wildcard",
    ];
    for w in want {
        assert!(errors.iter().any(|e| e.starts_with(w)), "{w}\n{errors:#?}");
    }
    assert_eq!(snap.plan.len(), 0, "neither asset runs");
}

#[test]
fn a_syntax_error_in_one_document_hides_not_the_others() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = format!("{DEVICE}---\nkind: [Asset\n---\n{}", asset("a", "t/a"));
    write(dir.path(), "all.yaml", &text);
    let snap = validate(RegistryPaths::new(dir.path())).expect("opens");
    let errors: Vec<_> = snap.errors().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].contains("all.yaml: -: line 9, column 7: "),
        "{}",
        errors[0]
    );
    assert_eq!(
        snap.plan.len(),
        1,
        "the device and asset around it are read"
    );
}

#[test]
fn json_type_errors_carry_line_and_column_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "d.yaml", DEVICE);
    write(
        dir.path(),
        "a.json",
        r#"[
  {"apiVersion": "namespaces.deviceregistry.microsoft.com/v1", "kind": "Asset",
   "metadata": {"name": "a"},
   "spec": {"deviceRef": {"deviceName": "dev", "endpointName": "ep"},
            "enabled": "maybe"}}
]"#,
    );
    let snap = validate(RegistryPaths::new(dir.path())).expect("opens");
    let errors: Vec<_> = snap.errors().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].contains("a.json: Asset/a: spec.enabled: line 5, column 24: invalid type"),
        "{}",
        errors[0]
    );
}

#[test]
fn secrets_in_a_kubernetes_mount_layout_resolve_through_symlinks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let creds = dir.path().join("secrets/creds");
    write(&creds, "..2024_01_01/username", "u");
    write(&creds, "..2024_01_01/password", "p");
    std::os::unix::fs::symlink("..2024_01_01", creds.join("..data")).expect("symlink");
    std::os::unix::fs::symlink("..data/username", creds.join("username")).expect("symlink");
    std::os::unix::fs::symlink("..data/password", creds.join("password")).expect("symlink");
    write(
        dir.path(),
        "d.yaml",
        &DEVICE.replace(
            "address: 'https://h/base'}",
            "address: 'https://h/base', authentication: {method: UsernamePassword, usernamePasswordCredentials: {usernameSecretName: creds/username, passwordSecretName: creds/password}}}",
        ),
    );
    write(dir.path(), "a.yaml", &asset("a", "t"));
    let snap = validate(RegistryPaths::new(dir.path())).expect("opens");
    assert!(snap.is_valid(), "{:#?}", snap.problems);
    let op = snap.plan.operations.values().next().expect("one op");
    match &op.stream.credentials {
        Credentials::UsernamePassword { password, .. } => {
            assert_eq!(password.path, dir.path().join("secrets/creds/password"));
            assert_eq!(password.version.len, 1);
        }
        other => panic!("{other:?}"),
    }
}

fn symlink(target: impl AsRef<Path>, link: impl AsRef<Path>) {
    let link = link.as_ref();
    fs::create_dir_all(link.parent().expect("has parent")).expect("mkdir");
    std::os::unix::fs::symlink(target, link).expect("symlink");
}

/// A device whose endpoint uses the secret `creds/password` (and `creds/username`) and the
/// trust list `ca`.
fn secured_device() -> String {
    DEVICE.replace(
        "address: 'https://h/base'}",
        "address: 'https://h/base', authentication: {method: UsernamePassword, usernamePasswordCredentials: {usernameSecretName: creds/username, passwordSecretName: creds/password}}, trustSettings: {trustList: ca}}",
    )
}

/// A Kubernetes mount of `files` in `dir`: `..2026_11_27_10_00_00.1/`, `..data` → it, and
/// each visible name → `..data/name`.
fn kubernetes_mount(dir: &Path, files: &[(&str, &[u8])]) {
    let ts = "..2026_11_27_10_00_00.1";
    for (name, bytes) in files {
        let path = dir.join(ts).join(name);
        fs::create_dir_all(path.parent().expect("has parent")).expect("mkdir");
        fs::write(path, bytes).expect("write");
        symlink(format!("..data/{name}"), dir.join(name));
    }
    symlink(ts, dir.join("..data"));
}

#[test]
fn kubernetes_mounts_of_secrets_and_trust_lists_are_followed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pem = fs::read(examples().join("trust/plant-ca/ca.pem")).expect("example CA");
    kubernetes_mount(
        &dir.path().join("secrets/creds"),
        &[("username", b"u"), ("password", b"p")],
    );
    kubernetes_mount(&dir.path().join("trust/ca"), &[("ca.pem", &pem)]);
    write(dir.path(), "d.yaml", &secured_device());
    write(dir.path(), "a.yaml", &asset("a", "t"));
    let snap = validate(RegistryPaths::new(dir.path())).expect("opens");
    assert!(snap.is_valid(), "{:#?}", snap.problems);
    let op = snap.plan.operations.values().next().expect("one op");
    assert_eq!(op.stream.trust.len(), 1);
    assert_eq!(op.stream.trust[0].path, dir.path().join("trust/ca/ca.pem"));
}

#[test]
fn symlinks_that_resolve_outside_the_secrets_or_trust_directory_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let outside = tempfile::tempdir().expect("tempdir");
    let pem = fs::read(examples().join("trust/plant-ca/ca.pem")).expect("example CA");
    write(outside.path(), "stolen", "root:x:0:0");
    write(
        outside.path(),
        "ca.pem",
        std::str::from_utf8(&pem).expect("utf8"),
    );
    // The username is fine; the password is a symlink (through `..data`, like a mount) to a
    // file elsewhere; one trust file points outside as well.
    write(dir.path(), "secrets/creds/..1/username", "u");
    symlink(
        outside.path().join("stolen"),
        dir.path().join("secrets/creds/..1/password"),
    );
    symlink("..1", dir.path().join("secrets/creds/..data"));
    symlink("..data/username", dir.path().join("secrets/creds/username"));
    symlink("..data/password", dir.path().join("secrets/creds/password"));
    symlink(
        outside.path().join("ca.pem"),
        dir.path().join("trust/ca/ca.pem"),
    );
    write(dir.path(), "d.yaml", &secured_device());
    let snap = validate(RegistryPaths::new(dir.path())).expect("opens");
    let errors: Vec<_> = snap.errors().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(
        errors[0].contains("passwordSecretName: secret \"creds/password\": ")
            && errors[0].contains("is a symlink that resolves outside"),
        "{}",
        errors[0]
    );
    assert!(
        errors[1].contains("trustList: trust list \"ca\": ")
            && errors[1].contains("ca.pem is a symlink that resolves outside"),
        "{}",
        errors[1]
    );

    // A trust list directory that is itself a symlink to elsewhere is refused too.
    fs::remove_dir_all(dir.path().join("trust/ca")).expect("rm");
    symlink(outside.path(), dir.path().join("trust/ca"));
    let snap = validate(RegistryPaths::new(dir.path())).expect("opens");
    assert!(
        snap.errors()
            .any(|e| e.to_string().contains("trust list \"ca\"") && e.message.contains("outside")),
        "{:#?}",
        snap.problems
    );
}

#[test]
fn secrets_and_trust_overrides_and_missing_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let elsewhere = tempfile::tempdir().expect("tempdir");
    write(elsewhere.path(), "s/cert", "x");
    write(elsewhere.path(), "t/ca/not-a-cert.pem", "hello");
    write(
        dir.path(),
        "d.yaml",
        &DEVICE.replace(
            "address: 'https://h/base'}",
            "address: 'https://h/base', authentication: {method: Certificate, x509Credentials: {certificateSecretName: cert, keySecretName: key}}, trustSettings: {trustList: ca}}",
        ),
    );
    let paths = RegistryPaths::new(dir.path())
        .with_secrets(elsewhere.path().join("s"))
        .with_trust(elsewhere.path().join("t"));
    let snap = validate(paths).expect("opens");
    let errors: Vec<_> = snap.errors().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(
        errors[0].contains("x509Credentials.keySecretName: secret \"key\":")
            && errors[0].contains("does not exist")
    );
    assert!(
        errors[1].contains("trustSettings.trustList: trust list \"ca\":")
            && errors[1].contains("holds no PEM certificate")
    );
}

#[test]
fn a_missing_registry_directory_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = Registry::open(RegistryPaths::new(dir.path().join("nope"))).expect_err("missing");
    assert_eq!(err.reason_code(), "RegistryMissing");
}

#[test]
fn certificates_trusted_by_every_endpoint_join_each_streams_trust() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "dev.yaml", DEVICE);
    write(dir.path(), "a.yaml", &asset("a", "t/a"));
    let pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    let common = dir.path().join("connector-trust");
    write(&common, "plant-ca.crt", pem);
    write(&common, "..data/ignored.crt", pem);
    let paths = RegistryPaths::new(dir.path()).with_common_trust(&common);
    let snapshot = validate(paths).expect("valid");
    assert!(snapshot.is_valid(), "{:?}", snapshot.problems);
    let trust: Vec<_> = snapshot
        .plan
        .operations
        .values()
        .flat_map(|op| op.stream.trust.iter().map(|f| f.path.clone()))
        .collect();
    assert_eq!(trust, vec![common.join("plant-ca.crt")]);

    // A directory that is not there is an error naming it; the plan still runs.
    let missing = dir.path().join("no-such-dir");
    let paths = RegistryPaths::new(dir.path()).with_common_trust(&missing);
    let snapshot = validate(paths).expect("read");
    let errors: Vec<String> = snapshot.errors().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("no-such-dir"), "{errors:?}");
    assert_eq!(snapshot.plan.len(), 1);
}

/// A YAML alias bomb (nine levels of nine aliases) stops at the parser's node budget with a
/// message whose own positions are kept whole; the other files are read.
#[test]
fn an_alias_bomb_is_refused_whole_and_hides_no_other_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut bomb = String::from("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for (previous, name) in ('a'..'j').zip('b'..='j') {
        let aliases = vec![format!("*{previous}"); 9].join(", ");
        bomb.push_str(&format!("{name}: &{name} [{aliases}]\n"));
    }
    write(dir.path(), "bomb.yaml", &bomb);
    write(dir.path(), "d.yaml", DEVICE);
    let snap = validate(RegistryPaths::new(dir.path())).expect("opens");
    let errors: Vec<_> = snap.errors().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].contains("bomb.yaml: -: line 6, column 16: budget breached: ")
            && errors[0].ends_with("(used at line 6, column 16)"),
        "{}",
        errors[0]
    );
    assert_eq!(
        snap.resources.len(),
        1,
        "the device of the other file is read"
    );
}
