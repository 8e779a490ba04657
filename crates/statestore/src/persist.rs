//! Durability of the embedded service: an append-only log in the state directory, compacted
//! by rewriting it from a snapshot.
//!
//! # Files
//! - `statestore.log`: the 8-byte header `SSESTOR1`, then records. Each record is
//!   `len: u32 LE`, `crc32(body): u32 LE`, `body`. A body is a tag byte and fields; byte
//!   strings are `u32 LE` length + bytes, times are `u64 LE`:
//!   - `1` SET: key, value, version (HLC text), expiry (ms since the epoch, `u64::MAX` = none),
//!     fencing token (HLC text, empty = none)
//!   - `2` DEL: key
//!   - `3` KEYNOTIFY: key, client id; `4` KEYNOTIFY STOP: key, client id
//! - `statestore.log.tmp`: a compaction in progress (removed at open).
//! - `LOCK`: held with an exclusive file lock while a service uses the directory.
//!
//! # Fsync policy
//! Each batch of changes is appended with one write and `fdatasync`ed **before** any of its
//! replies is published, so a `+OK` means the change is on disk. A compaction writes the new
//! log, `fsync`s it, renames it over the old one and `fsync`s the directory. At open, a torn
//! or corrupt tail (a crash mid-append) is cut off at the last whole record and logged; the
//! changes in it were never acknowledged.
//!
//! # Compaction
//! When the log has grown to twice its size after the last compaction (and past 1 MiB), it
//! is rewritten with one record per live key and observer: amortised O(1) per write.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::error::{Error, ErrorKind, ErrorSource, Result};
use crate::protocol::parse_hlc;
use crate::store::{Entry, Record};

const HEADER: &[u8; 8] = b"SSESTOR1";
const LOG: &str = "statestore.log";
const TMP: &str = "statestore.log.tmp";
const LOCK: &str = "LOCK";
const MIN_COMPACTION: u64 = 1024 * 1024;
/// No record is this large (MQTT packets are far smaller); a larger length is corruption.
const MAX_RECORD: usize = 1 << 30;

/// The open log.
#[derive(Debug)]
pub(crate) struct Log {
    dir: PathBuf,
    file: File,
    len: u64,
    compact_at: u64,
    _lock: File,
}

fn io_error(what: String) -> impl FnOnce(std::io::Error) -> Error {
    move |e| Error::new(ErrorKind::Storage, format!("{what}: {e}")).with_source(ErrorSource::Io(e))
}

impl Log {
    /// Opens (or creates) the log in `dir` and returns the records to replay.
    ///
    /// # Errors
    /// [`ErrorKind::Storage`] when the directory cannot be created or locked (another service
    /// uses it), or the log cannot be read, repaired or is not a state store log.
    pub(crate) fn open(dir: &Path) -> Result<(Self, Vec<Record>)> {
        std::fs::create_dir_all(dir).map_err(io_error(format!(
            "cannot create state directory {}",
            dir.display()
        )))?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(LOCK))
            .map_err(io_error(format!(
                "cannot open {}",
                dir.join(LOCK).display()
            )))?;
        lock.try_lock().map_err(|_| {
            Error::new(
                ErrorKind::Storage,
                format!("another state store service uses {}", dir.display()),
            )
        })?;
        let _ = std::fs::remove_file(dir.join(TMP));
        let path = dir.join(LOG);
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .append(true)
            .open(&path)
            .map_err(io_error(format!("cannot open {}", path.display())))?;
        let mut data = Vec::new();
        file.read_to_end(&mut data)
            .map_err(io_error(format!("cannot read {}", path.display())))?;
        let records = if data.is_empty() {
            file.write_all(HEADER)
                .and_then(|()| file.sync_all())
                .map_err(io_error(format!("cannot write {}", path.display())))?;
            sync_dir(dir)?;
            data.extend_from_slice(HEADER);
            Vec::new()
        } else if data.len() < HEADER.len() || &data[..HEADER.len()] != HEADER {
            return Err(Error::new(
                ErrorKind::Storage,
                format!("{} is not a state store log", path.display()),
            ));
        } else {
            let (records, good) = decode_all(&data[HEADER.len()..]);
            let good = HEADER.len() + good;
            if good < data.len() {
                tracing::warn!(path = %path.display(), dropped = data.len() - good,
                    "cutting a torn or corrupt tail off the state store log");
                file.set_len(good as u64)
                    .and_then(|()| file.sync_all())
                    .map_err(io_error(format!("cannot repair {}", path.display())))?;
                data.truncate(good);
            }
            records
        };
        let len = data.len() as u64;
        let log = Self {
            dir: dir.to_owned(),
            file,
            len,
            compact_at: (2 * len).max(MIN_COMPACTION),
            _lock: lock,
        };
        Ok((log, records))
    }

    /// Appends `records` and syncs them to disk.
    ///
    /// # Errors
    /// [`ErrorKind::Storage`] when writing or syncing fails; the records may or may not be
    /// on disk then.
    pub(crate) fn append(&mut self, records: &[Record]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let mut buffer = Vec::new();
        for record in records {
            encode(record, &mut buffer);
        }
        self.file
            .write_all(&buffer)
            .and_then(|()| self.file.sync_data())
            .map_err(io_error(format!(
                "cannot write to {}",
                self.dir.join(LOG).display()
            )))?;
        self.len += buffer.len() as u64;
        Ok(())
    }

    /// Whether the log has grown enough to be compacted.
    pub(crate) fn wants_compaction(&self) -> bool {
        self.len >= self.compact_at
    }

    /// Replaces the log with `snapshot` (every record of the live state).
    ///
    /// # Errors
    /// [`ErrorKind::Storage`]; the old log is then still in place and complete.
    pub(crate) fn compact(&mut self, snapshot: &[Record]) -> Result<()> {
        let tmp = self.dir.join(TMP);
        let path = self.dir.join(LOG);
        let mut buffer = HEADER.to_vec();
        for record in snapshot {
            encode(record, &mut buffer);
        }
        let write = || -> std::io::Result<File> {
            let mut file = File::create(&tmp)?;
            file.write_all(&buffer)?;
            file.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            OpenOptions::new().append(true).open(&path)
        };
        let file = write().map_err(io_error(format!("cannot compact {}", path.display())))?;
        sync_dir(&self.dir)?;
        self.file = file;
        self.len = buffer.len() as u64;
        self.compact_at = (2 * self.len).max(MIN_COMPACTION);
        tracing::debug!(bytes = self.len, "compacted the state store log");
        Ok(())
    }
}

