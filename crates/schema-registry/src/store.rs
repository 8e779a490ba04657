//! The embedded registry's directory: one JSON file per schema version, and readers of it.
//!
//! Layout: `{dir}/{name}/{version}.json`, each file the registry's [`Schema`] object (the
//! same JSON as in a `put` or `get` response, pretty-printed). A file is written to a
//! temporary name beside it (`.{version}.json.tmp`), synced, renamed over the final name,
//! and the directory synced: a crash leaves the old file or the new one, never a mix.
//!
//! [`SchemaStore`] is the service's view (in memory, loaded at open, written through);
//! [`list`], [`get`] and [`latest`] read a directory from outside, read-only, also while a
//! service runs (what `sse-connector schema list|show --state-dir` does). Files that cannot
//! be read or do not match their path are skipped with a warning.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use crate::naming::{self, canonical_content, content_hash, schema_name, version_number};
use crate::protocol::{PutRequest, RegistryError, Schema, error_code, target};

/// The registry's directory below the connector's state directory: `STATE_DIR/schemas`.
pub const DEFAULT_DIR_NAME: &str = "schemas";

/// The namespace of the embedded registry unless configured.
pub const DEFAULT_NAMESPACE: &str = "sse-connector";

/// Schemas by name, then version number.
type Map = BTreeMap<(String, u32), Schema>;

/// A shared, read-only view of the schemas of a [`SchemaStore`]; cheap to clone. What the
/// HTTP listener lists.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    schemas: Arc<RwLock<Map>>,
}

impl Catalog {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Map> {
        self.schemas.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every schema version, by name then version number.
    pub fn list(&self) -> Vec<Schema> {
        self.read().values().cloned().collect()
    }

    /// Version `version` of `name`.
    pub fn get(&self, name: &str, version: &str) -> Option<Schema> {
        let number = version_number(version)?;
        self.read().get(&(name.to_owned(), number)).cloned()
    }

    /// The highest version of `name`.
    pub fn latest(&self, name: &str) -> Option<Schema> {
        self.read()
            .range((name.to_owned(), 0)..=(name.to_owned(), u32::MAX))
            .next_back()
            .map(|(_, schema)| schema.clone())
    }

    /// How many schema versions.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    fn insert(&self, schema: Schema) {
        if let Some(number) = version_number(&schema.version) {
            self.schemas
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .insert((schema.name.clone(), number), schema);
        }
    }
}

/// What a `put` comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PutPlan {
    /// The version exists as asked: answer with it, write nothing.
    Unchanged(Schema),
    /// Write this (a new version, or new metadata of an existing one), then answer with it.
    Write(Schema),
}

/// The embedded registry's schemas: a directory, and its contents in memory.
#[derive(Debug)]
pub struct SchemaStore {
    dir: PathBuf,
    namespace: String,
    catalog: Catalog,
}

