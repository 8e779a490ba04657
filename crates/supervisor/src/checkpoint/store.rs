//! [`CheckpointStore`]: one small JSON file per stream under `STATE_DIR/checkpoints/`.
//!
//! A stream is keyed by its full identity, everything that makes it a distinct connection:
//! the URL, the kind of credentials and the files they are read from, and the trust list
//! files (their paths, not their contents: a rotated password or CA keeps the checkpoint).
//! Two endpoints with the same address but different credentials (one gateway, two tenants)
//! therefore keep two checkpoints. The file is named by a stable hash of that identity and
//! holds the identity itself, so a hash collision is detected rather than obeyed.
//!
//! Every save writes its own temporary file (process id and a counter in the name), flushes
//! it to disk and renames it over the old one: a crash leaves the old or the new checkpoint,
//! never a torn one, and concurrent saves never share a temporary file.
//!
//! Older releases keyed the file by the URL alone. When a stream has no file of its own yet,
//! [`CheckpointStore::load`] reads, in this order, the file of the stream it replaces (same
//! URL, changed credentials or trust), then the old URL-keyed file: each is read once, since
//! the first save writes the stream's own file.

use std::fs;
use std::path::{Path, PathBuf};

use model::plan::{Credentials, StreamSpec};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::Error;
use crate::state_file::{fnv1a64, write_atomic};

/// The checkpoint file's content.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stored {
    url: String,
    /// The stream's identity ([`identity`]); absent in files of older releases.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stream: Option<String>,
    last_event_id: String,
}

/// Checkpoint files under `STATE_DIR/checkpoints/`. Its methods do blocking file I/O: call
/// them from `spawn_blocking`.
#[derive(Debug, Clone)]
pub struct CheckpointStore {
    dir: PathBuf,
}

impl CheckpointStore {
    /// The store of a state directory (created when the first checkpoint is written).
    pub fn new(state_dir: &Path) -> Self {
        Self {
            dir: state_dir.join("checkpoints"),
        }
    }

    /// The file of a stream: `checkpoints/s-{FNV-1a 64 of its identity, 16 hex digits}.json`.
    /// The hash is fixed by this code, so the name is the same in every build and on every
    /// machine.
    pub fn path_for(&self, stream: &StreamSpec) -> PathBuf {
        self.dir
            .join(format!("s-{:016x}.json", fnv1a64(&identity(stream))))
    }

    /// The file older releases used for every stream of `url`.
    fn legacy_path(&self, url: &Url) -> PathBuf {
        self.dir
            .join(format!("{:016x}.json", fnv1a64(url.as_str())))
    }

    /// The persisted checkpoint of `stream`; without one, that of `replaced` (the stream it
    /// takes over from, same URL), then the file an older release kept for its URL. `None`
    /// when there is none.
    ///
    /// # Errors
    /// [`Error::CheckpointIo`] when a file exists but cannot be read,
    /// [`Error::CheckpointFormat`] when it is not a checkpoint.
    pub fn load(
        &self,
        stream: &StreamSpec,
        replaced: Option<&StreamSpec>,
    ) -> Result<Option<String>, Error> {
        let own = identity(stream);
        if let Some(stored) = read(&self.path_for(stream))? {
            return Ok(
                (stored.stream.as_deref() == Some(own.as_str())).then_some(stored.last_event_id)
            );
        }
        if let Some(replaced) = replaced.filter(|r| r.url == stream.url)
            && let Some(stored) = read(&self.path_for(replaced))?
            && stored.stream.as_deref() == Some(identity(replaced).as_str())
        {
            return Ok(Some(stored.last_event_id));
        }
        let legacy = read(&self.legacy_path(&stream.url))?;
        Ok(legacy
            .filter(|stored| stored.stream.is_none() && stored.url == stream.url.as_str())
            .map(|stored| stored.last_event_id))
    }

