//! The state store's semantics, without I/O: keys with values, versions, expiry times and
//! fencing tokens, plus the KEYNOTIFY registrations. [`Store::execute`] turns one request into
//! its response, the log [`Record`]s that make the change durable, and the [`Change`] that
//! observers hear about. Time comes in as an argument, so every rule is unit-tested.
//!
//! Rules, in the order they are checked:
//! 1. A SET needs `__ts`; a `__ts` or `__ft` more than [`MAX_CLOCK_SKEW`] ahead of the
//!    service's wall clock is refused. Keys must not be empty.
//! 2. A key past its `PX` expiry no longer exists (it is deleted on first touch or by
//!    [`Store::expire`], and observers hear `DELETE`).
//! 3. Fencing: once a key was written with `__ft`, SET, DEL and VDEL must carry an `__ft` at
//!    least as new (an equal token is the same lease holder); a newer one replaces it.
//! 4. Conditions: `NX` applies only to a missing key, `NEX` to a missing key or one holding the
//!    same value; otherwise `:-1`. VDEL answers `:-1` when the value differs, `:0` when the key
//!    is missing.
//! 5. A SET without `PX` clears any earlier expiry. Each write gets a new version (an HLC
//!    timestamp of the service), returned as `__ts` and sent with notifications.

use std::collections::{BTreeSet, HashMap};

use aio_mqtt::hlc::{HlcTimestamp, HybridLogicalClock};
use bytes::Bytes;

use crate::error::ServiceError;
use crate::protocol::MAX_CLOCK_SKEW;
use crate::resp3::{Request, Response, SetCondition};

/// One key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) value: Bytes,
    pub(crate) version: HlcTimestamp,
    /// Wall-clock milliseconds since the epoch after which the key is gone.
    pub(crate) expires_at: Option<u64>,
    pub(crate) fencing: Option<HlcTimestamp>,
}

/// One durable mutation, as the log stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Record {
    Set { key: Bytes, entry: Entry },
    Del { key: Bytes },
    Watch { key: Bytes, client: String },
    Unwatch { key: Bytes, client: String },
}

/// What observers of a key hear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Change {
    pub(crate) key: Bytes,
    /// The new value; `None` for a delete.
    pub(crate) value: Option<Bytes>,
    pub(crate) version: HlcTimestamp,
}

/// A request with what its MQTT properties said.
#[derive(Debug, Clone)]
pub(crate) struct Command {
    pub(crate) request: Request,
    pub(crate) timestamp: Option<HlcTimestamp>,
    pub(crate) fencing: Option<HlcTimestamp>,
    /// The requesting client (for KEYNOTIFY).
    pub(crate) client: Option<String>,
}

/// The result of one command.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub(crate) response: Option<Response>,
    /// The `__ts` of the response: the value's version when there is one.
    pub(crate) version: Option<HlcTimestamp>,
    pub(crate) records: Vec<Record>,
    pub(crate) changes: Vec<Change>,
}

impl Outcome {
    fn reply(response: Response) -> Self {
        Self {
            response: Some(response),
            ..Self::default()
        }
    }

    fn refuse(error: ServiceError) -> Self {
        Self::reply(Response::Error(error.text().to_owned()))
    }
}

/// The keys, their expiry index and the observers.
#[derive(Debug)]
pub(crate) struct Store {
    entries: HashMap<Bytes, Entry>,
    /// `(expires_at, key)` of every key with an expiry, soonest first.
    expiries: BTreeSet<(u64, Bytes)>,
    /// Key → client ids that asked for notifications.
    watchers: HashMap<Bytes, BTreeSet<String>>,
    max_keys: usize,
    clock: HybridLogicalClock,
}

impl Store {
    pub(crate) fn new(node_id: &str, max_keys: usize) -> Self {
        Self {
            entries: HashMap::new(),
            expiries: BTreeSet::new(),
            watchers: HashMap::new(),
            max_keys,
            clock: HybridLogicalClock::with_node_id(node_id),
        }
    }

