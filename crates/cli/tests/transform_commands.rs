//! Setting transforms from the command line, end to end: the real binary on a copy of
//! `examples/registry/` with a graph in `graphs/` and the test module in `modules/` —
//! `asset dataset add --transform`, `asset event add --transform`, `asset transform set|remove`
//! — their files, exit statuses and messages.

#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/registry");

/// source → rewrite (map) → sink, the map's module `guest:1.0.0`.
const MAP_GRAPH: &str = r#"
moduleConfigurations:
  - name: rewrite
    parameters:
      mode: { name: mode, required: true }
operations:
  - { operationType: "source", name: "source" }
  - { operationType: "map", name: "rewrite", module: "guest:1.0.0" }
  - { operationType: "sink", name: "sink" }
connections:
  - { from: { name: "source" }, to: { name: "rewrite" } }
  - { from: { name: "rewrite" }, to: { name: "sink" } }
"#;

/// A map that leads back to itself.
const CYCLE_GRAPH: &str = r#"
operations:
  - { operationType: "source", name: "source" }
  - { operationType: "map", name: "a", module: "guest:1.0.0" }
  - { operationType: "map", name: "b", module: "guest:1.0.0" }
  - { operationType: "sink", name: "sink" }
connections:
  - { from: { name: "source" }, to: { name: "a" } }
  - { from: { name: "a" }, to: { name: "b" } }
  - { from: { name: "b" }, to: { name: "a" } }
"#;

/// An operator a connector does not run.
const ACCUMULATE_GRAPH: &str = r#"
operations:
  - { operationType: "source", name: "source" }
  - { operationType: "accumulate", name: "window", module: "guest:1.0.0" }
  - { operationType: "sink", name: "sink" }
connections:
  - { from: { name: "source" }, to: { name: "window" } }
  - { from: { name: "window" }, to: { name: "sink" } }
"#;

/// A map whose module is not in `modules/`.
const ABSENT_MODULE_GRAPH: &str = r#"
operations:
  - { operationType: "source", name: "source" }
  - { operationType: "map", name: "m", module: "absent:2.0.0" }
  - { operationType: "sink", name: "sink" }
connections:
  - { from: { name: "source" }, to: { name: "m" } }
  - { from: { name: "m" }, to: { name: "sink" } }
"#;

#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// The test module CI built (`SSE_CONNECTOR_TEST_GUEST`), else the committed copy.
fn guest() -> PathBuf {
    std::env::var_os("SSE_CONNECTOR_TEST_GUEST").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../transform/tests/guest.wasm"),
        PathBuf::from,
    )
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

/// A copy of the examples at `registry/`, with the graphs above and the test module.
fn registry() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("registry");
    copy_dir(Path::new(EXAMPLES), &registry);
    fs::create_dir_all(registry.join("graphs")).unwrap();
    fs::create_dir_all(registry.join("modules")).unwrap();
    fs::copy(guest(), registry.join("modules/guest-1.0.0.wasm")).unwrap();
    for (name, text) in [
        ("map", MAP_GRAPH),
        ("cycle", CYCLE_GRAPH),
        ("accumulate", ACCUMULATE_GRAPH),
        ("absent-module", ABSENT_MODULE_GRAPH),
    ] {
        fs::write(registry.join(format!("graphs/{name}.yaml")), text).unwrap();
    }
    dir
}

/// Runs the binary in `cwd` and expects exit status `code`.
#[track_caller]
fn expect(code: i32, cwd: &Path, args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_sse-connector"))
        .args(args)
        .current_dir(cwd)
        .env_remove("RUST_LOG")
        .env_remove("SSE_CONNECTOR_REGISTRY")
        .env_remove("SSE_CONNECTOR_SECRETS")
        .env_remove("SSE_CONNECTOR_TRUST")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let run = Run {
        code: output.status.code().expect("exited"),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    };
    assert_eq!(run.code, code, "sse-connector {}: {run:#?}", args.join(" "));
    run
}

/// The asset as `asset show -o json` prints it.
fn show(cwd: &Path, asset: &str) -> Value {
    let run = expect(0, cwd, &["asset", "show", asset, "-o", "json"]);
    serde_json::from_str(&run.stdout).unwrap()
}

