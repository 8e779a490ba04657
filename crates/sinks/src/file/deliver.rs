//! How the `Storage` destination delivers: [`FileSinks`], one writer task per file, lines
//! written in batches. See the [module docs](super) for durability, rotation and paths.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{mpsc, oneshot};
use tokio_util::task::TaskTracker;

use super::accepts::Line;
use super::error::path_refused;
use super::writer::FileWriter;
use crate::contract::Delivery;
use crate::error::PublishError;

/// When a line counts as delivered; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Flushed to disk (`fdatasync`, once per batch) before the delivery resolves.
    #[default]
    Sync,
    /// Written to the operating system; not flushed.
    Written,
}

/// Default [`FileOptions::max_file_bytes`]: 64 MiB.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;
/// Default [`FileOptions::keep`].
pub const DEFAULT_KEEP: u32 = 5;
/// Lines waiting for one file's writer; when full, [`FileSinks::append`] waits (backpressure).
pub const QUEUE_LINES: usize = 1024;
/// At most this many lines are written and flushed as one batch.
const MAX_BATCH_LINES: usize = 1024;
/// A batch stops growing once it holds this many bytes.
const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;

/// Rotation and durability of [`FileSinks`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileOptions {
    /// A file is rotated before a line would make it larger than this many bytes; 0: never
    /// rotated. Default [`DEFAULT_MAX_FILE_BYTES`].
    pub max_file_bytes: u64,
    /// Rotated files kept per path (`name.1.jsonl` the newest); 0 deletes a full file.
    /// Default [`DEFAULT_KEEP`].
    pub keep: u32,
    /// When a line counts as delivered. Default [`Durability::Sync`].
    pub durability: Durability,
}

impl Default for FileOptions {
    fn default() -> Self {
        Self {
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            keep: DEFAULT_KEEP,
            durability: Durability::Sync,
        }
    }
}

/// One line for a writer, and where to report its outcome.
struct Request {
    line: Line,
    done: oneshot::Sender<Result<(), PublishError>>,
}

struct Inner {
    root: PathBuf,
    options: FileOptions,
    /// The queue of each path's writer task; `None` once closed.
    writers: Mutex<Option<HashMap<String, mpsc::Sender<Request>>>>,
    tasks: TaskTracker,
}

/// The files below one storage root; cloneable, shared by every stream. See the module
/// documentation.
#[derive(Clone)]
pub struct FileSinks {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for FileSinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSinks")
            .field("root", &self.inner.root)
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

impl FileSinks {
    /// The files below `root`. Nothing is touched until the first line: the root and the
    /// directories of each path are created then.
    pub fn new(root: impl Into<PathBuf>, options: FileOptions) -> Self {
        Self {
            inner: Arc::new(Inner {
                root: root.into(),
                options,
                writers: Mutex::new(Some(HashMap::new())),
                tasks: TaskTracker::new(),
            }),
        }
    }

    /// The storage root.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// The options.
    pub fn options(&self) -> FileOptions {
        self.inner.options
    }

    /// Queues `line` for the file at `path` (relative to the root) and returns its
    /// [`Delivery`], which resolves once the line is written (and flushed, per the
    /// [`Durability`]). Lines of one path are written in the order of the calls that
    /// returned.
    ///
    /// Waits while that file's queue is full ([`QUEUE_LINES`]): backpressure.
    ///
    /// # Errors
    /// [`PublishError::StoragePath`] for a path that is not a plain relative path,
    /// [`PublishError::Closed`] after [`close`](Self::close). Failures of the file itself
    /// (a symbolic link out of the root, I/O) come through the [`Delivery`].
    ///
    /// # Panics
    /// Outside a tokio runtime, when it starts the writer of a new path.
    ///
    /// # Cancel safety
    /// Dropping the future while it waits for room leaves the line out; no delivery exists
    /// for it then.
    pub async fn append(&self, path: &str, line: Line) -> Result<Delivery, PublishError> {
        if let Err(reason) = model::environment::safe_relative_path(path) {
            return Err(path_refused(path, &reason));
        }
        let queue = self.writer(path)?;
        let (done, delivery) = Delivery::channel();
        queue
            .send(Request { line, done })
            .await
            .map_err(|_| PublishError::Closed)?;
        Ok(delivery)
    }

    /// The queue of the writer of `path`, started when needed.
    fn writer(&self, path: &str) -> Result<mpsc::Sender<Request>, PublishError> {
        let mut writers = self
            .inner
            .writers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let writers = writers.as_mut().ok_or(PublishError::Closed)?;
        if let Some(queue) = writers.get(path) {
            return Ok(queue.clone());
        }
        let (queue, requests) = mpsc::channel(QUEUE_LINES);
        let make = {
            let (root, path, options) =
                (self.inner.root.clone(), path.to_owned(), self.inner.options);
            move || FileWriter::new(&root, &path, options)
        };
        self.inner.tasks.spawn(run_writer(requests, make));
        writers.insert(path.to_owned(), queue.clone());
        Ok(queue)
    }

    /// Stops taking lines, writes (and flushes) every line already queued, and waits for the
    /// writer tasks to end. Later [`append`](Self::append)s fail with
    /// [`PublishError::Closed`].
    ///
    /// # Cancel safety
    /// Dropping the future leaves the writers finishing in the background.
    pub async fn close(&self) {
        let writers = self
            .inner
            .writers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        drop(writers);
        self.inner.tasks.close();
        self.inner.tasks.wait().await;
    }
}

/// The task of one file: takes what has queued up (up to a batch), writes it on the blocking
/// pool, resolves its deliveries, and again; ends when every sender is gone and the queue is
/// empty. `make` makes the writer, again if a batch panicked (the file is then opened and
/// repaired anew).
async fn run_writer(mut requests: mpsc::Receiver<Request>, make: impl Fn() -> FileWriter) {
    let mut writer = make();
    let mut lines: Vec<Line> = Vec::new();
    let mut done: Vec<oneshot::Sender<Result<(), PublishError>>> = Vec::new();
    while let Some(first) = requests.recv().await {
        let mut bytes = first.line.len();
        lines.push(first.line);
        done.push(first.done);
        while lines.len() < MAX_BATCH_LINES && bytes < MAX_BATCH_BYTES {
            let Ok(next) = requests.try_recv() else {
                break;
            };
            bytes += next.line.len();
            lines.push(next.line);
            done.push(next.done);
        }
        let mut current = std::mem::replace(&mut writer, make());
        let batch = std::mem::take(&mut lines);
        let written = tokio::task::spawn_blocking(move || {
            let result = current.write_batch(&batch);
            (current, batch, result)
        })
        .await;
        let result = match written {
            Ok((current, mut batch, result)) => {
                writer = current;
                batch.clear();
                lines = batch; // keep the allocation
                result
            }
            Err(error) => Err(writer.io_error(format!("the write did not finish: {error}"))),
        };
        for sender in done.drain(..) {
            let _ = sender.send(result.clone());
        }
    }
}
