//! [`stored_keys`]: the keys an embedded service has persisted, read from its directory
//! without disturbing it.
//!
//! AIO's protocol has no way to list keys, so this is the only listing there is, and only for
//! the embedded service: it reads the service's log (see `persist.rs`) while the service may
//! be running, without its lock. What it returns is the state of the last change written to
//! disk, which is every change the service has acknowledged.

use std::path::Path;

use aio_mqtt::hlc::{HlcTimestamp, wall_millis};
use bytes::Bytes;

use crate::error::Result;
use crate::persist;
use crate::store::Record;

/// One key of a persisted store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// The key.
    pub key: Bytes,
    /// Its value.
    pub value: Bytes,
    /// Its version (the `__ts` of its last SET).
    pub version: HlcTimestamp,
    /// When it expires (`PX`), in milliseconds since the Unix epoch.
    pub expires_at: Option<u64>,
    /// Whether a fencing token protects it.
    pub fenced: bool,
}

/// Every live key of the store persisted in `dir` (the directory a [`StateStoreService`]
/// was started with), sorted by key. Keys past their expiry are left out.
///
/// [`StateStoreService`]: crate::StateStoreService
///
/// # Errors
/// [`ErrorKind::Storage`](crate::ErrorKind::Storage) when `dir` holds no state store log or
/// it cannot be read.
pub fn stored_keys(dir: &Path) -> Result<Vec<StoredKey>> {
    let now = wall_millis();
    let mut keys = std::collections::BTreeMap::new();
    for record in persist::read(dir)? {
        match record {
            Record::Set { key, entry } => {
                keys.insert(key, entry);
            }
            Record::Del { key } => {
                keys.remove(&key);
            }
            Record::Watch { .. } | Record::Unwatch { .. } => {}
        }
    }
    Ok(keys
        .into_iter()
        .filter(|(_, entry)| entry.expires_at.is_none_or(|at| at > now))
        .map(|(key, entry)| StoredKey {
            key,
            value: entry.value,
            version: entry.version,
            expires_at: entry.expires_at,
            fenced: entry.fencing.is_some(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::persist::Log;
    use crate::store::Entry;

    fn set(key: &'static str, value: &'static str, expires_at: Option<u64>) -> Record {
        Record::Set {
            key: Bytes::from_static(key.as_bytes()),
            entry: Entry {
                value: Bytes::from_static(value.as_bytes()),
                version: HlcTimestamp {
                    millis: 7,
                    counter: 0,
                    node_id: "n".into(),
                },
                expires_at,
                fencing: None,
            },
        }
    }

    #[test]
    fn lists_live_keys_beside_a_running_service() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = Log::open(dir.path()).unwrap();
        log.append(&[
            set("b", "1", None),
            set("a", "old", None),
            set("gone", "x", None),
            set("expired", "x", Some(1)),
            Record::Del {
                key: Bytes::from_static(b"gone"),
            },
            set("a", "new", None),
        ])
        .unwrap();
        // The log stays open and locked, as in a running service.
        let keys = stored_keys(dir.path()).unwrap();
        let listed: Vec<(&[u8], &[u8])> = keys
            .iter()
            .map(|k| (k.key.as_ref(), k.value.as_ref()))
            .collect();
        assert_eq!(listed, [(&b"a"[..], &b"new"[..]), (b"b", b"1")]);
        drop(log);
        let error = stored_keys(&dir.path().join("missing")).unwrap_err();
        assert_eq!(error.kind(), crate::ErrorKind::Storage);
    }
}