/// A configuration string of the asset, parsed: `pointer` leads to the string.
fn configuration(asset: &Value, pointer: &str) -> Value {
    let text = asset
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no {pointer} in {asset:#}"));
    serde_json::from_str(text).unwrap()
}

#[test]
fn a_dataset_and_an_event_are_added_with_a_transform_and_the_registry_stays_valid() {
    let dir = registry();
    let cwd = dir.path();
    let run = expect(
        0,
        cwd,
        &[
            "asset",
            "dataset",
            "add",
            "weather",
            "--name",
            "cleaned",
            "--data-source",
            "/api/weather",
            "--dest",
            "topic=plant/cleaned",
            "--transform",
            "graphs/map.yaml",
            "--transform-config",
            r#"{"rewrite": {"mode": "json", "limit": 3}}"#,
            "--on-error",
            "deadLetter",
        ],
    );
    assert_eq!(run.stdout, "updated registry/assets/weather.yaml\n");
    let asset = show(cwd, "weather");
    let datasets = asset["spec"]["datasets"].as_array().unwrap();
    let index = datasets
        .iter()
        .position(|d| d["name"] == "cleaned")
        .unwrap();
    assert_eq!(
        configuration(
            &asset,
            &format!("/spec/datasets/{index}/datasetConfiguration")
        ),
        json!({"transform": {"graph": "graphs/map.yaml",
                             "configuration": {"rewrite": {"mode": "json", "limit": 3}},
                             "onError": "deadLetter"}})
    );

    // An event, its configuration from a file.
    fs::write(cwd.join("config.json"), r#"{"rewrite": {"mode": "json"}}"#).unwrap();
    expect(
        0,
        cwd,
        &[
            "asset",
            "event",
            "add",
            "plant-alarms",
            "--event-group",
            "alerts",
            "--name",
            "cleaned",
            "--data-source",
            "cleaned",
            "--transform",
            "graphs/map.yaml",
            "--transform-config",
            "@config.json",
        ],
    );
    let asset = show(cwd, "plant-alarms");
    assert_eq!(
        configuration(&asset, "/spec/eventGroups/0/events/3/eventConfiguration"),
        json!({"transform": {"graph": "graphs/map.yaml",
                             "configuration": {"rewrite": {"mode": "json"}}}})
    );

    // `validate` (which compiles the module) finds nothing wrong with what was written.
    let valid = expect(0, cwd, &["validate", "--registry", "registry"]);
    assert!(valid.stdout.starts_with("valid: "), "{valid:#?}");
}

#[test]
fn set_replaces_a_transform_keeps_the_other_keys_and_remove_takes_it_away() {
    let dir = registry();
    let cwd = dir.path();
    // `readings` has `{"eventTypes": ["reading"]}`.
    let set = |args: &[&str]| {
        let mut line = vec![
            "asset",
            "transform",
            "set",
            "weather",
            "--dataset",
            "readings",
        ];
        line.extend(args);
        expect(0, cwd, &line);
        configuration(
            &show(cwd, "weather"),
            "/spec/datasets/0/datasetConfiguration",
        )
    };
    let config = set(&[
        "--graph",
        "graphs/map.yaml",
        "--configuration",
        r#"{"rewrite": {"mode": "json"}}"#,
    ]);
    assert_eq!(
        config,
        json!({"eventTypes": ["reading"],
               "transform": {"graph": "graphs/map.yaml",
                             "configuration": {"rewrite": {"mode": "json"}}}})
    );
    let config = set(&[
        "--graph",
        "graphs/map.yaml",
        "--configuration",
        r#"{"rewrite": {"mode": "topic:plant/other"}}"#,
        "--on-error",
        "passThrough",
    ]);
    assert_eq!(
        config["transform"],
        json!({"graph": "graphs/map.yaml",
               "configuration": {"rewrite": {"mode": "topic:plant/other"}},
               "onError": "passThrough"}),
        "the transform is replaced as a whole"
    );
    assert_eq!(config["eventTypes"], json!(["reading"]));

    expect(
        0,
        cwd,
        &[
            "asset",
            "transform",
            "remove",
            "weather",
            "--dataset",
            "readings",
        ],
    );
    assert_eq!(
        configuration(
            &show(cwd, "weather"),
            "/spec/datasets/0/datasetConfiguration"
        ),
        json!({"eventTypes": ["reading"]})
    );

    // An event's: set, then removed, leaving no configuration at all.
    let event = ["--event", "alerts/overheat"];
    let mut line = vec!["asset", "transform", "set", "plant-alarms"];
    line.extend(event);
    line.extend([
        "--graph",
        "graphs/map.yaml",
        "--configuration",
        r#"{"rewrite": {"mode": "json"}}"#,
    ]);
    expect(0, cwd, &line);
    let overheat = "/spec/eventGroups/0/events/0/eventConfiguration";
    assert_eq!(
        configuration(&show(cwd, "plant-alarms"), overheat)["transform"]["graph"],
        "graphs/map.yaml"
    );
    let mut line = vec!["asset", "transform", "remove", "plant-alarms"];
    line.extend(event);
    expect(0, cwd, &line);
    assert_eq!(show(cwd, "plant-alarms").pointer(overheat), None);
}

/// Every file below `dir` with its contents.
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
fn malformed_values_are_usage_errors_with_exit_2() {
    let dir = registry();
    let cwd = dir.path();
    let before = contents(&cwd.join("registry"));
    let usage = |args: &[&str], message: &str| {
        let run = expect(2, cwd, args);
        assert!(run.stderr.contains(message), "{message:?} in {run:#?}");
        assert_eq!(contents(&cwd.join("registry")), before);
    };
    let set = [
        "asset",
        "transform",
        "set",
        "weather",
        "--dataset",
        "readings",
    ];
    let with = |extra: &[&'static str]| -> Vec<&'static str> {
        set.iter().copied().chain(extra.iter().copied()).collect()
    };
    usage(
        &with(&["--graph", "graphs/map.yaml", "--on-error", "retry"]),
        "invalid value 'retry' for '--on-error <X>'",
    );
    usage(
        &with(&[
            "--graph",
            "graphs/map.yaml",
            "--configuration",
            "{mode: json}",
        ]),
        "not JSON: key must be a string",
    );
    usage(
        &with(&[
            "--graph",
            "graphs/map.yaml",
            "--configuration",
            "@nowhere.json",
        ]),
        "cannot read nowhere.json",
    );
    usage(
        &with(&[
            "--graph",
            "graphs/map.yaml",
            "--configuration",
            r#"{"rewrite": {"mode": ["json"]}}"#,
        ]),
        "transform.configuration.rewrite.mode must be a string, number or boolean",
    );
    usage(
        &with(&["--graph", "../graphs/map.yaml"]),
        "transform.graph: \"../graphs/map.yaml\" leaves its directory",
    );
    usage(
        &[
            "asset",
            "transform",
            "set",
            "weather",
            "--graph",
            "graphs/map.yaml",
        ],
        "--dataset <NAME>|--event <GROUP/NAME>",
    );
    usage(
        &[
            "asset",
            "transform",
            "remove",
            "plant-alarms",
            "--event",
            "overheat",
        ],
        "\"overheat\" is not GROUP/NAME",
    );
    usage(
        &[
            "asset",
            "dataset",
            "add",
            "weather",
            "--name",
            "n",
            "--data-source",
            "/x",
            "--on-error",
            "drop",
        ],
        "--transform <GRAPH>",
    );
}

#[test]
fn graphs_the_registry_rejects_are_refused_with_validates_message_and_exit_1() {
    let dir = registry();
    let cwd = dir.path();
    let before = contents(&cwd.join("registry"));
    let refused = |args: &[&str], message: &str| {
        let run = expect(1, cwd, args);
        assert_eq!(run.stdout, "");
        assert!(run.stderr.contains(message), "{message:?} in {run:#?}");
        assert_eq!(contents(&cwd.join("registry")), before);
    };
    let set = |graph: &'static str| {
        vec![
            "asset",
            "transform",
            "set",
            "weather",
            "--dataset",
            "readings",
            "--graph",
            graph,
            "--configuration",
            r#"{"rewrite": {"mode": "json"}}"#,
        ]
    };
    refused(
        &set("graphs/missing.yaml"),
        "error: refused, the result would not be valid:\nregistry/graphs/missing.yaml: \
         Asset/weather: transform.graph: the graph definition cannot be read",
    );
    refused(
        &set("graphs/cycle.yaml"),
        "registry/graphs/cycle.yaml: Asset/weather: transform.graph: the graph has a cycle",
    );
    refused(
        &set("graphs/accumulate.yaml"),
        "operation \"window\": accumulate is not supported by this connector",
    );
    refused(
        &set("graphs/absent-module.yaml"),
        "operation \"m\": module registry/modules/absent-2.0.0.wasm is not there",
    );
    // A required parameter left out.
    refused(
        &[
            "asset",
            "dataset",
            "add",
            "weather",
            "--name",
            "n",
            "--data-source",
            "/x",
            "--dest",
            "topic=plant/n",
            "--transform",
            "graphs/map.yaml",
        ],
        "operation \"rewrite\" needs parameter \"mode\" (transform.configuration.rewrite.mode)",
    );
    // Nothing to change.
    refused(
        &[
            "asset",
            "transform",
            "remove",
            "weather",
            "--dataset",
            "readings",
        ],
        "error: Asset/weather has no transform on dataset \"readings\"",
    );
    refused(
        &[
            "asset",
            "transform",
            "remove",
            "plant-alarms",
            "--event",
            "alerts/nope",
        ],
        "error: Asset/plant-alarms event group \"alerts\" has no event \"nope\"",
    );
}
