//! `GET /api/v1/transforms`: the graph definitions in the registry's `graphs/` and the
//! WebAssembly modules in its `modules/`, so a client (the UI's transform field) can offer
//! them. A transform itself is set in an asset (`datasetConfiguration` or
//! `eventConfiguration`, key `transform`) through `PUT`/`POST /api/v1/assets`, which checks it
//! like `sse-connector validate` does (the graph read and checked, its modules present).
//!
//! | request | answer |
//! |---|---|
//! | `GET /api/v1/transforms` | 200 `{"graphs": [graph...], "modules": [module...]}`; 404 when the listener has no registry; 503 when a folder cannot be read |
//!
//! A graph is `{"path", "operations": [{"name", "operationType", "module", "moduleFile",
//! "present", "parameters": [{"name", "required"}]}], "problems": [...]}`: `path` is the value
//! of `transform.graph` (relative to the registry directory), `problems` what makes it
//! unusable (it cannot be read, an unsupported operator, a cycle…; required parameters are
//! the asset's to configure, not a problem of the graph). A module is `{"name"
//! ("name:version", as graphs write it), "file", "size"}` (bytes). Whether a module is a
//! component exporting its operators is checked by `validate` and when a transform loads.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use model::transform::{Graph, flow, module_file};
use registry::transforms::{GRAPHS_DIR, MODULES_DIR, read};
use serde::Serialize;

use crate::reply;
use crate::store::Store;

/// The answer.
#[derive(Debug, Serialize)]
struct Catalogue {
    graphs: Vec<GraphEntry>,
    modules: Vec<ModuleEntry>,
}

/// One graph definition.
#[derive(Debug, Serialize)]
struct GraphEntry {
    path: String,
    operations: Vec<OperationEntry>,
    problems: Vec<String>,
}

/// One operation of a graph.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct OperationEntry {
    name: String,
    operation_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    module: Option<String>,
    /// The module's file, relative to the registry directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    module_file: Option<String>,
    /// Whether that file is there.
    #[serde(skip_serializing_if = "Option::is_none")]
    present: Option<bool>,
    parameters: Vec<ParameterEntry>,
}

/// A parameter an operation declares.
#[derive(Debug, Serialize)]
struct ParameterEntry {
    name: String,
    required: bool,
}

/// One module file.
#[derive(Debug, Serialize)]
struct ModuleEntry {
    name: String,
    file: String,
    size: u64,
}

pub(crate) async fn list(Store(store): Store) -> Response {
    let definitions = store.paths.definitions.clone();
    let read = tokio::task::spawn_blocking(move || catalogue(&definitions)).await;
    match read {
        Ok(Ok(catalogue)) => Json(catalogue).into_response(),
        Ok(Err(why)) => {
            tracing::warn!(error = %why, "the transforms cannot be listed now");
            reply::error(StatusCode::SERVICE_UNAVAILABLE, &why)
        }
        Err(_) => reply::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the transforms could not be listed",
        ),
    }
}

/// The graphs and modules below `definitions`; absent folders list nothing.
fn catalogue(definitions: &Path) -> Result<Catalogue, String> {
    let graphs = files(&definitions.join(GRAPHS_DIR), &["yaml", "yml", "json"])?
        .into_iter()
        .map(|file| graph_entry(definitions, &file))
        .collect();
    let modules = files(&definitions.join(MODULES_DIR), &["wasm"])?
        .into_iter()
        .filter_map(|file| {
            let relative = file.strip_prefix(definitions.join(MODULES_DIR)).ok()?;
            Some(ModuleEntry {
                name: module_name(relative)?,
                file: relative_text(definitions, &file),
                size: std::fs::metadata(&file).ok()?.len(),
            })
        })
        .collect();
    Ok(Catalogue { graphs, modules })
}

