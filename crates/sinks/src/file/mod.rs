//! The `Storage` destination: events appended as JSON lines to files below a storage root.
//!
//! [`FileSinks`] is a cloneable handle. [`FileSinks::append`] checks the path, hands the
//! [`Line`] to the writer task of that path (one task per file, started on first use) and
//! returns a [`Delivery`](crate::Delivery). The writer task takes the lines in the order they
//! were handed over, in batches of what has queued up while the previous batch was written
//! (group commit), and resolves each batch's deliveries once it is written.
//!
//! # Durability (fsync policy)
//! With [`Durability::Sync`] (the default) a batch is flushed to disk (`fdatasync`) before its
//! deliveries resolve: a delivered line survives a crash of the connector and of the machine,
//! and only then can the stream's checkpoint move past its event. One flush serves every line
//! queued meanwhile, so a busy file costs one flush per batch, not per line. New files and
//! rotations also flush their directory. [`Durability::Written`] resolves deliveries once the
//! bytes are handed to the operating system: safe against a crash of the connector, not of the
//! machine (lines delivered in the last seconds before a power loss can be lost).
//!
//! # Rotation
//! Before a line would make the file larger than [`FileOptions::max_file_bytes`] (default
//! 64 MiB), the file is rotated: `events.jsonl` becomes `events.1.jsonl`, the older ones move
//! up to `events.{keep}.jsonl` (default keep 5), the oldest beyond that is deleted, and a new
//! `events.jsonl` is started. A line is never split between files; a line larger than the
//! limit gets a file of its own.
//!
//! # Crashes
//! Lines are only appended, whole. A crash in the middle of a write (or a power loss before a
//! flush) can leave the last line incomplete; when the file is opened again, that tail is cut
//! off (logged). Its event was not delivered, so the stream reads it again: no line is lost,
//! and no torn line stays. Lines written but not yet delivered at a crash can appear twice
//! (at least once); their `sse-id` tells them apart.
//!
//! # Paths
//! A path must be a plain relative path (no `..`, `.`, root, empty segment, backslash), which
//! validation checks already ([`model::environment::safe_relative_path`]); the sink checks it
//! again, and refuses a path whose directory leads out of the root through a symbolic link, or
//! whose file is a symbolic link. Directories are created as needed.
//!
//! # Layout
//! - [`accepts`]: what it accepts: a [`Line`], built from a [`Record`] in the exact line
//!   format (pure).
//! - [`deliver`]: [`FileSinks`], [`FileOptions`], [`Durability`]: the writer task of each file.
//! - [`error`]: how a refused path or an I/O failure becomes a
//!   [`PublishError`](crate::PublishError).
//! - `writer`: one file: open and repair, append, rotate, flush (blocking I/O).

pub mod accepts;
pub mod deliver;
pub mod error;
mod writer;

pub use accepts::{Line, Record};
pub use deliver::{
    DEFAULT_KEEP, DEFAULT_MAX_FILE_BYTES, Durability, FileOptions, FileSinks, QUEUE_LINES,
};
