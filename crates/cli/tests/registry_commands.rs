//! The registry commands end to end: the real binary on real directories — `validate`,
//! `device …`, `asset …`, `secret set`, `trust add` — their output, exit statuses and files.

#![allow(clippy::unwrap_used)]

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/registry");
const CA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../examples/registry/trust/plant-ca/ca.pem"
);
const PASSWORD: &str = "pa55-W0rd-never-shown";

/// What a finished run left behind.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Self {
        Self {
            code: output.status.code().expect("exited"),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }
}

/// A command of the binary run in `cwd`, with none of our environment variables set.
fn command(cwd: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sse-connector"));
    command
        .args(args)
        .current_dir(cwd)
        .env_remove("RUST_LOG")
        .env_remove("SSE_CONNECTOR_REGISTRY")
        .env_remove("SSE_CONNECTOR_SECRETS")
        .env_remove("SSE_CONNECTOR_TRUST")
        .stdin(Stdio::null());
    command
}

fn run(cwd: &Path, args: &[&str]) -> Run {
    command(cwd, args).output().unwrap().into()
}

/// Runs and expects exit status `code`.
#[track_caller]
fn expect(code: i32, cwd: &Path, args: &[&str]) -> Run {
    let run = run(cwd, args);
    assert_eq!(run.code, code, "sse-connector {}: {run:#?}", args.join(" "));
    run
}

/// A command line split at spaces (no argument of these tests holds one).
fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A temporary directory holding a copy of `examples/registry/` at `registry/`.
fn examples() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("registry");
    copy_dir(Path::new(EXAMPLES), &registry);
    (dir, registry)
}

/// Every file below `dir` with its contents, to show that a refused command wrote nothing.
fn contents(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(contents(&path));
        } else {
            out.push((path.clone(), fs::read(&path).unwrap()));
        }
    }
    out.sort();
    out
}

#[test]
fn validate_passes_on_the_examples_with_the_summary() {
    let (dir, _) = examples();
    let run = expect(0, dir.path(), &["validate", "--registry", "registry"]);
    assert_eq!(
        run.stdout,
        "valid: 4 devices, 3 assets, 6 data operations on 4 streams, 0 warnings in 7 files\n"
    );
    // The default registry is ./registry.
    let default = expect(0, dir.path(), &["validate"]);
    assert_eq!(default.stdout, run.stdout);
}

#[test]
fn validate_prints_every_error_as_file_resource_path_message_and_exits_1() {
    let (dir, registry) = examples();
    fs::write(
        registry.join("devices/broken.yaml"),
        "apiVersion: x\nkind: [\n",
    )
    .unwrap();
    let edit = |file: &str, from: &str, to: &str| {
        let path = registry.join(file);
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{file}");
        fs::write(path, text.replace(from, to)).unwrap();
    };
    edit(
        "assets/plant-alarms.yaml",
        "deviceName: plant-gateway",
        "deviceName: nowhere",
    );
    edit(
        "assets/line-a.yaml",
        "topic: azure-iot-operations/data/line-a",
        "topic: data/+/line-a",
    );
    edit("assets/weather.yaml", "spec:\n", "spec:\n  colour: red\n");

    let run = expect(1, dir.path(), &["validate", "--registry", "registry"]);
    let r = "registry";
    let expected = [
        format!(
            "{r}/assets/line-a.yaml: Asset/line-a: spec.defaultDatasetsDestinations[0]\
             .configuration.topic: \"data/+/line-a\" contains a wildcard (+ or #); a publish \
             topic cannot"
        ),
        format!(
            "{r}/assets/plant-alarms.yaml: Asset/plant-alarms: spec.deviceRef.deviceName: \
             unknown device \"nowhere\" (or the device is not valid)"
        ),
        format!("{r}/devices/broken.yaml: -: line 2, column 7: unclosed bracket '['"),
        format!(
            "warning: {r}/assets/weather.yaml: Asset/weather: spec.colour: unknown field, \
             kept as it is"
        ),
        "invalid (3 errors): 4 devices, 1 asset, 2 data operations on 1 stream, 1 warning \
         in 8 files"
            .to_owned(),
    ];
    assert_eq!(run.stdout.lines().collect::<Vec<_>>(), expected);

    // --quiet: the errors only.
    let quiet = expect(1, dir.path(), &["validate", "-q", "--registry", "registry"]);
    assert_eq!(quiet.stdout.lines().collect::<Vec<_>>(), expected[..3]);
}

