//! The file of one `Storage` path: open (and repair), append batches, rotate, flush to disk.
//! Blocking I/O only: the writer task runs it on tokio's blocking pool.
//!
//! Invariants, which let a crash at any point lose nothing that was delivered and leave no
//! torn line behind:
//! - bytes are only appended, and only whole lines;
//! - a batch's deliveries resolve after its bytes are written and, with
//!   [`Durability::Sync`], flushed to disk (`fdatasync`), rotated files included;
//! - at open, a last line without its `\n` (a crash or a full disk in the middle of a write)
//!   is cut off: it belongs to a batch that never resolved, whose events are read again;
//! - rotation renames complete, flushed files only, and flushes the directory after.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

use super::accepts::Line;
use super::deliver::{Durability, FileOptions};
use super::error::{io_error, path_refused};
use crate::error::PublishError;

/// How far back the repair reads at a time, looking for the last `\n`.
const REPAIR_CHUNK: u64 = 64 * 1024;

/// The open (or not yet open) file of one path.
#[derive(Debug)]
pub(crate) struct FileWriter {
    /// The path as configured, for errors.
    name: String,
    root: PathBuf,
    path: PathBuf,
    options: FileOptions,
    /// `None` before the first batch and after a failure (the next batch opens it again,
    /// repairing its end).
    file: Option<File>,
    /// Length of the open file: every byte written so far is a whole line.
    size: u64,
}

impl FileWriter {
    /// The writer of `root/name`; nothing is opened until the first batch. `name` must have
    /// passed [`model::environment::safe_relative_path`].
    pub fn new(root: &Path, name: &str, options: FileOptions) -> Self {
        Self {
            name: name.to_owned(),
            root: root.to_path_buf(),
            path: root.join(name),
            options,
            file: None,
            size: 0,
        }
    }

    /// Appends `lines` in order, rotating before a line that would make the file larger than
    /// [`FileOptions::max_file_bytes`], and flushes them to disk as the durability asks.
    ///
    /// # Errors
    /// [`PublishError::StoragePath`] when the path leads out of the root or is not a regular
    /// file, [`PublishError::Storage`] on an I/O failure; then any of `lines` may or may not be
    /// in a file (whole), and the file is opened again (and repaired) at the next batch.
    pub fn write_batch(&mut self, lines: &[Line]) -> Result<(), PublishError> {
        let result = self.try_write_batch(lines);
        if result.is_err()
            && let Some(file) = self.file.take()
        {
            // Leave whole lines only, if we can; the next open repairs it otherwise.
            let _ = file.set_len(self.size);
        }
        result
    }

    fn try_write_batch(&mut self, lines: &[Line]) -> Result<(), PublishError> {
        if self.file.is_none() {
            self.open()?;
        }
        let mut pending: Vec<u8> = Vec::new();
        for line in lines {
            let len = line.len() as u64;
            let written = self.size + pending.len() as u64;
            let max = self.options.max_file_bytes;
            if max > 0 && written > 0 && written + len > max {
                self.append(&pending)?;
                pending.clear();
                self.rotate()?;
            }
            pending.extend_from_slice(line.as_bytes());
        }
        self.append(&pending)
    }

    /// Writes `bytes` (whole lines) at the end and flushes them per the durability.
    fn append(&mut self, bytes: &[u8]) -> Result<(), PublishError> {
        let Some(file) = self.file.as_mut() else {
            return Err(self.io_error("the file is not open"));
        };
        if !bytes.is_empty() {
            if let Err(e) = file.write_all(bytes) {
                return Err(self.io_error(format!("write: {e}")));
            }
            self.size += bytes.len() as u64;
        }
        if self.options.durability == Durability::Sync
            && let Err(e) = file.sync_data()
        {
            return Err(self.io_error(format!("fsync: {e}")));
        }
        Ok(())
    }

    /// `name.jsonl` → `name.1.jsonl` → … → `name.{keep}.jsonl` (the oldest is replaced), then a
    /// new empty `name.jsonl`. With `keep` 0 the full file is deleted.
    fn rotate(&mut self) -> Result<(), PublishError> {
        self.file = None;
        let keep = self.options.keep;
        for n in (1..keep).rev() {
            match fs::rename(rotated_path(&self.path, n), rotated_path(&self.path, n + 1)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(self.io_error(format!("rotate: {e}"))),
            }
        }
        let moved = if keep == 0 {
            fs::remove_file(&self.path)
        } else {
            fs::rename(&self.path, rotated_path(&self.path, 1))
        };
        if let Err(e) = moved {
            return Err(self.io_error(format!("rotate: {e}")));
        }
        tracing::debug!(path = %self.path.display(), keep, "storage file rotated");
        self.open()
    }

