//! The allocation: which device endpoints and assets this replica runs, from the mount
//! `ADR_RESOURCES_NAME_MOUNT_PATH` (reference: aio-connector.md §3.3), and its watcher.
//!
//! The mount holds one file per allocated device endpoint, named `{device}_{endpoint}` and
//! split at the **first** `_` (device names cannot contain `_`, endpoint names may). Each
//! line of a file is an asset name; surrounding whitespace and blank lines are ignored, so an
//! empty file is an endpoint without assets.
//!
//! A visible name without `_` (or with nothing before or after it) is not one the operator
//! writes: it is skipped with a warning rather than refused, since refusing the whole
//! allocation for a stray file would stop every endpoint of the replica.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use notify::{EventKind, RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};

use crate::error::Error;
use crate::mount;

/// A device's inbound endpoint.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EndpointRef {
    /// The device name.
    pub device: String,
    /// The inbound endpoint name.
    pub endpoint: String,
}

impl EndpointRef {
    /// From an allocation file name `{device}_{endpoint}`, split at the first `_`; `None`
    /// when there is no `_` or a side is empty.
    pub fn from_file_name(name: &str) -> Option<Self> {
        let (device, endpoint) = name.split_once('_')?;
        (!device.is_empty() && !endpoint.is_empty()).then(|| Self {
            device: device.to_owned(),
            endpoint: endpoint.to_owned(),
        })
    }
}

impl fmt::Display for EndpointRef {
    /// `device_endpoint`, the allocation file name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{}", self.device, self.endpoint)
    }
}

/// The allocated device endpoints, each with its asset names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allocation(BTreeMap<EndpointRef, BTreeSet<String>>);

impl Allocation {
    /// The endpoints with their assets, in order.
    pub fn iter(&self) -> std::collections::btree_map::Iter<'_, EndpointRef, BTreeSet<String>> {
        self.0.iter()
    }

    /// The assets of `endpoint`; `None` when it is not allocated.
    pub fn get(&self, endpoint: &EndpointRef) -> Option<&BTreeSet<String>> {
        self.0.get(endpoint)
    }

    /// Number of endpoints.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no endpoint is allocated.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// What changed from `self` to `newer`.
    pub fn changes(&self, newer: &Allocation) -> Changes {
        let mut changes = Changes::default();
        for (endpoint, assets) in &newer.0 {
            match self.0.get(endpoint) {
                None => {
                    changes
                        .added_endpoints
                        .insert(endpoint.clone(), assets.clone());
                }
                Some(old) => {
                    let added: BTreeSet<String> = assets.difference(old).cloned().collect();
                    let removed: BTreeSet<String> = old.difference(assets).cloned().collect();
                    if !added.is_empty() {
                        changes.added_assets.insert(endpoint.clone(), added);
                    }
                    if !removed.is_empty() {
                        changes.removed_assets.insert(endpoint.clone(), removed);
                    }
                }
            }
        }
        changes.removed_endpoints = self
            .0
            .keys()
            .filter(|endpoint| !newer.0.contains_key(*endpoint))
            .cloned()
            .collect();
        changes
    }
}

impl FromIterator<(EndpointRef, BTreeSet<String>)> for Allocation {
    /// An allocation from endpoints and their assets (a repeated endpoint keeps the last).
    fn from_iter<I: IntoIterator<Item = (EndpointRef, BTreeSet<String>)>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

/// The difference between two allocations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// Endpoints newly allocated, with their assets.
    pub added_endpoints: BTreeMap<EndpointRef, BTreeSet<String>>,
    /// Endpoints no longer allocated.
    pub removed_endpoints: BTreeSet<EndpointRef>,
    /// Assets newly allocated to an endpoint allocated before and after.
    pub added_assets: BTreeMap<EndpointRef, BTreeSet<String>>,
    /// Assets no longer allocated to an endpoint allocated before and after.
    pub removed_assets: BTreeMap<EndpointRef, BTreeSet<String>>,
}

impl Changes {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.added_endpoints.is_empty()
            && self.removed_endpoints.is_empty()
            && self.added_assets.is_empty()
            && self.removed_assets.is_empty()
    }
}