#[test]
fn validate_without_a_registry_directory_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let run = expect(1, dir.path(), &["validate", "--registry", "nowhere"]);
    assert_eq!(
        run.stderr,
        "error: registry directory nowhere does not exist\n"
    );
}

#[test]
fn a_script_builds_a_valid_registry_from_an_empty_directory() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    fs::write(cwd.join("username"), "operator").unwrap();
    fs::write(cwd.join("password"), PASSWORD).unwrap();
    let step = |line: &str, stdout: &str| {
        let args = words(line);
        let run = expect(0, cwd, &args);
        assert_eq!(run.stdout, stdout, "{line}");
        assert_eq!(run.stderr, "", "{line}");
    };
    step("device create gw", "created registry/devices/gw.yaml\n");
    step(
        "secret set creds/username --from-file username",
        "set secret creds/username in registry/secrets/creds/username\n",
    );
    step(
        "secret set creds/password --from-file password",
        "set secret creds/password in registry/secrets/creds/password\n",
    );
    step(
        &format!("trust add plant-ca {CA}"),
        "added registry/trust/plant-ca/ca.pem to trust list plant-ca\n",
    );
    step(
        "device endpoint add gw --name ep --address https://gw.example/base \
         --username-secret creds/username --password-secret creds/password \
         --trust-list plant-ca",
        "updated registry/devices/gw.yaml\n",
    );
    step(
        "asset create pump --device gw --endpoint ep --attribute line=A",
        "created registry/assets/pump.yaml\n",
    );
    let updated = "updated registry/assets/pump.yaml\n";
    step(
        "asset dataset add pump --name readings --data-source /api/readings \
         --dest topic=data/pump,qos=Qos1,retain=Never,ttl=3600",
        updated,
    );
    step(
        "asset dataset add pump --name latest --data-source /api/readings \
         --dest key=pump/latest",
        updated,
    );
    step(
        "asset event-group add pump --name alerts --data-source /events \
         --dest topic=events/pump",
        updated,
    );
    step(
        "asset event add pump --event-group alerts --name overheat --data-source overheat",
        updated,
    );

    let valid = expect(0, cwd, &["validate"]);
    assert_eq!(
        valid.stdout,
        "valid: 1 device, 1 asset, 3 data operations on 2 streams, 0 warnings in 2 files\n"
    );

    let devices = expect(0, cwd, &["device", "list"]);
    assert_eq!(
        devices.stdout,
        "NAME  ENDPOINTS  ENABLED  STATUS  FILE\n\
         gw    ep         true     valid   registry/devices/gw.yaml\n"
    );
    let assets = expect(0, cwd, &["asset", "list"]);
    assert_eq!(
        assets.stdout,
        "NAME  DEVICE  DATASETS  EVENTS  ENABLED  STATUS  FILE\n\
         pump  gw/ep   2         1       true     valid   registry/assets/pump.yaml\n"
    );

    let shown = expect(0, cwd, &["asset", "show", "pump"]);
    assert_eq!(
        shown.stdout,
        fs::read_to_string(cwd.join("registry/assets/pump.yaml")).unwrap()
    );
    for text in [
        "kind: Asset",
        "deviceName: gw",
        "line: A",
        "topic: data/pump",
        "ttl: 3600",
        "target: BrokerStateStore",
        "key: pump/latest",
        "- name: alerts",
        "dataSource: overheat",
    ] {
        assert!(shown.stdout.contains(text), "{text:?} in {}", shown.stdout);
    }
    let json: Value =
        serde_json::from_str(&expect(0, cwd, &["asset", "show", "pump", "-o", "json"]).stdout)
            .unwrap();
    assert_eq!(json["spec"]["datasets"][1]["name"], "latest");
    assert_eq!(
        json["spec"]["eventGroups"][0]["events"][0]["name"],
        "overheat"
    );

    // The device is in use: it cannot go before the asset.
    let refused = expect(1, cwd, &["device", "delete", "gw"]);
    assert!(
        refused.stderr.contains("unknown device \"gw\""),
        "{refused:?}"
    );
    assert!(cwd.join("registry/devices/gw.yaml").exists());

    let deleted = expect(0, cwd, &["asset", "delete", "pump"]);
    assert_eq!(deleted.stdout, "deleted registry/assets/pump.yaml\n");
    assert!(!cwd.join("registry/assets/pump.yaml").exists());
    let none = expect(0, cwd, &["asset", "list"]);
    assert_eq!(none.stdout, "");
    assert_eq!(none.stderr, "no assets in registry\n");
    expect(1, cwd, &["asset", "show", "pump"]);
    expect(0, cwd, &["device", "delete", "gw"]);
}

