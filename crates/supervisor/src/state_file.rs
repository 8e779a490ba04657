//! Small files under the state directory (checkpoints, schema version histories): a name
//! from a hash that never changes, and writes that a crash cannot tear.

use std::fs::{self, File};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Makes temporary file names unique within the process (the process id, across processes).
static TEMPORARY: AtomicU64 = AtomicU64::new(0);

/// Writes `bytes` to `path` atomically: a temporary file of its own beside it (so concurrent
/// writers never share one), flushed to disk, renamed over the old file, then the directory
/// synced so the rename is durable. A crash leaves the old or the new content, never a torn
/// one.
///
/// # Errors
/// The failing step's error, with the path it failed on.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), (PathBuf, io::Error)> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| (dir.to_path_buf(), e))?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("state");
    let temporary = dir.join(format!(
        ".{name}.{}-{}.tmp",
        std::process::id(),
        TEMPORARY.fetch_add(1, Ordering::Relaxed)
    ));
    let written = (|| {
        let mut file = File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temporary, path)
    })();
    if let Err(error) = written {
        let _ = fs::remove_file(&temporary);
        return Err((path.to_path_buf(), error));
    }
    // Not every platform can open a directory; the rename is done either way.
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// FNV-1a, 64 bits: a tiny hash fixed by this code (unlike std's), so a file keeps its name
/// in every build and on every machine.
pub(crate) fn fnv1a64(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_stable() {
        // FNV-1a 64 test vectors.
        assert_eq!(fnv1a64(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64("foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn writes_replace_the_file_and_leave_no_temporary_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/file.json");
        write_atomic(&path, b"one").expect("written");
        write_atomic(&path, b"two").expect("written");
        assert_eq!(fs::read(&path).expect("read"), b"two");
        let names: Vec<_> = fs::read_dir(dir.path().join("sub"))
            .expect("dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }
}