impl SchemaStore {
    /// Creates `dir` if needed and loads it; new versions get `namespace`.
    ///
    /// # Errors
    /// When `dir` cannot be created or listed.
    pub fn open(dir: impl Into<PathBuf>, namespace: impl Into<String>) -> io::Result<Self> {
        let dir = dir.into();
        fs::create_dir_all(&dir)?;
        let catalog = Catalog::default();
        for schema in list(&dir)? {
            catalog.insert(schema);
        }
        Ok(Self {
            dir,
            namespace: namespace.into(),
            catalog,
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The namespace of new versions.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The shared view of the schemas.
    pub fn catalog(&self) -> Catalog {
        self.catalog.clone()
    }

    /// Registers a version (blocking file I/O). Putting the same content and version again
    /// returns the stored schema; new metadata (tags, display name, description) replaces
    /// the old.
    ///
    /// # Errors
    /// The `{"error": ...}` to answer with: 400 for an invalid request, 500 when the file
    /// cannot be written.
    pub fn put(&self, request: PutRequest) -> Result<Schema, RegistryError> {
        match self.plan_put(request)? {
            PutPlan::Unchanged(schema) => Ok(schema),
            PutPlan::Write(schema) => {
                write_schema(&self.dir, &schema).map_err(|e| persist_error(&schema, &e))?;
                self.commit(schema.clone());
                Ok(schema)
            }
        }
    }

    /// Version `version` of `name`.
    ///
    /// # Errors
    /// 400 for an empty name or an empty version, 404 when there is no such version.
    pub fn get(&self, name: &str, version: &str) -> Result<Schema, RegistryError> {
        if name.is_empty() {
            return Err(RegistryError::new(
                error_code::BAD_REQUEST,
                "the schema name is empty",
                Some(target::NAME),
            ));
        }
        if version.is_empty() {
            return Err(RegistryError::new(
                error_code::BAD_REQUEST,
                "the version is empty",
                Some(target::VERSION),
            ));
        }
        self.catalog.get(name, version).ok_or_else(|| {
            RegistryError::new(
                error_code::NOT_FOUND,
                format!("schema {name} version {version} not found"),
                Some(target::NAME),
            )
        })
    }

    /// Checks a `put` and works out what it comes to, without I/O.
    pub(crate) fn plan_put(&self, request: PutRequest) -> Result<PutPlan, RegistryError> {
        naming::check_put(&request)?;
        let canonical = canonical_content(&request.schema_content);
        let name = schema_name(&request.format, request.schema_type.as_str(), &canonical);
        let tags = request.tags.filter(|tags| !tags.is_empty());
        if let Some(existing) = self.catalog.get(&name, &request.version) {
            if existing.tags == tags
                && existing.display_name == request.display_name
                && existing.description == request.description
            {
                return Ok(PutPlan::Unchanged(existing));
            }
            return Ok(PutPlan::Write(Schema {
                tags,
                display_name: request.display_name,
                description: request.description,
                ..existing
            }));
        }
        Ok(PutPlan::Write(Schema {
            description: request.description,
            display_name: request.display_name,
            format: request.format,
            hash: Some(content_hash(&canonical)),
            name,
            namespace: self.namespace.clone(),
            schema_content: request.schema_content,
            schema_type: request.schema_type,
            tags,
            version: request.version,
        }))
    }

    /// Makes a written schema visible.
    pub(crate) fn commit(&self, schema: Schema) {
        self.catalog.insert(schema);
    }
}

/// The 500 error of a failed write.
pub(crate) fn persist_error(schema: &Schema, error: &io::Error) -> RegistryError {
    tracing::error!(name = %schema.name, version = %schema.version, %error,
        "cannot persist a schema version");
    RegistryError::new(
        error_code::INTERNAL_ERROR,
        format!(
            "the schema registry cannot persist {} version {}",
            schema.name, schema.version
        ),
        None,
    )
}

/// The file of a version.
pub fn schema_path(dir: &Path, name: &str, version: &str) -> PathBuf {
    dir.join(name).join(format!("{version}.json"))
}

/// Writes `schema` to its file in `dir`, atomically (see the module docs). Blocking.
///
/// # Errors
/// When a name or version could escape the directory, or on any I/O error.
pub fn write_schema(dir: &Path, schema: &Schema) -> io::Result<()> {
    if !naming::is_valid_name(&schema.name) || !naming::is_valid_version(&schema.version) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "invalid schema name or version",
        ));
    }
    let folder = dir.join(&schema.name);
    fs::create_dir_all(&folder)?;
    let path = schema_path(dir, &schema.name, &schema.version);
    let temporary = folder.join(format!(".{}.json.tmp", schema.version));
    let mut text = serde_json::to_vec_pretty(schema).map_err(io::Error::other)?;
    text.push(b'\n');
    let mut file = File::create(&temporary)?;
    file.write_all(&text)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&temporary, &path)?;
    // The rename is durable once the directory is synced (and the folder's entry in `dir`).
    File::open(&folder)?.sync_all()?;
    File::open(dir)?.sync_all()
}

/// Every schema version stored in `dir` (read-only), by name then version number.
///
/// # Errors
/// When `dir` cannot be listed (it does not exist, for example); unreadable entries inside
/// are skipped with a warning.
pub fn list(dir: &Path) -> io::Result<Vec<Schema>> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if naming::is_valid_name(&name) && entry.file_type().is_ok_and(|t| t.is_dir()) {
            names.push(name);
        }
    }
    names.sort();
    let mut schemas = Vec::new();
    for name in names {
        schemas.extend(versions_of(dir, &name));
    }
    Ok(schemas)
}