    /// Writes the checkpoint of `stream` atomically: its own temporary file beside it, flushed
    /// to disk, then renamed over the old one.
    ///
    /// # Errors
    /// [`Error::CheckpointIo`] when the directory or the file cannot be written.
    pub fn save(&self, stream: &StreamSpec, last_event_id: &str) -> Result<(), Error> {
        let path = self.path_for(stream);
        let stored = Stored {
            url: stream.url.as_str().to_owned(),
            stream: Some(identity(stream)),
            last_event_id: last_event_id.to_owned(),
        };
        let mut text = serde_json::to_vec(&stored).map_err(|source| Error::CheckpointFormat {
            path: path.clone(),
            source,
        })?;
        text.push(b'\n');
        write_atomic(&path, &text).map_err(|(path, source)| Error::CheckpointIo { path, source })
    }
}

/// The content of the checkpoint file at `path`; `None` when there is none.
fn read(path: &Path) -> Result<Option<Stored>, Error> {
    let text = match fs::read(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(Error::CheckpointIo {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    serde_json::from_slice(&text)
        .map(Some)
        .map_err(|source| Error::CheckpointFormat {
            path: path.to_path_buf(),
            source,
        })
}

/// What makes `stream` a distinct connection, as one line of text: the URL, the kind of
/// credentials and their files, the trust list files. File versions are left out, so a
/// rotated secret or CA keeps the checkpoint.
pub(crate) fn identity(stream: &StreamSpec) -> String {
    let path = |p: &Path| p.display().to_string();
    let credentials = match &stream.credentials {
        Credentials::Anonymous => serde_json::json!({ "kind": "anonymous" }),
        Credentials::UsernamePassword { username, password } => serde_json::json!({
            "kind": "usernamePassword",
            "username": path(&username.path),
            "password": path(&password.path),
        }),
        Credentials::Certificate {
            certificate,
            key,
            intermediates,
        } => serde_json::json!({
            "kind": "certificate",
            "certificate": path(&certificate.path),
            "key": key.as_ref().map(|k| path(&k.path)),
            "intermediates": intermediates.as_ref().map(|i| path(&i.path)),
        }),
    };
    let trust: Vec<String> = stream.trust.iter().map(|t| path(&t.path)).collect();
    serde_json::json!({
        "url": stream.url.as_str(),
        "credentials": credentials,
        "trust": trust,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use model::environment::{FileRef, FileVersion};

    use super::*;

    fn spec(url: &str, credentials: Credentials) -> StreamSpec {
        StreamSpec {
            url: url.parse().expect("url"),
            credentials,
            trust: Vec::new(),
        }
    }

    fn file(path: &str, len: u64) -> FileRef {
        FileRef {
            path: path.into(),
            version: FileVersion {
                len,
                modified: None,
            },
        }
    }

    fn basic(user: &str, len: u64) -> Credentials {
        Credentials::UsernamePassword {
            username: file(&format!("/s/{user}/username"), len),
            password: file(&format!("/s/{user}/password"), len),
        }
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<_> = fs::read_dir(dir.join("checkpoints"))
            .expect("dir")
            .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn round_trip_atomic_and_keyed_by_identity() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = CheckpointStore::new(dir.path());
        let a = spec("http://h/a", Credentials::Anonymous);
        let b = spec("http://h/b", Credentials::Anonymous);
        assert_eq!(store.load(&a, None).expect("no file"), None);
        store.save(&a, "41").expect("saved");
        store.save(&a, "42").expect("saved");
        store.save(&b, "x").expect("saved");
        assert_eq!(store.load(&a, None).expect("read").as_deref(), Some("42"));
        assert_eq!(store.load(&b, None).expect("read").as_deref(), Some("x"));
        let names = names(dir.path());
        assert_eq!(names.len(), 2, "no temporary file left: {names:?}");
        assert!(names.iter().all(|n| n.len() == 23 && n.ends_with(".json")));
        let text = fs::read_to_string(store.path_for(&a)).expect("file");
        assert!(
            text.starts_with("{\"url\":\"http://h/a\",\"stream\":")
                && text.ends_with(",\"lastEventId\":\"42\"}\n"),
            "{text}"
        );
    }

    #[test]
    fn same_url_different_credentials_keep_their_own_checkpoints() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = CheckpointStore::new(dir.path());
        let tenant_a = spec("http://gw/events", basic("a", 1));
        let tenant_b = spec("http://gw/events", basic("b", 1));
        store.save(&tenant_a, "a-7").expect("saved");
        store.save(&tenant_b, "b-3").expect("saved");
        assert_eq!(
            store.load(&tenant_a, None).expect("a").as_deref(),
            Some("a-7")
        );
        assert_eq!(
            store.load(&tenant_b, None).expect("b").as_deref(),
            Some("b-3")
        );
        // A rotated password (new file version) is the same stream.
        let rotated = spec("http://gw/events", basic("a", 99));
        assert_eq!(
            store.load(&rotated, None).expect("a").as_deref(),
            Some("a-7")
        );
    }

    #[test]
    fn concurrent_saves_never_share_a_temporary_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = CheckpointStore::new(dir.path());
        let a = spec("http://gw/events", basic("a", 1));
        std::thread::scope(|scope| {
            for thread in 0..4 {
                let store = store.clone();
                let a = a.clone();
                scope.spawn(move || {
                    for i in 0..50 {
                        store.save(&a, &format!("{thread}-{i}")).expect("saved");
                    }
                });
            }
        });
        let loaded = store.load(&a, None).expect("read").expect("some");
        assert!(loaded.ends_with("-49"), "{loaded}");
        assert_eq!(names(dir.path()).len(), 1, "no temporary file left");
    }

    #[test]
    fn a_replacement_and_an_older_release_file_are_read_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = CheckpointStore::new(dir.path());
        let old = spec("http://gw/events", basic("a", 1));
        let new = spec("http://gw/events", basic("c", 1));
        store.save(&old, "9").expect("saved");
        assert_eq!(
            store.load(&new, Some(&old)).expect("read").as_deref(),
            Some("9")
        );
        let elsewhere = spec("http://other/events", basic("a", 1));
        assert_eq!(
            store.load(&elsewhere, Some(&old)).expect("read"),
            None,
            "another URL"
        );

        // An older release's file, keyed by the URL.
        let legacy = store.legacy_path(&new.url);
        fs::write(&legacy, r#"{"url":"http://gw/events","lastEventId":"5"}"#).expect("write");
        assert_eq!(store.load(&new, None).expect("read").as_deref(), Some("5"));
        store.save(&new, "6").expect("saved");
        assert_eq!(
            store.load(&new, None).expect("read").as_deref(),
            Some("6"),
            "own file first"
        );
    }

    #[test]
    fn garbage_is_an_error_and_other_identities_are_ignored() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = CheckpointStore::new(dir.path());
        let a = spec("http://h/a", Credentials::Anonymous);
        fs::create_dir_all(dir.path().join("checkpoints")).expect("dir");
        fs::write(store.path_for(&a), "not json").expect("write");
        assert!(matches!(
            store.load(&a, None),
            Err(Error::CheckpointFormat { .. })
        ));
        fs::write(
            store.path_for(&a),
            r#"{"url":"http://h/a","stream":"another","lastEventId":"9"}"#,
        )
        .expect("write");
        assert_eq!(store.load(&a, None).expect("read"), None);
        fs::write(
            store.legacy_path(&a.url),
            r#"{"url":"http://other/","lastEventId":"9"}"#,
        )
        .expect("write");
        fs::remove_file(store.path_for(&a)).expect("remove");
        assert_eq!(
            store.load(&a, None).expect("read"),
            None,
            "legacy file of another URL"
        );
    }
}