    /// Opens the file for appending (creating it and its directories), checks that it stays
    /// below the root, and cuts off a torn last line.
    fn open(&mut self) -> Result<(), PublishError> {
        let parent = self.path.parent().unwrap_or(&self.root).to_path_buf();
        fs::create_dir_all(&parent)
            .map_err(|e| self.io_error(format!("create {}: {e}", parent.display())))?;
        let root = self
            .root
            .canonicalize()
            .map_err(|e| self.io_error(format!("storage root {}: {e}", self.root.display())))?;
        let real_parent = parent
            .canonicalize()
            .map_err(|e| self.io_error(format!("{}: {e}", parent.display())))?;
        if !real_parent.starts_with(&root) {
            return Err(self.refused("a symbolic link leads out of the storage root"));
        }
        let created = match fs::symlink_metadata(&self.path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(self.refused("the file is a symbolic link"));
            }
            Ok(meta) if !meta.is_file() => return Err(self.refused("not a regular file")),
            Ok(_) => false,
            Err(e) if e.kind() == io::ErrorKind::NotFound => true,
            Err(e) => return Err(self.io_error(format!("stat: {e}"))),
        };
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&self.path)
            .map_err(|e| self.io_error(format!("open: {e}")))?;
        let (size, cut) =
            repair(&mut file).map_err(|e| self.io_error(format!("repair after a crash: {e}")))?;
        if cut > 0 {
            tracing::warn!(
                path = %self.path.display(),
                bytes = cut,
                "storage file ended with an incomplete line (an earlier crash); it was cut off, its event is written again"
            );
        }
        if created {
            sync_dir(&parent);
        }
        self.file = Some(file);
        self.size = size;
        Ok(())
    }

    pub fn io_error(&self, reason: impl Into<String>) -> PublishError {
        io_error(&self.name, reason)
    }

    fn refused(&self, reason: &str) -> PublishError {
        path_refused(&self.name, reason)
    }
}

/// Cuts `file` after its last `\n` when its last byte is not one (nothing when it is empty).
/// Returns the length kept and the number of bytes cut.
fn repair(file: &mut File) -> io::Result<(u64, u64)> {
    let len = file.metadata()?.len();
    let mut end = len;
    let mut buf = Vec::new();
    while end > 0 {
        let start = end.saturating_sub(REPAIR_CHUNK);
        buf.resize(usize::try_from(end - start).unwrap_or(0), 0);
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut buf)?;
        if end == len && buf.last() == Some(&b'\n') {
            return Ok((len, 0));
        }
        if let Some(i) = buf.iter().rposition(|&b| b == b'\n') {
            end = start + i as u64 + 1;
            break;
        }
        end = start;
    }
    file.set_len(end)?;
    file.sync_all()?;
    Ok((end, len - end))
}

/// `dir/name.jsonl` → `dir/name.{n}.jsonl`; a name without an extension gets `.{n}` at the
/// end.
pub(crate) fn rotated_path(path: &Path, n: u32) -> PathBuf {
    let stem = path.file_stem().unwrap_or_default();
    let mut name = OsString::from(stem);
    name.push(format!(".{n}"));
    if let Some(ext) = path.extension() {
        name.push(".");
        name.push(ext);
    }
    path.with_file_name(name)
}

/// Makes a new or renamed directory entry durable; best effort (not every platform can open
/// a directory).
fn sync_dir(dir: &Path) {
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotated_names() {
        let p = |s: &str, n| rotated_path(Path::new(s), n);
        assert_eq!(p("/r/a/events.jsonl", 1), Path::new("/r/a/events.1.jsonl"));
        assert_eq!(p("/r/x.y.log", 12), Path::new("/r/x.y.12.log"));
        assert_eq!(p("/r/plain", 2), Path::new("/r/plain.2"));
    }

    #[test]
    fn repair_cuts_only_an_incomplete_last_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        let cases: [(&[u8], &[u8]); 5] = [
            (b"", b""),
            (b"a\nb\n", b"a\nb\n"),
            (b"a\nb\n{\"tor", b"a\nb\n"),
            (b"no newline at all", b""),
            (b"a\n\0\0\0\0", b"a\n"),
        ];
        for (before, after) in cases {
            fs::write(&path, before).expect("write");
            let mut file = OpenOptions::new()
                .read(true)
                .append(true)
                .open(&path)
                .expect("open");
            let (kept, cut) = repair(&mut file).expect("repair");
            assert_eq!(kept, after.len() as u64);
            assert_eq!(cut, (before.len() - after.len()) as u64);
            assert_eq!(fs::read(&path).expect("read"), after);
        }
    }

    #[test]
    fn repair_finds_a_newline_further_back_than_one_chunk() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        let mut content = b"whole\n".to_vec();
        content.extend(std::iter::repeat_n(b'x', 200_000));
        fs::write(&path, &content).expect("write");
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&path)
            .expect("open");
        assert_eq!(repair(&mut file).expect("repair"), (6, 200_000));
        assert_eq!(fs::read(&path).expect("read"), b"whole\n");
    }
}
