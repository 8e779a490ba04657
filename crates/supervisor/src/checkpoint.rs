//! Checkpoints: the `Last-Event-ID` a stream resumes from, moved only past delivered events.
//!
//! [`Tracker`] (pure) keeps the events of one stream in reading order with the number of
//! their deliveries still pending. The checkpoint moves to an event's last event id when that
//! event's deliveries, to every operation, have all succeeded, and so have those of every
//! event before it. A failed delivery stalls the checkpoint for good (until the stream is
//! started again, which then re-reads from there): an event is never skipped.
//!
//! [`CheckpointStore`] keeps one small JSON file per stream under `STATE_DIR/checkpoints/`,
//! named by a stable hash of the stream URL and written atomically (temporary file, `fsync`,
//! rename). Two streams with the same URL but different credentials share the file.

use std::collections::VecDeque;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sse_client::SmolStr;
use url::Url;

use crate::error::Error;

/// Identifies an event in a [`Tracker`]: its position in reading order.
pub type Seq = u64;

#[derive(Debug)]
struct Entry {
    seq: Seq,
    last_event_id: SmolStr,
    pending: usize,
    failed: bool,
}

/// The ordered window of events in flight on one stream, and the checkpoint behind it.
#[derive(Debug, Default)]
pub struct Tracker {
    queue: VecDeque<Entry>,
    next_seq: Seq,
    checkpoint: Option<SmolStr>,
    dirty: bool,
    stalled: bool,
}

impl Tracker {
    /// A tracker resuming from `checkpoint` (the persisted one, if any).
    pub fn new(checkpoint: Option<&str>) -> Self {
        Self {
            checkpoint: checkpoint.map(SmolStr::new),
            ..Self::default()
        }
    }

    /// Adds the next event read, with `deliveries` deliveries to wait for (0: nothing to
    /// deliver, it counts as done at once). Returns its [`Seq`].
    pub fn push(&mut self, last_event_id: &SmolStr, deliveries: usize) -> Seq {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.queue.push_back(Entry {
            seq,
            last_event_id: last_event_id.clone(),
            pending: deliveries,
            failed: false,
        });
        self.advance();
        seq
    }

    /// Records the outcome of one delivery of event `seq`. Returns `true` when this failure
    /// stalled the checkpoint (the first failure only).
    pub fn resolve(&mut self, seq: Seq, ok: bool) -> bool {
        let Some(front) = self.queue.front() else {
            return false;
        };
        let index = seq
            .checked_sub(front.seq)
            .and_then(|i| usize::try_from(i).ok());
        let Some(entry) = index.and_then(|i| self.queue.get_mut(i)) else {
            return false; // unknown or already done: nothing to do
        };
        entry.pending = entry.pending.saturating_sub(1);
        let newly_stalled = !ok && !self.stalled;
        if !ok {
            entry.failed = true;
            self.stalled = true;
        }
        self.advance();
        newly_stalled
    }

    /// Drops the done events at the front; moves the checkpoint past them unless stalled.
    fn advance(&mut self) {
        while let Some(front) = self.queue.front() {
            if front.pending > 0 {
                break;
            }
            if front.failed {
                self.stalled = true;
            }
            let done = self.queue.pop_front();
            if !self.stalled
                && let Some(done) = done
                && self.checkpoint.as_ref() != Some(&done.last_event_id)
            {
                self.checkpoint = Some(done.last_event_id);
                self.dirty = true;
            }
        }
    }

    /// Events read whose deliveries (or those of an event before them) are still pending:
    /// the window the in-flight limit bounds.
    pub fn in_flight(&self) -> usize {
        self.queue.len()
    }

    /// The last event id every event up to which is delivered.
    pub fn checkpoint(&self) -> Option<&str> {
        self.checkpoint.as_deref()
    }

    /// Whether a failed delivery stopped the checkpoint.
    pub fn is_stalled(&self) -> bool {
        self.stalled
    }

