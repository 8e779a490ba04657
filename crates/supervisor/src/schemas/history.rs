//! Each operation's schema versions, kept across restarts: the version each schema content
//! was registered as (content hash → version). Identical content keeps its version; a new
//! shape gets the one after the highest.
//!
//! One small JSON file per operation, `STATE_DIR/schema-versions/{key}.json`, where `{key}`
//! is the FNV-1a 64 hash of the operation id (`{asset}/datasets/{dataset}` or
//! `{asset}/eventGroups/{group}/events/{event}`) in 16 hex digits. The id is written in the
//! file too, and a file holding another id is not used:
//!
//! ```json
//! {"operation":"line/datasets/readings","versions":{"4f3c…":1,"9ab0…":2}}
//! ```
//!
//! The hashes are [`schema::name_of`] the canonical schema text. A file is written to a
//! temporary file with a name of its own beside it, synced, renamed over the old one, and the
//! directory synced: a crash leaves the old history or the new one, never a mix.
//!
//! [`VersionHistory`] is the pure part; [`Histories`] does blocking file I/O (call it from
//! `spawn_blocking`) and keeps each operation's history in memory once read.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use model::plan::OperationId;
use schema::FIRST_VERSION;
use serde::{Deserialize, Serialize};

use crate::state_file::{fnv1a64, write_atomic};

/// The histories' directory below the state directory.
pub(crate) const DIR_NAME: &str = "schema-versions";

/// The versions of one operation's schemas, by content hash.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct VersionHistory {
    versions: BTreeMap<String, u32>,
}

impl VersionHistory {
    /// The version `content` (a content hash) was registered as.
    pub fn version_of(&self, content: &str) -> Option<u32> {
        self.versions.get(content).copied()
    }

    /// The version of a new content: after the highest, or [`FIRST_VERSION`].
    pub fn next(&self) -> u32 {
        self.versions
            .values()
            .max()
            .map_or(FIRST_VERSION, |highest| highest.saturating_add(1))
    }

    /// Records that `content` is registered as `version`; whether that is news.
    pub fn record(&mut self, content: &str, version: u32) -> bool {
        self.versions.insert(content.to_owned(), version) != Some(version)
    }
}

/// A history file's contents.
#[derive(Serialize, Deserialize)]
struct Stored {
    operation: String,
    versions: BTreeMap<String, u32>,
}

/// A history file that cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HistoryError {
    /// The file or its directory cannot be read or written.
    #[error("schema version history {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    /// The file is not a history.
    #[error("schema version history {} is not valid: {source}", path.display())]
    Format {
        path: PathBuf,
        source: serde_json::Error,
    },
    /// The file is the history of another operation (whose id has the same hash).
    #[error("schema version history {} belongs to operation {found}", path.display())]
    OtherOperation { path: PathBuf, found: String },
}

/// Each operation's history in memory, behind a lock held for a whole registration.
pub(crate) type Slot = Arc<tokio::sync::Mutex<Option<VersionHistory>>>;

/// The history files of a state directory, and the histories read from them.
#[derive(Debug)]
pub(crate) struct Histories {
    dir: PathBuf,
    slots: Mutex<HashMap<OperationId, Slot>>,
}