    /// Applies a record read back from the log.
    pub(crate) fn replay(&mut self, record: Record) {
        match record {
            Record::Set { key, entry } => {
                // Versions of later writes must stay above those on disk.
                self.clock.tick(entry.version.millis.saturating_add(1));
                self.insert(key, entry);
            }
            Record::Del { key } => {
                self.remove(&key);
            }
            Record::Watch { key, client } => {
                self.watchers.entry(key).or_default().insert(client);
            }
            Record::Unwatch { key, client } => self.unwatch(&key, &client),
        }
    }

    /// Every record needed to rebuild the current state (for compaction).
    pub(crate) fn snapshot(&self) -> Vec<Record> {
        let sets = self.entries.iter().map(|(key, entry)| Record::Set {
            key: key.clone(),
            entry: entry.clone(),
        });
        let watches = self.watchers.iter().flat_map(|(key, clients)| {
            clients.iter().map(|client| Record::Watch {
                key: key.clone(),
                client: client.clone(),
            })
        });
        sets.chain(watches).collect()
    }

    /// A fresh timestamp of the service's clock (the `__ts` of replies without a version).
    pub(crate) fn timestamp(&self, now_ms: u64) -> HlcTimestamp {
        self.clock.tick(now_ms)
    }

    /// Number of keys (including expired ones not yet removed).
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The clients observing `key`.
    pub(crate) fn watchers(&self, key: &[u8]) -> impl Iterator<Item = &str> {
        self.watchers
            .get(key)
            .into_iter()
            .flatten()
            .map(String::as_str)
    }

    /// The earliest expiry time, to wake up for.
    pub(crate) fn next_expiry(&self) -> Option<u64> {
        self.expiries.first().map(|(at, _)| *at)
    }

    /// Deletes every key expired at `now_ms`.
    pub(crate) fn expire(&mut self, now_ms: u64) -> Outcome {
        let mut outcome = Outcome::default();
        while let Some((at, key)) = self.expiries.first().cloned() {
            if at > now_ms {
                break;
            }
            // Removed first, so the loop ends even if the index were out of step.
            self.expiries.remove(&(at, key.clone()));
            self.expire_key(&key, now_ms, &mut outcome);
        }
        outcome
    }

    /// Executes one command at wall-clock time `now_ms`.
    pub(crate) fn execute(&mut self, command: Command, now_ms: u64) -> Outcome {
        let skew_limit =
            now_ms.saturating_add(u64::try_from(MAX_CLOCK_SKEW.as_millis()).unwrap_or(u64::MAX));
        if matches!(command.request, Request::Set { .. }) && command.timestamp.is_none() {
            return Outcome::refuse(ServiceError::MissingTimestamp);
        }
        if command
            .timestamp
            .as_ref()
            .is_some_and(|ts| ts.millis > skew_limit)
        {
            return Outcome::refuse(ServiceError::TimestampSkew);
        }
        if command
            .fencing
            .as_ref()
            .is_some_and(|ft| ft.millis > skew_limit)
        {
            return Outcome::refuse(ServiceError::FencingTokenSkew);
        }
        if command.request.key().is_empty() {
            return Outcome::refuse(ServiceError::KeyLengthZero);
        }
        let mut outcome = Outcome::default();
        self.expire_key(command.request.key(), now_ms, &mut outcome);
        let (response, version) = match command.request {
            Request::Set {
                key,
                value,
                condition,
                expires_ms,
            } => {
                let current = self.entries.get(&key);
                if let Some(error) = fencing_error(current, command.fencing.as_ref()) {
                    return Outcome::refuse(error);
                }
                let applies = match (condition, current) {
                    (SetCondition::Always, _) | (_, None) => true,
                    (SetCondition::NotExists, Some(_)) => false,
                    (SetCondition::NotExistsOrEqual, Some(entry)) => entry.value == value,
                };
                if !applies {
                    (Response::Integer(-1), None)
                } else if current.is_none() && self.entries.len() >= self.max_keys {
                    return Outcome::refuse(ServiceError::QuotaExceeded);
                } else {
                    let fencing = command
                        .fencing
                        .or_else(|| current.and_then(|e| e.fencing.clone()));
                    let entry = Entry {
                        value: value.clone(),
                        version: self.clock.tick(now_ms),
                        expires_at: expires_ms.map(|ms| now_ms.saturating_add(ms)),
                        fencing,
                    };
                    let version = entry.version.clone();
                    self.insert(key.clone(), entry.clone());
                    outcome.records.push(Record::Set {
                        key: key.clone(),
                        entry,
                    });
                    outcome.changes.push(Change {
                        key,
                        value: Some(value),
                        version: version.clone(),
                    });
                    (Response::Ok, Some(version))
                }
            }
            Request::Get { key } => match self.entries.get(&key) {
                Some(entry) => (
                    Response::Value(entry.value.clone()),
                    Some(entry.version.clone()),
                ),
                None => (Response::NotFound, None),
            },
            Request::Del { key } => {
                let Some(current) = self.entries.get(&key) else {
                    return outcome.with(Response::Integer(0), None);
                };
                if let Some(error) = fencing_error(Some(current), command.fencing.as_ref()) {
                    return Outcome::refuse(error);
                }
                self.delete(key, now_ms, &mut outcome);
                (Response::Integer(1), None)
            }
            Request::VDel { key, value } => {
                let Some(current) = self.entries.get(&key) else {
                    return outcome.with(Response::Integer(0), None);
                };
                if let Some(error) = fencing_error(Some(current), command.fencing.as_ref()) {
                    return Outcome::refuse(error);
                }
                if current.value != value {
                    (Response::Integer(-1), None)
                } else {
                    self.delete(key, now_ms, &mut outcome);
                    (Response::Integer(1), None)
                }
            }
            Request::KeyNotify { key, stop } => {
                let Some(client) = command.client else {
                    return Outcome::refuse(ServiceError::NotAuthorized);
                };
                let watching = self.watchers.get(&key).is_some_and(|c| c.contains(&client));
                match (stop, watching) {
                    (false, _) => {
                        if !watching {
                            self.watchers
                                .entry(key.clone())
                                .or_default()
                                .insert(client.clone());
                            outcome.records.push(Record::Watch { key, client });
                        }
                        (Response::Ok, None)
                    }
                    (true, true) => {
                        self.unwatch(&key, &client);
                        outcome.records.push(Record::Unwatch { key, client });
                        (Response::Ok, None)
                    }
                    (true, false) => (Response::Integer(0), None),
                }
            }
        };
        outcome.with(response, version)
    }

