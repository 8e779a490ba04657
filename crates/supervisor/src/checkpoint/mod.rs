//! Checkpoints: the `Last-Event-ID` a stream resumes from, moved only past delivered events.
//!
//! - `tracker.rs`: [`Tracker`], the pure window of events in flight and the checkpoint behind it.
//! - `store.rs`: [`CheckpointStore`], one file per stream identity under `STATE_DIR/checkpoints/`.
//! - [`shared`]: [`SharedCheckpoints`], the checkpoints in AIO's state store, under a lease
//!   with fencing tokens, for the replica that takes a device endpoint over.

pub mod shared;
mod store;
mod tracker;

pub use shared::{LeaseTiming, SharedCheckpoints};
pub use store::CheckpointStore;
pub use tracker::{Seq, Tracker};
