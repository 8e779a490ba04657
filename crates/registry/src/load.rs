//! Reading definition files: every `*.yaml`, `*.yml` and `*.json` below the definitions
//! directory, several documents a file, Kubernetes or ARM form.
//!
//! Hidden entries (names starting with `.`, such as a Kubernetes mount's `..data`) and the
//! secrets and trust directories are skipped; symlinks to files are followed, symlinks to
//! directories are not (no loops).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use model::resource::{Decoded, decode};
use model::{FieldPath, Kind, Located, Problem};
use serde_json::Value;

use crate::error::Error;
use crate::paths::RegistryPaths;

/// What could and could not be read.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Every device and asset read, in file order.
    pub definitions: Vec<Located>,
    /// Files that could not be parsed at all: their last good resources stay.
    pub unreadable: BTreeSet<PathBuf>,
    /// Resources whose document could not be decoded: their last good versions stay.
    pub undecodable: BTreeSet<(Kind, String)>,
    /// Problems found while reading.
    pub problems: Vec<Problem>,
    /// Every definition file, read or not.
    pub files: Vec<PathBuf>,
}

/// Lists the definition files below `paths.definitions`, sorted.
pub fn definition_files(paths: &RegistryPaths) -> Result<Vec<PathBuf>, Error> {
    if !paths.definitions.is_dir() {
        return Err(Error::NoRegistry(paths.definitions.clone()));
    }
    let mut files = Vec::new();
    walk(&paths.definitions, paths, &mut files)?;
    files.sort();
    Ok(files)
}

fn walk(dir: &Path, paths: &RegistryPaths, out: &mut Vec<PathBuf>) -> Result<(), Error> {
    let entries = fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') || paths.is_excluded(&path) {
            continue;
        }
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            walk(&path, paths, out)?;
        } else if (kind.is_file() || (kind.is_symlink() && path.is_file())) && is_definition(&path)
        {
            out.push(path);
        }
    }
    Ok(())
}

fn is_definition(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "yaml" | "yml" | "json"))
}

fn is_json(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

/// Reads every definition file.
pub fn load(paths: &RegistryPaths) -> Result<Loaded, Error> {
    let mut loaded = Loaded {
        files: definition_files(paths)?,
        ..Loaded::default()
    };
    for file in loaded.files.clone() {
        load_file(&file, &mut loaded);
    }
    Ok(loaded)
}

/// Parses a file's text into documents; on a syntax error, the problem's path is
/// `line L, column C`.
pub fn parse_documents(file: &Path, text: &str) -> Result<Vec<Value>, Problem> {
    let syntax = |line: u64, column: u64, message: String| {
        Problem::error(
            file,
            "-",
            FieldPath::new(format!("line {line}, column {column}")),
            message,
        )
    };
    if is_json(file) {
        return match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(docs)) => Ok(docs),
            Ok(doc) => Ok(vec![doc]),
            Err(e) => Err(syntax(
                e.line() as u64,
                e.column() as u64,
                strip_position(&e.to_string()),
            )),
        };
    }
    serde_saphyr::from_multiple::<Value>(text).map_err(|e| {
        let e = e.without_snippet();
        let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
        syntax(line, column, strip_position(&e.to_string()))
    })
}

/// Drops a trailing ` at line L, column C` / ` at line L column C`: the position is in the path.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

fn load_file(file: &Path, loaded: &mut Loaded) {
    let text = match fs::read(file).map(String::from_utf8) {
        Ok(Ok(text)) => text,
        Ok(Err(_)) => {
            loaded.problems.push(Problem::error(
                file,
                "-",
                FieldPath::root(),
                "not UTF-8 text",
            ));
            loaded.unreadable.insert(file.to_path_buf());
            return;
        }
        Err(e) => {
            loaded.problems.push(Problem::error(
                file,
                "-",
                FieldPath::root(),
                format!("cannot read: {e}"),
            ));
            loaded.unreadable.insert(file.to_path_buf());
            return;
        }
    };
    let documents = match parse_documents(file, &text) {
        Ok(docs) => docs,
        Err(problem) => {
            loaded.problems.push(problem);
            loaded.unreadable.insert(file.to_path_buf());
            return;
        }
    };
    let stem = file
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    for (i, doc) in documents.into_iter().enumerate() {
        let document = i + 1;
        match decode(doc, stem) {
            Ok(Decoded::Resource(resource)) => loaded.definitions.push(Located {
                file: file.to_path_buf(),
                document,
                resource: *resource,
            }),
            Ok(Decoded::Foreign { api_version, kind }) => loaded.problems.push(Problem::warning(
                file,
                format!("document {document}"),
                FieldPath::root(),
                format!("{api_version} {kind} is not a Device or Asset; ignored"),
            )),
            Err(e) => {
                let label = e
                    .resource
                    .clone()
                    .unwrap_or_else(|| format!("document {document}"));
                match e.resource.as_deref().and_then(|r| r.split_once('/')) {
                    Some(("Device", name)) => {
                        loaded.undecodable.insert((Kind::Device, name.to_owned()));
                    }
                    Some(("Asset", name)) => {
                        loaded.undecodable.insert((Kind::Asset, name.to_owned()));
                    }
                    // Without a name the document cannot be matched to a resource: keep
                    // everything the file held.
                    _ => {
                        loaded.unreadable.insert(file.to_path_buf());
                    }
                }
                loaded
                    .problems
                    .push(Problem::error(file, label, e.path, e.message));
            }
        }
    }
}
