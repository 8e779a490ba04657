//! Watching the registry: any change below the definitions, secrets or trust directories
//! (after a debounce) reloads everything and reports the new snapshot with the plan's
//! difference.
//!
//! Directories are watched, not files: Kubernetes updates mounted secrets and ConfigMaps by
//! atomically swapping a `..data` symlink, which changes no file's mtime, so every event means
//! "reload all" and file versions are read again through the symlinks. Access events (our own
//! reads) are ignored. A directory that does not exist yet, or that was deleted, is noticed
//! through its nearest existing parent and watched again once it appears. While the
//! definitions directory (or a secrets or trust directory the plan uses) is gone, each reload
//! reports [`Error::NoRegistry`] or [`Error::Gone`] and the last good plan stays; when it is
//! back, the next reload picks it up.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use notify::{EventKind, RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};

use crate::error::Error;
use crate::registry::{Registry, Reload};

type Shared = Arc<Mutex<Option<Debouncer<RecommendedWatcher, RecommendedCache>>>>;

/// A running watch; dropping it (or [`Watch::stop`]) stops watching and waits for the reload
/// in progress, if any.
pub struct Watch {
    debouncer: Shared,
    worker: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch").finish_non_exhaustive()
    }
}

impl Registry {
    /// Watches the registry's directories. After each burst of changes (quiet for `debounce`)
    /// the registry is reloaded on a thread of its own and `on_reload` gets the outcome:
    /// the new snapshot and the difference from the previous plan (possibly empty), or the
    /// error that prevented reading (the previous state then stays).
    ///
    /// # Errors
    /// [`Error::Watch`] when the platform watcher cannot be created.
    pub fn watch<F>(mut self, debounce: Duration, mut on_reload: F) -> Result<Watch, Error>
    where
        F: FnMut(Result<Reload, Error>) + Send + 'static,
    {
        let (tx, rx) = mpsc::channel::<()>();
        let handler = move |result: DebounceEventResult| {
            let relevant = match &result {
                Ok(events) => events
                    .iter()
                    .any(|e| !matches!(e.event.kind, EventKind::Access(_))),
                Err(_) => true,
            };
            if relevant {
                let _ = tx.send(());
            }
        };
        let debouncer = new_debouncer(debounce, None, handler).map_err(|e| Error::Watch {
            path: self.paths().definitions.clone(),
            message: e.to_string(),
        })?;
        let shared: Shared = Arc::new(Mutex::new(Some(debouncer)));
        let mut roots = vec![
            self.paths().definitions.clone(),
            self.paths().secrets.clone(),
            self.paths().trust.clone(),
        ];
        roots.extend(self.paths().common_trust.clone());
        let mut watched = Watched::new();
        sync_watches(&shared, &roots, &mut watched)?;
        let worker_shared = Arc::clone(&shared);
        let worker = std::thread::Builder::new()
            .name("registry-watch".into())
            .spawn(move || {
                while rx.recv().is_ok() {
                    while rx.try_recv().is_ok() {}
                    // A directory may have appeared or gone: watch what exists *before*
                    // reading, so that a file written into a directory just recreated is
                    // either read now or seen by the new watch. Failing to watch is retried
                    // at the next event.
                    let _ = sync_watches(&worker_shared, &roots, &mut watched);
                    on_reload(self.reload());
                }
            })
            .map_err(|e| Error::io("registry-watch thread", e))?;
        Ok(Watch {
            debouncer: shared,
            worker: Some(worker),
        })
    }
}

impl Watch {
    /// Stops watching and waits for the reload in progress.
    pub fn stop(self) {}
}

impl Drop for Watch {
    fn drop(&mut self) {
        let debouncer = self
            .debouncer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(d) = debouncer {
            // Joins the debouncer thread, which drops the sender: the worker's loop ends.
            d.stop();
        }
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

/// What to watch for `root`: itself (recursively) when it exists, else its nearest existing
/// ancestor (not recursively) so that its creation is noticed.
fn target(root: &Path) -> Option<(PathBuf, RecursiveMode)> {
    if root.is_dir() {
        return Some((root.to_path_buf(), RecursiveMode::Recursive));
    }
    root.ancestors()
        .skip(1)
        .find(|a| a.is_dir())
        .map(|a| (a.to_path_buf(), RecursiveMode::NonRecursive))
}

/// What is watched: (path, recursive) → the identity of the directory when it was watched.
type Watched = BTreeMap<(PathBuf, bool), Option<(u64, u64)>>;

/// Device and inode of a directory: tells a recreated directory from the one watched.
#[cfg(unix)]
fn identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn identity(_path: &Path) -> Option<(u64, u64)> {
    None
}

fn sync_watches(shared: &Shared, roots: &[PathBuf], watched: &mut Watched) -> Result<(), Error> {
    let mut guard = shared.lock().unwrap_or_else(PoisonError::into_inner);
    let Some(debouncer) = guard.as_mut() else {
        return Ok(());
    };
    let targets: BTreeSet<(PathBuf, bool)> = roots
        .iter()
        .filter_map(|r| target(r))
        .map(|(p, mode)| (p, mode == RecursiveMode::Recursive))
        .collect();
    // A target inside a recursively watched one is covered by it; one path is watched once
    // (watching it again in another mode would replace the recursive watch).
    let wanted: BTreeSet<(PathBuf, bool)> = targets
        .iter()
        .filter(|(path, recursive)| {
            !targets
                .iter()
                .any(|(w, rec)| *rec && path.starts_with(w) && (w != path || !*recursive))
        })
        .cloned()
        .collect();
    // Drop watches no longer wanted (a parent watch once the directory exists, or a directory
    // that is gone), before adding new ones on the same path.
    let unwanted: Vec<_> = watched
        .keys()
        .filter(|k| !wanted.contains(*k))
        .cloned()
        .collect();
    for old in unwanted {
        let _ = debouncer.unwatch(&old.0);
        watched.remove(&old);
    }
    let mut first_error = None;
    for (path, recursive) in wanted {
        let id = identity(&path);
        match watched.get(&(path.clone(), recursive)) {
            Some(seen) if *seen == id => continue,
            // The same path, but another directory: the old one was deleted and the path
            // recreated between two reloads; the old watch died with it.
            Some(_) => {
                let _ = debouncer.unwatch(&path);
                watched.remove(&(path.clone(), recursive));
            }
            None => {}
        }
        let mode = if recursive {
            RecursiveMode::Recursive
        } else {
            RecursiveMode::NonRecursive
        };
        match debouncer.watch(&path, mode) {
            Ok(()) => {
                watched.insert((path, recursive), id);
            }
            Err(e) => {
                first_error.get_or_insert(Error::Watch {
                    path,
                    message: e.to_string(),
                });
            }
        }
    }
    first_error.map_or(Ok(()), Err)
}
