//! The transforms of a plan's operations (DESIGN 3.12): each graph definition named by a
//! `transform` is read from the definitions directory (`graphs/…`), checked
//! ([`model::transform::flow`]), and its modules looked up in `modules/` (`name-version.wasm`);
//! the plan then names the graph by its full path. Whether a module is a component that
//! exports its operators is checked when the runtime loads it.

use std::path::Path;

use model::transform::{Graph, flow};
use model::{FieldPath, FileRef, Plan, Problem};

use crate::secrets::version;

/// The folder of graph definitions, below the definitions directory (never read as
/// definitions).
pub const GRAPHS_DIR: &str = "graphs";
/// The folder of WebAssembly modules, below the definitions directory.
pub const MODULES_DIR: &str = "modules";

/// Resolves every transform of `plan` against `definitions`; a graph that is missing, is not
/// valid, or names a module that is not there is an error of the operation's asset.
pub fn apply(plan: &mut Plan, definitions: &Path) -> Vec<Problem> {
    let mut problems = Vec::new();
    for op in plan.operations.values_mut() {
        let Some(spec) = op.transform.as_mut() else {
            continue;
        };
        let path = definitions.join(&spec.graph);
        let resource = format!("Asset/{}", op.id.asset());
        let at = FieldPath::root().key("transform").key("graph");
        let mut report = |message: String| {
            problems.push(Problem::error(&path, resource.clone(), at.clone(), message));
        };
        let mut files = Vec::new();
        if let Ok(version) = version(&path) {
            files.push(FileRef {
                path: path.clone(),
                version,
            });
        }
        match read(&path) {
            Ok(graph) => match flow(&graph, &spec.configuration) {
                Ok(flow) => {
                    for node in flow.nodes() {
                        let module = definitions.join(MODULES_DIR).join(&node.module);
                        match version(&module) {
                            Ok(version) => files.push(FileRef {
                                path: module,
                                version,
                            }),
                            Err(_) => report(format!(
                                "operation {:?}: module {} is not there",
                                node.name,
                                module.display()
                            )),
                        }
                    }
                }
                Err(errors) => {
                    for e in errors {
                        report(e);
                    }
                }
            },
            Err(why) => report(why),
        }
        files.sort();
        files.dedup();
        spec.files = files;
        spec.graph = path;
    }
    problems
}

/// The graph definition in the YAML file at `path`.
///
/// # Errors
/// When the file cannot be read or is not a graph definition, saying which.
pub fn read(path: &Path) -> Result<Graph, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("the graph definition cannot be read: {e}"))?;
    serde_saphyr::from_str(&text).map_err(|e| format!("not a graph definition: {e}"))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use model::plan::OperationId;
    use model::transform::{OnError, TransformSpec};

    use super::*;

    const GRAPH: &str = r#"
moduleRequirements:
  apiVersion: "1.1.0"
  runtimeVersion: "1.1.0"
operations:
  - operationType: "source"
    name: "source"
  - operationType: "map"
    name: "clean/map"
    module: "guest:1.0.0"
  - operationType: "sink"
    name: "sink"
connections:
  - from: { name: "source" }
    to: { name: "clean/map" }
  - from: { name: "clean/map" }
    to: { name: "sink" }
"#;

    fn operation(id: OperationId) -> model::Operation {
        use model::plan::{AssetIdentity, DeviceIdentity, Match, StreamSpec};
        model::Operation {
            id,
            device: DeviceIdentity {
                name: "dev".into(),
                endpoint: "ep".into(),
                uuid: None,
                external_id: None,
                version: None,
            },
            asset: AssetIdentity {
                name: "a".into(),
                uuid: None,
                external_id: None,
                version: None,
            },
            stream: StreamSpec {
                url: "http://h/s".parse().expect("url"),
                credentials: model::Credentials::Anonymous,
                trust: Vec::new(),
            },
            matching: Match::All,
            data_points: Vec::new(),
            sink: model::destination::Sink::Storage { path: "x".into() },
            data_source: String::new(),
            type_ref: None,
            transform: None,
        }
    }

    fn spec() -> TransformSpec {
        TransformSpec {
            graph: "graphs/clean.yaml".into(),
            configuration: BTreeMap::new(),
            on_error: OnError::Drop,
            files: Vec::new(),
        }
    }

    #[test]
    fn graphs_and_modules_are_found_or_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        let id = OperationId::Dataset {
            asset: "a".into(),
            dataset: "d".into(),
        };
        let mut plan = Plan::default();
        let mut op = operation(id.clone());
        op.transform = Some(spec());
        plan.operations.insert(id.clone(), op);

        let problems = apply(&mut plan.clone(), dir.path());
        assert!(
            problems[0].message.contains("cannot be read"),
            "{problems:?}"
        );

        std::fs::create_dir_all(dir.path().join(GRAPHS_DIR)).expect("mkdir");
        std::fs::write(dir.path().join("graphs/clean.yaml"), GRAPH).expect("write");
        let problems = apply(&mut plan.clone(), dir.path());
        assert!(problems[0].message.contains("is not there"), "{problems:?}");

        std::fs::create_dir_all(dir.path().join(MODULES_DIR)).expect("mkdir");
        std::fs::write(dir.path().join("modules/guest-1.0.0.wasm"), b"\0asm").expect("write");
        let problems = apply(&mut plan, dir.path());
        assert!(problems.is_empty(), "{problems:?}");
        let spec = plan.operations[&id].transform.as_ref().expect("kept");
        assert_eq!(spec.graph, dir.path().join("graphs/clean.yaml"));
        let files: Vec<_> = spec.files.iter().map(|f| f.path.clone()).collect();
        assert_eq!(
            files,
            [
                dir.path().join("graphs/clean.yaml"),
                dir.path().join("modules/guest-1.0.0.wasm")
            ],
            "a change to either changes the plan"
        );
    }
}