impl Histories {
    /// The histories under `state_dir` (the directory is made at the first write).
    pub fn new(state_dir: &Path) -> Self {
        Self {
            dir: state_dir.join(DIR_NAME),
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// The in-memory history of `operation` (`None` until read): one per operation in the
    /// process, whichever stream task registers for it.
    pub fn slot(&self, operation: &OperationId) -> Slot {
        self.slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(operation.clone())
            .or_default()
            .clone()
    }

    /// The file of `operation`.
    pub fn path_for(&self, operation: &OperationId) -> PathBuf {
        let key = fnv1a64(&operation.to_string());
        self.dir.join(format!("{key:016x}.json"))
    }

    /// Reads the history of `operation`; empty when there is no file. Blocking.
    ///
    /// # Errors
    /// When the file exists and cannot be read, is not a history, or is another operation's.
    pub fn load(&self, operation: &OperationId) -> Result<VersionHistory, HistoryError> {
        let path = self.path_for(operation);
        let text = match fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(VersionHistory::default()),
            Err(source) => return Err(HistoryError::Io { path, source }),
        };
        let stored: Stored =
            serde_json::from_slice(&text).map_err(|source| HistoryError::Format {
                path: path.clone(),
                source,
            })?;
        if stored.operation != operation.to_string() {
            return Err(HistoryError::OtherOperation {
                path,
                found: stored.operation,
            });
        }
        Ok(VersionHistory {
            versions: stored.versions,
        })
    }

    /// Writes the history of `operation` atomically (see the module docs). Blocking.
    ///
    /// # Errors
    /// When the directory or the file cannot be written.
    pub fn save(
        &self,
        operation: &OperationId,
        history: &VersionHistory,
    ) -> Result<(), HistoryError> {
        let path = self.path_for(operation);
        let stored = Stored {
            operation: operation.to_string(),
            versions: history.versions.clone(),
        };
        let mut text = serde_json::to_vec(&stored).map_err(|source| HistoryError::Format {
            path: path.clone(),
            source,
        })?;
        text.push(b'\n');
        write_atomic(&path, &text).map_err(|(path, source)| HistoryError::Io { path, source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dataset(asset: &str, dataset: &str) -> OperationId {
        OperationId::Dataset {
            asset: asset.into(),
            dataset: dataset.into(),
        }
    }

    #[test]
    fn identical_content_keeps_its_version_and_new_content_comes_after_the_highest() {
        let mut history = VersionHistory::default();
        assert_eq!(history.next(), 1);
        assert!(history.record("a", 1));
        assert!(!history.record("a", 1), "nothing new");
        assert!(history.record("b", 3));
        assert_eq!(history.version_of("a"), Some(1));
        assert_eq!(history.version_of("c"), None);
        assert_eq!(history.next(), 4);
    }

    #[test]
    fn round_trip_per_operation() {
        let dir = tempfile::tempdir().expect("dir");
        let histories = Histories::new(dir.path());
        let (readings, alarms) = (
            dataset("line", "readings"),
            OperationId::Event {
                asset: "line".into(),
                group: "alarms".into(),
                event: "overheat".into(),
            },
        );
        assert_eq!(
            histories.load(&readings).expect("none"),
            VersionHistory::default()
        );
        let mut history = VersionHistory::default();
        history.record("a", 1);
        history.record("b", 2);
        histories.save(&readings, &history).expect("save");
        history.record("c", 3);
        histories.save(&readings, &history).expect("save again");
        assert_eq!(histories.load(&readings).expect("load"), history);
        assert_eq!(
            Histories::new(dir.path()).load(&alarms).expect("other"),
            VersionHistory::default()
        );
        let path = histories.path_for(&readings);
        assert_eq!(
            path.strip_prefix(dir.path()).expect("inside"),
            Path::new("schema-versions/")
                .join(format!("{:016x}.json", fnv1a64("line/datasets/readings")))
        );
        let text = fs::read_to_string(&path).expect("read");
        assert!(
            text.starts_with(r#"{"operation":"line/datasets/readings","versions":{"a":1,"#),
            "{text}"
        );
        let names: Vec<_> = fs::read_dir(dir.path().join(DIR_NAME))
            .expect("dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names.len(), 1, "no temporary file left: {names:?}");
    }

    #[test]
    fn a_corrupt_or_foreign_file_is_an_error_naming_it_and_is_replaced_by_the_next_save() {
        let dir = tempfile::tempdir().expect("dir");
        let histories = Histories::new(dir.path());
        let readings = dataset("line", "readings");
        let path = histories.path_for(&readings);
        fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
        fs::write(
            &path,
            "{\"operation\":\"line/datasets/readings\",\"versions\":{\"a\":-1}}",
        )
        .expect("write");
        let error = histories.load(&readings).expect_err("corrupt");
        assert!(matches!(error, HistoryError::Format { .. }), "{error:?}");
        let message = error.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains("is not valid"), "{message}");
        fs::write(&path, r#"{"operation":"other/datasets/x","versions":{}}"#).expect("write");
        let error = histories.load(&readings).expect_err("foreign");
        assert!(
            error
                .to_string()
                .ends_with("belongs to operation other/datasets/x"),
            "{error}"
        );
        let mut history = VersionHistory::default();
        history.record("a", 1);
        histories.save(&readings, &history).expect("replace");
        assert_eq!(histories.load(&readings).expect("load"), history);
    }

    #[test]
    fn one_slot_per_operation() {
        let histories = Histories::new(Path::new("unused"));
        let readings = dataset("line", "readings");
        assert!(Arc::ptr_eq(
            &histories.slot(&readings),
            &histories.slot(&readings)
        ));
        assert!(!Arc::ptr_eq(
            &histories.slot(&readings),
            &histories.slot(&dataset("line", "other"))
        ));
    }
}
