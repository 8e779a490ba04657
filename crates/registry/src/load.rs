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
use model::{FieldPath, Kind, Located, Partial, Problem};
use serde_json::Value;

use crate::error::Error;
use crate::locate::Positions;
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
    /// Of those, the ones readable with the values at fault set aside, for validation only.
    pub partial: Vec<Partial>,
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
/// A position inside the message (`(used at line L, column C)`) stays.
fn strip_position(message: &str) -> String {
    let number = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let trailing = message.rfind(" at line ").filter(|&i| {
        let tail = &message[i + " at line ".len()..];
        tail.split_once(", column ")
            .or_else(|| tail.split_once(" column "))
            .is_some_and(|(line, column)| number(line) && number(column))
    });
    match trailing {
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
    load_text(file, &text, loaded);
}

/// Reads the definitions in `text`, the content of `file` (whose name decides YAML or JSON
/// and names ARM documents without a `name`), into `loaded`: what [`load`] does with each
/// file once it is read.
pub fn load_text(file: &Path, text: &str, loaded: &mut Loaded) {
    let mut reader = Reader {
        file,
        stem: file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default(),
        json: is_json(file),
        document: 0,
        loaded,
    };
    match parse_documents(file, text) {
        Ok(documents) => reader.decode_all(documents, text, 1),
        Err(problem) => {
            reader.loaded.unreadable.insert(file.to_path_buf());
            if reader.json {
                reader.loaded.problems.push(problem);
            } else {
                reader.recover(text, problem);
            }
        }
    }
}

/// Decodes the documents of one file.
struct Reader<'a> {
    file: &'a Path,
    stem: &'a str,
    json: bool,
    /// Documents seen so far in the file.
    document: usize,
    loaded: &'a mut Loaded,
}

impl Reader<'_> {
    /// A YAML syntax error hides nothing else: each `---` document is parsed on its own, those
    /// that parse are decoded, and the syntax error of each one that does not is reported.
    fn recover(&mut self, text: &str, whole: Problem) {
        let mut failures = Vec::new();
        let mut chunks = Vec::new();
        for (first_line, chunk) in split_documents(text) {
            match serde_saphyr::from_multiple::<Value>(chunk) {
                Ok(documents) => chunks.push((first_line, chunk, Ok(documents))),
                Err(_) => {
                    let problem = parse_documents(self.file, chunk)
                        .err()
                        .map(|p| shift(p, first_line - 1));
                    chunks.push((first_line, chunk, Err(())));
                    failures.extend(problem);
                }
            }
        }
        if failures.is_empty() {
            // The split did not isolate the error (e.g. `---` inside a block scalar).
            self.loaded.problems.push(whole);
            return;
        }
        self.loaded.problems.extend(failures);
        for (first_line, chunk, documents) in chunks {
            match documents {
                Ok(documents) => self.decode_all(documents, chunk, first_line),
                // A broken chunk still counts its documents, so that numbers match the file.
                Err(()) => self.document += chunk_documents(chunk),
            }
        }
    }

    /// Decodes `documents`, read from `text` whose first line is line `first_line` of the file.
    fn decode_all(&mut self, documents: Vec<Value>, text: &str, first_line: usize) {
        let mut positions = None;
        let mut in_text = 0;
        for doc in documents {
            self.document += 1;
            in_text += 1;
            let document = self.document;
            let file = self.file;
            let loaded = &mut *self.loaded;
            match decode(doc, self.stem) {
                Ok(Decoded::Resource(resource)) => loaded.definitions.push(Located {
                    file: file.to_path_buf(),
                    document,
                    resource: *resource,
                }),
                Ok(Decoded::Foreign { api_version, kind }) => {
                    loaded.problems.push(Problem::warning(
                        file,
                        format!("document {document}"),
                        FieldPath::root(),
                        format!("{api_version} {kind} is not a Device or Asset; ignored"),
                    ));
                }
                Err(e) => {
                    let positions =
                        positions.get_or_insert_with(|| Positions::of(text, first_line));
                    let json = self.json;
                    let label = e
                        .resource
                        .clone()
                        .unwrap_or_else(|| format!("document {document}"));
                    for (path, message) in e.errors() {
                        let at = if json {
                            positions
                                .find_in_array(in_text, path)
                                .or_else(|| positions.find(in_text, path))
                        } else {
                            positions.find(in_text, path)
                        };
                        let message = match at {
                            Some((line, column)) => {
                                format!("line {line}, column {column}: {message}")
                            }
                            None => message.to_owned(),
                        };
                        loaded.problems.push(Problem::error(
                            file,
                            label.clone(),
                            path.clone(),
                            message,
                        ));
                    }
                    let key = match e.resource.as_deref().and_then(|r| r.split_once('/')) {
                        Some(("Device", name)) => Some((Kind::Device, name.to_owned())),
                        Some(("Asset", name)) => Some((Kind::Asset, name.to_owned())),
                        _ => None,
                    };
                    match key {
                        Some(key) => {
                            loaded.undecodable.insert(key);
                        }
                        // Without a name the document cannot be matched to a resource: keep
                        // everything the file held.
                        None => {
                            loaded.unreadable.insert(file.to_path_buf());
                        }
                    }
                    let faults = e.errors().map(|(p, _)| p.clone()).collect();
                    if let Some(resource) = e.partial {
                        loaded.partial.push(Partial {
                            located: Located {
                                file: file.to_path_buf(),
                                document,
                                resource: *resource,
                            },
                            faults,
                        });
                    }
                }
            }
        }
    }
}

/// A syntax problem of a chunk, with its line moved to where the chunk is in the file.
fn shift(mut problem: Problem, lines: usize) -> Problem {
    let rendered = problem.path.as_str().to_owned();
    if let Some(rest) = rendered.strip_prefix("line ")
        && let Some((line, column)) = rest.split_once(", column ")
        && let Ok(line) = line.parse::<usize>()
    {
        problem.path = FieldPath::new(format!("line {}, column {column}", line + lines));
    }
    problem
}

/// Cuts a YAML stream at its `---` lines: (first line number from 1, text) of each part; every
/// part but the first starts with its `---` line.
fn split_documents(text: &str) -> Vec<(usize, &str)> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut start_line = 1;
    let mut offset = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let marker = line
            .strip_prefix("---")
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(char::is_whitespace));
        if marker && offset > start {
            parts.push((start_line, &text[start..offset]));
            start = offset;
            start_line = i + 1;
        }
        offset += line.len();
    }
    parts.push((start_line, &text[start..]));
    parts
}

/// How many documents a chunk that does not parse was meant to hold: one, unless it holds
/// nothing but comments and blank lines.
fn chunk_documents(chunk: &str) -> usize {
    let content = chunk.lines().any(|l| {
        let l = l.trim();
        !l.is_empty() && !l.starts_with('#') && l != "---"
    });
    usize::from(content)
}
