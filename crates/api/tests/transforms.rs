//! Transforms through the API: `GET /api/v1/transforms` lists what is in the registry's
//! `graphs/` and `modules/`, and an asset's transform written with `POST`/`PUT` is checked
//! like `sse-connector validate` checks it (a malformed one, a missing graph, a missing
//! module: 422 naming the field or the graph), over a real listener and real files.

#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;

use serde_json::{Value, json};
use support::{Harness, asset, device, problems};

/// source → rewrite (map, `guest:1.0.0`, parameter `mode` required) → sink.
const MAP_GRAPH: &str = r#"
moduleConfigurations:
  - name: rewrite
    parameters:
      mode: { name: mode, required: true }
      extra: { name: extra-name }
operations:
  - { operationType: "source", name: "source" }
  - { operationType: "map", name: "rewrite", module: "guest:1.0.0" }
  - { operationType: "sink", name: "sink" }
connections:
  - { from: { name: "source" }, to: { name: "rewrite" } }
  - { from: { name: "rewrite" }, to: { name: "sink" } }
"#;

/// A cycle, through a module that is not there.
const CYCLE_GRAPH: &str = r#"
operations:
  - { operationType: "source", name: "source" }
  - { operationType: "filter", name: "a", module: "acme/absent:2.0.0" }
  - { operationType: "map", name: "b", module: "acme/absent:2.0.0" }
  - { operationType: "sink", name: "sink" }
connections:
  - { from: { name: "source" }, to: { name: "a" } }
  - { from: { name: "a" }, to: { name: "b" } }
  - { from: { name: "b" }, to: { name: "a" } }
"#;

fn write(path: &Path, contents: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, contents).unwrap();
}

/// The registry's graphs and modules: a usable graph, a broken one, one that is not YAML,
/// the module the usable one needs and another in a subfolder.
fn install(registry: &Path) {
    write(&registry.join("graphs/map.yaml"), MAP_GRAPH.as_bytes());
    write(
        &registry.join("graphs/lab/cycle.yml"),
        CYCLE_GRAPH.as_bytes(),
    );
    write(&registry.join("graphs/notes.yaml"), b"operations: [");
    write(&registry.join("graphs/README.md"), b"not a graph");
    write(&registry.join("modules/guest-1.0.0.wasm"), &[0u8; 1234]);
    write(
        &registry.join("modules/acme/other-0.2.0-rc1.wasm"),
        &[0u8; 8],
    );
}

#[tokio::test]
async fn the_graphs_and_modules_of_the_registry_are_listed() {
    let api = Harness::start().await;
    let (status, empty) = api.get("/api/v1/transforms").await;
    assert_eq!(status, 200, "{empty}");
    assert_eq!(empty, json!({"graphs": [], "modules": []}));

    install(&api.registry());
    let (status, body) = api.get("/api/v1/transforms").await;
    assert_eq!(status, 200, "{body}");
    let paths: Vec<&str> = body["graphs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "graphs/lab/cycle.yml",
            "graphs/map.yaml",
            "graphs/notes.yaml"
        ]
    );

    let map = &body["graphs"][1];
    assert_eq!(
        map["problems"],
        json!([]),
        "required parameters are the asset's"
    );
    assert_eq!(
        map["operations"][1],
        json!({"name": "rewrite", "operationType": "map", "module": "guest:1.0.0",
               "moduleFile": "modules/guest-1.0.0.wasm", "present": true,
               "parameters": [{"name": "extra-name", "required": false},
                              {"name": "mode", "required": true}]})
    );
    assert_eq!(
        map["operations"][0],
        json!({"name": "source", "operationType": "source", "parameters": []})
    );

    let cycle = &body["graphs"][0];
    assert_eq!(cycle["operations"][1]["present"], false);
    assert_eq!(
        cycle["operations"][1]["moduleFile"],
        "modules/acme/absent-2.0.0.wasm"
    );
    let found: Vec<&str> = cycle["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(found.iter().any(|p| p.contains("cycle")), "{found:?}");

    let notes = &body["graphs"][2];
    assert_eq!(notes["operations"], json!([]));
    assert!(
        notes["problems"][0]
            .as_str()
            .unwrap()
            .starts_with("not a graph definition"),
        "{notes}"
    );

    assert_eq!(
        body["modules"],
        json!([
            {"name": "acme/other:0.2.0-rc1", "file": "modules/acme/other-0.2.0-rc1.wasm", "size": 8},
            {"name": "guest:1.0.0", "file": "modules/guest-1.0.0.wasm", "size": 1234}
        ])
    );
}