#[test]
fn refused_writes_exit_1_with_the_validation_message_and_write_nothing() {
    let (dir, registry) = examples();
    let cwd = dir.path();
    let before = contents(&registry);
    let refused = |line: &str, message: &str| {
        let run = expect(1, cwd, &words(line));
        assert_eq!(run.stdout, "", "{line}");
        assert!(run.stderr.contains(message), "{message:?} in {run:#?}");
        assert_eq!(contents(&registry), before, "{line} wrote something");
    };
    refused(
        "asset event add plant-alarms --event-group alerts --name latest \
         --data-source latest --dest key=alarms/latest",
        "error: refused, the result would not be valid:\nregistry/assets/plant-alarms.yaml: \
         Asset/plant-alarms: spec.eventGroups[0].events[3].destinations[0].target: \
         BrokerStateStore is for datasets only; use Mqtt or Storage\n",
    );
    refused(
        "device endpoint add public-weather --name ftp --address ftp://x",
        "registry/devices/public-weather.yaml: Device/public-weather: \
         spec.endpoints.inbound.ftp.address: \"ftp://x\" is not an http(s) URL (scheme \"ftp\")",
    );
    fs::write(cwd.join("value"), "x").unwrap();
    refused(
        "secret set ../outside --from-file value",
        "error: secret name \"../outside\": \"../outside\" leaves its directory",
    );
    refused(
        "device create plant-gateway",
        "error: registry already has device \"plant-gateway\"",
    );
    refused(
        "asset create Bad_Name --device d --endpoint e",
        "error: asset name: \"Bad_Name\" is not a valid name",
    );
    refused(
        "asset event add plant-alarms --event-group nope --name e --data-source e",
        "error: Asset/plant-alarms has no event group \"nope\"",
    );
    refused("trust add plant-ca value", "no PEM certificate found");
    refused(
        "device endpoint add nowhere --name e --address https://h",
        "error: registry has no device \"nowhere\"",
    );
}

#[test]
fn malformed_options_are_usage_errors_with_exit_2() {
    let (dir, _) = examples();
    let cwd = dir.path();
    let usage = |line: &str, message: &str| {
        let run = expect(2, cwd, &words(line));
        assert!(run.stderr.contains(message), "{message:?} in {run:#?}");
    };
    let dataset = "asset dataset add weather --name n";
    usage(
        &format!("{dataset} --data-source /x --dest topic=t,qos=2"),
        "qos \"2\": use Qos0 or Qos1",
    );
    usage(
        &format!("{dataset} --data-source /x --dest key=k,qos=Qos1"),
        "qos, retain and ttl apply to topic= only",
    );
    usage(&format!("{dataset} --dest topic=t"), "--data-source <PATH>");
    let endpoint = "device endpoint add public-weather --name e --address https://h";
    for (options, message) in [
        (
            "--auth anonymous --username-secret u --password-secret p",
            "--auth anonymous takes no --*-secret option",
        ),
        (
            "--auth kerberos",
            "use anonymous, username-password or certificate",
        ),
        ("--username-secret u", "--password-secret <SECRET>"),
        (
            "--username-secret u --password-secret p --cert-secret c",
            "cannot be used with",
        ),
        (
            "--auth certificate",
            "--auth certificate needs --cert-secret",
        ),
        ("--key-secret k", "--cert-secret <SECRET>"),
    ] {
        usage(&format!("{endpoint} {options}"), message);
    }
    usage(
        "asset create a --device d --endpoint e --attribute novalue",
        "\"novalue\" is not key=value",
    );
    usage("device list -o xml", "invalid value 'xml'");
}