/// Version `version` of `name` in `dir` (read-only); `None` when there is none.
///
/// # Errors
/// When the file exists and cannot be read, or does not hold that schema version.
pub fn get(dir: &Path, name: &str, version: &str) -> io::Result<Option<Schema>> {
    if !naming::is_valid_name(name) || !naming::is_valid_version(version) {
        return Ok(None);
    }
    let path = schema_path(dir, name, version);
    match read_schema(&path, name, version) {
        Ok(schema) => Ok(Some(schema)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

/// The highest version of `name` in `dir` (read-only).
///
/// # Errors
/// Never for a missing name; the versions that cannot be read are skipped with a warning.
pub fn latest(dir: &Path, name: &str) -> io::Result<Option<Schema>> {
    if !naming::is_valid_name(name) {
        return Ok(None);
    }
    Ok(versions_of(dir, name).pop())
}

/// The readable versions of `name`, by version number.
fn versions_of(dir: &Path, name: &str) -> Vec<Schema> {
    let folder = dir.join(name);
    let Ok(entries) = fs::read_dir(&folder) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(version) = file_name
            .to_str()
            .and_then(|file| file.strip_suffix(".json"))
        else {
            continue;
        };
        let Some(number) = version_number(version) else {
            continue;
        };
        match read_schema(&entry.path(), name, version) {
            Ok(schema) => found.push((number, schema)),
            Err(error) => tracing::warn!(path = %entry.path().display(), %error,
                "skipping an unreadable schema file"),
        }
    }
    found.sort_by_key(|(number, _)| *number);
    found.into_iter().map(|(_, schema)| schema).collect()
}

fn read_schema(path: &Path, name: &str, version: &str) -> io::Result<Schema> {
    let text = fs::read(path)?;
    let schema: Schema =
        serde_json::from_slice(&text).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    if schema.name != name || schema.version != version {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "the file holds {} version {}, not {name} version {version}",
                schema.name, schema.version
            ),
        ));
    }
    Ok(schema)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::protocol::SchemaType;

    const CONTENT: &str = r#"{"type":"object","properties":{"t":{"type":"number"}}}"#;

    #[test]
    fn put_assigns_a_content_name_and_is_idempotent() {
        let dir = tempfile::tempdir().expect("dir");
        let store = SchemaStore::open(dir.path(), "ns").expect("open");
        let first = store
            .put(PutRequest::json_schema(CONTENT, "1"))
            .expect("put");
        assert_eq!(first.namespace, "ns");
        assert_eq!(first.schema_type, SchemaType::MessageSchema);
        assert_eq!(first.name.len(), naming::NAME_LEN);
        let reordered = r#"{ "properties": {"t": {"type": "number"}}, "type": "object" }"#;
        let again = store
            .put(PutRequest::json_schema(reordered, "1"))
            .expect("again");
        assert_eq!(again, first, "same canonical content: the stored schema");
        let v2 = store
            .put(PutRequest::json_schema(CONTENT, "2"))
            .expect("v2");
        assert_eq!(
            (v2.name.as_str(), v2.version.as_str()),
            (first.name.as_str(), "2")
        );
        let other = store
            .put(PutRequest::json_schema(r#"{"type":"string"}"#, "1"))
            .expect("other");
        assert_ne!(other.name, first.name);
        assert_eq!(store.catalog().len(), 3);
        assert_eq!(store.catalog().latest(&first.name), Some(v2));
        assert_eq!(store.get(&first.name, "1"), Ok(first.clone()));
        assert_eq!(store.get(&first.name, "7").expect_err("none").code, 404);
        assert_eq!(store.get("", "1").expect_err("empty").code, 400);
    }

    #[test]
    fn new_metadata_replaces_the_old_and_persists() {
        let dir = tempfile::tempdir().expect("dir");
        let store = SchemaStore::open(dir.path(), "ns").expect("open");
        let plain = store
            .put(PutRequest::json_schema(CONTENT, "1"))
            .expect("put");
        let tagged = store
            .put(PutRequest {
                tags: Some(BTreeMap::from([("asset".into(), "a1".into())])),
                display_name: Some("Thermostat".into()),
                ..PutRequest::json_schema(CONTENT, "1")
            })
            .expect("tagged");
        assert_eq!(tagged.name, plain.name);
        assert_eq!(tagged.display_name.as_deref(), Some("Thermostat"));
        let reopened = SchemaStore::open(dir.path(), "other").expect("reopen");
        assert_eq!(reopened.get(&plain.name, "1"), Ok(tagged.clone()));
        assert_eq!(
            get(dir.path(), &plain.name, "1").expect("read"),
            Some(tagged)
        );
    }

    #[test]
    fn the_reader_skips_what_it_cannot_use() {
        let dir = tempfile::tempdir().expect("dir");
        let store = SchemaStore::open(dir.path(), "ns").expect("open");
        let schema = store
            .put(PutRequest::json_schema(CONTENT, "3"))
            .expect("put");
        let folder = dir.path().join(&schema.name);
        fs::write(folder.join("4.json"), "garbage").expect("write");
        fs::write(folder.join(".5.json.tmp"), "partial").expect("write");
        fs::write(folder.join("notes.txt"), "x").expect("write");
        fs::copy(folder.join("3.json"), folder.join("6.json")).expect("copy");
        fs::create_dir(dir.path().join(".hidden")).expect("dir");
        assert_eq!(list(dir.path()).expect("list"), vec![schema.clone()]);
        assert_eq!(
            latest(dir.path(), &schema.name).expect("latest"),
            Some(schema.clone())
        );
        assert!(
            get(dir.path(), &schema.name, "4").is_err(),
            "garbage is an error"
        );
        assert_eq!(get(dir.path(), &schema.name, "9").expect("none"), None);
        assert_eq!(get(dir.path(), "../x", "1").expect("none"), None);
        assert!(list(&dir.path().join("missing")).is_err());
        let file = fs::read_to_string(folder.join("3.json")).expect("read");
        assert!(
            file.starts_with("{\n  \"format\": \"JsonSchema/draft-07\""),
            "{file}"
        );
    }

    #[test]
    fn versions_sort_as_numbers_and_older_ones_above_9_stay_readable() {
        let dir = tempfile::tempdir().expect("dir");
        let store = SchemaStore::open(dir.path(), "ns").expect("open");
        let mut nine = None;
        for version in ["9", "2"] {
            let stored = store
                .put(PutRequest::json_schema(CONTENT, version))
                .expect("put");
            nine.get_or_insert(stored);
        }
        let refused = store
            .put(PutRequest::json_schema(CONTENT, "10"))
            .expect_err("AIO's registry takes 0 to 9");
        assert_eq!(
            (refused.code, refused.target.as_deref()),
            (400, Some(target::VERSION))
        );
        // A version stored before puts were limited to 0-9.
        let ten = Schema {
            version: "10".into(),
            ..nine.expect("stored")
        };
        write_schema(dir.path(), &ten).expect("write");
        let versions: Vec<_> = list(dir.path())
            .expect("list")
            .into_iter()
            .map(|s| s.version)
            .collect();
        assert_eq!(versions, ["2", "9", "10"]);
        let reopened = SchemaStore::open(dir.path(), "ns").expect("reopen");
        let listed: Vec<_> = reopened
            .catalog()
            .list()
            .into_iter()
            .map(|s| s.version)
            .collect();
        assert_eq!(listed, ["2", "9", "10"]);
        assert_eq!(reopened.get(&ten.name, "10"), Ok(ten));
    }

    #[test]
    fn other_content_never_lands_under_a_stored_version() {
        let dir = tempfile::tempdir().expect("dir");
        let store = SchemaStore::open(dir.path(), "ns").expect("open");
        let first = store
            .put(PutRequest::json_schema(CONTENT, "1"))
            .expect("put");
        let other = store
            .put(PutRequest::json_schema(r#"{"type":"string"}"#, "1"))
            .expect("other content");
        assert_ne!(other.name, first.name, "the name is the content's");
        assert_eq!(store.get(&first.name, "1"), Ok(first.clone()));
        assert_eq!(
            store.plan_put(PutRequest::json_schema(CONTENT, "1")),
            Ok(PutPlan::Unchanged(first)),
            "the same content and version writes nothing"
        );
        assert_eq!(store.catalog().len(), 2);
    }
}