    /// Whether the checkpoint moved since the last [`take_dirty`](Self::take_dirty).
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// The checkpoint to persist, once per change.
    pub fn take_dirty(&mut self) -> Option<SmolStr> {
        if std::mem::take(&mut self.dirty) {
            self.checkpoint.clone()
        } else {
            None
        }
    }

    /// Marks the checkpoint to be persisted again (its last write failed).
    pub fn mark_dirty(&mut self) {
        self.dirty = self.checkpoint.is_some();
    }
}

/// The checkpoint file's content.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stored {
    url: String,
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

    /// The file of a stream: `checkpoints/{FNV-1a 64 of the URL, 16 hex digits}.json`. The hash
    /// is fixed by this code, so the name is the same in every build and on every machine.
    pub fn path_for(&self, url: &Url) -> PathBuf {
        self.dir
            .join(format!("{:016x}.json", fnv1a64(url.as_str())))
    }

    /// The persisted checkpoint of `url`: `None` when there is none (or the file belongs to
    /// another URL that happens to share the hash).
    ///
    /// # Errors
    /// [`Error::CheckpointIo`] when the file exists but cannot be read,
    /// [`Error::CheckpointFormat`] when it is not a checkpoint.
    pub fn load(&self, url: &Url) -> Result<Option<String>, Error> {
        let path = self.path_for(url);
        let text = match fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(Error::CheckpointIo { path, source }),
        };
        let stored: Stored = serde_json::from_slice(&text)
            .map_err(|source| Error::CheckpointFormat { path, source })?;
        Ok((stored.url == url.as_str()).then_some(stored.last_event_id))
    }

    /// Writes the checkpoint of `url` atomically: a temporary file beside it, flushed to disk,
    /// then renamed over the old one, so a crash leaves the old or the new checkpoint, never a
    /// torn one.
    ///
    /// # Errors
    /// [`Error::CheckpointIo`] when the directory or the file cannot be written.
    pub fn save(&self, url: &Url, last_event_id: &str) -> Result<(), Error> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::CheckpointIo { path, source }
        };
        fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        let path = self.path_for(url);
        let tmp = path.with_extension("json.tmp");
        let stored = Stored {
            url: url.as_str().to_owned(),
            last_event_id: last_event_id.to_owned(),
        };
        let mut text = serde_json::to_vec(&stored).map_err(|source| Error::CheckpointFormat {
            path: path.clone(),
            source,
        })?;
        text.push(b'\n');
        let mut file = fs::File::create(&tmp).map_err(io(&tmp))?;
        file.write_all(&text).map_err(io(&tmp))?;
        file.sync_all().map_err(io(&tmp))?;
        drop(file);
        fs::rename(&tmp, &path).map_err(io(&path))?;
        // Make the rename itself durable; not every platform can open a directory.
        if let Ok(dir) = fs::File::open(&self.dir) {
            let _ = dir.sync_all();
        }
        Ok(())
    }
}