#[test]
fn secret_values_are_never_printed() {
    let (dir, registry) = examples();
    let cwd = dir.path();
    fs::write(cwd.join("password"), PASSWORD).unwrap();
    let set = expect(
        0,
        cwd,
        &[
            "secret",
            "set",
            "sse-creds/password",
            "--from-file",
            "password",
        ],
    );
    // Standard input works too, and the bytes are stored exactly.
    let mut child = command(cwd, &["secret", "set", "other/token", "--from-file", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{PASSWORD}\n").as_bytes())
        .unwrap();
    let piped: Run = child.wait_with_output().unwrap().into();
    assert_eq!(piped.code, 0, "{piped:?}");
    assert_eq!(
        fs::read(registry.join("secrets/other/token")).unwrap(),
        format!("{PASSWORD}\n").as_bytes()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(registry.join("secrets/sse-creds/password"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let runs = [
        set,
        piped,
        expect(0, cwd, &["device", "show", "plant-gateway"]),
        expect(0, cwd, &["device", "show", "plant-gateway", "-o", "json"]),
        expect(0, cwd, &["device", "list", "-o", "yaml"]),
        expect(0, cwd, &["validate"]),
    ];
    for run in runs {
        assert!(!run.stdout.contains(PASSWORD), "{run:?}");
        assert!(!run.stderr.contains(PASSWORD), "{run:?}");
    }
    let shown = expect(0, cwd, &["device", "show", "plant-gateway"]);
    assert!(
        shown
            .stdout
            .contains("passwordSecretName: sse-creds/password")
    );
}

#[test]
fn list_outputs_are_registry_files_and_options_come_from_anywhere() {
    let (dir, registry) = examples();
    let cwd = dir.path();
    // --registry before the subcommand, after it, or from the environment.
    let before = expect(
        0,
        cwd,
        &["asset", "--registry", "registry", "list", "-o", "json"],
    );
    let after = expect(
        0,
        cwd,
        &[
            "asset",
            "list",
            "--output",
            "json",
            "--registry",
            "registry",
        ],
    );
    let env: Run = command(Path::new("/"), &["asset", "list", "-o", "json"])
        .env("SSE_CONNECTOR_REGISTRY", &registry)
        .output()
        .unwrap()
        .into();
    assert_eq!(env.code, 0, "{env:?}");
    assert_eq!(before.stdout, after.stdout);
    assert_eq!(before.stdout, env.stdout);
    let assets: Value = serde_json::from_str(&before.stdout).unwrap();
    let names: Vec<&str> = assets
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["line-a", "plant-alarms", "weather"]);

    // The YAML list, saved as one file in place of the originals, is the same registry.
    let yaml = expect(0, cwd, &["asset", "list", "-o", "yaml"]);
    assert_eq!(yaml.stdout.matches("---\n").count(), 3);
    fs::remove_dir_all(registry.join("assets")).unwrap();
    fs::write(registry.join("all-assets.yaml"), &yaml.stdout).unwrap();
    let run = expect(0, cwd, &["validate"]);
    assert!(
        run.stdout
            .starts_with("valid: 4 devices, 3 assets, 6 data operations")
    );

    // --secrets and --trust move those directories.
    fs::rename(registry.join("secrets"), cwd.join("elsewhere-secrets")).unwrap();
    expect(1, cwd, &["validate"]);
    expect(0, cwd, &["validate", "--secrets", "elsewhere-secrets"]);
    fs::rename(registry.join("trust"), cwd.join("elsewhere-trust")).unwrap();
    expect(
        0,
        cwd,
        &[
            "validate",
            "--secrets",
            "elsewhere-secrets",
            "--trust",
            "elsewhere-trust",
        ],
    );
}