/// The records of the log in `dir`, read without taking the lock or changing anything: for
/// a reader beside a running service. A tail being appended (or torn) is left out; a
/// compaction renames a whole new file into place, so the file read is always one whole log.
///
/// # Errors
/// [`ErrorKind::Storage`] when there is no log in `dir`, it cannot be read, or it is not a
/// state store log.
pub(crate) fn read(dir: &Path) -> Result<Vec<Record>> {
    let path = dir.join(LOG);
    // The message carries the cause: nothing to chain.
    let data = std::fs::read(&path).map_err(|e| {
        Error::new(
            ErrorKind::Storage,
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    if data.len() < HEADER.len() || &data[..HEADER.len()] != HEADER {
        return Err(Error::new(
            ErrorKind::Storage,
            format!("{} is not a state store log", path.display()),
        ));
    }
    Ok(decode_all(&data[HEADER.len()..]).0)
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error(format!("cannot sync directory {}", dir.display())))
}

// ----------------------------------------------------------------------------- encoding

fn put_bytes(out: &mut Vec<u8>, data: &[u8]) {
    // Keys and values come from MQTT packets (< 256 MiB), so the length fits.
    out.extend_from_slice(&u32::try_from(data.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(data);
}

pub(crate) fn encode(record: &Record, out: &mut Vec<u8>) {
    let mut body = Vec::new();
    match record {
        Record::Set { key, entry } => {
            body.push(1);
            put_bytes(&mut body, key);
            put_bytes(&mut body, &entry.value);
            put_bytes(&mut body, entry.version.to_string().as_bytes());
            body.extend_from_slice(&entry.expires_at.unwrap_or(u64::MAX).to_le_bytes());
            let fencing = entry.fencing.as_ref().map(ToString::to_string);
            put_bytes(&mut body, fencing.unwrap_or_default().as_bytes());
        }
        Record::Del { key } => {
            body.push(2);
            put_bytes(&mut body, key);
        }
        Record::Watch { key, client } | Record::Unwatch { key, client } => {
            body.push(if matches!(record, Record::Watch { .. }) {
                3
            } else {
                4
            });
            put_bytes(&mut body, key);
            put_bytes(&mut body, client.as_bytes());
        }
    }
    out.extend_from_slice(&u32::try_from(body.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(&crc32(&body).to_le_bytes());
    out.extend_from_slice(&body);
}

/// Every whole, intact record, and how many bytes they take.
pub(crate) fn decode_all(data: &[u8]) -> (Vec<Record>, usize) {
    let mut records = Vec::new();
    let mut pos = 0;
    while let Some((record, used)) = decode_one(&data[pos..]) {
        records.push(record);
        pos += used;
    }
    (records, pos)
}

fn decode_one(data: &[u8]) -> Option<(Record, usize)> {
    let len = usize::try_from(u32::from_le_bytes(data.get(..4)?.try_into().ok()?)).ok()?;
    let crc = u32::from_le_bytes(data.get(4..8)?.try_into().ok()?);
    if len > MAX_RECORD {
        return None;
    }
    let body = data.get(8..8 + len)?;
    if crc32(body) != crc {
        return None;
    }
    let mut reader = Reader { data: body };
    let record = match reader.take(1)?[0] {
        1 => {
            let key = reader.bytes()?;
            let value = reader.bytes()?;
            let version = parse_hlc(std::str::from_utf8(&reader.bytes()?).ok()?)?;
            let expires_at = u64::from_le_bytes(reader.take(8)?.try_into().ok()?);
            let fencing = reader.bytes()?;
            let fencing = if fencing.is_empty() {
                None
            } else {
                Some(parse_hlc(std::str::from_utf8(&fencing).ok()?)?)
            };
            Record::Set {
                key,
                entry: Entry {
                    value,
                    version,
                    expires_at: (expires_at != u64::MAX).then_some(expires_at),
                    fencing,
                },
            }
        }
        2 => Record::Del {
            key: reader.bytes()?,
        },
        tag @ (3 | 4) => {
            let key = reader.bytes()?;
            let client = String::from_utf8(reader.bytes()?.to_vec()).ok()?;
            if tag == 3 {
                Record::Watch { key, client }
            } else {
                Record::Unwatch { key, client }
            }
        }
        _ => return None,
    };
    reader.data.is_empty().then_some((record, 8 + len))
}

struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.data.len() {
            return None;
        }
        let (head, tail) = self.data.split_at(n);
        self.data = tail;
        Some(head)
    }

    fn bytes(&mut self) -> Option<Bytes> {
        let len = usize::try_from(u32::from_le_bytes(self.take(4)?.try_into().ok()?)).ok()?;
        self.take(len).map(Bytes::copy_from_slice)
    }
}

/// CRC-32 (IEEE 802.3, reflected, as zlib computes it).
pub(crate) fn crc32(data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            table[i] = c;
            i += 1;
        }
        table
    };
    let mut crc = !0u32;
    for &byte in data {
        crc = TABLE[((crc ^ u32::from(byte)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;
    use aio_mqtt::hlc::HlcTimestamp;

    fn set(key: &str, value: &str, fencing: bool) -> Record {
        let ts = HlcTimestamp {
            millis: 5,
            counter: 1,
            node_id: "n:1".into(),
        };
        Record::Set {
            key: Bytes::copy_from_slice(key.as_bytes()),
            entry: Entry {
                value: Bytes::copy_from_slice(value.as_bytes()),
                version: ts.clone(),
                expires_at: fencing.then_some(99),
                fencing: fencing.then_some(ts),
            },
        }
    }

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn records_survive_reopen_and_a_torn_tail_is_cut() {
        let dir = tempfile::tempdir().expect("dir");
        let records = vec![
            set("a", "1", false),
            set("b\r\n", "\0", true),
            Record::Del {
                key: Bytes::from_static(b"a"),
            },
            Record::Watch {
                key: Bytes::from_static(b"b"),
                client: "c".into(),
            },
            Record::Unwatch {
                key: Bytes::from_static(b"b"),
                client: "c".into(),
            },
        ];
        {
            let (mut log, replay) = Log::open(dir.path()).expect("open");
            assert!(replay.is_empty());
            assert!(Log::open(dir.path()).is_err(), "the directory is locked");
            log.append(&records).expect("append");
        }
        let path = dir.path().join(LOG);
        let whole = std::fs::metadata(&path).expect("meta").len();
        // A crash mid-append: half a record at the end.
        let mut half = Vec::new();
        encode(&set("c", "torn", false), &mut half);
        half.truncate(half.len() / 2);
        OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("open")
            .write_all(&half)
            .expect("write");
        let (mut log, replay) = Log::open(dir.path()).expect("reopen");
        assert_eq!(replay, records);
        assert_eq!(
            std::fs::metadata(&path).expect("meta").len(),
            whole,
            "tail cut"
        );
        log.compact(&[set("z", "only", true)]).expect("compact");
        log.append(&[Record::Del {
            key: Bytes::from_static(b"q"),
        }])
        .expect("append");
        drop(log);
        let (_log, replay) = Log::open(dir.path()).expect("reopen");
        assert_eq!(
            replay,
            vec![
                set("z", "only", true),
                Record::Del {
                    key: Bytes::from_static(b"q")
                }
            ]
        );
    }

    #[test]
    fn a_foreign_file_is_not_overwritten() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join(LOG), b"hello world").expect("write");
        let error = Log::open(dir.path()).expect_err("foreign");
        assert_eq!(error.kind(), ErrorKind::Storage);
        assert!(error.to_string().contains("not a state store log"));
    }

    #[test]
    fn garbage_never_panics_the_decoder() {
        let mut data = Vec::new();
        encode(&set("k", "v", true), &mut data);
        for cut in 0..data.len() {
            let _ = decode_all(&data[..cut]);
            let mut flipped = data.clone();
            flipped[cut] ^= 0x55;
            assert!(
                decode_all(&flipped).0.is_empty(),
                "corruption at {cut} detected"
            );
        }
    }
}