    fn expire_key(&mut self, key: &Bytes, now_ms: u64, outcome: &mut Outcome) {
        let expired = self
            .entries
            .get(key)
            .and_then(|e| e.expires_at)
            .is_some_and(|at| at <= now_ms);
        if expired {
            self.delete(key.clone(), now_ms, outcome);
        }
    }

    fn delete(&mut self, key: Bytes, now_ms: u64, outcome: &mut Outcome) {
        self.remove(&key);
        let version = self.clock.tick(now_ms);
        outcome.records.push(Record::Del { key: key.clone() });
        outcome.changes.push(Change {
            key,
            value: None,
            version,
        });
    }

    fn insert(&mut self, key: Bytes, entry: Entry) {
        if let Some(at) = entry.expires_at {
            self.expiries.insert((at, key.clone()));
        }
        if let Some(old) = self.entries.insert(key.clone(), entry)
            && let Some(at) = old.expires_at
        {
            self.expiries.remove(&(at, key));
        }
    }

    fn remove(&mut self, key: &Bytes) {
        if let Some(old) = self.entries.remove(key)
            && let Some(at) = old.expires_at
        {
            self.expiries.remove(&(at, key.clone()));
        }
    }

    fn unwatch(&mut self, key: &Bytes, client: &str) {
        if let Some(clients) = self.watchers.get_mut(key) {
            clients.remove(client);
            if clients.is_empty() {
                self.watchers.remove(key);
            }
        }
    }
}

impl Outcome {
    fn with(mut self, response: Response, version: Option<HlcTimestamp>) -> Self {
        self.response = Some(response);
        self.version = version;
        self
    }
}

/// Why a write to a key holding `current` is refused with this fencing token, if it is.
fn fencing_error(current: Option<&Entry>, token: Option<&HlcTimestamp>) -> Option<ServiceError> {
    let required = current?.fencing.as_ref()?;
    match token {
        None => Some(ServiceError::FencingTokenRequired),
        Some(token) if token < required => Some(ServiceError::FencingTokenLowerVersion),
        Some(_) => None,
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
