//! Checkpoints: the `Last-Event-ID` a stream resumes from, moved only past delivered events.
//!
//! - `tracker.rs`: [`Tracker`], the pure window of events in flight and the checkpoint behind it.
//! - `store.rs`: [`CheckpointStore`], one file per stream identity under `STATE_DIR/checkpoints/`.

mod store;
mod tracker;

pub use store::CheckpointStore;
pub use tracker::{Seq, Tracker};