fn graph_entry(definitions: &Path, file: &Path) -> GraphEntry {
    let path = relative_text(definitions, file);
    let graph = match read(file) {
        Ok(graph) => graph,
        Err(why) => {
            return GraphEntry {
                path,
                operations: Vec::new(),
                problems: vec![why],
            };
        }
    };
    let declared = declared_parameters(&graph);
    let operations = graph
        .operations
        .iter()
        .map(|op| {
            let file = op.module.as_deref().and_then(|m| module_file(m).ok());
            let module_file = file.as_ref().map(|f| definitions.join(MODULES_DIR).join(f));
            OperationEntry {
                name: op.name.clone(),
                operation_type: op.operation_type.clone(),
                module: op.module.clone(),
                present: module_file.as_ref().map(|f| f.is_file()),
                module_file: module_file.map(|f| relative_text(definitions, &f)),
                parameters: declared
                    .get(&op.name)
                    .map(|params| {
                        params
                            .iter()
                            .map(|(name, required)| ParameterEntry {
                                name: name.clone(),
                                required: *required,
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            }
        })
        .collect();
    // Every declared parameter filled in: what is left are the graph's own problems.
    let configured = declared
        .iter()
        .map(|(op, params)| {
            let values = params.keys().map(|p| (p.clone(), String::new())).collect();
            (op.clone(), values)
        })
        .collect();
    let problems = flow(&graph, &configured).err().unwrap_or_default();
    GraphEntry {
        path,
        operations,
        problems,
    }
}

/// Parameter names (as `init` receives them) and whether each is required, by operation.
fn declared_parameters(graph: &Graph) -> BTreeMap<String, BTreeMap<String, bool>> {
    let mut out: BTreeMap<String, BTreeMap<String, bool>> = BTreeMap::new();
    for config in &graph.module_configurations {
        for (key, parameter) in &config.parameters {
            let name = parameter.name.clone().unwrap_or_else(|| key.clone());
            out.entry(config.name.clone())
                .or_default()
                .insert(name, parameter.required);
        }
    }
    out
}

/// `acme/clean-1.0.0.wasm` → `acme/clean:1.0.0`: the version starts at the first `-` that a
/// digit follows.
fn module_name(relative: &Path) -> Option<String> {
    let text = relative.to_str()?.strip_suffix(".wasm")?;
    let (folder, stem) = match text.rsplit_once('/') {
        Some((folder, stem)) => (format!("{folder}/"), stem),
        None => (String::new(), text),
    };
    let at = stem
        .char_indices()
        .find(|&(i, c)| c == '-' && stem[i + 1..].starts_with(|d: char| d.is_ascii_digit()))
        .map(|(i, _)| i)?;
    let (name, version) = (&stem[..at], &stem[at + 1..]);
    (!name.is_empty()).then(|| format!("{folder}{name}:{version}"))
}

/// The files below `dir` ending in one of `extensions`, sorted; hidden entries (a mounted
/// volume's `..data`) are skipped.
fn files(dir: &Path, extensions: &[&str]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(format!("{}: {e}", dir.display())),
    };
    for entry in entries {
        let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            out.extend(files(&path, extensions)?);
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| extensions.contains(&e))
        {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// `path` relative to the registry directory, with `/`.
fn relative_text(definitions: &Path, path: &Path) -> String {
    path.strip_prefix(definitions)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names_are_read_back_from_their_files() {
        for (file, name) in [
            ("guest-1.0.0.wasm", Some("guest:1.0.0")),
            ("my-mod-2.1.0-beta.wasm", Some("my-mod:2.1.0-beta")),
            ("acme/clean-1.0.0.wasm", Some("acme/clean:1.0.0")),
            ("noversion.wasm", None),
            ("-1.0.wasm", None),
        ] {
            assert_eq!(module_name(Path::new(file)).as_deref(), name, "{file}");
            if let Some(name) = name {
                assert_eq!(module_file(name).unwrap(), Path::new(file), "round trip");
            }
        }
    }
}