/// The asset of the support module with `transform` in its dataset's configuration (beside
/// an `eventTypes` it keeps).
fn with_transform(transform: &Value) -> Value {
    let mut body = asset("weather", "weather-station");
    body["spec"]["datasets"][0]["datasetConfiguration"] =
        json!(json!({"eventTypes": ["reading"], "transform": transform}).to_string());
    body
}

#[tokio::test]
async fn an_asset_with_a_transform_is_written_and_a_bad_one_is_refused_naming_the_field() {
    let api = Harness::start().await;
    install(&api.registry());
    let (status, body) = api
        .post(
            "/api/v1/devices",
            &device("weather-station", "http://127.0.0.1:9"),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    let good = json!({"graph": "graphs/map.yaml",
                      "configuration": {"rewrite": {"mode": "json"}},
                      "onError": "deadLetter"});
    let (status, body) = api.post("/api/v1/assets", &with_transform(&good)).await;
    assert_eq!(status, 201, "{body}");
    let (_, saved) = api.get("/api/v1/assets/weather").await;
    let config: Value = serde_json::from_str(
        saved["spec"]["datasets"][0]["datasetConfiguration"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(config["transform"], good);

    let file = api.registry().join("assets/weather.yaml");
    let before = std::fs::read_to_string(&file).unwrap();
    let dataset = "spec.datasets[0].datasetConfiguration";
    for (what, transform, path, message) in [
        (
            "an unknown onError",
            json!({"graph": "graphs/map.yaml", "onError": "retry"}),
            dataset,
            "transform.onError",
        ),
        (
            "a graph outside the registry",
            json!({"graph": "../map.yaml"}),
            dataset,
            "leaves its directory",
        ),
        (
            "a parameter that is an object",
            json!({"graph": "graphs/map.yaml", "configuration": {"rewrite": {"mode": {}}}}),
            dataset,
            "transform.configuration.rewrite.mode must be a string, number or boolean",
        ),
        (
            "a graph that is not there",
            json!({"graph": "graphs/missing.yaml"}),
            "transform.graph",
            "the graph definition cannot be read",
        ),
        (
            "a required parameter left out",
            json!({"graph": "graphs/map.yaml"}),
            "transform.graph",
            "needs parameter \"mode\" (transform.configuration.rewrite.mode)",
        ),
        (
            "a cycle through modules that are not there",
            json!({"graph": "graphs/lab/cycle.yml"}),
            "transform.graph",
            "the graph has a cycle",
        ),
    ] {
        let (status, body) = api
            .put("/api/v1/assets/weather", &with_transform(&transform))
            .await;
        assert_eq!(status, 422, "{what}: {body}");
        let found = problems(&body);
        assert!(
            found.iter().any(|(p, m)| p == path && m.contains(message)),
            "{what}: {path}: {message} in {body}"
        );
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            before,
            "{what}: a refused write changed the asset"
        );
    }

    // The graph's problems name the graph's file.
    let (_, body) = api
        .put(
            "/api/v1/assets/weather",
            &with_transform(&json!({"graph": "graphs/missing.yaml"})),
        )
        .await;
    assert_eq!(body["error"]["problems"][0]["file"], "graphs/missing.yaml");
    assert_eq!(body["error"]["problems"][0]["resource"], "Asset/weather");

    // A module that is not there is refused too.
    let absent = MAP_GRAPH.replace("guest:1.0.0", "nowhere:1.0.0");
    write(
        &api.registry().join("graphs/absent.yaml"),
        absent.as_bytes(),
    );
    let (status, body) = api
        .put(
            "/api/v1/assets/weather",
            &with_transform(&json!({"graph": "graphs/absent.yaml",
                                    "configuration": {"rewrite": {"mode": "json"}}})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        problems(&body).iter().any(|(p, m)| p == "transform.graph"
            && m.contains("operation \"rewrite\": module ")
            && m.ends_with("modules/nowhere-1.0.0.wasm is not there")),
        "{body}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), before);
}