/// FNV-1a, 64 bits: a tiny hash that never changes between Rust versions (unlike std's).
fn fnv1a64(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> SmolStr {
        SmolStr::new(s)
    }

    #[test]
    fn moves_only_when_every_delivery_and_all_before_are_done() {
        let mut t = Tracker::new(None);
        let a = t.push(&id("1"), 2);
        let b = t.push(&id("2"), 1);
        let c = t.push(&id("3"), 1);
        assert_eq!(t.in_flight(), 3);
        t.resolve(c, true);
        t.resolve(b, true);
        assert_eq!(t.checkpoint(), None, "event 1 still pending");
        t.resolve(a, true);
        assert_eq!(t.checkpoint(), None, "one of two deliveries of event 1");
        t.resolve(a, true);
        assert_eq!(t.checkpoint(), Some("3"), "everything done, out of order");
        assert_eq!(t.in_flight(), 0);
        assert_eq!(t.take_dirty().as_deref(), Some("3"));
        assert_eq!(t.take_dirty(), None, "once per change");
    }

    #[test]
    fn events_without_deliveries_pass_once_earlier_ones_are_done() {
        let mut t = Tracker::new(Some("0"));
        let a = t.push(&id("1"), 1);
        t.push(&id("2"), 0); // matched no operation
        assert_eq!(t.checkpoint(), Some("0"));
        t.resolve(a, true);
        assert_eq!(t.checkpoint(), Some("2"));
        t.push(&id("3"), 0);
        assert_eq!(t.checkpoint(), Some("3"), "nothing in front: at once");
    }

    #[test]
    fn a_failure_stalls_the_checkpoint_for_good() {
        let mut t = Tracker::new(Some("0"));
        let a = t.push(&id("1"), 1);
        let b = t.push(&id("2"), 2);
        let c = t.push(&id("3"), 1);
        t.resolve(a, true);
        assert_eq!(t.checkpoint(), Some("1"));
        assert!(t.resolve(b, false), "first failure reported");
        t.resolve(b, true);
        t.resolve(c, true);
        assert_eq!(t.checkpoint(), Some("1"), "never past the failed event");
        assert!(t.is_stalled());
        assert_eq!(t.in_flight(), 0, "done events still leave the window");
        let d = t.push(&id("4"), 1);
        assert!(
            !t.resolve(d, false),
            "later failures are not reported again"
        );
        assert_eq!(t.checkpoint(), Some("1"));
    }

    #[test]
    fn unchanged_ids_do_not_dirty_and_unknown_seqs_are_ignored() {
        let mut t = Tracker::new(Some("5"));
        t.push(&id("5"), 0); // an event that inherited the id
        assert!(!t.is_dirty());
        assert!(!t.resolve(42, false), "unknown seq");
        assert!(!t.is_stalled());
        t.push(&id(""), 0); // the server cleared the id
        assert_eq!(t.checkpoint(), Some(""));
        assert!(t.is_dirty());
        t.take_dirty();
        t.mark_dirty();
        assert_eq!(t.take_dirty().as_deref(), Some(""));
    }

    #[test]
    fn store_round_trip_atomic_and_keyed_by_url() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = CheckpointStore::new(dir.path());
        let a: Url = "http://h/a".parse().expect("url");
        let b: Url = "http://h/b".parse().expect("url");
        assert_eq!(store.load(&a).expect("no file"), None);
        store.save(&a, "41").expect("saved");
        store.save(&a, "42").expect("saved");
        store.save(&b, "x").expect("saved");
        assert_eq!(store.load(&a).expect("read").as_deref(), Some("42"));
        assert_eq!(store.load(&b).expect("read").as_deref(), Some("x"));
        let names: Vec<_> = fs::read_dir(dir.path().join("checkpoints"))
            .expect("dir")
            .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
            .collect();
        assert_eq!(names.len(), 2, "no temporary file left: {names:?}");
        assert!(names.iter().all(|n| n.len() == 21 && n.ends_with(".json")));
        let text = fs::read_to_string(store.path_for(&a)).expect("file");
        assert_eq!(text, "{\"url\":\"http://h/a\",\"lastEventId\":\"42\"}\n");
    }

    #[test]
    fn store_rejects_garbage_and_ignores_other_urls() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = CheckpointStore::new(dir.path());
        let a: Url = "http://h/a".parse().expect("url");
        fs::create_dir_all(dir.path().join("checkpoints")).expect("dir");
        fs::write(store.path_for(&a), "not json").expect("write");
        assert!(matches!(
            store.load(&a),
            Err(Error::CheckpointFormat { .. })
        ));
        fs::write(
            store.path_for(&a),
            r#"{"url":"http://other/","lastEventId":"9"}"#,
        )
        .expect("write");
        assert_eq!(store.load(&a).expect("read"), None);
    }

    #[test]
    fn hash_is_stable() {
        // FNV-1a 64 test vectors.
        assert_eq!(fnv1a64(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64("foobar"), 0x8594_4171_f739_67e8);
    }
}