impl fmt::Display for Changes {
    /// `+d_e [a, b]; -d_x; d_f: +[c] -[d]`, or `none`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        for (endpoint, assets) in &self.added_endpoints {
            parts.push(format!("+{endpoint} {assets:?}"));
        }
        for endpoint in &self.removed_endpoints {
            parts.push(format!("-{endpoint}"));
        }
        let touched: BTreeSet<&EndpointRef> = self
            .added_assets
            .keys()
            .chain(self.removed_assets.keys())
            .collect();
        for endpoint in touched {
            let mut part = format!("{endpoint}:");
            if let Some(added) = self.added_assets.get(endpoint) {
                part.push_str(&format!(" +{added:?}"));
            }
            if let Some(removed) = self.removed_assets.get(endpoint) {
                part.push_str(&format!(" -{removed:?}"));
            }
            parts.push(part);
        }
        if parts.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&parts.join("; "))
        }
    }
}

/// Reads the allocation mount `dir` (see the module documentation for the rules).
///
/// # Errors
/// [`Error::Io`] when `dir` or a file cannot be read; [`Error::InvalidFile`] when a file is
/// not UTF-8.
pub fn read(dir: &Path) -> Result<Allocation, Error> {
    let mut allocation = BTreeMap::new();
    for entry in mount::files(dir)? {
        let Some(endpoint) = EndpointRef::from_file_name(&entry.name) else {
            tracing::warn!(
                file = %entry.path.display(),
                "skipping an allocation file not named {{device}}_{{endpoint}}"
            );
            continue;
        };
        // Gone since listed: a swap in progress removed it; the next event reads again.
        let Some(text) = mount::read_text(&entry.path)? else {
            continue;
        };
        let assets = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(str::to_owned)
            .collect();
        allocation.insert(endpoint, assets);
    }
    Ok(Allocation(allocation))
}

/// A running allocation watch; dropping it stops watching (waiting for a callback in
/// progress).
pub struct Watch {
    debouncer: Option<Debouncer<RecommendedWatcher, RecommendedCache>>,
}

impl fmt::Debug for Watch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watch").finish_non_exhaustive()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if let Some(debouncer) = self.debouncer.take() {
            debouncer.stop();
        }
    }
}

/// Watches the allocation mount `dir` (not recursively: kubelet's `..data` swap, new and
/// removed visible symlinks and in-place edits are all entries of `dir`). After each burst of
/// changes, quiet for `debounce`, the mount is read again on the watcher's thread, and
/// `callback` gets the new allocation when it differs from the last one read (the first is
/// read when the watch starts, so call `watch` before reading the allocation to use: then no
/// change can fall between the two), or the error when it cannot be read, or the watcher's
/// own error.
///
/// # Errors
/// [`Error::Watch`] when the watcher cannot be set up on `dir`.
pub fn watch(
    dir: &Path,
    debounce: Duration,
    callback: impl Fn(Result<Allocation, Error>) + Send + 'static,
) -> Result<Watch, Error> {
    let watch_error = |e: notify::Error| Error::Watch {
        path: dir.to_path_buf(),
        message: e.to_string(),
    };
    let last: Arc<Mutex<Option<Allocation>>> = Arc::default();
    let handler_last = Arc::clone(&last);
    let handler_dir: PathBuf = dir.to_path_buf();
    let handler = move |result: DebounceEventResult| {
        match result {
            Ok(events) => {
                if events
                    .iter()
                    .all(|e| matches!(e.event.kind, EventKind::Access(_)))
                {
                    return;
                }
            }
            Err(errors) => {
                let message = errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ");
                callback(Err(Error::Watch {
                    path: handler_dir.clone(),
                    message,
                }));
            }
        }
        let mut last = handler_last.lock().unwrap_or_else(PoisonError::into_inner);
        match read(&handler_dir) {
            Ok(now) if last.as_ref() == Some(&now) => {}
            Ok(now) => {
                let before = last.replace(now.clone()).unwrap_or_default();
                tracing::info!(
                    dir = %handler_dir.display(),
                    changes = %before.changes(&now),
                    "the allocation changed"
                );
                callback(Ok(now));
            }
            Err(error) => callback(Err(error)),
        }
    };
    let mut debouncer = new_debouncer(debounce, None, handler).map_err(watch_error)?;
    // The baseline is read once the watch is in place (and before the handler can compare
    // with it), so that no change falls between the two.
    let mut baseline = last.lock().unwrap_or_else(PoisonError::into_inner);
    debouncer
        .watch(dir, RecursiveMode::NonRecursive)
        .map_err(watch_error)?;
    *baseline = read(dir).ok();
    drop(baseline);
    Ok(Watch {
        debouncer: Some(debouncer),
    })
}
